"""Does centring or moving along the first component change EmbeddingGemma's aligned tokens? (PAPER.md §3)

EmbeddingGemma's own backbone (Gemma 3 300M, d = 768) is not available here, so the paper's
backbone → embedder variation cannot be measured for it; what can be asked is the other half of §3:
whether the first principal component of its embeddings carries frequent, meaningless tokens that
hide the key tokens. On every unique STS-B test sentence (embeddings from ``bench/alignment.py``'s
cache), read through the ``embeddinggemma`` lens (pooled state before the Dense layers, tied
embeddings), this scores the four alignment definitions for:

- ``raw``: the embeddings as they are;
- ``centred``: the corpus mean removed (``Spectrum.mean`` of a centred SVD);
- ``h + λ u1``: :func:`keytokens.spectral.lambda_sweep` with λ in multiples of the mean projection
  ``c̄ = mean_i h_i·u1`` (λ = −c̄ moves the average text to zero along u1);

and shows the top-10 tokens of the example sentences for each. Writes ``results/gemma/spectral.json``
and ``spectral.md``.

    .venv/bin/python bench/gemma_spectral.py [--model embeddinggemma] [--dataset sts-b]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import RESULTS, machine_info, md_cell, write_atomic, write_json
from alignment import EXAMPLES, K, embeddings_for

MULTIPLES = (-1.5, -1.0, -0.5, 0.0, 0.5)
EXTRA_EXAMPLES = ("a europe for all", "white matter diffusion imaging in preterm infants")


def variants(emb, spectrum):
    """``{name: embeddings}`` for the raw, centred and λ-moved embeddings, and the λ values used."""
    import numpy as np

    from keytokens.spectral import adjust, principal_components

    c_bar = float(np.mean(emb @ spectrum.first))
    out = {"raw": emb, "centred": emb - principal_components(emb, n_components=1, centre=True).mean}
    lambdas = {f"λ = {m:+.1f} c̄": m * c_bar for m in MULTIPLES if m != 0.0}
    out |= {name: adjust(emb, spectrum, lam) for name, lam in lambdas.items()}
    return out, {"c_bar": c_bar, **lambdas}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embeddinggemma")
    parser.add_argument("--dataset", default="sts-b")
    parser.add_argument("--limit", type=int, default=None, help="first N sentences (default: all)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS / "gemma")
    args = parser.parse_args(argv)

    import numpy as np

    from keytokens import Lens, aligned_tokens, alignment_scores
    from keytokens.datasets import load_texts
    from keytokens.spectral import principal_components

    texts = load_texts(args.dataset, limit=args.limit)
    lens = Lens.load(args.model)
    emb, _, _ = embeddings_for(lens, args.model, args.dataset, texts)
    spectrum = principal_components(emb, n_components=10)
    sets, lambdas = variants(emb, spectrum)
    example_texts = [*EXAMPLES, *EXTRA_EXAMPLES]
    example_emb = lens.encode(example_texts)
    example_sets, _ = variants(example_emb, spectrum)
    example_sets["centred"] = example_emb - emb.mean(axis=0)  # the corpus mean, not the examples'
    raw_top = aligned_tokens(emb, lens.head, lens.vocabulary, k=K).token_ids

    rows, examples = [], {}
    for name, x in sets.items():
        top = aligned_tokens(x, lens.head, lens.vocabulary, k=K).token_ids
        overlap = float(np.mean([len(set(a) & set(b)) / K for a, b in zip(top, raw_top, strict=True)]))
        for s in alignment_scores(x, texts, lens.head, lens.vocabulary, k=K):
            rows.append({"variant": name, "definition": s.definition, "hit": s.hit, "lar": s.lar, "gar": s.gar,
                         "top10_overlap_with_raw": overlap, "n_texts": len(texts)})  # fmt: skip
        examples[name] = {
            f: [list(r) for r in aligned_tokens(example_sets[name], lens.head, lens.vocabulary, k=K, token_filter=f,
                                                texts=tuple(example_texts)).tokens]
            for f in ("all", "content")
        }  # fmt: skip
        print(f"[gemma-spectral] {name}: top-10 overlap with raw {overlap:.3f}", flush=True)
    summary = {
        "model": args.model,
        "dataset": args.dataset,
        "n_texts": len(texts),
        "explained_uncentred": spectrum.explained.tolist(),
        "lambdas": lambdas,
        "rows": rows,
        "examples": {"texts": example_texts, "tokens": examples},
        "machine": machine_info(),
    }
    write_json(args.out_dir / "spectral.json", summary)
    write_atomic(args.out_dir / "spectral.md", render(summary))
    print(f"[gemma-spectral] wrote {args.out_dir / 'spectral.md'}")


def render(summary: dict) -> str:
    explained = summary["explained_uncentred"]
    lines = [
        f"# {summary['model']}: centring and the first component ({summary['dataset']}, {summary['n_texts']} texts)",
        "",
        f"Uncentred SVD of its embeddings: u1 holds {explained[0]:.1%} of the energy of the first 10 components "
        f"(u2 {explained[1]:.1%}); mean projection on u1 c̄ = {summary['lambdas']['c_bar']:.4f}.",
        "",
        f"| variant | definition | Hit@{K} | LAR | GAR | top-10 overlap with raw |",
        "|---|---|---|---|---|---|",
    ]
    for r in summary["rows"]:
        cells = [r["variant"], r["definition"], r["hit"], r["lar"], r["gar"], r["top10_overlap_with_raw"]]
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    lines += ["", f"## Top-{K} tokens (all tokens but unused placeholders)", ""]
    for i, text in enumerate(summary["examples"]["texts"]):
        lines += [f"**{text}**", "", "| variant | all tokens | content tokens |", "|---|---|---|"]
        for name, ex in summary["examples"]["tokens"].items():
            lines.append(
                "| " + " | ".join(md_cell(c) for c in [name, " ".join(ex["all"][i]), " ".join(ex["content"][i])]) + " |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    main()
