"""The exact engine: every query scored against its tokens' full posting lists by one sparse product.

The reference every other engine is measured against, and the default: it needs no data structure of
its own (the index's CSC matrix is already the posting lists), so nothing is built or saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from keytokens.ranking import top_k

#: Queries scored at once; bounds the ``(chunk, n_docs)`` sparse score matrix.
QUERY_CHUNK = 256


@dataclass(frozen=True, slots=True)
class ExactParams:
    """The exact engine has no knobs."""

    def to_dict(self) -> dict:
        """JSON-ready form (empty)."""
        return {}


class ExactEngine:
    """Exact top-k by sparse products with the posting lists (``Xᵀ`` as CSR, a view of the CSC matrix).

    Args:
        matrix: the index's ``(n_docs, |V|)`` CSC matrix.
    """

    name: ClassVar[str] = "exact"
    nbytes = 0

    def __init__(self, matrix: sp.csc_matrix, params: ExactParams | None = None) -> None:
        self.matrix = matrix
        self.params = params or ExactParams()
        # (|V|, n_docs): CSC of X is CSR of Xᵀ, no copy; kept, as wrapping costs as much as a small query
        self.postings = matrix.T.tocsr(copy=False)

    @classmethod
    def build(cls, matrix: sp.csc_matrix, params: ExactParams | None = None) -> ExactEngine:
        """Nothing to build: the matrix is searched as it is."""
        return cls(matrix, params)

    @classmethod
    def load(cls, folder: Path, matrix: sp.csc_matrix, params: ExactParams | None = None) -> ExactEngine:
        """Nothing saved: the matrix is searched as it is."""
        return cls(matrix, params)

    def save(self, folder: Path) -> dict[str, Path]:
        """Nothing to write."""
        return {}

    def with_params(self, params: ExactParams) -> ExactEngine:
        """The same engine (it has no knobs)."""
        return self

    def search(self, queries: sp.csr_matrix, *, k: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Exact top-k of each query; documents sharing no token with it (score 0) are left out.

        Args:
            queries: ``(n, |V|) float32`` CSR.
            k: documents per query.

        Returns:
            Per query, ``(m,) int64`` positions and ``(m,) float32`` scores, best first, ties by position.
        """
        positions, scores = [], []
        for start in range(0, queries.shape[0], QUERY_CHUNK):
            chunk = queries if queries.shape[0] <= QUERY_CHUNK else queries[start : start + QUERY_CHUNK]
            hits = (chunk @ self.postings).tocsr()  # (chunk, n_docs), matched docs only
            for row in range(hits.shape[0]):
                lo, hi = hits.indptr[row], hits.indptr[row + 1]
                pos, sc = top_k(hits.data[lo:hi], k, hits.indices[lo:hi])
                positions.append(pos)
                scores.append(sc)
        return positions, scores


__all__ = ["QUERY_CHUNK", "ExactEngine", "ExactParams"]
