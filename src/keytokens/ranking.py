"""Ranked lists: deterministic top-k selection and the results every retriever returns.

Every retriever ranks through :func:`top_k` (score descending, then position ascending, without a
full sort), so equal scores always come out in the same order (the document added first wins)
whichever retriever, chunk size or platform produced them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True, eq=False)
class SearchResults:
    """Ranked documents for a batch of queries, best first.

    Attributes:
        doc_ids: ``n_queries`` tuples of at most ``k`` document ids; fewer when fewer documents match.
        scores: ``n_queries`` arrays, ``(len(doc_ids[i]),) float32``, non-increasing.
    """

    doc_ids: tuple[tuple[str, ...], ...]
    scores: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        if len(self.doc_ids) != len(self.scores):
            raise ValueError(f"{len(self.doc_ids)} id rows for {len(self.scores)} score rows")
        for i, (ids, scores) in enumerate(zip(self.doc_ids, self.scores, strict=True)):
            if np.shape(scores) != (len(ids),):
                raise ValueError(f"query {i}: {len(ids)} ids but scores of shape {np.shape(scores)}")

    def __len__(self) -> int:
        return len(self.doc_ids)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SearchResults):
            return NotImplemented
        return self.doc_ids == other.doc_ids and all(
            np.array_equal(a, b) for a, b in zip(self.scores, other.scores, strict=True)
        )

    __hash__ = None  # type: ignore[assignment]  # holds arrays

    def hits(self, query: int) -> list[tuple[str, float]]:
        """``(doc_id, score)`` pairs of one query, best first."""
        return [(d, float(s)) for d, s in zip(self.doc_ids[query], self.scores[query], strict=True)]

    def to_dict(self) -> dict:
        """JSON-ready form: one list of ``{"id", "score"}`` per query."""
        return {"results": [[{"id": d, "score": s} for d, s in self.hits(q)] for q in range(len(self))]}

    @classmethod
    def from_positions(
        cls, positions: Sequence[np.ndarray], scores: Sequence[np.ndarray], doc_ids: Sequence[str] | np.ndarray
    ) -> SearchResults:
        """Build results from per-query document positions into ``doc_ids``."""
        ids = np.asarray(doc_ids)
        return cls(
            doc_ids=tuple(tuple(ids[np.asarray(row, dtype=np.int64)].tolist()) for row in positions),
            scores=tuple(np.asarray(s, dtype=np.float32) for s in scores),
        )


def top_k(
    scores: np.ndarray, k: int, positions: np.ndarray | None = None, *, matched_only: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best entries of a score vector, ties broken by the smaller position.

    ``np.partition`` finds the k-th best score in linear time; only the entries at or above it (``k``
    of them, more when scores tie) are then sorted (``O(n + k log k)``).

    Args:
        scores: ``(n,)`` scores, higher is better; NaN is not allowed.
        k: how many to keep (``k ≥ 0``); fewer come back when ``n < k``.
        positions: ``(n,) int64`` tie-break keys (document positions), unique; defaults to ``arange(n)``.
        matched_only: leave out entries scoring exactly 0 (documents sharing nothing with the query).

    Returns:
        ``(positions, scores)``: ``(min(k, n),) int64`` and ``(min(k, n),)`` of ``scores``'s dtype, best first.

    Raises:
        ValueError: ``k`` is negative or the shapes differ.
    """
    scores = np.asarray(scores)
    if k < 0:
        raise ValueError(f"k must be non-negative; got {k}")
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D; got shape {scores.shape}")
    if positions is not None:
        positions = np.asarray(positions, dtype=np.int64)
        if positions.shape != scores.shape:
            raise ValueError(f"positions {positions.shape} and scores {scores.shape} must have the same shape")
    if matched_only and 2 * np.count_nonzero(scores) < len(scores):
        # mostly zeros, which would all tie at a k-th score of 0: keep the matched entries first
        keep = np.flatnonzero(scores)
        scores = scores[keep]
        positions = keep if positions is None else positions[keep]
    n = len(scores)
    if k == 0:
        keep = np.zeros(0, dtype=np.int64)
    elif k < n:
        keep = np.flatnonzero(scores >= np.partition(scores, n - k)[n - k])  # ≥ k entries: the best and ties
    else:
        keep = np.arange(n, dtype=np.int64)
    scores = scores[keep]
    pos = keep if positions is None else positions[keep]
    if matched_only:
        nonzero = scores != 0
        if not nonzero.all():
            scores, pos = scores[nonzero], pos[nonzero]
    order = np.lexsort((pos, -scores))[:k]
    return pos[order].astype(np.int64, copy=False), scores[order]


__all__ = ["SearchResults", "top_k"]
