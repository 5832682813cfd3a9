"""The systems an evaluation compares, built by name over one corpus (:data:`SYSTEMS`).

Dense, sparse and hybrid share one forward pass over the corpus (:func:`keytokens.sparse.encode_corpus`);
BM25 needs no model.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keytokens.errors import InputError, UnknownNameError
from keytokens.lens import Lens
from keytokens.retrieval import BM25Retriever, DenseIndex, DenseRetriever, HybridRetriever, Retriever, SparseRetriever
from keytokens.retrieval.recipes import Recipe, get_recipe
from keytokens.sparse import QueryConfig, build_index, encode_corpus

#: One registry for system names; error messages list exactly these.
SYSTEMS: Mapping[str, str] = {
    "dense": "exact inner product of the model's embeddings",
    "sparse": "the recipe's sparse index, queries by the tokenizer alone",
    "sparse+qexp": "the recipe's sparse index, queries plus their top-M aligned tokens (M = 16 unless set)",
    "hybrid": "the recipe's fusion of sparse and dense",
    "bm25": "bm25s (Lucene BM25, English stopwords and stemmer)",
}
_NEEDS_MODEL = frozenset({"dense", "sparse", "sparse+qexp", "hybrid"})


#: bm25s settings of the ``bm25`` baseline (Lucene BM25 with Anserini's k1 and b).
BM25_SETTINGS: Mapping[str, Any] = {"k1": 0.9, "b": 0.4}


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
    recipe: Recipe | None = None,
    query_texts: Sequence[str] | None = None,
    cache: bool | str | Path = True,
    show_progress: bool = False,
) -> list[System]:
    """Build the named systems over one corpus, with the settings of ``recipe`` (default: ``default``).

    Args:
        names: keys of :data:`SYSTEMS`.
        doc_ids: the corpus's ids.
        doc_texts: its texts.
        lens: the model (needed by every system but ``bm25``).
        recipe: every retrieval setting.
        query_texts: the queries that will be searched: encoded once (and cached) for the dense side.
        cache: the corpus-encoding cache (see :func:`keytokens.encoding.encode_corpus_embeddings`).
        show_progress: progress bars.

    Raises:
        UnknownNameError: an unknown system name.
        InputError: a model-based system without a lens.
    """
    recipe = recipe or get_recipe(None)
    for name in names:
        parse_systems(name)
    if needs_model(names) and lens is None:
        raise InputError(f"systems {sorted(set(names) & _NEEDS_MODEL)} need a model")
    built: dict[str, System] = {}
    shared: dict[str, Any] = {"seconds": 0.0}
    if needs_model(names):
        start = time.perf_counter()
        encoding = encode_corpus(lens, doc_texts, recipe.documents, cache=cache, show_progress=show_progress)
        shared["seconds"] = time.perf_counter() - start
        shared["encoding"] = encoding
        shared["model"] = {"model": lens.name, "head": lens.head.name}
        shared["embedder"] = lens.embedder
        if query_texts is not None and ("dense" in names or "hybrid" in names):
            shared["embedder"] = query_embedder(lens, query_texts, cache=cache)
    for name in names:
        built[name] = _build(name, built, shared, doc_ids, doc_texts, lens, recipe)
    return [built[n] for n in names]


def query_embedder(lens: Lens, query_texts: Sequence[str], *, cache: bool | str | Path = True):
    """``lens.embedder`` with ``query_texts`` encoded once (cached like a corpus) and served from memory."""
    from keytokens.embedders.precomputed import WithPrecomputed
    from keytokens.encoding import encode_corpus_embeddings
    from keytokens.sparse.corpus import lens_settings

    texts = list(dict.fromkeys(query_texts))
    emb = encode_corpus_embeddings(lens.embedder, texts, role="query", cache=cache, settings=lens_settings(lens))
    return WithPrecomputed(lens.embedder, emb, texts, role="query")


#: M of ``sparse+qexp`` when the recipe's queries are not expanded.
DEFAULT_QUERY_EXPANSION = 16


def _build(name, built, shared, doc_ids, doc_texts, lens, recipe: Recipe) -> System:
    start = time.perf_counter()
    model = shared.get("model", {})
    if name == "bm25":
        retriever = BM25Retriever(doc_texts, doc_ids, **BM25_SETTINGS)
        return System(name, retriever, retriever.to_dict(), time.perf_counter() - start)
    if name == "dense":
        embeddings = shared["encoding"].embeddings
        index = DenseIndex.build(embeddings, doc_ids, model=lens.name, similarity=recipe.similarity)
        retriever = DenseRetriever(index, shared["embedder"], name=name)
        info = {**model, "recipe": recipe.name, "similarity": recipe.similarity}
    elif name in ("sparse", "sparse+qexp"):
        if "index" not in shared:
            shared["index"] = build_index(lens, shared["encoding"], doc_ids)
        query = recipe.query
        if name == "sparse+qexp":
            query = QueryConfig(weights=query.weights, expansion=query.expansion or DEFAULT_QUERY_EXPANSION)
        retriever = SparseRetriever.from_lens(shared["index"], lens, query=query, name=name)
        details = {k: v for k, v in shared["encoding"].to_dict().items() if k.startswith("expansion")}
        info = {**model, "recipe": recipe.name, "documents": recipe.documents.to_dict(), **details}
        info["query"] = query.to_dict()
    else:  # hybrid
        parts = [
            built.get(part) or _build(part, built, shared, doc_ids, doc_texts, lens, recipe)
            for part in ("sparse", "dense")
        ]
        fusion = recipe.fusion
        retriever = HybridRetriever(
            [p.retriever for p in parts], fusion=fusion.method, weights=fusion.weights, depth=fusion.depth, name=name
        )
        info = {
            **model,
            "recipe": recipe.name,
            "fusion": fusion.to_dict(),
            "parts": {p.name: p.settings for p in parts},
        }
    return System(name, retriever, info, shared["seconds"] + time.perf_counter() - start)


__all__ = [
    "BM25_SETTINGS",
    "SYSTEMS",
    "System",
    "build_systems",
    "needs_model",
    "parse_systems",
    "query_embedder",
]
