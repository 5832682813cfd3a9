"""The vocabulary head: the map ``g`` from a hidden state to one logit per vocabulary token.

PAPER.md §1: an LLM is ``g ∘ f``; aligned tokens are the top tokens of ``z = E_g h (+ b)``.
Everything here is numpy: a head is a few arrays, and reading an embedding as tokens needs no
deep-learning framework once those arrays are loaded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from keytokens.errors import InputError, ShapeError

#: Rows of ``n × |V|`` logits computed at once by :func:`topk`; bounds memory to
#: ``chunk_size × |V| × 4`` bytes (256 × 152k × 4 ≈ 156 MB for the largest vocabularies).
DEFAULT_CHUNK_SIZE = 256
#: Masked copies of a head's rows kept at once (:meth:`LinearHead.project_rows`).
MAX_ROW_SETS = 4


@runtime_checkable
class VocabHead(Protocol):
    """Anything that maps ``(n, d)`` embeddings to ``(n, |V|)`` logits."""

    name: str

    @property
    def hidden_size(self) -> int:
        """``d``, the embedding size the head accepts."""
        ...

    @property
    def vocab_size(self) -> int:
        """``|V|``, the number of logits per embedding."""
        ...

    def project(self, embeddings: np.ndarray) -> np.ndarray:
        """Return ``(n, |V|) float32`` logits for ``(n, d)`` embeddings."""
        ...


@dataclass(frozen=True, slots=True)
class Transform:
    """The MLM-head transform of BERT and MPNet: dense → GELU → LayerNorm.

    Attributes:
        weight: ``(d, d) float32`` dense weight (``out × in``, as torch stores it).
        bias: ``(d,) float32`` dense bias.
        ln_weight: ``(d,) float32`` LayerNorm scale.
        ln_bias: ``(d,) float32`` LayerNorm shift.
        eps: LayerNorm epsilon.
    """

    weight: np.ndarray
    bias: np.ndarray
    ln_weight: np.ndarray
    ln_bias: np.ndarray
    eps: float = 1e-12

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Apply the transform to ``(n, d)`` states."""
        y = x @ self.weight.T + self.bias
        from scipy.special import erf  # here, not at import: scipy.special costs the CLI ~0.4 s of start-up

        y = 0.5 * y * (1.0 + erf(y / np.sqrt(2.0)))  # exact GELU, as BERT's "gelu"
        mean = y.mean(axis=-1, keepdims=True)
        var = y.var(axis=-1, keepdims=True)
        y = (y - mean) / np.sqrt(var + self.eps)
        return (y * self.ln_weight + self.ln_bias).astype(np.float32, copy=False)


@dataclass(frozen=True)
class LinearHead:
    """A vocabulary head ``z = W · T(h) + b`` with an optional MLM transform ``T``.

    Covers a causal LM's head (``W`` = ``lm_head.weight``, no bias, no transform), tied input
    embeddings (``W`` = the token embedding matrix), and BERT/MPNet MLM heads (transform,
    decoder and bias).

    Attributes:
        weight: ``(|V|, d) float32`` decoder matrix ``E_g``.
        bias: ``(|V|,) float32`` decoder bias, or ``None``.
        transform: MLM transform applied before the decoder, or ``None``.
        name: where the head came from, for reports and saved metadata.
    """

    weight: np.ndarray
    bias: np.ndarray | None = None
    transform: Transform | None = None
    name: str = "head"
    meta: dict = field(default_factory=dict, compare=False)
    #: ``W`` (and ``b``) restricted to a mask's rows, by the mask's digest (:meth:`project_rows`).
    _rows: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.weight.ndim != 2:
            raise ShapeError(f"head weight must be 2-D (|V|, d); got shape {self.weight.shape}")
        if self.bias is not None and self.bias.shape != (self.weight.shape[0],):
            raise ShapeError(f"head bias must have shape ({self.weight.shape[0]},); got {self.bias.shape}")

    @property
    def hidden_size(self) -> int:
        """``d``."""
        return int(self.weight.shape[1])

    @property
    def vocab_size(self) -> int:
        """``|V|``."""
        return int(self.weight.shape[0])

    def project(self, embeddings: np.ndarray) -> np.ndarray:
        """Return ``(n, |V|) float32`` logits ``W · T(h) + b`` (PAPER.md §1).

        Raises:
            ShapeError: if the embeddings are not ``(n, d)`` with this head's ``d``.
        """
        h = check_embeddings(embeddings, self.hidden_size, head_name=self.name)
        if self.transform is not None:
            h = self.transform(h)
        logits = h @ self.weight.T
        if self.bias is not None:
            logits += self.bias
        return logits

    def project_rows(self, embeddings: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``(n, len(rows)) float32`` logits of the tokens ``rows`` only (ascending ids).

        The rows of ``W`` are copied once per set of rows and kept (the few masks a process uses), so
        a masked top-k multiplies only the tokens it may return.

        Raises:
            ShapeError: if the embeddings are not ``(n, d)`` with this head's ``d``.
        """
        h = check_embeddings(embeddings, self.hidden_size, head_name=self.name)
        if self.transform is not None:
            h = self.transform(h)
        key = hashlib.blake2b(np.asarray(rows, dtype=np.int64).tobytes(), digest_size=16).digest()
        if key not in self._rows:
            if len(self._rows) >= MAX_ROW_SETS:
                self._rows.clear()
            bias = None if self.bias is None else np.ascontiguousarray(self.bias[rows])
            self._rows[key] = (np.ascontiguousarray(self.weight[rows]), bias)
        weight, bias = self._rows[key]
        logits = h @ weight.T
        if bias is not None:
            logits += bias
        return logits


def check_finite(embeddings: np.ndarray, *, what: str = "embedding", chunk_rows: int = 65_536) -> None:
    """Refuse embeddings holding NaN or Inf, naming the first bad row (checked in chunks: memory stays bounded).

    Args:
        embeddings: ``(n, d)`` (or ``(d,)``) floats, possibly memory-mapped.
        what: how a row is named in the message (``"embedding"``, ``"query embedding"``, a file name).
        chunk_rows: rows checked at once.

    Raises:
        InputError: ``"<what> row i holds NaN"`` (or ``Inf``).
    """
    arr = np.asarray(embeddings)
    if not np.issubdtype(arr.dtype, np.floating) or arr.size == 0:
        return
    rows = arr.reshape(1, -1) if arr.ndim == 1 else arr.reshape(len(arr), -1)
    for start in range(0, len(rows), chunk_rows):
        bad = ~np.isfinite(rows[start : start + chunk_rows]).all(axis=1)
        if bad.any():
            row = start + int(np.argmax(bad))
            kind = "NaN" if np.isnan(rows[row]).any() else "Inf"
            raise InputError(f"{what} row {row} holds {kind}; embeddings must be finite numbers")


def check_embeddings(embeddings: np.ndarray, hidden_size: int, *, head_name: str) -> np.ndarray:
    """Validate ``(n, d)`` embeddings for a head of size ``hidden_size``; return float32.

    Raises:
        ShapeError: on a wrong rank, size or non-float dtype, naming both sizes.
        InputError: a row holds NaN or Inf.
    """
    arr = np.asarray(embeddings)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ShapeError(f"embeddings must be (n, d); got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise ShapeError(f"embeddings must be floating point; got dtype {arr.dtype}")
    if arr.shape[1] != hidden_size:
        raise ShapeError(f"embedding size {arr.shape[1]} does not match head {head_name!r} hidden size {hidden_size}")
    check_finite(arr)
    return arr.astype(np.float32, copy=False)


def topk(
    head: VocabHead,
    embeddings: np.ndarray,
    k: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` tokens of each embedding, holding at most ``chunk_size × |V|`` logits at once.

    Args:
        head: the vocabulary head.
        embeddings: ``(n, d)`` float embeddings.
        k: tokens per embedding, ``1 ≤ k ≤ |V|``.
        chunk_size: rows projected at once.
        mask: optional ``(|V|,) bool``; tokens where it is False are never returned.

    Returns:
        ``(ids, scores)``: ``(n, k) int64`` token ids and ``(n, k) float32`` logits, best first;
        ties broken by the smaller token id.

    Raises:
        InputError: ``k`` is out of range, or an embedding holds NaN or Inf (naming its row).
        ValueError: ``mask`` has the wrong shape.
    """
    n_allowed = head.vocab_size if mask is None else int(np.count_nonzero(mask))
    if not 1 <= k <= n_allowed:
        raise InputError(f"k must be between 1 and {n_allowed}; got {k}")
    if mask is not None and mask.shape != (head.vocab_size,):
        raise ValueError(f"mask must have shape ({head.vocab_size},); got {mask.shape}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive; got {chunk_size}")
    emb = np.asarray(embeddings)
    check_finite(emb)
    n = 1 if emb.ndim == 1 else emb.shape[0]
    ids = np.empty((n, k), dtype=np.int64)
    scores = np.empty((n, k), dtype=np.float32)
    rows = None
    if mask is not None and hasattr(head, "project_rows") and not mask.all():
        rows = np.flatnonzero(mask)  # only the tokens that may be returned are projected
    for start in range(0, n, chunk_size):
        chunk = emb[start : start + chunk_size] if emb.ndim == 2 else emb
        if rows is not None:
            logits = head.project_rows(chunk, rows)
        else:
            logits = head.project(chunk)
            if mask is not None:
                logits[:, ~mask] = -np.inf
        found, values = top_k_rows(logits, k)
        ids[start : start + len(logits)] = found if rows is None else rows[found]  # rows ascend: ties keep order
        scores[start : start + len(logits)] = values
    return ids, scores


#: Columns per block in :func:`top_k_rows`' first pass.
BLOCK = 64


def top_k_rows(logits: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` largest entries, best first, ties by the smaller column.

    A group-max threshold instead of a per-row ``argpartition`` (which costs about a third of the
    projection for a 30k vocabulary): split the columns into groups of at most :data:`BLOCK` (column
    ``j`` in group ``j mod g``, so the maxima reduce over whole rows of a ``(BLOCK, g)`` view); the
    ``k``-th largest of a row's ``g ≥ k`` group maxima is at most its ``k``-th largest entry (those
    ``k`` maxima are ``k`` distinct entries), so every entry of the top ``k``, and every entry tied with
    it, is at least that bound. Only those few candidates are then sorted, so ties at the ``k``-th
    place go to the smaller column (a partial sort would pick any of them).

    Args:
        logits: ``(n, |V|)`` scores without NaN; ``1 ≤ k ≤ |V|``.
        k: entries per row.

    Returns:
        ``(ids, scores)``: ``(n, k) int64`` columns and ``(n, k)`` scores of ``logits``'s dtype.
    """
    n, width = logits.shape
    block = max(1, min(BLOCK, width // k))
    groups = width // block  # ≥ k
    maxima = logits[:, : block * groups].reshape(n, block, groups).max(axis=1)  # (n, groups)
    if block * groups < width:  # the last columns join the groups as one more
        maxima = np.concatenate([maxima, logits[:, block * groups :].max(axis=1, keepdims=True)], axis=1)
    bound = np.partition(maxima, maxima.shape[1] - k, axis=1)[:, maxima.shape[1] - k]  # (n,)
    rows, cols = np.divmod(np.flatnonzero(logits >= bound[:, None]), width)  # rows ascending
    values = logits[rows, cols]
    order = np.lexsort((cols, -values, rows))  # by row, then score desc, then column asc
    rows, cols, values = rows[order], cols[order], values[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows)  # position within its row
    keep = rank < k
    return cols[keep].reshape(n, k).astype(np.int64), values[keep].reshape(n, k)
