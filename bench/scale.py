"""Scaling out: the embedded index vs Milvus Lite (ingest, query latency), and Ray encoding with 1 vs 2 workers.

    .venv/bin/python bench/scale.py                     # SciFact + synthetic 100k + Ray, ~10 min on 2 CPUs
    .venv/bin/python bench/scale.py --sizes 1000000 --skip-scifact --skip-ray --queries 50 --single 20

Writes bench/results/scale.json and scale.md; rows of corpora not run this time (and the Ray table, with
--skip-ray) are kept from the scale.json already there. SciFact uses MiniLM's cached corpus embeddings
(~/.cache/keytokens/encodings) when present, else encodes the corpus (slow on CPU). The synthetic corpus
has Zipfian sparse vectors (bench/_synthetic.py, 64 tokens of 30,522) and random 384-d dense vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine_info, md_cell, write_atomic, write_json

SINGLE = 50  # queries timed one by one


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _latency(search, queries, n_single: int = SINGLE) -> dict:
    """Median and p95 of one-query calls, and the per-query time of one batched call."""
    single = []
    for i in range(min(n_single, queries.shape[0] if hasattr(queries, "shape") else len(queries))):
        _, seconds = _timed(lambda i=i: search(queries[i : i + 1]))
        single.append(seconds * 1000)
    results, seconds = _timed(lambda: search(queries))
    n = len(results)
    return {
        "single_median_ms": statistics.median(single) if single else None,
        "single_p95_ms": float(np.percentile(single, 95)) if single else None,
        "batched_ms_per_query": seconds * 1000 / n,
        "batched_qps": n / seconds,
        "n_queries": n,
    }, results


def bench_engines(name, ids, vectors, embeddings, q_sparse, q_dense, info, workdir: Path, single: int = SINGLE) -> dict:
    """Ingest and query the same vectors in the embedded indexes and in Milvus Lite."""
    from keytokens.backends import CollectionInfo, MilvusIndex
    from keytokens.retrieval import DenseIndex
    from keytokens.sparse import Centering, SparseIndex

    n = len(ids)
    print(f"[{name}] embedded ingest of {n} documents", flush=True)
    start = time.perf_counter()
    sparse = SparseIndex.build(vectors, ids, info=info)
    dense = DenseIndex.build(embeddings, ids, model=info.model)
    sparse.save(workdir / f"{name}-sparse")
    dense.save(workdir / f"{name}-dense")
    embedded_ingest = time.perf_counter() - start
    sparse_lat, sparse_hits = _latency(lambda q: sparse.search(q, k=10), q_sparse, single)
    dense_lat, _ = _latency(lambda q: dense.search(q, k=10), q_dense, single)
    embedded = {
        "engine": sparse.engine.name,
        "engine_params": sparse.engine.params.to_dict(),
        "ingest_s": embedded_ingest,
        "docs_per_s": n / embedded_ingest,
        "sparse": sparse_lat,
        "dense": dense_lat,
    }

    print(f"[{name}] Milvus Lite ingest of {n} documents", flush=True)
    uri = str(workdir / f"{name}.db")
    start = time.perf_counter()
    index = MilvusIndex.create(uri, "bench", CollectionInfo(info, dim=embeddings.shape[1]), overwrite=True)
    step = 20_000
    batches = ((ids[i : i + step], vectors[i : i + step], embeddings[i : i + step]) for i in range(0, n, step))
    index.write(batches, centering=Centering())
    milvus_ingest = time.perf_counter() - start
    m_sparse, m_hits = _latency(lambda q: index.search_sparse(q, k=10), q_sparse, single)
    m_dense, _ = _latency(lambda q: index.search_dense(q, k=10), q_dense, single)
    hybrid = _latency(lambda q: index.search_hybrid(q, q_dense[: q.shape[0]], k=10), q_sparse, n_single=0)[0]
    agree = np.mean([set(a) == set(b) for a, b in zip(sparse_hits.doc_ids, m_hits.doc_ids, strict=True)])
    milvus = {
        "engine": "milvus-lite",
        "engine_params": {
            "inverted_index_algo": index.info.sparse_algo,
            "dim_max_score_ratio": index.info.dim_max_score_ratio,
        },
        "ingest_s": milvus_ingest,
        "docs_per_s": n / milvus_ingest,
        "sparse": m_sparse,
        "dense": m_dense,
        "hybrid_rrf_batched_ms_per_query": hybrid["batched_ms_per_query"],
        "sparse_top10_same_as_embedded": float(agree),
    }
    index.close()
    return {
        "corpus": name,
        "n_docs": n,
        "nnz_per_doc": vectors.nnz / n,
        "dim": embeddings.shape[1],
        "embedded": embedded,
        "milvus_lite": milvus,
    }


def scifact(workdir: Path) -> dict:
    from keytokens.datasets import data_dir
    from keytokens.evaluation import load_beir
    from keytokens.lens import Lens
    from keytokens.retrieval import SparseRetriever
    from keytokens.sparse import SparseConfig, build_index, encode_corpus

    dataset = load_beir(data_dir() / "scifact", split="test")
    lens = Lens.load("minilm")
    encoding, seconds = _timed(lambda: encode_corpus(lens, dataset.doc_texts, SparseConfig(k=64), show_progress=True))
    print(f"[scifact] corpus encodings ready in {seconds:.1f}s (cached when fast)", flush=True)
    index = build_index(lens, encoding, dataset.doc_ids)
    q_sparse = SparseRetriever.from_lens(index, lens).encode(dataset.query_texts)
    q_dense = lens.encode(dataset.query_texts, role="query")
    row = bench_engines(
        "scifact", list(dataset.doc_ids), encoding.vectors, encoding.embeddings, q_sparse, q_dense, index.info, workdir
    )
    return {**row, "model": "minilm", "queries": "scifact test (300), tokenizer-only IDF queries"}


def synthetic(n_docs: int, workdir: Path, dim: int = 384, n_queries: int = 200, single: int = SINGLE) -> dict:
    from _synthetic import _info, synthetic_vectors

    vectors, seconds = _timed(lambda: synthetic_vectors(n_docs, 64, 30_522, 1.0, seed=0))
    rng = np.random.default_rng(0)
    embeddings = rng.standard_normal((n_docs, dim), dtype=np.float32)
    print(f"[synthetic {n_docs}] generated in {seconds:.1f}s", flush=True)
    q_sparse = synthetic_vectors(200, 16, 30_522, 1.0, seed=1)[:n_queries]
    q_dense = rng.standard_normal((200, dim), dtype=np.float32)[:n_queries]
    ids = [f"d{i}" for i in range(n_docs)]
    info = _info(30_522, 64)
    row = bench_engines(f"synthetic-{n_docs}", ids, vectors, embeddings, q_sparse, q_dense, info, workdir, single)
    return {**row, "queries": f"{n_queries} Zipf-drawn queries of 16 tokens, unit weights ({single} timed one by one)"}


def ray_encoding(n_docs: int, workdir: Path) -> dict:
    import ray

    from keytokens.backends.ray_encode import encode_to_shards, load_lens
    from keytokens.datasets import data_dir
    from keytokens.evaluation.beir import read_corpus
    from keytokens.sparse import SparseConfig

    ids, texts = read_corpus(data_dir() / "scifact" / "corpus.jsonl")
    ids, texts = ids[:n_docs], texts[:n_docs]
    factory = partial(load_lens, "minilm")
    common = {"lens_factory": factory, "config": SparseConfig(k=64), "shard_size": 100}
    rows = []
    report = encode_to_shards(ids, texts, workdir / "in-process", **common)
    rows.append({"mode": "in-process", **report.to_dict()})
    print(f"[ray] in-process: {report.to_dict()}", flush=True)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        for workers in (1, 2):
            report = encode_to_shards(ids, texts, workdir / f"ray-{workers}", use_ray=True, workers=workers, **common)
            rows.append({"mode": f"ray, {workers} worker(s)", **report.to_dict()})
            print(f"[ray] {workers} workers: {report.to_dict()}", flush=True)
    finally:
        ray.shutdown()
    return {"corpus": f"first {n_docs} SciFact documents", "model": "minilm", "shard_size": 100, "runs": rows}


def to_markdown(result: dict) -> str:
    lines = ["# Scaling out: embedded index vs Milvus Lite, and Ray encoding", ""]
    lines += [
        f"Machine: {result['machine'].get('cpus_usable')} CPUs, load average at start {result['load_average']}.",
        "",
    ]
    lines += [f"Command: `{result['command']}`", ""]
    head = (
        "| corpus | engine | docs | ingest s | docs/s | sparse single ms (p50/p95) | sparse batched ms/q "
        "| dense single ms | dense batched ms/q |"
    )
    lines += [head, "|" + "---|" * 9]
    for row in result["engines"]:
        for engine in ("embedded", "milvus_lite"):
            r = row[engine]
            s, d = r["sparse"], r["dense"]
            single = f"{s['single_median_ms']:.2f} / {s['single_p95_ms']:.2f}"
            cells = [row["corpus"], engine, row["n_docs"], r["ingest_s"], r["docs_per_s"], single]
            cells += [s["batched_ms_per_query"], d["single_median_ms"], d["batched_ms_per_query"]]
            lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    lines.append("")
    for row in result["engines"]:
        m = row["milvus_lite"]
        lines.append(
            f"- {row['corpus']}: Milvus top-10 sparse sets equal to the embedded index's for "
            f"{m['sparse_top10_same_as_embedded']:.1%} of queries; "
            f"hybrid (RRF) batched {m['hybrid_rrf_batched_ms_per_query']:.2f} ms/query; {row.get('queries', '')}; "
            f"made by `{row.get('command') or result['command']}`."
        )
    if result.get("ray"):
        lines += ["", f"## Ray encoding ({result['ray']['corpus']}, {result['ray']['model']})", ""]
        lines += ["| mode | workers | shards | seconds | docs/s |", "|---|---|---|---|---|"]
        for r in result["ray"]["runs"]:
            lines.append(
                f"| {r['mode']} | {r['workers']} | {r['n_shards']} | {r['seconds']:.1f} | {r['docs_per_second']:.1f} |"
            )
    for note in result.get("notes", []):
        lines += ["", f"Note: {note}"]
    return "\n".join(lines) + "\n"


def _merge(result: dict, path: Path, *, keep_ray: bool) -> dict:
    """``result`` plus the engine rows (and, with ``keep_ray``, the Ray table) of ``path`` it does not replace."""
    if not path.is_file():
        return result
    old = json.loads(path.read_text())
    fresh = {row["corpus"] for row in result["engines"]}
    kept = [{"command": old.get("command"), **row} for row in old.get("engines", []) if row["corpus"] not in fresh]
    merged = {**result, "engines": kept + result["engines"], "notes": old.get("notes", []) + result["notes"]}
    if keep_ray and "ray" in old and "ray" not in result:
        merged["ray"] = old["ray"]
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000", help="synthetic corpus sizes, comma-separated")
    parser.add_argument("--ray-docs", type=int, default=1000)
    parser.add_argument("--skip-scifact", action="store_true")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--queries", type=int, default=200, help="synthetic queries (batched call), at most 200")
    parser.add_argument("--single", type=int, default=SINGLE, help="queries timed one by one")
    parser.add_argument("--note", action="append", default=[])
    args = parser.parse_args()
    command = "python bench/scale.py " + " ".join(sys.argv[1:])
    load = [round(x, 2) for x in os.getloadavg()]
    result = {"command": command, "machine": machine_info(), "load_average": load, "engines": [], "notes": args.note}
    workdir = Path(tempfile.mkdtemp(prefix="kt-scale-"))
    try:
        if not args.skip_scifact:
            result["engines"].append(scifact(workdir))
        for size in (int(s) for s in args.sizes.split(",") if s):
            row = synthetic(size, workdir, n_queries=args.queries, single=args.single)
            result["engines"].append({**row, "command": command, "load_average_at_start": load})
            shutil.rmtree(workdir, ignore_errors=True)
            workdir.mkdir()
        if not args.skip_ray:
            result["ray"] = ray_encoding(args.ray_docs, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = _merge(result, RESULTS / "scale.json", keep_ray=args.skip_ray)
    write_json(RESULTS / "scale.json", result)
    write_atomic(RESULTS / "scale.md", to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()
