"""Document encoding: an embedding → its top-K aligned tokens with weights (PAPER.md §4).

``d ↦ weight(E_g c(h_d))`` restricted to the K best tokens, where ``c`` is the corpus's centering
(:mod:`keytokens.sparse.centering`) and ``weight`` one of :data:`~keytokens.sparse.weighting.WEIGHTINGS`.
Special tokens never enter an index; optionally the document's own tokens are kept beside the K.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from keytokens.errors import ShapeError
from keytokens.heads import DEFAULT_CHUNK_SIZE, VocabHead
from keytokens.heads.base import check_finite
from keytokens.jsonfields import get_bool, get_int, get_str
from keytokens.sparse.centering import Centering, get_centering
from keytokens.sparse.weighting import get_weighting


@dataclass(frozen=True, slots=True)
class SparseConfig:
    """How documents become sparse vectors.

    Attributes:
        k: aligned tokens kept per document (``K``).
        weighting: key of :data:`~keytokens.sparse.weighting.WEIGHTINGS`.
        centering: key of :data:`~keytokens.sparse.centering.CENTERINGS`, fitted on the corpus.
        keep_own_tokens: also index the document's own (non-special) tokens, weighted by their logits.
    """

    k: int = 64
    weighting: str = "relu"
    centering: str = "none"
    keep_own_tokens: bool = False

    mode = "aligned"
    #: query token weights that fit these document weights (the IDF of each query token)
    query_weights = "idf"

    def __post_init__(self) -> None:
        if not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k must be a positive integer; got {self.k!r}")
        get_weighting(self.weighting)
        get_centering(self.centering)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "mode": self.mode,
            "k": self.k,
            "weighting": self.weighting,
            "centering": self.centering,
            "keep_own_tokens": self.keep_own_tokens,
        }

    @classmethod
    def from_dict(cls, data: dict) -> SparseConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            FieldError: a field is missing or of the wrong type.
            UnknownNameError: an unknown weighting or centering.
        """
        return cls(
            k=get_int(data, "k", minimum=1),
            weighting=get_str(data, "weighting"),
            centering=get_str(data, "centering"),
            keep_own_tokens=get_bool(data, "keep_own_tokens"),
        )


def encode_documents(
    embeddings: np.ndarray,
    head: VocabHead,
    *,
    indexable: np.ndarray,
    config: SparseConfig,
    centering: Centering | None = None,
    own_token_ids: Sequence[np.ndarray] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> sp.csr_matrix:
    """Sparse vectors of documents from their embeddings.

    Args:
        embeddings: ``(n, d)`` document embeddings (the same ones the dense index keeps).
        head: vocabulary head with ``hidden_size == d``.
        indexable: ``(|V|,) bool``; False for special tokens, which never enter an index.
        config: K, weighting and own-token setting.
        centering: the fitted centering (``config.centering`` fitted on the corpus); none when omitted.
        own_token_ids: each document's own token ids, needed when ``config.keep_own_tokens``.
        chunk_size: documents projected at once (bounds memory to ``chunk_size × |V|`` logits).

    Returns:
        ``(n, |V|) float32`` CSR matrix with sorted indices; entries whose weight is zero are dropped,
        so a row holds at most ``K`` (plus own tokens) non-zeros.

    Raises:
        ValueError: ``K`` exceeds the indexable tokens, or own tokens are missing or miscounted.
        ShapeError: ``indexable`` does not match the head.
    """
    emb = np.asarray(embeddings)
    if emb.ndim != 2:
        raise ShapeError(f"embeddings must be (n, d); got shape {emb.shape}")
    check_finite(emb, what="document embedding")
    indexable = np.asarray(indexable, dtype=bool)
    if indexable.shape != (head.vocab_size,):
        raise ShapeError(f"indexable mask must have shape ({head.vocab_size},); got {indexable.shape}")
    if config.k > int(indexable.sum()):
        raise ValueError(f"k={config.k} exceeds the {int(indexable.sum())} indexable tokens")
    if config.keep_own_tokens and (own_token_ids is None or len(own_token_ids) != len(emb)):
        got = "none" if own_token_ids is None else len(own_token_ids)
        raise ValueError(f"keep_own_tokens needs the own token ids of all {len(emb)} documents; got {got}")
    centering = centering or Centering()
    weigh = get_weighting(config.weighting)
    parts = []
    for start in range(0, len(emb), chunk_size):
        logits = head.project(centering.apply(emb[start : start + chunk_size]))  # (b, |V|)
        logits[:, ~indexable] = -np.inf
        keep = _kept(logits, config.k)
        if config.keep_own_tokens:
            for row, ids in enumerate(own_token_ids[start : start + len(logits)]):
                ids = np.asarray(ids, dtype=np.int64)
                keep[row, ids[indexable[ids]]] = True
        rows, cols = np.nonzero(keep)
        values = weigh(logits)[rows, cols]
        ok = (values != 0) & np.isfinite(values)
        parts.append(
            sp.csr_matrix((values[ok], (rows[ok], cols[ok])), shape=(len(logits), head.vocab_size), dtype=np.float32)
        )
    if not parts:
        return sp.csr_matrix((0, head.vocab_size), dtype=np.float32)
    matrix = sp.vstack(parts, format="csr", dtype=np.float32)
    matrix.sort_indices()
    return matrix


def _kept(logits: np.ndarray, k: int) -> np.ndarray:
    """``(b, |V|) bool``: the top-``k`` logits of each row; ties at the k-th go to the smaller token id."""
    kth = -np.partition(-logits, k - 1, axis=1)[:, k - 1 : k]  # (b, 1) k-th largest logit
    above = logits > kth
    tied = logits == kth
    room = k - above.sum(axis=1, keepdims=True)
    keep = above | tied
    # only rows with more tied logits than room need the (b, |V|) running count; usually there are none
    over = np.flatnonzero(tied.sum(axis=1) > room[:, 0])
    if len(over):
        keep[over] = above[over] | (tied[over] & (np.cumsum(tied[over], axis=1) <= room[over]))
    return keep


__all__ = ["SparseConfig", "encode_documents"]
