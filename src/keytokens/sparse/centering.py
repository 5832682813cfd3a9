"""Removing the corpus's common direction from embeddings before they are read as tokens.

PAPER.md §3: the first singular direction ``u_1`` of a stack of embeddings feeds frequent,
meaningless tokens (``the``, ``,``); the residual ranks the key tokens. Removing it (or, more
crudely, the mean) before the head is a training-free fix. The direction is fitted on the corpus
embeddings and stored with the index, so queries are read through the same correction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from keytokens.errors import ShapeError, UnknownNameError

#: Rows accumulated at once while fitting; bounds memory to ``chunk × d`` float64.
_FIT_CHUNK = 65_536


def _fit_none(embeddings: np.ndarray) -> np.ndarray | None:
    return None


def _fit_mean(embeddings: np.ndarray) -> np.ndarray:
    total = np.zeros(embeddings.shape[1], dtype=np.float64)
    for start in range(0, len(embeddings), _FIT_CHUNK):
        total += np.asarray(embeddings[start : start + _FIT_CHUNK], dtype=np.float64).sum(axis=0)
    return (total / len(embeddings)).astype(np.float32)


def _fit_first_direction(embeddings: np.ndarray) -> np.ndarray:
    """``u_1``: the first right singular vector of the *uncentred* stack ``H`` (PAPER.md §3).

    It is the top eigenvector of ``HᵀH`` (``d × d``), accumulated in chunks so ``H`` may be large.
    The sign is fixed (largest component positive) so the same corpus always stores the same vector.
    """
    d = embeddings.shape[1]
    gram = np.zeros((d, d), dtype=np.float64)
    for start in range(0, len(embeddings), _FIT_CHUNK):
        chunk = np.asarray(embeddings[start : start + _FIT_CHUNK], dtype=np.float64)
        gram += chunk.T @ chunk
    _, vectors = np.linalg.eigh(gram)  # eigenvalues ascending
    u = vectors[:, -1]
    u = u if u[np.argmax(np.abs(u))] >= 0 else -u
    return u.astype(np.float32)


def _apply_none(embeddings: np.ndarray, vector: np.ndarray | None) -> np.ndarray:
    return embeddings


def _apply_mean(embeddings: np.ndarray, vector: np.ndarray | None) -> np.ndarray:
    return embeddings - vector


def _apply_first_direction(embeddings: np.ndarray, vector: np.ndarray | None) -> np.ndarray:
    return embeddings - np.outer(embeddings @ vector, vector)  # h − (h·u₁) u₁


@dataclass(frozen=True, slots=True)
class CenteringKind:
    """One way to remove the common direction.

    Attributes:
        description: one sentence for help texts and reports.
        fit: ``(n, d) → (d,) float32`` vector, or ``None`` when nothing is fitted.
        apply: ``((n, d), vector) → (n, d)``.
    """

    description: str
    fit: Callable[[np.ndarray], np.ndarray | None]
    apply: Callable[[np.ndarray, np.ndarray | None], np.ndarray]


#: One registry for centerings; error messages list exactly these names.
CENTERINGS: Mapping[str, CenteringKind] = {
    "none": CenteringKind("embeddings as the embedder returns them", _fit_none, _apply_none),
    "mean": CenteringKind("subtract the corpus mean embedding", _fit_mean, _apply_mean),
    "pc1": CenteringKind(
        "remove the first singular direction of the uncentred corpus embeddings (PAPER.md §3)",
        _fit_first_direction,
        _apply_first_direction,
    ),
}


def get_centering(name: str) -> CenteringKind:
    """Return the centering kind called ``name``.

    Raises:
        UnknownNameError: naming the registered centerings.
    """
    try:
        return CENTERINGS[name]
    except KeyError:
        raise UnknownNameError(f"unknown centering {name!r}; expected one of {sorted(CENTERINGS)}") from None


@dataclass(frozen=True, slots=True)
class Centering:
    """A fitted centering.

    Attributes:
        name: key of :data:`CENTERINGS`.
        vector: ``(d,) float32`` mean or unit direction ``u_1``; ``None`` for ``none``.
    """

    name: str = "none"
    vector: np.ndarray | None = None

    def __post_init__(self) -> None:
        get_centering(self.name)
        if (self.vector is None) != (self.name == "none"):
            raise ValueError(f"centering {self.name!r} {'needs' if self.vector is None else 'takes no'} vector")
        if self.vector is not None and self.vector.ndim != 1:
            raise ShapeError(f"centering vector must be (d,); got shape {self.vector.shape}")

    @classmethod
    def fit(cls, name: str, embeddings: np.ndarray) -> Centering:
        """Fit centering ``name`` on ``(n, d)`` corpus embeddings.

        Raises:
            UnknownNameError: ``name`` is not in :data:`CENTERINGS`.
            ShapeError: the embeddings are not a non-empty ``(n, d)`` array.
        """
        kind = get_centering(name)
        if embeddings.ndim != 2 or len(embeddings) == 0:
            raise ShapeError(f"centering is fitted on non-empty (n, d) embeddings; got shape {embeddings.shape}")
        return cls(name, kind.fit(embeddings))

    def apply(self, embeddings: np.ndarray) -> np.ndarray:
        """Return ``(n, d) float32`` centred embeddings.

        Raises:
            ShapeError: the embedding size differs from the fitted vector's.
        """
        emb = np.asarray(embeddings, dtype=np.float32)
        if self.vector is not None and (emb.ndim != 2 or emb.shape[1] != len(self.vector)):
            raise ShapeError(f"embeddings of shape {emb.shape} do not fit a centering of size {len(self.vector)}")
        return get_centering(self.name).apply(emb, self.vector).astype(np.float32, copy=False)

    def to_dict(self) -> dict:
        """JSON-ready form (the vector is stored as an array, not here)."""
        return {"name": self.name, "dim": None if self.vector is None else len(self.vector)}


__all__ = ["CENTERINGS", "Centering", "CenteringKind", "get_centering"]
