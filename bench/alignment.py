"""The alignment table: Hit@10, LAR and GAR of the offline models, in every metric definition.

Models: ``smollm2`` (SmolLM2-135M backbone, mean pooling), ``smollm2-eol`` (the same backbone
with PromptEOL, last token) and ``minilm`` (all-MiniLM-L6-v2, its input embeddings as the head).
Datasets: every unique sentence of STS-B test, and the sentences of STS12 SMTnews pairs with a
gold score above 4. Definitions: see ``keytokens.metrics.DEFINITIONS`` (PAPER.md §2).
``MODEL+fitted`` rows (issue 4) read the same embeddings through a ridge head fitted on STS sentences
that are not among those scored (``fitted_head``).

Embeddings are cached as ``.npy`` under ``$KEYTOKENS_CACHE/bench`` (default
``~/.cache/keytokens/bench``), keyed by model, dataset, text count and a hash of the texts and
the preset, so a rerun does not encode again. Writes ``results/alignment.json`` (one row per
model × dataset × definition), ``results/alignment_examples.json`` and ``results/alignment.md``,
all atomically.

    .venv/bin/python bench/alignment.py [--models smollm2 smollm2-eol minilm] [--datasets sts-b sts12-smtnews]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import time
from pathlib import Path

from _common import RESULTS, machine_info, md_cell, save_npy_atomic, write_atomic, write_json

MODELS = ("smollm2", "smollm2-eol", "minilm")
#: Models also scored through a head fitted on held-out STS sentences (issue 4); rows named MODEL+fitted.
FITTED_MODELS = ("smollm2-eol", "minilm")
FITTED = "+fitted"
DATASETS = {
    "sts-b": "STS-B test, all unique sentences",
    "sts12-smtnews": "STS12 SMTnews, sentences of pairs with gold > 4",
}
EXAMPLES = (
    "YMCA in South Australia",
    "I like apple and banana",
    "Revealed in March 2003, it was released across Game Boy Advance, PlayStation 2, GameCube, Xbox "
    "and Microsoft Windows in November 2003",
)
K = 10
MODEL_NOTES = {
    "smollm2": "SmolLM2-135M-Instruct backbone, mean pooling, its LM head",
    "smollm2-eol": "SmolLM2-135M-Instruct with PromptEOL, last token, its LM head",
    "minilm": "all-MiniLM-L6-v2 (sentence-transformers), its input token embeddings as the head",
    "embeddinggemma": "EmbeddingGemma-300M (sentence-transformers, document prompt), read before its Dense layers "
    "through its tied input embeddings (unused tokens masked)",
    "gemma3": "Gemma 3 270M base LM, mean pooling, its tied LM head (unused tokens masked)",
    "gemma3-eol": "Gemma 3 270M base LM with PromptEOL, last token, its tied LM head (unused tokens masked)",
    "smollm2-eol+fitted": "smollm2-eol read through a ridge head fitted on held-out STS sentences (TF-IDF, λ 0.1)",
    "minilm+fitted": "minilm read through a ridge head fitted on held-out STS sentences (TF-IDF, λ 0.1)",
}


def cache_path(model: str, dataset: str, texts: list[str]) -> Path:
    """Where the embeddings of ``texts`` by ``model`` are cached."""
    from keytokens import get_preset
    from keytokens.embedders.offline import cache_dir

    digest = hashlib.sha1()
    digest.update(json.dumps(get_preset(model).to_dict(), sort_keys=True).encode())
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return cache_dir() / "bench" / f"{model}-{dataset}-{len(texts)}-{digest.hexdigest()[:12]}.npy"


def embeddings_for(lens, model: str, dataset: str, texts: list[str]):
    """``(embeddings, seconds spent encoding or None when cached, cache path)``."""
    import numpy as np

    path = cache_path(model, dataset, texts)
    if path.exists():
        emb = np.load(path)
        if emb.shape == (len(texts), lens.head.hidden_size):
            print(f"[alignment] {model} / {dataset}: cached embeddings {path}", flush=True)
            return emb, None, path
        print(f"[alignment] {model} / {dataset}: cache {path} has shape {emb.shape}; encoding again", flush=True)
    print(f"[alignment] {model} / {dataset}: encoding {len(texts)} texts", flush=True)
    start = time.perf_counter()
    emb = lens.encode(texts, show_progress=True)
    seconds = time.perf_counter() - start
    save_npy_atomic(path, emb)
    print(f"[alignment] {model} / {dataset}: {seconds:.1f} s ({len(texts) / seconds:.1f} texts/s)", flush=True)
    return emb, seconds, path


def fitted_head(lens, model: str, held_out: set[str]):
    """A head fitted on STS sentences none of which is in ``held_out`` (``fitted_heads.sts_head``)."""
    import fitted_heads
    from keytokens import Lens

    encoder = Lens.load(model, max_length=fitted_heads.MODELS.get(model))  # shares fitted_heads' encoding cache
    return fitted_heads.sts_head(lens, frozenset(held_out), encode_with=encoder)


def run_model(model: str, datasets: dict[str, list[str]], *, fitted: bool = False) -> tuple[list[dict], dict]:
    import dataclasses

    from keytokens import Lens

    lens = Lens.load(model)
    rows, examples = _score(lens, model, datasets)
    if fitted:
        held_out = {t for texts in datasets.values() for t in texts}
        fitted_lens = dataclasses.replace(lens, head=fitted_head(lens, model, held_out))
        more, examples_fitted = _score(fitted_lens, model + FITTED, datasets, cache_as=model)
        return rows + more, {model: examples, model + FITTED: examples_fitted}
    return rows, {model: examples}


def _score(lens, model: str, datasets: dict[str, list[str]], cache_as: str | None = None) -> tuple[list[dict], dict]:
    from keytokens import aligned_tokens, alignment_scores

    rows = []
    for dataset, texts in datasets.items():
        emb, encode_s, path = embeddings_for(lens, cache_as or model, dataset, texts)
        for score in alignment_scores(emb, texts, lens.head, lens.vocabulary, k=K):
            d = score.to_dict()
            rows.append(
                {
                    "model": model,
                    "dataset": dataset,
                    "n_texts": len(texts),
                    "definition": score.definition,
                    f"hit@{K}": score.hit,
                    "lar": score.lar,
                    "gar": score.gar,
                    "n_skipped": score.n_skipped,
                    "n_scored": score.n_texts,
                    "k": K,
                    "description": d["description"],
                    "head": lens.head.name,
                    "encode_s": encode_s,
                    "cache": str(path),
                }
            )
    example_emb = lens.encode(list(EXAMPLES))
    examples = {
        token_filter: [
            list(row)
            for row in aligned_tokens(
                example_emb, lens.head, lens.vocabulary, k=K, token_filter=token_filter, texts=EXAMPLES
            ).tokens
        ]
        for token_filter in ("all", "content")
    }
    gc.collect()
    return rows, examples


def _table(rows: list[dict]) -> list[str]:
    lines = [
        f"| model | definition | Hit@{K} | LAR | GAR | texts scored | skipped |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [r["model"], r["definition"], r[f"hit@{K}"], r["lar"], r["gar"], r["n_scored"], r["n_skipped"]]
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    return lines


def render_markdown(rows: list[dict], examples: dict[str, dict]) -> str:
    from keytokens.metrics import DEFINITIONS

    lines = ["# Alignment of the offline models with their texts' tokens", ""]
    lines += ["Models:", ""] + [f"- `{m}`: {MODEL_NOTES.get(m, m)}" for m in dict.fromkeys(r["model"] for r in rows)]
    lines += ["", "Definitions (PAPER.md §2):", ""]
    lines += [f"- `{name}`: {d.description}" for name, d in DEFINITIONS.items()]
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        part = [r for r in rows if r["dataset"] == dataset]
        lines += ["", f"## {dataset}: {DATASETS.get(dataset, dataset)} ({part[0]['n_texts']} sentences)", ""]
        lines += _table(part)
    if examples:
        lines += ["", f"## Top-{K} aligned tokens of the paper's example sentences", ""]
        for i, text in enumerate(EXAMPLES):
            lines += [f"**{text}**", "", "| model | all tokens (the paper) | content tokens only |", "|---|---|---|"]
            for model, ex in examples.items():
                cells = [model, " ".join(ex["all"][i]), " ".join(ex["content"][i])]
                lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_results(out_dir: Path, rows: list[dict], examples: dict[str, dict]) -> None:
    write_json(out_dir / "alignment.json", rows)
    write_json(
        out_dir / "alignment_examples.json",
        {"k": K, "texts": list(EXAMPLES), "models": examples, "machine": machine_info()},
    )
    write_atomic(out_dir / "alignment.md", render_markdown(rows, examples))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="preset names (default: %(default)s)")
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=list(DATASETS),
        help="sentence sets of keytokens.datasets (default: %(default)s)",
    )
    parser.add_argument("--limit", type=int, default=None, help="first N sentences of each set (default: all)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="where the result files go")
    args = parser.parse_args(argv)

    from keytokens.datasets import load_texts

    datasets = {name: load_texts(name, limit=args.limit) for name in args.datasets}
    for name, texts in datasets.items():
        print(f"[alignment] {name}: {len(texts)} sentences", flush=True)
    rows: list[dict] = []
    examples: dict[str, dict] = {}
    order = [m for model in args.models for m in (model, model + FITTED)]
    for model in args.models:
        model_rows, model_examples = run_model(model, datasets, fitted=model in FITTED_MODELS)
        examples |= model_examples
        rows += model_rows
        # order: dataset, then model, then definition; written after every model so partial runs leave results
        rows.sort(key=lambda r: (args.datasets.index(r["dataset"]), order.index(r["model"])))
        write_results(args.out_dir, rows, examples)
        for r in model_rows:
            print(
                f"[alignment] {r['model']:<12} {r['dataset']:<14} {r['definition']:<16} "
                f"hit@{K} {r[f'hit@{K}']:.3f}  LAR {r['lar']:.3f}  GAR {r['gar']:.3f}  skipped {r['n_skipped']}",
                flush=True,
            )
    print(f"[alignment] wrote {args.out_dir / 'alignment.json'} and {args.out_dir / 'alignment.md'}")


if __name__ == "__main__":
    main()
