"""Retrieval benchmark: the shipped recipes with default flags against dense and BM25, and how the default was chosen.

For each model (``minilm``; ``smollm2-eol`` with documents cut at 128 tokens):

1. ``keytokens.evaluation.tuning.tune`` on the *train* qrels of SciFact and NFCorpus together: the recipe
   that wins there is the one ``keytokens.retrieval.recipes.RECIPES["default"]`` must hold (this script
   says whether it does), and ``tune`` on each dataset's train qrels alone (the ``tuned`` rows, labelled).
2. On the report splits (SciFact test, NFCorpus dev), evaluated once: ``dense``, ``bm25`` (bm25s, Lucene,
   k1 0.9, b 0.4, stopwords + stemmer), and ``sparse`` / ``hybrid`` of the shipped ``default`` recipe with
   default flags, plus the ablation: ``lexical`` (own tokens only), ``expanded-model`` (+ aligned tokens of
   the model's head), ``expanded`` (+ aligned tokens of a head fitted on the corpus), ``paper`` (aligned
   tokens only), and the per-dataset ``tuned`` recipe.
3. Per row: nDCG@10, Recall@100, MRR@10 (pytrec-eval), query latency p50/p95 (one query per call,
   tokenizer + model where the system runs it + search), index bytes per document.

Corpus and query embeddings come from keytokens' encoding cache (resumable). Writes
``retrieval.json``, ``retrieval_tuning.json`` and ``retrieval.md`` under ``bench/results/``.

    OMP_NUM_THREADS=1 .venv/bin/python bench/retrieval.py [--models minilm smollm2-eol] [--datasets scifact nfcorpus]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import numpy as np

from _common import RESULTS, machine_info, write_atomic, write_json

DATA = Path(os.environ.get("KEYTOKENS_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
DATASETS = {"scifact": "test", "nfcorpus": "dev"}
MODELS = {"minilm": None, "smollm2-eol": 128}
ABLATION = ("lexical", "expanded-model", "expanded", "paper")
LATENCY_QUERIES = 200


def latency(retriever, queries: list[str], k: int = 100) -> dict:
    """p50/p95 milliseconds of one query per ``search`` call (after 10 warm-up queries)."""
    for q in queries[:10]:
        retriever.search([q], k=k)
    times = []
    for q in queries[:LATENCY_QUERIES]:
        start = time.perf_counter()
        retriever.search([q], k=k)
        times.append((time.perf_counter() - start) * 1e3)
    return {"p50_ms": round(float(np.percentile(times, 50)), 3), "p95_ms": round(float(np.percentile(times, 95)), 3)}


def live(retriever, lens):
    """The retriever with its dense side encoding queries through the model (not the evaluation's cached rows)."""
    from keytokens.retrieval import DenseRetriever, HybridRetriever

    if isinstance(retriever, DenseRetriever):
        return DenseRetriever(retriever.index, lens.embedder, name=retriever.name)
    if isinstance(retriever, HybridRetriever):
        parts = [live(r, lens) for r in retriever.retrievers]
        return HybridRetriever(parts, fusion=retriever.fusion, weights=retriever.weights, depth=retriever.depth)
    return retriever


def index_bytes(retriever) -> int | None:
    index = getattr(retriever, "index", None)
    return getattr(index, "nbytes", None)


def engine_of(retriever) -> dict | None:
    """The sparse index's engine and its knobs (the sparse part of a hybrid); None for dense and BM25."""
    for part in [retriever, *getattr(retriever, "retrievers", ())]:
        engine = getattr(getattr(part, "index", None), "engine", None)
        if engine is not None:
            return {"name": engine.name, "params": engine.params.to_dict()}
    return None


def rows_for(model: str, lens, dataset, tuned) -> list[dict]:
    from keytokens.evaluation import build_systems, evaluate
    from keytokens.retrieval.recipes import RECIPES

    rows = []
    plan = [("default", RECIPES["default"], ("dense", "sparse", "hybrid", "bm25"))]
    plan += [(name, RECIPES[name], ("sparse", "hybrid")) for name in ABLATION]
    plan += [("tuned", tuned, ("sparse", "hybrid"))]
    for label, recipe, systems in plan:
        built = build_systems(
            list(systems), dataset.doc_ids, dataset.doc_texts, lens=lens, recipe=recipe,
            query_texts=dataset.query_texts,
        )  # fmt: skip
        for system in built:
            result = evaluate(system.retriever, dataset, settings=system.to_dict())
            row = {
                "dataset": dataset.name, "split": dataset.split, "model": model, "system": system.name,
                "recipe": label, "recipe_settings": recipe.to_dict(),
                **{k: round(v, 4) for k, v in result.metrics.items()},
                "n_queries": result.n_queries,
                "latency": latency(live(system.retriever, lens), list(dataset.query_texts)),
                "engine": engine_of(system.retriever),
                "bytes_per_doc": (index_bytes(system.retriever) or 0) / len(dataset.doc_ids) or None,
                "build_seconds": round(system.build_seconds, 2), "settings": system.settings,
            }  # fmt: skip
            rows.append(row)
            logging.info("%s %s %s %s: nDCG@10 %.4f", dataset.name, model, label, system.name, row["ndcg@10"])
    return rows


def markdown(rows: list[dict], tuning: dict, machine: dict | None = None) -> str:
    lines = ["# Retrieval: shipped recipes with default flags", "", machine_info_line(machine), ""]
    lines += [
        "Command: `OMP_NUM_THREADS=1 .venv/bin/python bench/retrieval.py`. Every recipe was chosen on train qrels;",
        "the splits below were evaluated once. Cells: nDCG@10 (Recall@100) and query p50 in ms.",
        "",
    ]
    for model in dict.fromkeys(r["model"] for r in rows):
        seen = datasets_seen(rows)
        lines += [f"## {model}", "", "| recipe | system | " + " | ".join(seen) + " |", "|---|---|" + "---|" * len(seen)]
        by_key = {(r["model"], r["recipe"], r["system"], r["dataset"]): r for r in rows}
        keys = list(dict.fromkeys((r["recipe"], r["system"]) for r in rows if r["model"] == model))
        for recipe, system in keys:
            cells = [cell(by_key.get((model, recipe, system, ds))) for ds in seen]
            lines.append(f"| {recipe} | {system} | " + " | ".join(cells) + " |")
        lines += ["", *goal_lines(rows, model), ""]
    lines += ["## How the default was chosen (train qrels only)", ""]
    for model, t in tuning.items():
        lines.append(f"- **{model}**, SciFact+NFCorpus train together: {describe(t['joint']['recipe'])}; "
                     f"train nDCG@10 sparse {t['joint']['recipe']['provenance']['sparse']:.4f}, "
                     f"hybrid {t['joint']['recipe']['provenance']['hybrid']:.4f}. "
                     f"Shipped default matches: {t['default_matches']}.")  # fmt: skip
        for ds, per in t["per_dataset"].items():
            lines.append(f"  - tuned on {ds} train alone: {describe(per['recipe'])}")
    return "\n".join(lines) + "\n"


def datasets_seen(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(r["dataset"] for r in rows))


def cell(row: dict | None) -> str:
    if row is None:
        return "–"
    return f"{row['ndcg@10']:.3f} ({row['recall@100']:.3f}) {row['latency']['p50_ms']:.2f} ms"


def machine_info_line(info: dict | None = None) -> str:
    info = info or machine_info()
    blas = (info.get("blas") or [{}])[0]
    return (
        f"Machine: {info.get('machine')}, {info.get('cpu_count')} cores ({blas.get('architecture', '?')}), torch "
        f"{info.get('torch')}; load average {info.get('load', os.getloadavg()[0]):.1f} while it ran (shared machine)."
    )


def describe(recipe: dict) -> str:
    docs = recipe["documents"]
    if docs.get("mode") == "lexical":
        lex, exp = docs["lexical"], docs["expansion"]
        expansion = f"+ top-{exp['k']} of the {exp['head']} head" if exp["k"] else "no expansion"
        text = f"BM25 k1 {lex['k1']:g} b {lex['b']:g} ({lex['normalize']}) {expansion}"
    else:
        text = f"aligned tokens only, K {docs['k']}, {docs['weighting']}, {docs['centering']}"
    fusion = recipe["fusion"]
    return f"{text}; dense {recipe['similarity']}; fusion {fusion['method']} {fusion['weights']}"


def goal_lines(rows: list[dict], model: str) -> list[str]:
    out = []
    for ds in datasets_seen(rows):
        get = {(r["recipe"], r["system"]): r["ndcg@10"] for r in rows if r["model"] == model and r["dataset"] == ds}
        if ("default", "dense") not in get:
            continue
        bm25, dense = get[("default", "bm25")], get[("default", "dense")]
        sparse, hybrid = get[("default", "sparse")], get[("default", "hybrid")]
        own = get.get(("lexical", "sparse"), 0.0)
        expanded = max(get.get(("expanded", "sparse"), 0.0), get.get(("expanded-model", "sparse"), 0.0))
        target = max(dense, bm25) + 0.02
        out.append(
            f"- {ds}: default sparse {sparse:.3f} vs BM25 {bm25:.3f} ({verdict(sparse, bm25)}); "
            f"hybrid {hybrid:.3f} vs max(dense, BM25) + 0.02 = {target:.3f} ({verdict(hybrid, target)}); "
            f"aligned-token expansion over own tokens only: {expanded - own:+.3f}"
            + ("" if expanded - own >= 0.01 else " (below +0.01: the expansion does not add enough here)")
        )
    return out


def verdict(value: float, goal: float) -> str:
    return "met" if value >= goal else f"missed by {goal - value:.3f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from keytokens.evaluation import load_beir
    from keytokens.evaluation.tuning import tune
    from keytokens.lens import Lens
    from keytokens.retrieval.recipes import RECIPES

    rows, tuning = [], {}
    for model in args.models:
        lens = Lens.load(model, max_length=MODELS[model])
        train = {ds: load_beir(DATA / ds, split="train") for ds in args.datasets}
        joint = tune(list(train.values()), lens, name=f"joint-{model}")
        default = RECIPES["default"].to_dict()
        chosen = joint.recipe.to_dict()
        same = all(default[k] == chosen[k] for k in ("documents", "query", "fusion", "similarity"))
        per = {ds: tune([train[ds]], lens, name=f"tuned-{ds}") for ds in args.datasets}
        tuning[model] = {
            "joint": joint.to_dict(), "default_matches": same,
            "per_dataset": {ds: r.to_dict() for ds, r in per.items()},
        }  # fmt: skip
        for ds in args.datasets:
            report = load_beir(DATA / ds, split=DATASETS[ds])
            rows += rows_for(model, lens, report, per[ds].recipe)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    machine = {**machine_info(), "load": os.getloadavg()[0]}
    write_json(args.out_dir / "retrieval.json", {"machine": machine, "rows": rows})
    write_json(args.out_dir / "retrieval_tuning.json", tuning)
    write_atomic(args.out_dir / "retrieval.md", markdown(rows, tuning, machine))


if __name__ == "__main__":
    main()
