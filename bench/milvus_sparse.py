"""Milvus Lite's sparse index knobs, measured: ``inverted_index_algo`` and ``dim_max_score_ratio``.

    OMP_NUM_THREADS=1 .venv/bin/python bench/milvus_sparse.py --sizes 100000

For each algorithm Milvus documents for ``SPARSE_INVERTED_INDEX`` (DAAT_MAXSCORE, DAAT_WAND,
TAAT_NAIVE) a collection of bench/_synthetic.py's Zipf vectors (64 tokens of 30,522 per document,
8-d random dense vectors to keep ingest short) is written through keytokens' ``MilvusIndex``; then
the search knob ``dim_max_score_ratio`` (Milvus's default 1.05; below 1 prunes harder) is swept on
each. ``drop_ratio_search`` is not swept: Milvus Lite refuses any value but 0. A query's time is one
``search_sparse`` call (16 Zipf tokens, IDF weights, k=10), its fastest of 2 passes, the
configurations taking turns query by query (so drifting load hits all alike); overlap is the share
of the exact top 10 (scipy) returned. Writes bench/results/milvus_sparse.json and .md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
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


def run(n_docs: int, n_queries: int, algos: list[str], ratios=RATIOS) -> list[dict]:
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
    workdir = Path(tempfile.mkdtemp(prefix="kt-milvus-"))
    indexes, ingest = {}, {}
    try:
        for algo in algos:
            info = CollectionInfo(_info(vocab, 64), dim=8, sparse_algo=algo)
            start = time.perf_counter()
            index = MilvusIndex.create(str(workdir / f"{algo}.db"), "bench", info, overwrite=True)
            starts = range(0, n_docs, 20_000)
            index.write(((ids[i : i + 20_000], vectors[i : i + 20_000], embeddings[i : i + 20_000]) for i in starts),
                        centering=Centering())  # fmt: skip
            ingest[algo] = time.perf_counter() - start
            print(f"[milvus] {n_docs} {algo}: ingest {ingest[algo]:.1f}s", flush=True)
            for ratio in ratios:  # one view per search knob, on the same collection
                view = MilvusIndex(index.client, index.name, dataclasses.replace(info, dim_max_score_ratio=ratio),
                                   uri=index.uri, record=index.record, created=False)  # fmt: skip
                indexes[(algo, ratio)] = view
        times = interleaved(indexes, queries)
        rows = []
        for (algo, ratio), view in indexes.items():
            found = [view.search_sparse(q, k=K).doc_ids[0] for q in queries]
            row = {"n_docs": n_docs, "n_queries": n_queries, "k": K, "inverted_index_algo": algo,
                   "dim_max_score_ratio": ratio, "ingest_s": ingest[algo], **percentiles(times[(algo, ratio)]),
                   "top10_overlap_with_exact": overlap(found, truth), "loadavg_1m": os.getloadavg()[0]}  # fmt: skip
            print(f"[milvus] {n_docs} {algo} ratio={ratio}: {percentiles(times[(algo, ratio)])} "
                  f"overlap {row['top10_overlap_with_exact']:.4f}", flush=True)  # fmt: skip
            rows.append(row)
        for view in {id(v.client): v for v in indexes.values()}.values():
            view.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def interleaved(indexes: dict, queries, passes: int = 2) -> dict:
    """ms per query for every configuration, the configurations taking turns query by query.

    Load on a shared machine drifts over minutes; taking turns puts every configuration under the same
    load, so their ratios hold even when the absolute times do not. A query's time is its fastest pass.
    """
    for index in indexes.values():
        index.search_sparse(queries[0], k=K)
    times = {key: np.full(len(queries), np.inf) for key in indexes}
    for _ in range(passes):
        for i, q in enumerate(queries):
            for key, index in indexes.items():
                start = time.perf_counter()
                index.search_sparse(q, k=K)
                times[key][i] = min(times[key][i], 1000 * (time.perf_counter() - start))
    return times


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
    parser.add_argument("--ratios", default="default,0.9,0.7", help="dim_max_score_ratio values ('default': Milvus's)")
    parser.add_argument("--name", default="milvus_sparse", help="results file stem under bench/results")
    parser.add_argument("--note", action="append", default=[])
    args = parser.parse_args()
    result = {"command": "python bench/milvus_sparse.py " + shlex.join(sys.argv[1:]), "machine": machine_info(),
              "load_average": list(os.getloadavg()), "milvus_lite": version("milvus-lite"),
              "pymilvus": version("pymilvus"), "notes": args.note, "rows": []}  # fmt: skip
    for size in (int(s) for s in args.sizes.split(",") if s):
        ratios = [None if r == "default" else float(r) for r in args.ratios.split(",") if r]
        result["rows"] += run(size, args.queries, args.algos.split(","), ratios)
        write_json(RESULTS / f"{args.name}.json", result)  # kept after each size: a long run can be read early
    write_json(RESULTS / f"{args.name}.json", result)
    write_atomic(RESULTS / f"{args.name}.md", to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()
