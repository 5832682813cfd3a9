"""Hybrid retrieval: fusing the ranked lists of several retrievers (:data:`FUSIONS`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from keytokens.errors import InputError, UnknownNameError
from keytokens.ranking import SearchResults, top_k
from keytokens.retrieval.base import Retriever, check_search

#: One ranked list: ``(doc_ids, scores)``, best first.
Ranked = tuple[Sequence[str], np.ndarray]
#: ``(lists, weights, rrf_k) → {doc_id: fused score}``.
FusionFn = Callable[[Sequence[Ranked], Sequence[float], int], dict[str, float]]


def rrf(lists: Sequence[Ranked], weights: Sequence[float], rrf_k: int = 60) -> dict[str, float]:
    """Reciprocal-rank fusion ``Σ_i w_i / (rrf_k + rank_i(d))``, ranks from 1 (Cormack et al., SIGIR 2009).

    Scores are ignored, so systems on different scales fuse without calibration.
    """
    fused: dict[str, float] = {}
    for (ids, _), weight in zip(lists, weights, strict=True):
        for rank, doc in enumerate(ids, start=1):
            fused[doc] = fused.get(doc, 0.0) + weight / (rrf_k + rank)
    return fused


def interpolation(lists: Sequence[Ranked], weights: Sequence[float], rrf_k: int = 60) -> dict[str, float]:
    """Normalised-score interpolation ``Σ_i w_i · (s_i(d) − min_i) / (max_i − min_i)``.

    Each list's scores are min-max normalised over the list (all 1 when they are equal); a document
    missing from a list gets 0 from it (the list's minimum), as in Ma et al., 2021 (pyserini hybrid).
    ``rrf_k`` is unused.
    """
    fused: dict[str, float] = {}
    for (ids, scores), weight in zip(lists, weights, strict=True):
        if len(ids) == 0:
            continue
        s = np.asarray(scores, dtype=np.float64)
        span = s.max() - s.min()
        norm = (s - s.min()) / span if span > 0 else np.ones_like(s)
        for doc, value in zip(ids, norm, strict=True):
            fused[doc] = fused.get(doc, 0.0) + weight * float(value)
    return fused


#: One registry for fusions; error messages list exactly these names.
FUSIONS: Mapping[str, FusionFn] = {"rrf": rrf, "interpolation": interpolation}


def get_fusion(name: str) -> FusionFn:
    """Return the fusion called ``name``.

    Raises:
        UnknownNameError: naming the registered fusions.
    """
    try:
        return FUSIONS[name]
    except KeyError:
        raise UnknownNameError(f"unknown fusion {name!r}; expected one of {sorted(FUSIONS)}") from None


def fuse(lists: Sequence[Ranked], *, fusion: str, weights: Sequence[float], k: int, rrf_k: int = 60) -> Ranked:
    """Fuse ranked lists into one of at most ``k`` documents.

    Ties go to the document seen first, reading the lists in order (the first list's best first).
    """
    fused = get_fusion(fusion)(lists, weights, rrf_k)
    order = {}
    for ids, _ in lists:
        for doc in ids:
            order.setdefault(doc, len(order))
    docs = list(order)
    pos, scores = top_k(np.asarray([fused[d] for d in docs], dtype=np.float64), k)
    return tuple(docs[p] for p in pos), scores.astype(np.float32)


class HybridRetriever:
    """Fuses the results of several retrievers for the same corpus.

    Args:
        retrievers: the systems to fuse (for example sparse and dense of one model).
        fusion: key of :data:`FUSIONS`.
        weights: one weight per retriever; default equal (1 for ``rrf``, ``1/n`` for ``interpolation``).
        depth: documents taken from each retriever before fusing (at least ``k``).
        rrf_k: the constant of reciprocal-rank fusion.
        name: label for reports.

    Raises:
        InputError: no retrievers, or a weight count that does not match.
        UnknownNameError: an unknown fusion.
    """

    def __init__(
        self,
        retrievers: Sequence[Retriever],
        *,
        fusion: str = "rrf",
        weights: Sequence[float] | None = None,
        depth: int = 100,
        rrf_k: int = 60,
        name: str = "hybrid",
    ) -> None:
        get_fusion(fusion)
        if not retrievers:
            raise InputError("a hybrid needs at least one retriever")
        if weights is None:
            weights = [1.0 if fusion == "rrf" else 1.0 / len(retrievers)] * len(retrievers)
        if len(weights) != len(retrievers):
            raise InputError(f"{len(weights)} weights for {len(retrievers)} retrievers")
        if depth < 1 or rrf_k < 0:
            raise ValueError(f"depth must be positive and rrf_k non-negative; got {depth} and {rrf_k}")
        self.retrievers = tuple(retrievers)
        self.fusion = fusion
        self.weights = tuple(float(w) for w in weights)
        self.depth = depth
        self.rrf_k = rrf_k
        self.name = name

    def search(self, queries: Sequence[str], *, k: int) -> SearchResults:
        """The ``k`` best documents of each query after fusing every retriever's top ``max(depth, k)``."""
        texts = check_search(queries, k)
        depth = max(self.depth, k)
        results = [r.search(texts, k=depth) for r in self.retrievers]
        fused = [
            fuse(
                [(res.doc_ids[q], res.scores[q]) for res in results],
                fusion=self.fusion,
                weights=self.weights,
                k=k,
                rrf_k=self.rrf_k,
            )
            for q in range(len(texts))
        ]
        return SearchResults(doc_ids=tuple(ids for ids, _ in fused), scores=tuple(s for _, s in fused))


__all__ = ["FUSIONS", "HybridRetriever", "fuse", "get_fusion", "interpolation", "rrf"]
