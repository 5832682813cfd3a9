"""Engines of the sparse index: exact (scipy) vs Seismic, per query against bm25s, and on synthetic 1M documents.

    OMP_NUM_THREADS=1 RAYON_NUM_THREADS=1 .venv/bin/python bench/engines.py            # SciFact, NFCorpus, 1M
    .venv/bin/python bench/engines.py --sizes 100000 --corpora scifact --heap-factors 0.8

Corpora (BEIR queries: SciFact test, NFCorpus dev): the index ``keytokens index CORPUS --model minilm``
builds with the default recipe (each document's own tokens, stemmed, with BM25 impacts, plus its
top-4 aligned tokens from the corpus-fitted head; MiniLM encodings from the shared cache), searched
with the recipe's query settings (tokenizer only). A query's time is
``SparseRetriever.search([text], k=10)`` (tokenise, weights, engine search, result building), its
fastest of 3 passes; bm25s (as `keytokens eval`'s BM25 row: its own tokenizer, English stopwords and stemmer) is timed
the same way in the same run. Synthetic: bench/_synthetic.py's Zipf vectors (64 tokens of 30,522 per
document, 16-token queries with IDF weights). Overlap: share of the exact engine's top 10 that an
engine returns; ``top10_identical_share``: queries whose top 10 is the exact one, in order.
Seismic grid: ``--build 'knob=value …'`` (repeatable) × ``--query-cuts`` × ``--heap-factors``.
Writes bench/results/engines.json and engines.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine_info, md_cell, write_atomic, write_json

K = 10
#: The qrels split whose queries are timed (as bench/retrieval.py reports them).
SPLITS = {"scifact": "test", "nfcorpus": "dev"}
PASSES = 3
WARMUP = 10
BM25 = {"k1": 0.9, "b": 0.4}
#: Knobs that only change how queries run: one build serves every value.
SEARCH_KNOBS = ("heap_factor", "query_cut")


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


def default_index(name: str):
    """The corpus's sparse index under the default recipe (as ``keytokens index CORPUS --model minilm``) and its
    retriever with the recipe's query settings; MiniLM document encodings come from the shared cache."""
    from keytokens.datasets import data_dir
    from keytokens.evaluation.beir import read_corpus
    from keytokens.lens import Lens
    from keytokens.retrieval.recipes import get_recipe
    from keytokens.sparse import build_index, encode_corpus

    recipe = get_recipe("default")
    doc_ids, texts = read_corpus(data_dir() / name / "corpus.jsonl")
    lens = Lens.load("minilm")
    index = build_index(lens, encode_corpus(lens, texts, recipe.documents), doc_ids)
    return index, lens.vocabulary.tokenizer, recipe


def corpus_rows(name: str, engines: list[tuple[str, dict]]) -> list[dict]:
    from keytokens.datasets import data_dir
    from keytokens.evaluation import load_beir
    from keytokens.evaluation.systems import BM25_SETTINGS
    from keytokens.retrieval import BM25Retriever, SparseRetriever
    from keytokens.sparse import QueryConfig

    data = load_beir(data_dir() / name, split=SPLITS.get(name, "test"))
    queries = list(data.query_texts)
    index, tokenizer, recipe = default_index(name)
    bm25 = BM25Retriever(data.doc_texts, data.doc_ids, **BM25_SETTINGS)  # the BM25 row of `keytokens eval`
    bm25_ms = timed_queries(lambda q: bm25.search([q], k=K), queries)
    base = {"corpus": name, "recipe": recipe.name, "n_docs": index.n_docs, "nnz_per_doc": index.nnz / index.n_docs,
            "k": K, "n_queries": len(queries), "bm25s_query_ms_p50": float(np.percentile(bm25_ms, 50)),
            "bm25s_query_ms_p95": float(np.percentile(bm25_ms, 95))}  # fmt: skip
    query = QueryConfig(weights=index.info.config.query_weights)
    exact = SparseRetriever(index, tokenizer, query=query)
    truth = exact.search(queries, k=K).doc_ids
    rows, built = [], {}
    for engine, options in engines:
        key = (engine, tuple(sorted((k, v) for k, v in options.items() if k not in SEARCH_KNOBS)))
        start = time.perf_counter()
        if key not in built:
            built[key] = (index.with_engine(engine, options), time.perf_counter() - start)
            saved_size(built[key][0].engine)
        searcher, build_s = built[key][0].with_engine(engine, options), built[key][1]
        retriever = SparseRetriever(searcher, tokenizer, query=query)
        ms = timed_queries(lambda q, r=retriever: r.search([q], k=K), queries)
        p = percentiles(ms)
        batch_start = time.perf_counter()
        found = retriever.search(queries, k=K).doc_ids
        batch_ms = 1000 * (time.perf_counter() - batch_start) / len(queries)
        row = {**base, "engine": engine, "engine_params": searcher.engine.params.to_dict(), **p,
               "vs_bm25s_p50": p["query_ms_p50"] / base["bm25s_query_ms_p50"], "batched_ms_per_query": batch_ms,
               "top10_overlap_with_exact": overlap(found, truth),
               "top10_identical_share": float(np.mean([f == t for f, t in zip(found, truth, strict=True)])),
               "engine_build_s": build_s, "engine_bytes": searcher.engine.nbytes, "index_bytes": index.nbytes,
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
            key = (engine, tuple(sorted((k, v) for k, v in options.items() if k not in SEARCH_KNOBS)))
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


LEGEND = (
    "Exact's engine MB: the dense rows of tokens held by a quarter of the documents or more, derived when the "
    "index loads (never saved); its synthetic build s: `SparseIndex.build`. Batched: every query in one `search` "
    "call. Identical top 10: share of queries whose top 10 equals exact's, in order."
)


def to_markdown(result: dict) -> str:
    lines = ["# Sparse index engines: exact (scipy) vs Seismic", ""]
    lines += [f"Command: `{result['command']}`; load average at start {result['load_average']}; "
              f"{result['machine'].get('cpus_usable')} CPUs shared; OMP/RAYON threads "
              f"{os.environ.get('OMP_NUM_THREADS')}/{os.environ.get('RAYON_NUM_THREADS')}.", ""]  # fmt: skip
    head = ("| corpus | engine | knobs | p50 ms | p95 ms | × bm25s p50 | batched ms/query | top-10 overlap "
            "| identical top 10 | build s | engine MB | engine B/doc |")  # fmt: skip
    lines += [head, "|" + "---|" * 12]
    for r in result["rows"]:
        knobs = ", ".join(f"{k}={v}" for k, v in r["engine_params"].items()) or "-"
        ratio = r.get("vs_bm25s_p50")
        build = r.get("build_s", r.get("engine_build_s"))
        same = r.get("top10_identical_share")
        cells = [r["corpus"], r["engine"], knobs, r["query_ms_p50"], r["query_ms_p95"],
                 "-" if ratio is None else f"{ratio:.2f}", r.get("batched_ms_per_query", "-"),
                 f"{r['top10_overlap_with_exact']:.4f}", "-" if same is None else f"{same:.3f}", build,
                 r["engine_bytes"] / 1e6, r["engine_bytes"] / r["n_docs"]]  # fmt: skip
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    lines.append("")
    for name in sorted({r["corpus"] for r in result["rows"] if "bm25s_query_ms_p50" in r}):
        r = next(r for r in result["rows"] if r["corpus"] == name)
        lines.append(
            f"- {name}: bm25s p50 {r['bm25s_query_ms_p50']:.3f} ms in the same run ({r['n_queries']} queries)."
        )
    lines += ["", LEGEND]
    for note in result.get("notes", []):
        lines += ["", f"Note: {note}"]
    return "\n".join(lines) + "\n"


def parse_engines(builds: list[str], query_cuts: str, heap_factors: str) -> list[tuple[str, dict]]:
    """``exact``, then Seismic for every build (``knob=value`` words) × query_cut × heap_factor."""
    engines: list[tuple[str, dict]] = [("exact", {})]
    for build in builds or [""]:
        knobs = {}
        for word in build.split():
            key, _, value = word.partition("=")
            knobs[key] = float(value) if "." in value else int(value) if value.lstrip("-").isdigit() else value
        for cut in (int(c) for c in query_cuts.split(",") if c):
            for h in (float(h) for h in heap_factors.split(",") if h):
                engines.append(("seismic", {**knobs, "query_cut": cut, "heap_factor": h}))
    return engines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default="scifact,nfcorpus")
    parser.add_argument("--sizes", default="1000000", help="synthetic corpus sizes, comma-separated")
    parser.add_argument(
        "--build",
        action="append",
        default=[],
        help="Seismic build knobs as 'knob=value knob=value' (repeatable; default: the defaults)",
    )
    parser.add_argument("--query-cuts", default="0", help="Seismic query_cut values (0: every query token)")
    parser.add_argument("--heap-factors", default="0.6,0.8,1.0", help="Seismic heap_factor values")
    parser.add_argument("--queries", type=int, default=200, help="synthetic queries")
    parser.add_argument("--name", default="engines", help="results file stem under bench/results")
    parser.add_argument("--note", action="append", default=[])
    args = parser.parse_args()
    command = "python bench/engines.py " + shlex.join(sys.argv[1:])
    result = {"command": command, "machine": machine_info(), "load_average": list(os.getloadavg()),
              "notes": args.note, "rows": []}  # fmt: skip
    engines = parse_engines(args.build, args.query_cuts, args.heap_factors)
    for name in (c for c in args.corpora.split(",") if c):
        result["rows"] += corpus_rows(name, engines)
    for size in (int(s) for s in args.sizes.split(",") if s):
        result["rows"] += synthetic_rows(size, engines, args.queries)
        write_json(RESULTS / f"{args.name}.json", result)  # kept after each size: a long run can be read early
    write_json(RESULTS / f"{args.name}.json", result)
    write_atomic(RESULTS / f"{args.name}.md", to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()
