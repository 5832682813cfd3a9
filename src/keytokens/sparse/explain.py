"""Explaining a sparse hit: which tokens a query and a document share, and what each contributed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from keytokens.lens.vocabulary import readable


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a document scored what it did for a query.

    Attributes:
        doc_id: the document.
        score: ``Σ contributions``, its search score (up to float32 summation order).
        token_ids: ``(m,) int64`` tokens shared by query and document, largest contribution first.
        query_weights: ``(m,) float32`` their weights in the query.
        doc_weights: ``(m,) float32`` their weights in the document.
        contributions: ``(m,) float32`` ``query_weights × doc_weights``.
        tokens: readable forms of ``token_ids``, when a tokenizer was given.
    """

    doc_id: str
    score: float
    token_ids: np.ndarray
    query_weights: np.ndarray
    doc_weights: np.ndarray
    contributions: np.ndarray
    tokens: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        shapes = {a.shape for a in (self.token_ids, self.query_weights, self.doc_weights, self.contributions)}
        if len(shapes) != 1 or len(next(iter(shapes))) != 1:
            raise ValueError(f"token ids, weights and contributions must be equal (m,) arrays; got {shapes}")
        if self.tokens is not None and len(self.tokens) != len(self.token_ids):
            raise ValueError(f"{len(self.tokens)} token strings for {len(self.token_ids)} ids")

    def to_dict(self) -> dict:
        """JSON-ready form."""
        names = self.tokens or (None,) * len(self.token_ids)
        return {
            "doc_id": self.doc_id,
            "score": self.score,
            "matches": [
                {"id": int(t), "token": n, "query_weight": float(q), "doc_weight": float(d), "contribution": float(c)}
                for t, n, q, d, c in zip(
                    self.token_ids, names, self.query_weights, self.doc_weights, self.contributions, strict=True
                )
            ],
        }


def explain_match(
    matrix: sp.csc_matrix, query: sp.csr_matrix, position: int, *, doc_id: str, tokenizer=None
) -> Explanation:
    """The contributions of each shared token to ``score(q, d) = Σ_t q_t X[d, t]`` (PAPER.md §4).

    Args:
        matrix: ``(n_docs, |V|)`` CSC index matrix with sorted postings.
        query: ``(1, |V|)`` CSR query vector without duplicate entries.
        position: the document's row.
        doc_id: the document's id, for the result.
        tokenizer: anything with ``decode(ids)``, to render the tokens; optional.
    """
    tokens, q_weights, d_weights = [], [], []
    for t, w in zip(query.indices, query.data, strict=True):
        lo, hi = matrix.indptr[t], matrix.indptr[t + 1]
        j = lo + np.searchsorted(matrix.indices[lo:hi], position)  # postings are sorted by document
        if j < hi and matrix.indices[j] == position:
            tokens.append(int(t))
            q_weights.append(w)
            d_weights.append(matrix.data[j])
    token_ids = np.asarray(tokens, dtype=np.int64)
    qw, dw = np.asarray(q_weights, dtype=np.float32), np.asarray(d_weights, dtype=np.float32)
    contrib = qw * dw
    order = np.lexsort((token_ids, -contrib))
    rendered = None if tokenizer is None else tuple(_render(tokenizer, t) for t in token_ids[order])
    return Explanation(
        doc_id=doc_id,
        score=float(contrib.sum(dtype=np.float32)),
        token_ids=token_ids[order],
        query_weights=qw[order],
        doc_weights=dw[order],
        contributions=contrib[order],
        tokens=rendered,
    )


def _render(tokenizer, token_id: int) -> str:
    return readable(tokenizer.decode([token_id], skip_special_tokens=False, clean_up_tokenization_spaces=False))


__all__ = ["Explanation", "explain_match"]
