"""Milvus Lite's sparse index knobs, measured: ``inverted_index_algo`` and ``dim_max_score_ratio``.

    OMP_NUM_THREADS=1 .venv/bin/python bench/milvus_sparse.py --sizes 100000

For each algorithm Milvus documents for ``SPARSE_INVERTED_INDEX`` (DAAT_MAXSCORE, DAAT_WAND,
TAAT_NAIVE) a collection of bench/_synthetic.py's Zipf vectors (64 tokens of 30,522 per document,
8-d random dense vectors to keep ingest short) is written through keytokens' ``MilvusIndex``; then
the search knob ``dim_max_score_ratio`` (Milvus's default 1.05; below 1 prunes harder) is swept on
each. ``drop_ratio_search`` is not swept: Milvus Lite refuses any value but 0. A query's time is one
``search_sparse`` call (16 Zipf tokens, IDF weights, k=10), its fastest of 2 passes; overlap is the
share of the exact top 10 (scipy) returned. Writes bench/results/milvus_sparse.json and .md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine_info, md_cell, write_atomic, write_json
from engines import overlap, percentiles

K = 10
RATIOS = (None, 0.9, 0.7)


def timed(search, queries, passes: int = 2) -> np.ndarray:
    search(queries[0])
    times = np.full(len(queries), np.inf)
    for _ in range(passes):
        for i, q in enumerate(queries):
            start = time.perf_counter()
            search(q)
            times[i] = min(times[i], 1000 * (time.perf_counter() - start))
    return times


def run(n_docs: int, n_queries: int, algos: list[str]) -> list[dict]:
    from _synthetic import _info, synthetic_vectors, zipf_cdf
    from keytokens.backends import CollectionInfo, MilvusIndex
    from keytokens.sparse import Centering, SparseIndex, query_vectors
    from keytokens.sparse.queries import idf

    vocab = 30_522
    vectors = synthetic_vectors(n_docs, 64, vocab, 1.0, seed=0)
    ids = [f"d{i}" for i in range(n_docs)]
    exact = SparseIndex.build(vectors, ids, info=_info(vocab, 64))
    rng = np.random.default_rng(1)
    cdf = zipf_cdf(vocab, 1.0)
    weights = idf(exact.document_frequency(), n_docs)
    queries = [
        query_vectors([np.minimum(np.searchsorted(cdf, rng.random(16)), vocab - 1)], token_weights=weights,
                      indexable=np.ones(vocab, dtype=bool))
        for _ in range(n_queries)
    ]  # fmt: skip
    truth = [exact.search(q, k=K).doc_ids[0] for q in queries]
    embeddings = rng.standard_normal((n_docs, 8), dtype=np.float32)
    rows = []
    workdir = Path(tempfile.mkdtemp(prefix="kt-milvus-"))
    try:
        for algo in algos:
            info = CollectionInfo(_info(vocab, 64), dim=8, sparse_algo=algo)
            start = time.perf_counter()
            index = MilvusIndex.create(str(workdir / f"{algo}.db"), "bench", info, overwrite=True)
            step = 20_000
            batches = (
                (ids[i : i + step], vectors[i : i + step], embeddings[i : i + step]) for i in range(0, n_docs, step)
            )
            index.write(batches, centering=Centering())
            ingest_s = time.perf_counter() - start
            for ratio in RATIOS:
                index.info = dataclasses.replace(info, dim_max_score_ratio=ratio)
                ms = timed(lambda q, ix=index: ix.search_sparse(q, k=K), queries)
                found = [index.search_sparse(q, k=K).doc_ids[0] for q in queries]
                row = {"n_docs": n_docs, "n_queries": n_queries, "k": K, "inverted_index_algo": algo,
                       "dim_max_score_ratio": ratio, "ingest_s": ingest_s, **percentiles(ms),
                       "top10_overlap_with_exact": overlap(found, truth), "loadavg_1m": os.getloadavg()[0]}  # fmt: skip
                print(f"[milvus] {n_docs} {algo} ratio={ratio}: {percentiles(ms)} "
                      f"overlap {row['top10_overlap_with_exact']:.4f} ingest {ingest_s:.1f}s", flush=True)  # fmt: skip
                rows.append(row)
            index.close()
            shutil.rmtree(workdir / f"{algo}.db", ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def to_markdown(result: dict) -> str:
    lines = ["# Milvus Lite sparse index knobs", "", f"Command: `{result['command']}`; load average at start "
             f"{result['load_average']}; Milvus Lite {result['milvus_lite']}.", ""]  # fmt: skip
    lines += ["| docs | inverted_index_algo | dim_max_score_ratio | p50 ms | p95 ms | top-10 overlap | ingest s |"]
    lines += ["|" + "---|" * 7]
    for r in result["rows"]:
        ratio = "default (1.05)" if r["dim_max_score_ratio"] is None else r["dim_max_score_ratio"]
        cells = [r["n_docs"], r["inverted_index_algo"], ratio, r["query_ms_p50"], r["query_ms_p95"],
                 f"{r['top10_overlap_with_exact']:.4f}", r["ingest_s"]]  # fmt: skip
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    for note in result.get("notes", []):
        lines += ["", f"Note: {note}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    from importlib.metadata import version

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--algos", default="DAAT_MAXSCORE,DAAT_WAND,TAAT_NAIVE")
    parser.add_argument("--note", action="append", default=[])
    args = parser.parse_args()
    result = {"command": "python bench/milvus_sparse.py " + " ".join(sys.argv[1:]), "machine": machine_info(),
              "load_average": list(os.getloadavg()), "milvus_lite": version("milvus-lite"),
              "pymilvus": version("pymilvus"), "notes": args.note, "rows": []}  # fmt: skip
    for size in (int(s) for s in args.sizes.split(",") if s):
        result["rows"] += run(size, args.queries, args.algos.split(","))
    write_json(RESULTS / "milvus_sparse.json", result)
    write_atomic(RESULTS / "milvus_sparse.md", to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()
