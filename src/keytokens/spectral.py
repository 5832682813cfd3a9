"""Spectral analysis: why embeddings align with key tokens (PAPER.md §3).

Stack a backbone's embeddings ``H`` (n × d) and take the SVD ``H = U S Vᵀ``; ``u_j`` is the j-th right
singular vector. The change from backbone ``h`` to embedder ``ĥ`` of the same text, projected on the
components, is ``v_j = mean_i (ĥ_i − h_i)·u_j``; the paper finds ``|v_1| ≫ |v_j|``. Because the head is
linear, a text's logits split into the first component's part and the rest, and moving a raw backbone
embedding along the first component, ``h + λ u_1``, aligns it with key tokens without training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from keytokens.errors import InputError, ShapeError
from keytokens.heads import VocabHead


@dataclass(frozen=True, slots=True)
class Spectrum:
    """Principal directions of a set of embeddings.

    Attributes:
        components: ``(m, d) float32``, row ``j`` is ``u_{j+1}``; the sign of each is chosen so the
            embeddings' mean projection on it is positive.
        singular_values: ``(m,) float32``, descending.
        mean: ``(d,) float32`` mean removed before the SVD, or ``None`` (uncentred, as the paper).
    """

    components: np.ndarray
    singular_values: np.ndarray
    mean: np.ndarray | None = None

    @property
    def first(self) -> np.ndarray:
        """``u_1``, ``(d,)``."""
        return self.components[0]

    @property
    def explained(self) -> np.ndarray:
        """``(m,)`` share of the (centred or uncentred) energy each component holds."""
        energy = self.singular_values.astype(np.float64) ** 2
        total = energy.sum()
        return (energy / total if total > 0 else np.zeros_like(energy)).astype(np.float32)

    def to_dict(self) -> dict:
        """JSON-ready summary (no vectors)."""
        return {
            "n_components": len(self.singular_values),
            "centred": self.mean is not None,
            "singular_values": self.singular_values.tolist(),
            "explained": self.explained.tolist(),
        }


def _as_matrix(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.floating):
        raise ShapeError(f"{name} must be a 2-D float array (n, d); got shape {arr.shape}, dtype {arr.dtype}")
    return arr.astype(np.float32, copy=False)


def principal_components(embeddings: np.ndarray, *, n_components: int | None = None, centre: bool = False) -> Spectrum:
    """SVD of ``embeddings`` (uncentred by default, as the authors do).

    Args:
        embeddings: ``(n, d)`` backbone embeddings.
        n_components: components to keep (default ``min(n, d)``).
        centre: subtract the mean first (ordinary PCA).

    Raises:
        ShapeError: not a 2-D float array.
        InputError: fewer texts than requested components.
    """
    h = _as_matrix(embeddings, "embeddings").astype(np.float64)
    n, d = h.shape
    m = min(n, d) if n_components is None else n_components
    if m < 1 or m > min(n, d):
        raise InputError(
            f"{m} components requested from {n} texts of dimension {d}; at most {min(n, d)} exist "
            f"(give at least {m} texts)"
        )
    mean = h.mean(axis=0) if centre else None
    _, s, vt = np.linalg.svd(h - mean if centre else h, full_matrices=False)
    vt = vt[:m]
    signs = np.sign(h.mean(axis=0) @ vt.T)
    signs[signs == 0] = 1.0
    return Spectrum(
        components=(vt * signs[:, None]).astype(np.float32),
        singular_values=s[:m].astype(np.float32),
        mean=None if mean is None else mean.astype(np.float32),
    )


@dataclass(frozen=True, slots=True)
class Variation:
    """How the embedder moved the backbone's embeddings, per component.

    Attributes:
        v: ``(m,) float32``, ``v_j = mean_i (ĥ_i − h_i)·u_j``.
        share: ``(m,) float32``, ``v_j² / ‖mean_i (ĥ_i − h_i)‖²``: the share of the mean change that lies
            on ``u_j`` (sums to at most 1).
        n_texts: texts compared.
    """

    v: np.ndarray
    share: np.ndarray
    n_texts: int

    @property
    def largest_other(self) -> float:
        """``max_{j>1} |v_j|``."""
        return float(np.abs(self.v[1:]).max()) if len(self.v) > 1 else 0.0

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "v1": float(self.v[0]),
            "largest_other_abs_v": self.largest_other,
            "share_v1": float(self.share[0]),
            "n_texts": self.n_texts,
            "v": self.v.tolist(),
        }


def variation(spectrum: Spectrum, backbone: np.ndarray, embedder: np.ndarray) -> Variation:
    """Per-component variation ``v_j`` from backbone to embedder embeddings of the same texts.

    Raises:
        ShapeError: the two sets differ in shape or in dimension from the spectrum, naming both.
    """
    h, h_hat = _as_matrix(backbone, "backbone"), _as_matrix(embedder, "embedder")
    if h.shape != h_hat.shape:
        raise ShapeError(
            f"backbone embeddings {h.shape} and embedder embeddings {h_hat.shape} must have the same "
            "shape (same texts, same hidden size)"
        )
    if h.shape[1] != spectrum.components.shape[1]:
        raise ShapeError(f"embeddings have dimension {h.shape[1]}, the spectrum {spectrum.components.shape[1]}")
    delta = (h_hat - h).mean(axis=0).astype(np.float64)
    v = spectrum.components.astype(np.float64) @ delta
    norm = float(delta @ delta)
    share = v**2 / norm if norm > 0 else np.zeros_like(v)
    return Variation(v=v.astype(np.float32), share=share.astype(np.float32), n_texts=len(h))


@dataclass(frozen=True, slots=True)
class Contribution:
    """A text's logits split into the first component's part and the rest: ``g(h) = g(c u_1) + g(r)``.

    Attributes:
        coefficient: ``(n,) float32``, ``c = h·u_1``.
        first: ``(n, |V|) float32`` logits of ``c u_1`` (the head's bias counted here, once).
        rest: ``(n, |V|) float32`` logits of the residual ``r = h − c u_1`` without bias.
    """

    coefficient: np.ndarray
    first: np.ndarray
    rest: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """``(n, |V|)`` full logits."""
        return self.first + self.rest


def contribution(embeddings: np.ndarray, spectrum: Spectrum, head: VocabHead) -> Contribution:
    """Split each embedding's logits into the first-component part and the residual part.

    Valid for linear heads without an MLM transform (the decoder layer ``E_g``, PAPER.md §3).
    """
    h = _as_matrix(embeddings, "embeddings")
    if getattr(head, "transform", None) is not None:
        raise InputError("the split g(h) = g(c u1) + g(r) needs a linear head; this head has an MLM transform")
    u1 = spectrum.first
    c = h @ u1
    first_part = c[:, None] * u1[None, :]
    first = head.project(first_part)
    rest = head.project(h - first_part)
    bias = getattr(head, "bias", None)
    if bias is not None:
        rest = rest - bias  # the bias sits in ``first`` only
    return Contribution(coefficient=c.astype(np.float32), first=first, rest=rest)


def adjust(embeddings: np.ndarray, spectrum: Spectrum, lam: float) -> np.ndarray:
    """Training-free adjustment ``h' = h + λ u_1`` (PAPER.md §3); ``λ = v_1`` mimics the embedder."""
    if not np.isfinite(lam):
        raise InputError(f"λ must be finite; got {lam}")
    return (_as_matrix(embeddings, "embeddings") + np.float32(lam) * spectrum.first).astype(np.float32)


def check_lambdas(lambdas: Sequence[float]) -> np.ndarray:
    """Finite λ values for a sweep.

    Raises:
        InputError: the sweep holds no finite value.
    """
    arr = np.asarray(list(lambdas), dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        raise InputError(f"a λ sweep needs at least one finite value; got {list(lambdas)}")
    return finite


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """Alignment of ``h + λ u_1`` for one λ, under one metric definition."""

    lam: float
    hit: float
    lar: float
    gar: float

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"lambda": self.lam, "hit": self.hit, "lar": self.lar, "gar": self.gar}


def lambda_sweep(
    embeddings: np.ndarray,
    texts: Sequence[str],
    spectrum: Spectrum,
    head: VocabHead,
    vocabulary,
    lambdas: Sequence[float],
    *,
    k: int = 10,
    definition: str = "content",
) -> list[SweepPoint]:
    """Score ``h + λ u_1`` with the alignment metrics for each finite λ.

    Raises:
        InputError: no finite λ.
    """
    from keytokens.metrics.alignment import alignment_scores

    points = []
    for lam in check_lambdas(lambdas):
        (s,) = alignment_scores(
            adjust(embeddings, spectrum, float(lam)), texts, head, vocabulary, k=k, definitions=[definition]
        )
        points.append(SweepPoint(float(lam), s.hit, s.lar, s.gar))
    return points
