"""Engines of the sparse index: exact (scipy) vs Seismic, per query against bm25s, and on synthetic 1M documents.

    OMP_NUM_THREADS=1 RAYON_NUM_THREADS=1 .venv/bin/python bench/engines.py            # SciFact, NFCorpus, 1M
    .venv/bin/python bench/engines.py --sizes 100000 --corpora scifact --heap-factors 0.8

Corpora (BEIR queries: SciFact test, NFCorpus dev): each document's own MiniLM tokens with BM25
impacts (Lucene saturation and length normalisation, k1 0.9, b 0.4, computed at index time: the
stand-in of issue 11's recipe, made here from the tokenizer alone), queries encoded by
``SparseRetriever`` (own tokens, IDF weights), so ``q · d`` is BM25 over word pieces. A query's time
is ``SparseRetriever.search([text], k=10)`` (tokenise, weights, engine search, result building), its
fastest of 3 passes; bm25s (its own tokenizer and stemmer) is timed the same way in the same run.
Synthetic: bench/_synthetic.py's Zipf vectors (64 tokens of 30,522 per document, 16-token queries
with IDF weights). Overlap: share of the exact engine's top 10 that an engine returns.
Writes bench/results/engines.json and engines.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine_info, md_cell, write_atomic, write_json

K = 10
#: The qrels split whose queries are timed (as bench/retrieval.py reports them).
SPLITS = {"scifact": "test", "nfcorpus": "dev"}
PASSES = 3
WARMUP = 10
BM25 = {"k1": 0.9, "b": 0.4}


def rss_bytes() -> int:
    """The process's resident memory now (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def saved_size(engine) -> int:
    """Save the engine to a scratch folder so it knows its size on disk (``engine.nbytes``)."""
    with tempfile.TemporaryDirectory() as tmp:
        engine.save(Path(tmp))
    return engine.nbytes


def timed_queries(search, queries) -> np.ndarray:
    """``(n,)`` ms per query: the fastest of :data:`PASSES` passes, after :data:`WARMUP` warm-up queries."""
    for q in queries[:WARMUP]:
        search(q)
    passes = np.zeros((PASSES, len(queries)))
    for p in range(PASSES):
        for i, q in enumerate(queries):
            start = time.perf_counter()
            search(q)
            passes[p, i] = 1000 * (time.perf_counter() - start)
    return passes.min(axis=0)


def percentiles(ms: np.ndarray) -> dict:
    return {"query_ms_p50": float(np.percentile(ms, 50)), "query_ms_p95": float(np.percentile(ms, 95))}


def overlap(found, exact) -> float:
    """Mean share of the exact top-k found (queries with an empty exact list count 1)."""
    shares = [len(set(f) & set(e)) / len(e) if e else 1.0 for f, e in zip(found, exact, strict=True)]
    return float(np.mean(shares))


def bm25_impacts(token_ids: list[np.ndarray], vocab: int) -> sp.csr_matrix:
    """``(n_docs, vocab)`` Lucene BM25 document impacts ``tf (k1+1) / (tf + k1 (1 − b + b·len/avglen))``."""
    lengths = np.array([len(t) for t in token_ids], dtype=np.float64)
    norm = BM25["k1"] * (1 - BM25["b"] + BM25["b"] * lengths / max(lengths.mean(), 1e-9))
    rows, cols, vals = [], [], []
    for d, ids in enumerate(token_ids):
        uniq, tf = np.unique(ids, return_counts=True)
        rows.append(np.full(len(uniq), d))
        cols.append(uniq)
        vals.append(tf * (BM25["k1"] + 1) / (tf + norm[d]))
    data = np.concatenate(vals).astype(np.float32)
    return sp.csr_matrix((data, (np.concatenate(rows), np.concatenate(cols))), shape=(len(token_ids), vocab))


def corpus_rows(name: str, tokenizer, engines: list[tuple[str, dict]]) -> list[dict]:
    from keytokens.datasets import data_dir
    from keytokens.evaluation import load_beir
    from keytokens.retrieval import BM25Retriever, SparseRetriever
    from keytokens.sparse import IndexInfo, SparseConfig, SparseIndex, tokenizer_fingerprint
    from keytokens.sparse.tokenizer import tokenize

    data = load_beir(data_dir() / name, split=SPLITS.get(name, "test"))
    queries = list(data.query_texts)
    vocab = len(tokenizer)
    vectors = bm25_impacts(tokenize(tokenizer, data.doc_texts), vocab)
    info = IndexInfo("minilm", "none", tokenizer_fingerprint(tokenizer), vocab, SparseConfig(k=1))
    index = SparseIndex.build(vectors, list(data.doc_ids), info=info)
    bm25 = BM25Retriever(data.doc_texts, data.doc_ids, k1=BM25["k1"], b=BM25["b"], method="lucene",
                         stopwords="en", stemmer="english")  # fmt: skip
    bm25_ms = timed_queries(lambda q: bm25.search([q], k=K), queries)
    base = {"corpus": name, "n_docs": index.n_docs, "nnz_per_doc": index.nnz / index.n_docs, "k": K,
            "n_queries": len(queries), "bm25s_query_ms_p50": float(np.percentile(bm25_ms, 50))}  # fmt: skip
    exact = SparseRetriever(index, tokenizer)
    truth = exact.search(queries, k=K).doc_ids
    rows, built = [], {"exact": (index, 0.0)}
    for engine, options in engines:
        start = time.perf_counter()
        base_index, build_s = built.get(engine, (index, None))
        retriever = SparseRetriever(base_index, tokenizer, engine=engine, engine_options=options)
        if build_s is None:  # built now; later rows of this engine only change search knobs
            build_s = time.perf_counter() - start
            built[engine] = (retriever.index, build_s)
        saved_size(retriever.index.engine)
        ms = timed_queries(lambda q, r=retriever: r.search([q], k=K), queries)
        p = percentiles(ms)
        batch_start = time.perf_counter()
        found = retriever.search(queries, k=K).doc_ids
        batch_ms = 1000 * (time.perf_counter() - batch_start) / len(queries)
        row = {**base, "engine": engine, "engine_params": retriever.index.engine.params.to_dict(), **p,
               "vs_bm25s_p50": p["query_ms_p50"] / base["bm25s_query_ms_p50"], "batched_ms_per_query": batch_ms,
               "top10_overlap_with_exact": overlap(found, truth), "engine_build_s": build_s,
               "engine_bytes": retriever.index.engine.nbytes, "index_bytes": index.nbytes,
               "loadavg_1m": os.getloadavg()[0]}  # fmt: skip
        print(f"[engines] {name} {engine} {options}: {p} overlap {row['top10_overlap_with_exact']:.4f}", flush=True)
        rows.append(row)
    return rows


def synthetic_rows(n_docs: int, engines: list[tuple[str, dict]], n_queries: int) -> list[dict]:
    from _synthetic import _info, synthetic_vectors, zipf_cdf
    from keytokens.sparse import SparseIndex, query_vectors
    from keytokens.sparse.queries import idf

    vocab = 30_522
    vectors = synthetic_vectors(n_docs, 64, vocab, 1.0, seed=0)
    gc.collect()
    rss0, start = rss_bytes(), time.perf_counter()
    index = SparseIndex.build(vectors, [f"d{i}" for i in range(n_docs)], info=_info(vocab, 64))
    exact_build = {"build_s": time.perf_counter() - start, "rss_growth_bytes": rss_bytes() - rss0}
    del vectors
    gc.collect()
    rng = np.random.default_rng(1)
    cdf = zipf_cdf(vocab, 1.0)
    draws = [np.minimum(np.searchsorted(cdf, rng.random(16)), vocab - 1) for _ in range(n_queries)]
    weights, everything = idf(index.document_frequency(), n_docs), np.ones(vocab, dtype=bool)
    queries = [query_vectors([d], token_weights=weights, indexable=everything) for d in draws]
    truth = [index.search(q, k=K).doc_ids[0] for q in queries]
    base = {"corpus": f"synthetic-{n_docs}", "n_docs": n_docs, "nnz_per_doc": index.nnz / n_docs, "k": K,
            "n_queries": n_queries, "queries": "16 Zipf-drawn tokens, IDF weights"}  # fmt: skip
    rows, built = [], {}
    for engine, options in engines:
        build = exact_build
        searcher = index
        if engine != "exact":
            key = (engine, tuple(sorted((k, v) for k, v in options.items() if k not in ("heap_factor", "query_cut"))))
            if key not in built:
                gc.collect()
                rss0, start = rss_bytes(), time.perf_counter()
                fresh = index.with_engine(engine, options)
                built[key] = (fresh, {"build_s": time.perf_counter() - start, "rss_growth_bytes": rss_bytes() - rss0})
                saved_size(fresh.engine)
            searcher = built[key][0].with_engine(engine, options)
            build = built[key][1]
        ms = timed_queries(lambda q, s=searcher: s.search(q, k=K), queries)
        found = [searcher.search(q, k=K).doc_ids[0] for q in queries]
        row = {**base, "engine": engine, "engine_params": searcher.engine.params.to_dict(), **percentiles(ms),
               "top10_overlap_with_exact": overlap(found, truth), **build, "index_bytes": index.nbytes,
               "engine_bytes": searcher.engine.nbytes, "engine_bytes_per_doc": searcher.engine.nbytes / n_docs,
               "loadavg_1m": os.getloadavg()[0]}  # fmt: skip
        print(f"[engines] synthetic {n_docs} {engine} {options}: {percentiles(ms)} "
              f"overlap {row['top10_overlap_with_exact']:.4f} build {build}", flush=True)  # fmt: skip
        rows.append(row)
    return rows


def to_markdown(result: dict) -> str:
    lines = ["# Sparse index engines: exact (scipy) vs Seismic", ""]
    lines += [f"Command: `{result['command']}`; load average at start {result['load_average']}; "
              f"{result['machine'].get('cpus_usable')} CPUs shared; OMP/RAYON threads "
              f"{os.environ.get('OMP_NUM_THREADS')}/{os.environ.get('RAYON_NUM_THREADS')}.", ""]  # fmt: skip
    head = ("| corpus | engine | knobs | p50 ms | p95 ms | × bm25s p50 | top-10 overlap | build s "
            "| engine MB | engine B/doc |")  # fmt: skip
    lines += [head, "|" + "---|" * 10]
    for r in result["rows"]:
        knobs = ", ".join(f"{k}={v}" for k, v in r["engine_params"].items()) or "-"
        ratio = r.get("vs_bm25s_p50")
        build = r.get("build_s", r.get("engine_build_s"))
        cells = [r["corpus"], r["engine"], knobs, r["query_ms_p50"], r["query_ms_p95"],
                 "-" if ratio is None else f"{ratio:.2f}", f"{r['top10_overlap_with_exact']:.4f}", build,
                 r["engine_bytes"] / 1e6, r["engine_bytes"] / r["n_docs"]]  # fmt: skip
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    lines.append("")
    for name in sorted({r["corpus"] for r in result["rows"] if "bm25s_query_ms_p50" in r}):
        r = next(r for r in result["rows"] if r["corpus"] == name)
        lines.append(
            f"- {name}: bm25s p50 {r['bm25s_query_ms_p50']:.3f} ms in the same run ({r['n_queries']} queries)."
        )
    for note in result.get("notes", []):
        lines += ["", f"Note: {note}"]
    return "\n".join(lines) + "\n"


def parse_engines(heap_factors: str) -> list[tuple[str, dict]]:
    return [("exact", {})] + [("seismic", {"heap_factor": float(h)}) for h in heap_factors.split(",") if h]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default="scifact,nfcorpus")
    parser.add_argument("--sizes", default="1000000", help="synthetic corpus sizes, comma-separated")
    parser.add_argument("--heap-factors", default="0.6,0.8,1.0", help="Seismic heap_factor values")
    parser.add_argument("--queries", type=int, default=200, help="synthetic queries")
    parser.add_argument("--note", action="append", default=[])
    args = parser.parse_args()
    command = "python bench/engines.py " + " ".join(sys.argv[1:])
    result = {"command": command, "machine": machine_info(), "load_average": list(os.getloadavg()),
              "notes": args.note, "rows": []}  # fmt: skip
    engines = parse_engines(args.heap_factors)
    if args.corpora:
        from keytokens.lens import Lens

        tokenizer = Lens.load("minilm").vocabulary.tokenizer
        for name in args.corpora.split(","):
            result["rows"] += corpus_rows(name, tokenizer, engines)
    for size in (int(s) for s in args.sizes.split(",") if s):
        result["rows"] += synthetic_rows(size, engines, args.queries)
    write_json(RESULTS / "engines.json", result)
    write_atomic(RESULTS / "engines.md", to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()
