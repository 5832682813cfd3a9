"""A synthetic sparse index at scale: 1M documents × 64 non-zeros, Zipfian token frequencies.

Token ``t`` (of ``vocab`` tokens, ``t = 0`` the most frequent) is drawn with probability
``∝ 1 / (t + 1)^s`` (Zipf, ``s = 1`` by default, like word frequencies in text). Each document
holds ``nnz`` distinct tokens: ``2 × nnz`` draws, duplicates removed, ``nnz`` of the distinct ones
kept at random (a document drawing fewer distinct tokens keeps them all). Weights are uniform in
``[0.1, 3)``, the range of ReLU'd logits. Queries are ``query_tokens`` draws from the same
distribution (so stopword-like tokens with postings of most documents appear, as in real queries),
and, apart, uniform draws (rare tokens, short postings); both weighted by the index's IDF, through
keytokens' own query encoding and ``SparseIndex.search``.

Build time and peak memory cover :meth:`SparseIndex.build` alone (CSR input → int32 CSC postings);
generating the vectors is timed apart. Peak memory is what ``tracemalloc`` saw allocated during a
second, traced build (numpy and scipy report their buffers to it), plus the process's peak RSS.
"""

from __future__ import annotations

import gc
import resource
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp

DOC_CHUNK = 50_000
#: Timed passes over the queries; a query counts its fastest (as `retrieval.latency` does).
PASSES = 3


def zipf_cdf(vocab: int, exponent: float) -> np.ndarray:
    """``(vocab,) float64`` cumulative Zipf probabilities."""
    p = 1.0 / np.arange(1, vocab + 1, dtype=np.float64) ** exponent
    return np.cumsum(p / p.sum())


def synthetic_vectors(n_docs: int, nnz: int, vocab: int, exponent: float, seed: int) -> sp.csr_matrix:
    """``(n_docs, vocab) float32`` CSR, at most ``nnz`` distinct Zipf-drawn tokens per row."""
    rng = np.random.default_rng(seed)
    cdf = zipf_cdf(vocab, exponent)
    data, indices, counts = [], [], []
    for start in range(0, n_docs, DOC_CHUNK):
        rows = min(DOC_CHUNK, n_docs - start)
        draws = np.minimum(np.searchsorted(cdf, rng.random((rows, 2 * nnz))), vocab - 1)
        draws.sort(axis=1)
        keys = rng.random(draws.shape)
        keys[:, 1:][draws[:, 1:] == draws[:, :-1]] = -1.0  # a repeated token never wins
        pick = np.argpartition(-keys, nnz - 1, axis=1)[:, :nnz]
        tokens = np.take_along_axis(draws, pick, axis=1)
        ok = np.take_along_axis(keys, pick, axis=1) >= 0
        tokens = np.where(ok, tokens, vocab)  # vocab marks a dropped slot; sorts last
        tokens.sort(axis=1)
        keep = tokens < vocab
        counts.append(keep.sum(axis=1))
        indices.append(tokens[keep].astype(np.int32))
        data.append(rng.uniform(0.1, 3.0, size=int(keep.sum())).astype(np.float32))
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
    return sp.csr_matrix((np.concatenate(data), np.concatenate(indices), indptr), shape=(n_docs, vocab))


def _info(vocab: int, nnz: int):
    from keytokens.sparse import IndexInfo, SparseConfig

    config = SparseConfig(k=nnz, weighting="relu")
    return IndexInfo(model="synthetic", head="none", tokenizer="synthetic", vocab_size=vocab, config=config)


def bench_synthetic(
    *,
    n_docs: int = 1_000_000,
    nnz: int = 64,
    vocab: int = 30_522,
    exponent: float = 1.0,
    n_queries: int = 200,
    query_tokens: int = 16,
    seed: int = 0,
) -> dict:
    """Build, size and query a synthetic index; returns one row of measurements."""
    from keytokens.sparse import SparseIndex

    start = time.perf_counter()
    vectors = synthetic_vectors(n_docs, nnz, vocab, exponent, seed)
    doc_ids = [f"d{i:07d}" for i in range(n_docs)]
    generate_s = time.perf_counter() - start

    gc.collect()
    start = time.perf_counter()
    index = SparseIndex.build(vectors, doc_ids, info=_info(vocab, nnz))
    build_s = time.perf_counter() - start
    del index
    gc.collect()
    tracemalloc.start()
    index = SparseIndex.build(vectors, doc_ids, info=_info(vocab, nnz))
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    rng = np.random.default_rng(seed + 1)
    cdf = zipf_cdf(vocab, exponent)
    zipf = [np.minimum(np.searchsorted(cdf, rng.random(query_tokens)), vocab - 1) for _ in range(n_queries)]
    uniform = [rng.integers(0, vocab, size=query_tokens) for _ in range(n_queries)]
    row_nnz = np.diff(vectors.indptr)
    return {
        "n_docs": n_docs,
        "vocab_size": vocab,
        "nnz_target": nnz,
        "nnz_per_doc": float(row_nnz.mean()),
        "docs_below_target_nnz": int((row_nnz < nnz).sum()),
        "zipf_exponent": exponent,
        "seed": seed,
        "generate_s": generate_s,
        "index_build_s": build_s,
        "build_peak_traced_bytes": int(traced_peak),
        "process_peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "index_bytes": index.nbytes,
        "index_bytes_per_doc": index.nbytes / n_docs,
        "query_tokens_drawn": query_tokens,
        **_latency(index, zipf, ""),
        **_latency(index, uniform, "uniform_"),
        "max_df": int(index.document_frequency().max()),
        "k": 100,
    }


def _latency(index, queries: list[np.ndarray], prefix: str) -> dict:
    """One ``search`` per query (query encoding with IDF weights included), after 10 warm-up queries."""
    from keytokens.sparse import query_vectors
    from keytokens.sparse.queries import idf

    df = index.document_frequency()
    weights = idf(df, index.n_docs)
    everything = np.ones(len(df), dtype=bool)

    def search(ids: np.ndarray):
        return index.search(query_vectors([ids], token_weights=weights, indexable=everything), k=100)

    for ids in queries[:10]:
        search(ids)
    passes = np.zeros((PASSES, len(queries)))
    for p in range(PASSES):
        for i, ids in enumerate(queries):
            start = time.perf_counter()
            search(ids)
            passes[p, i] = 1000 * (time.perf_counter() - start)
    times = passes.min(axis=0)
    return {
        f"{prefix}n_latency_queries": len(times),
        f"{prefix}query_ms_p50": float(np.percentile(times, 50)),
        f"{prefix}query_ms_p95": float(np.percentile(times, 95)),
        f"{prefix}query_ms_mean": float(times.mean()),
        f"{prefix}postings_touched_p50": float(np.median([df[np.unique(q)].sum() for q in queries])),
    }
