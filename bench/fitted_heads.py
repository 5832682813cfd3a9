"""Fitted heads (issue 4): do they generalise, what do they learn, and how aligned are their tokens.

Retrieval (sparse, tokenizer-only IDF queries, the paper's recipe: top-K aligned tokens only, K and
weighting as :data:`_fitted.HEAD_PROBE`): each offline model reads the documents of SciFact (test
qrels) and NFCorpus (dev qrels) through

- ``model head``: its own head (MiniLM: tied input embeddings; SmolLM2: the LM head), raw and with
  the first principal component removed (``pc1``);
- ``fit: in-corpus``: a ridge head fitted on the documents indexed (no labels; the ``+fitted`` rows
  of ``retrieval.json``);
- ``fit: other corpus``: fitted on the other dataset's documents (SciFact ↔ NFCorpus);
- ``fit: STS``: fitted on STS sentences (STS-B dev, STS12, SICK-R; no STS-B test sentence);
- ``control: random embeddings, in-corpus``: the in-corpus fit with Gaussian vectors in place of the
  embeddings. A head fitted on the documents it indexes stores part of each document's own tokens in
  the fit itself (the ridge hat matrix); this control measures that share with no embedding at all;
- ``control: own tokens (the fit target)``: each document's TF-IDF target vector itself, no head.

Alignment (Hit@10 / LAR / GAR on STS-B test, all four definitions): the model head vs heads fitted on
STS (no STS-B test sentence) and on the SciFact corpus (out of domain).

    .venv/bin/python bench/fitted_heads.py [--models minilm smollm2-eol] [--out-dir bench/results]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

import _fitted
from _common import RESULTS, machine_info, md_cell, write_atomic, write_json

DATASETS = {"scifact": "test", "nfcorpus": "dev"}
OTHER = {"scifact": "nfcorpus", "nfcorpus": "scifact"}
MODELS = {"minilm": None, "smollm2-eol": 128}
STS_FIT = ("sts-b-dev", "sts12", "sickr")
STS_EVAL = "sts-b"
K_ALIGN = 10
SEED = 0


def head_params(tuning_path: Path, dataset: str, model: str) -> tuple[dict, str]:
    """The head chosen on train qrels for ``MODEL+fitted`` in ``retrieval_tuning.json``, else the default."""
    if tuning_path.is_file():
        results = json.loads(tuning_path.read_text()).get("results", {})
        chosen = results.get(dataset, {}).get(model + _fitted.SUFFIX, {}).get("chosen_head")
        if chosen:
            return chosen, f"chosen on {dataset} train qrels (retrieval_tuning.json)"
    return dict(_fitted.HEAD_DEFAULT), "default (no tuning file entry)"


def sts_fit_texts() -> list[str]:
    from keytokens.datasets import load_texts

    held_out = set(load_texts(STS_EVAL))
    texts = [t for name in STS_FIT for t in load_texts(name) if t not in held_out]
    return list(dict.fromkeys(texts))


def sts_head(lens, held_out: frozenset[str] = frozenset(), *, encode_with=None):
    """A ridge head (:data:`_fitted.HEAD_DEFAULT`) fitted on :func:`sts_fit_texts`, less ``held_out``.

    ``encode_with`` embeds the sentences (default ``lens``); a lens of the same preset loaded with
    :data:`MODELS`'s max length shares keytokens' encoding cache with this benchmark.
    """
    texts = sts_fit_texts()
    emb = embed(encode_with or lens, texts)
    keep = [i for i, t in enumerate(texts) if t not in held_out]
    source = f"{len(keep)} STS sentences (STS-B dev, STS12, SICK-R; no STS-B test sentence)"
    source += ", none of the sentences scored" if held_out else ""
    return _fitted.fit(lens, emb[keep], [texts[i] for i in keep], _fitted.HEAD_DEFAULT, texts_source=source)


def embed(lens, texts: list[str], role: str = "document") -> np.ndarray:
    from keytokens.encoding import encode_corpus_embeddings
    from keytokens.sparse.corpus import lens_settings

    return encode_corpus_embeddings(lens.embedder, texts, role=role, settings=lens_settings(lens), show_progress=True)


def sparse_quality(lens, emb: np.ndarray, dataset, centering: str = "none", vectors=None) -> dict:
    """nDCG@10 etc. of the probe sparse retriever on ``dataset`` (tokenizer-only queries, no model run)."""
    from keytokens.evaluation import evaluate
    from keytokens.retrieval import SparseRetriever
    from keytokens.sparse import Centering, CorpusEncoding, QueryConfig, SparseConfig, build_index, sparse_vectors

    probe = _fitted.HEAD_PROBE
    config = SparseConfig(k=probe["k"], weighting=probe["weighting"], centering=centering, keep_own_tokens=False)
    if vectors is None:
        vectors, fitted_centering = sparse_vectors(lens, emb, dataset.doc_texts, config)
    else:
        fitted_centering = Centering.fit("none", emb)
    index = build_index(lens, CorpusEncoding(emb, vectors, fitted_centering, config), dataset.doc_ids)
    retriever = SparseRetriever.from_lens(index, lens, query=QueryConfig(weights=probe["query_weights"]))
    result = evaluate(retriever, dataset, depth=100)
    return {**result.metrics, "nnz_per_doc": index.nnz / index.n_docs, "n_queries": result.n_queries}


def example_tokens(lens, emb: np.ndarray, texts, n: int = 1, k: int = 8) -> list[str]:
    from keytokens import aligned_tokens

    return list(aligned_tokens(emb[:n], lens.head, lens.vocabulary, k=k, token_filter="all", texts=texts[:n]).tokens[0])


def retrieval_rows(model: str, tuning_path: Path) -> list[dict]:
    from keytokens.embedders.precomputed import PrecomputedEmbedder
    from keytokens.evaluation import evaluate, load_beir
    from keytokens.heads import TargetSpec
    from keytokens.heads.targets import build_targets
    from keytokens.lens import Lens
    from keytokens.retrieval import DenseIndex, DenseRetriever

    lens = Lens.load(model, max_length=MODELS[model])
    data = {name: load_beir(_data() / name, split=split) for name, split in DATASETS.items()}
    docs = {name: embed(lens, list(ds.doc_texts)) for name, ds in data.items()}
    sts = sts_fit_texts()
    sts_emb = embed(lens, sts)
    rows = []
    for name, ds in data.items():
        params, origin = head_params(tuning_path, name, model)
        base = {"model": model, "dataset": name, "split": ds.split, "head_params": params, "head_params_from": origin}
        emb = docs[name]

        def add(head: str, fit_on: str | None, lens_used, *, base=base, ds=ds, emb=emb, **kw) -> dict:
            start = time.perf_counter()
            row = {**base, "head": head, "fit_on": fit_on, **sparse_quality(lens_used, emb, ds, **kw)}
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
            print(f"[fitted] {model} {base['dataset']} {head}: nDCG@10 {row['ndcg@10']:.4f}", flush=True)
            return row

        queries = embed(lens, list(ds.query_texts), role="query")
        served = PrecomputedEmbedder(queries, list(ds.query_texts), name=model)
        dense = DenseRetriever(DenseIndex.build(emb, ds.doc_ids, model=model, similarity="cosine"), served)
        scored = evaluate(dense, ds, depth=100).metrics
        rows.append({**base, "head": "dense, cosine (reference)", "fit_on": None, **scored})
        add("model head", None, lens)
        add("model head, pc1 removed", None, lens, centering="pc1")
        other = OTHER[name]
        fits = {
            "fit: in-corpus": (emb, list(ds.doc_texts), f"{name} documents (indexed)"),
            "fit: other corpus": (docs[other], list(data[other].doc_texts), f"{other} documents"),
            "fit: STS": (sts_emb, sts, "STS-B dev + STS12 + SICK-R sentences (no STS-B test)"),
        }
        for head, (fit_emb, fit_texts, source) in fits.items():
            fitted = dataclasses.replace(lens, head=_fitted.fit(lens, fit_emb, fit_texts, params, texts_source=source))
            add(head, source, fitted)["example_tokens"] = example_tokens(fitted, emb, ds.doc_texts)
        rng = np.random.default_rng(SEED)
        noise = (rng.standard_normal(emb.shape) * emb.std(axis=0) + emb.mean(axis=0)).astype(np.float32)
        control = _fitted.fit(lens, noise, list(ds.doc_texts), params, texts_source="Gaussian vectors + documents")
        add(
            "control: random embeddings, in-corpus",
            "Gaussian vectors",
            dataclasses.replace(lens, head=control),
            emb=noise,
        )
        target = build_targets(TargetSpec(kind=params["target"]), list(ds.doc_texts), lens.vocabulary)
        add("control: own tokens (the fit target)", None, lens, vectors=target.astype(np.float32).tocsr())
    return rows


def alignment_rows(model: str) -> list[dict]:
    from keytokens import alignment_scores
    from keytokens.datasets import load_texts
    from keytokens.evaluation import load_beir
    from keytokens.lens import Lens

    lens = Lens.load(model, max_length=MODELS[model])
    texts = load_texts(STS_EVAL)
    emb = embed(lens, texts)
    scifact = list(load_beir(_data() / "scifact", split="test").doc_texts)
    params = dict(_fitted.HEAD_DEFAULT)
    heads = {
        "model head": lens.head,
        "fit: STS": sts_head(lens),
        "fit: SciFact corpus": _fitted.fit(lens, embed(lens, scifact), scifact, params, texts_source="SciFact corpus"),
    }
    rows = []
    for label, head in heads.items():
        for score in alignment_scores(emb, texts, head, lens.vocabulary, k=K_ALIGN):
            rows.append(
                {"model": model, "head": label, "dataset": STS_EVAL, "definition": score.definition,
                 "hit@10": score.hit, "lar": score.lar, "gar": score.gar, "n_scored": score.n_texts,
                 "head_params": None if label == "model head" else params}
            )  # fmt: skip
    return rows


def _data() -> Path:
    from keytokens.datasets import data_dir

    return data_dir()


def render(retrieval: list[dict], alignment: list[dict]) -> str:
    lines = ["# Fitted heads: generalisation, controls, alignment", "", f"Command: `{_command()}`", ""]
    lines += [
        "Sparse retrieval with tokenizer-only IDF queries, documents as their top-"
        f"{_fitted.HEAD_PROBE['k']} aligned tokens ({_fitted.HEAD_PROBE['weighting']} weights, no own tokens). "
        "`fit: in-corpus` uses the documents indexed (no labels); every other fit never saw them.",
        "",
        "| model | dataset | head | nDCG@10 | Recall@100 | × dense | head fitted on | tokens (first document) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    dense = {(r["model"], r["dataset"]): r["ndcg@10"] for r in retrieval if r["head"].startswith("dense")}
    for r in retrieval:
        ratio = r["ndcg@10"] / dense[(r["model"], r["dataset"])]
        cells = [r["model"], f"{r['dataset']} {r['split']}", r["head"], r["ndcg@10"], r["recall@100"], ratio]
        cells += [r.get("fit_on") or "", " ".join(r.get("example_tokens", []))]
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    lines += ["", *_shares(retrieval)]
    lines += ["", f"Alignment on {STS_EVAL} (Hit@{K_ALIGN} / LAR / GAR)", ""]
    lines += ["| model | head | definition | Hit@10 | LAR | GAR |", "|---|---|---|---|---|---|"]
    for r in alignment:
        cells = [r["model"], r["head"], r["definition"], r["hit@10"], r["lar"], r["gar"]]
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _shares(retrieval: list[dict]) -> list[str]:
    """How much of the in-corpus fit's nDCG@10 the controls and the out-of-corpus fits reach."""
    lines = [
        "What the in-corpus fit owes to the embedding: the share of its nDCG@10 that each other head reaches "
        "(random embeddings: the fit alone, no embedding information; other corpus / STS: the embedding, "
        "with no memorised document).",
        "",
        "| model | dataset | in-corpus fit | random embeddings | own tokens | other corpus | STS |",
        "|---|---|---|---|---|---|---|",
    ]
    by = {(r["model"], r["dataset"], r["head"]): r["ndcg@10"] for r in retrieval}
    for model, dataset in dict.fromkeys((r["model"], r["dataset"]) for r in retrieval):
        base = by.get((model, dataset, "fit: in-corpus"))
        if not base:
            continue
        heads = ("control: random embeddings, in-corpus", "control: own tokens (the fit target)")
        heads += ("fit: other corpus", "fit: STS")
        cells = [model, dataset, f"{base:.3f}"]
        cells += [f"{by[(model, dataset, h)] / base:.0%}" for h in heads if (model, dataset, h) in by]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _command() -> str:
    return " ".join([".venv/bin/python", "bench/fitted_heads.py", *sys.argv[1:]])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--skip-alignment", action="store_true")
    args = parser.parse_args(argv)
    tuning = args.out_dir / "retrieval_tuning.json"
    retrieval, alignment = [], []
    for model in args.models:
        retrieval += retrieval_rows(model, tuning)
        if not args.skip_alignment:
            alignment += alignment_rows(model)
    path = args.out_dir / "fitted_heads.json"
    if path.is_file():  # keep the rows of models not run this time
        old = json.loads(path.read_text())
        retrieval = [r for r in old["retrieval"] if r["model"] not in args.models] + retrieval
        alignment = [r for r in old["alignment"] if r["model"] not in args.models] + alignment
    doc = {"command": _command(), "machine": machine_info(), "retrieval": retrieval, "alignment": alignment}
    write_json(path, doc)
    write_atomic(args.out_dir / "fitted_heads.md", render(retrieval, alignment))
    print(f"[fitted] wrote {args.out_dir / 'fitted_heads.json'}", flush=True)


if __name__ == "__main__":
    main()
