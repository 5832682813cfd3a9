"""The systems an evaluation compares, built by name over one corpus (:data:`SYSTEMS`).

Dense, sparse and hybrid share one forward pass over the corpus (:func:`keytokens.sparse.encode_corpus`);
BM25 needs no model.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keytokens.errors import InputError, UnknownNameError
from keytokens.lens import Lens
from keytokens.retrieval import BM25Retriever, DenseIndex, DenseRetriever, HybridRetriever, Retriever, SparseRetriever
from keytokens.sparse import QueryConfig, SparseConfig, build_index, encode_corpus

#: One registry for system names; error messages list exactly these.
SYSTEMS: Mapping[str, str] = {
    "dense": "exact inner product of the model's embeddings",
    "sparse": "aligned-token index, queries by the tokenizer alone",
    "sparse+qexp": "aligned-token index, queries plus their top-M aligned tokens",
    "hybrid": "fusion of sparse and dense",
    "bm25": "bm25s (Lucene BM25, English stopwords and stemmer)",
}
_NEEDS_MODEL = frozenset({"dense", "sparse", "sparse+qexp", "hybrid"})


@dataclass(frozen=True, slots=True)
class SystemSettings:
    """Settings of every system, recorded with each result.

    Attributes:
        sparse: document encoding (K, weighting, centering, own tokens).
        query_weights: ``one`` or ``idf``.
        expansion: ``M`` of ``sparse+qexp``.
        fusion: key of :data:`~keytokens.retrieval.FUSIONS` for ``hybrid``.
        similarity: key of :data:`~keytokens.retrieval.SIMILARITIES` for ``dense``.
        bm25: bm25s settings.
    """

    sparse: SparseConfig = field(default_factory=SparseConfig)
    query_weights: str = "idf"
    expansion: int = 16
    fusion: str = "rrf"
    similarity: str = "dot"
    bm25: dict[str, Any] = field(default_factory=lambda: {"k1": 0.9, "b": 0.4})

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "sparse": self.sparse.to_dict(),
            "query_weights": self.query_weights,
            "expansion": self.expansion,
            "fusion": self.fusion,
            "similarity": self.similarity,
            "bm25": dict(self.bm25),
        }


@dataclass(frozen=True, slots=True)
class System:
    """A built system.

    Attributes:
        name: key of :data:`SYSTEMS`.
        retriever: the retriever.
        settings: what reproduces it.
        build_seconds: wall time to build its index (the shared forward pass counts for each system using it).
    """

    name: str
    retriever: Retriever
    settings: dict[str, Any]
    build_seconds: float

    def to_dict(self) -> dict:
        """JSON-ready form (without the retriever)."""
        return {"name": self.name, "settings": self.settings, "build_seconds": self.build_seconds}


def parse_systems(text: str) -> list[str]:
    """Split ``dense,sparse`` into names, checking each.

    Raises:
        UnknownNameError: naming the registered systems.
        InputError: no system named.
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in SYSTEMS:
            raise UnknownNameError(f"unknown system {name!r}; expected one of {sorted(SYSTEMS)}")
    if not names:
        raise InputError(f"name at least one system of {sorted(SYSTEMS)}")
    return list(dict.fromkeys(names))


def needs_model(names: Sequence[str]) -> bool:
    """Whether any of the systems runs the model."""
    return any(n in _NEEDS_MODEL for n in names)


def build_systems(
    names: Sequence[str],
    doc_ids: Sequence[str],
    doc_texts: Sequence[str],
    *,
    lens: Lens | None,
    settings: SystemSettings | None = None,
    cache: bool | str | Path = True,
    show_progress: bool = False,
) -> list[System]:
    """Build the named systems over one corpus.

    Raises:
        UnknownNameError: an unknown system name.
        InputError: a model-based system without a lens.
    """
    settings = settings or SystemSettings()
    for name in names:
        parse_systems(name)
    if needs_model(names) and lens is None:
        raise InputError(f"systems {sorted(set(names) & _NEEDS_MODEL)} need a model")
    built: dict[str, System] = {}
    shared: dict[str, Any] = {}
    if needs_model(names):
        start = time.perf_counter()
        encoding = encode_corpus(lens, doc_texts, settings.sparse, cache=cache, show_progress=show_progress)
        shared["seconds"] = time.perf_counter() - start
        shared["encoding"] = encoding
        shared["model"] = {"model": lens.name, "head": lens.head.name}
    for name in names:
        built[name] = _build(name, built, shared, doc_ids, doc_texts, lens, settings)
    return [built[n] for n in names]


def _build(name, built, shared, doc_ids, doc_texts, lens, settings: SystemSettings) -> System:
    start = time.perf_counter()
    model = shared.get("model", {})
    if name == "bm25":
        retriever = BM25Retriever(doc_texts, doc_ids, **settings.bm25)
        return System(name, retriever, retriever.to_dict(), time.perf_counter() - start)
    if name == "dense":
        embeddings = shared["encoding"].embeddings
        index = DenseIndex.build(embeddings, doc_ids, model=lens.name, similarity=settings.similarity)
        retriever = DenseRetriever(index, lens.embedder, name=name)
        info = {**model, "similarity": settings.similarity}
    elif name in ("sparse", "sparse+qexp"):
        if "index" not in shared:
            shared["index"] = build_index(lens, shared["encoding"], doc_ids)
        expansion = settings.expansion if name == "sparse+qexp" else 0
        query = QueryConfig(weights=settings.query_weights, expansion=expansion)
        retriever = SparseRetriever.from_lens(shared["index"], lens, query=query, name=name)
        info = {**model, **settings.sparse.to_dict(), **query.to_dict()}
    else:  # hybrid
        parts = [
            built.get(part) or _build(part, built, shared, doc_ids, doc_texts, lens, settings)
            for part in ("sparse", "dense")
        ]
        retriever = HybridRetriever([p.retriever for p in parts], fusion=settings.fusion, name=name)
        info = {**model, "fusion": settings.fusion, "parts": {p.name: p.settings for p in parts}}
    return System(name, retriever, info, shared["seconds"] + time.perf_counter() - start)


__all__ = ["SYSTEMS", "System", "SystemSettings", "build_systems", "needs_model", "parse_systems"]
