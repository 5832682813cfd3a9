"""The exact engine: every query scored against its tokens' full posting lists, term at a time.

The reference every other engine is measured against, and the default: its only data structure of
its own is derived from the index's matrix at load time, so nothing is built or saved.

Profiled on BEIR queries (``bench/engines.py``), a query's cost is its postings and the fixed cost
of the calls around them, so the engine keeps both small with numpy alone:

- *cold* tokens (most of the vocabulary): their postings slices are gathered in one fancy index
  and summed per document by ``np.bincount``;
- *hot* tokens, held by at least :data:`HOT_SHARE` of the documents (stopword-like: ``the``, ``of``,
  ``##s``), are also kept as dense rows (``(n_hot, n_docs) float32``, no more bytes than twice their
  postings, usually fewer), added to the scores by one matrix-vector product: a contiguous pass
  instead of a scattered one over postings that touch most documents;
- the best ``k`` are picked from the dense scores by :func:`keytokens.ranking.top_k`.

Scores are summed in float64 and returned as float32, so they are the dot products up to float32
rounding whatever the order of the terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from keytokens.ranking import top_k

#: A token held by at least this share of the documents is also kept as a dense row.
HOT_SHARE = 0.25
#: Dense rows are kept only up to this many bytes (the hottest tokens first).
HOT_MAX_BYTES = 1 << 30


@dataclass(frozen=True, slots=True)
class ExactParams:
    """The exact engine has no knobs."""

    def to_dict(self) -> dict:
        """JSON-ready form (empty)."""
        return {}


class ExactEngine:
    """Exact top-k by summing the query tokens' postings (``Xᵀ`` as CSR, a view of the CSC matrix).

    Args:
        matrix: the index's ``(n_docs, |V|)`` CSC matrix of non-negative weights.
    """

    name: ClassVar[str] = "exact"

    def __init__(self, matrix: sp.csc_matrix, params: ExactParams | None = None) -> None:
        self.matrix = matrix
        self.params = params or ExactParams()
        # (|V|, n_docs): CSC of X is CSR of Xᵀ, no copy
        self.postings = matrix.T.tocsr(copy=False)
        self._indptr = np.asarray(self.postings.indptr, dtype=np.int64)
        self.n_docs = int(matrix.shape[0])
        self.hot_tokens, self.hot_rows = _hot_rows(matrix, self._indptr)
        # token id → row of hot_rows, or -1
        self._hot_row = np.full(matrix.shape[1], -1, dtype=np.int64)
        self._hot_row[self.hot_tokens] = np.arange(len(self.hot_tokens))

    @property
    def nbytes(self) -> int:
        """Bytes of the dense rows of the hot tokens (derived at load time, never saved)."""
        return int(self.hot_rows.nbytes)

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

    def scores(self, tokens: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """``(n_docs,) float64`` scores of one query given as distinct token ids and their weights."""
        tokens = np.asarray(tokens)
        weights = np.asarray(weights, dtype=np.float32)
        rows = self._hot_row[tokens]
        hot = rows >= 0
        dense = None
        if hot.any():
            # one matrix-vector product over the query's hot rows
            dense = weights[hot] @ self.hot_rows[rows[hot]]
            tokens, weights = tokens[~hot], weights[~hot]
        if not len(tokens):
            return np.zeros(self.n_docs) if dense is None else dense.astype(np.float64)
        starts, ends = self._indptr[tokens].tolist(), self._indptr[tokens + 1].tolist()
        data, indices = self.postings.data, self.postings.indices
        docs = np.concatenate([indices[a:b] for a, b in zip(starts, ends, strict=True)])
        if (weights == 1).all():  # tokenizer-only queries of a lexical index weigh every token 1
            values = np.concatenate([data[a:b] for a, b in zip(starts, ends, strict=True)])
        else:
            spans = zip(starts, ends, weights.tolist(), strict=True)
            values = np.concatenate([data[a:b] * w for a, b, w in spans])
        # (bincount of nothing is int64 even with weights: tokens with no postings give float zeros)
        scores = np.bincount(docs, weights=values, minlength=self.n_docs) if len(docs) else np.zeros(self.n_docs)
        if dense is not None:
            scores += dense
        return scores

    def search(self, queries: sp.csr_matrix, *, k: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Exact top-k of each query; documents sharing no token with it (score 0) are left out.

        Args:
            queries: ``(n, |V|) float32`` CSR with distinct token ids per row.
            k: documents per query.

        Returns:
            Per query, ``(m,) int64`` positions and ``(m,) float32`` scores, best first, ties by position.
        """
        positions, scores = [], []
        indptr = queries.indptr.tolist()
        for row in range(queries.shape[0]):
            lo, hi = indptr[row], indptr[row + 1]
            if lo == hi:
                positions.append(np.zeros(0, dtype=np.int64))
                scores.append(np.zeros(0, dtype=np.float32))
                continue
            dense = self.scores(queries.indices[lo:hi], queries.data[lo:hi]).astype(np.float32)
            pos, sc = top_k(dense, k, matched_only=True)
            positions.append(pos)
            scores.append(sc)
        return positions, scores


def _hot_rows(matrix: sp.csc_matrix, indptr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The hot tokens (hottest first, within :data:`HOT_MAX_BYTES`) and their ``(n_hot, n_docs) float32`` rows."""
    n_docs = int(matrix.shape[0])
    df = np.diff(indptr)
    hot = np.flatnonzero(df >= max(1.0, HOT_SHARE * n_docs))
    hot = hot[np.argsort(-df[hot], kind="stable")][: HOT_MAX_BYTES // max(4 * n_docs, 1)]
    rows = np.zeros((len(hot), n_docs), dtype=np.float32)
    for i, token in enumerate(hot.tolist()):
        lo, hi = indptr[token], indptr[token + 1]
        rows[i, matrix.indices[lo:hi]] = matrix.data[lo:hi]
    return hot.astype(np.int64), rows


__all__ = ["HOT_SHARE", "ExactEngine", "ExactParams"]
