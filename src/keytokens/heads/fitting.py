"""Fitting a linear vocabulary head ``z = W h + b`` to target token distributions (PAPER.md §6).

Two fits, one registry (:data:`FITS`), each mapping ``(n, d)`` embeddings ``X`` and ``(n, |V|)`` CSR
targets ``Y`` to ``W (|V|, d)`` and ``b (|V|,)``:

* ``ridge``: closed form ``W = (XᵀX + λI)⁻¹ XᵀY`` (on centred ``X`` and ``Y`` when centring, then
  ``b = ȳ − W x̄``), solved once for ``d × d`` and applied to blocks of vocabulary columns, so memory
  stays at ``d × |V|`` (the result) plus one block; ``Y`` is never densified. Numpy only.
* ``kl``: Text2Token's objective, ``mean_i KL(y_i ‖ softmax(W h_i + b)) + (λ / n) ‖W‖²``, minimised by
  a few epochs of Adam on CPU (torch, imported inside the fit).

Ridge logits estimate target probabilities (small numbers, ranked like the targets); KL logits are
log-probabilities up to a constant. Either ranks tokens, which is all aligned tokens and sparse
indexes need.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from keytokens.errors import InputError, ShapeError, UnknownNameError, require
from keytokens.jsonfields import get_bool, get_float, get_int, get_str

logger = logging.getLogger(__name__)

#: Vocabulary columns solved at once by the ridge fit; bounds its scratch memory to ``d × chunk``.
DEFAULT_COLUMN_CHUNK = 8192


@dataclass(frozen=True, slots=True)
class FitConfig:
    """How a head is fitted.

    Attributes:
        method: key of :data:`FITS` (``ridge`` or ``kl``).
        l2: ridge strength ``λ`` (``ridge``: added to ``XᵀX``; ``kl``: penalty ``(λ / n) ‖W‖²``).
        center: fit a bias by centring embeddings and targets (``ridge``); ``kl`` always fits a bias.
        epochs: passes over the texts (``kl``).
        lr: Adam learning rate (``kl``).
        batch_size: texts per Adam step (``kl``).
        seed: shuffling seed (``kl``).
    """

    method: str = "ridge"
    l2: float = 0.1
    center: bool = True
    epochs: int = 10
    lr: float = 1e-2
    batch_size: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        get_fit(self.method)
        if not np.isfinite(self.l2) or self.l2 < 0:
            raise ValueError(f"l2 must be a finite number ≥ 0; got {self.l2!r}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive; got {self.lr!r}")

    def to_dict(self) -> dict:
        """JSON-ready form (settings that do not apply to ``method`` are kept, for one schema)."""
        return {
            "method": self.method,
            "l2": self.l2,
            "center": self.center,
            "epochs": self.epochs,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> FitConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            FieldError: a field is missing or of the wrong type.
        """
        return cls(
            method=get_str(data, "method"),
            l2=get_float(data, "l2"),
            center=get_bool(data, "center"),
            epochs=get_int(data, "epochs", minimum=1),
            lr=get_float(data, "lr"),
            batch_size=get_int(data, "batch_size", minimum=1),
            seed=get_int(data, "seed"),
        )


def check_finite(embeddings: np.ndarray) -> None:
    """Refuse embeddings holding NaN or infinity, naming how many rows and the first.

    Raises:
        InputError: non-finite values.
    """
    bad = ~np.isfinite(embeddings).all(axis=1)
    if bad.any():
        raise InputError(f"embeddings hold non-finite values in {int(bad.sum())} rows (first: row {int(bad.argmax())})")


def check_fit_inputs(embeddings: np.ndarray, targets: sp.spmatrix, *, l2: float) -> tuple[np.ndarray, sp.csr_matrix]:
    """Validate ``(n, d)`` embeddings and ``(n, |V|)`` targets; return float64 and float64 CSR.

    Raises:
        ShapeError: not 2-D, or rows differ.
        InputError: non-finite values (the first bad row is named), or fewer texts than dimensions
            with ``l2 = 0`` (the problem has no unique solution).
    """
    x = np.asarray(embeddings)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.floating):
        raise ShapeError(f"embeddings must be (n, d) floating point; got shape {x.shape} dtype {x.dtype}")
    if targets.ndim != 2 or targets.shape[0] != x.shape[0]:
        raise ShapeError(f"{x.shape[0]} embeddings but targets of shape {targets.shape}; expected one row per text")
    check_finite(x)
    y = sp.csr_matrix(targets, dtype=np.float64)
    if not np.isfinite(y.data).all():
        raise InputError("targets hold non-finite values")
    n, d = x.shape
    if n < d:
        if l2 <= 0:
            raise InputError(
                f"{n} texts for {d} embedding dimensions: the fit is underdetermined without regularisation; "
                "use more texts or l2 > 0 (about 0.1 to 1 for unit-length embeddings)"
            )
        logger.warning("only %d texts for %d embedding dimensions: the head leans on l2=%g; use more texts", n, d, l2)
    return x.astype(np.float64), y


def fit_ridge(
    embeddings: np.ndarray,
    targets: sp.spmatrix,
    config: FitConfig,
    *,
    column_chunk: int = DEFAULT_COLUMN_CHUNK,
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression from embeddings to targets, solved over blocks of vocabulary columns.

    Args:
        embeddings: ``(n, d)`` float embeddings ``X``.
        targets: ``(n, |V|)`` sparse targets ``Y``.
        config: ``l2`` (``λ``) and ``center``.
        column_chunk: vocabulary columns solved at once; the result does not depend on it.

    Returns:
        ``(weight, bias)``: ``(|V|, d) float32`` and ``(|V|,) float32`` (zeros without centring).

    Raises:
        InputError: the normal matrix is singular (``l2 = 0`` with collinear embeddings).
    """
    if column_chunk < 1:
        raise ValueError(f"column_chunk must be positive; got {column_chunk}")
    import scipy.linalg  # here, not at import: it costs the CLI's start-up ~0.2 s

    x, y = check_fit_inputs(embeddings, targets, l2=config.l2)
    d = x.shape[1]
    x_mean = x.mean(axis=0) if config.center else np.zeros(d)
    y_mean = np.asarray(y.mean(axis=0)).ravel() if config.center else np.zeros(y.shape[1])
    xc = x - x_mean  # (n, d)
    gram = xc.T @ xc + config.l2 * np.eye(d)  # (d, d)
    try:
        factor = scipy.linalg.cho_factor(gram)
    except np.linalg.LinAlgError:
        raise InputError(f"XᵀX + λI is singular (λ = {config.l2}); use l2 > 0") from None
    y_csc = y.tocsc()
    weight = np.empty((y.shape[1], d), dtype=np.float32)
    bias = np.empty(y.shape[1], dtype=np.float32)
    for start in range(0, y.shape[1], column_chunk):
        block = y_csc[:, start : start + column_chunk]  # (n, c) sparse
        cols = slice(start, start + block.shape[1])
        # Xcᵀ Yc = Xcᵀ Y because the columns of Xc sum to zero: centring Y only moves its mean into b.
        cross = np.asarray((block.T @ xc).T)  # (d, c)
        solved = scipy.linalg.cho_solve(factor, cross).T  # (c, d)
        weight[cols] = solved
        bias[cols] = y_mean[cols] - solved @ x_mean
    return weight, bias


def mean_kl(weight: np.ndarray, bias: np.ndarray, embeddings: np.ndarray, targets: sp.spmatrix) -> float:
    """``mean_i KL(y_i ‖ softmax(W h_i + b))`` over the texts with a non-empty target (numpy, chunked)."""
    y = sp.csr_matrix(targets, dtype=np.float64)
    keep = np.diff(y.indptr) > 0
    x, y = np.asarray(embeddings, dtype=np.float32)[keep], y[keep]
    w = np.asarray(weight, dtype=np.float32)
    total = 0.0
    for start in range(0, len(x), 256):
        z = (x[start : start + 256] @ w.T).astype(np.float64) + bias  # (b, |V|)
        z -= z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        block = y[start : start + 256].tocoo()
        pos = block.data > 0  # 0 · log 0 = 0
        p, rows, cols = block.data[pos], block.row[pos], block.col[pos]
        total += float(np.sum(p * (np.log(p) - log_p[rows, cols])))
    return total / max(len(x), 1)


def fit_kl(embeddings: np.ndarray, targets: sp.spmatrix, config: FitConfig) -> tuple[np.ndarray, np.ndarray]:
    """Minimise ``mean_i KL(y_i ‖ softmax(W h_i + b)) + (λ / n) ‖W‖²`` with Adam (Text2Token's loss).

    Starts from ``W = 0`` and ``b = log`` of the mean target (the unigram prior), so the first step
    already predicts the corpus's token frequencies. Texts with an empty target are skipped.

    Returns:
        ``(weight, bias)``: ``(|V|, d) float32`` and ``(|V|,) float32``.

    Raises:
        MissingDependencyError: torch is not installed.
    """
    torch = require("torch", "models")
    x, y = check_fit_inputs(embeddings, targets, l2=config.l2)
    keep = np.diff(y.indptr) > 0
    if not keep.any():
        raise InputError("every target row is empty: no text has a token to fit")
    x, y = x[keep], y[keep]
    n, d = x.shape
    prior = np.asarray(y.mean(axis=0)).ravel()
    generator = torch.Generator().manual_seed(config.seed)
    weight = torch.zeros((y.shape[1], d), dtype=torch.float32, requires_grad=True)
    bias = torch.tensor(np.log(prior + 1e-8), dtype=torch.float32, requires_grad=True)
    optimiser = torch.optim.Adam([weight, bias], lr=config.lr)
    x_t = torch.as_tensor(x, dtype=torch.float32)
    for epoch in range(config.epochs):
        order = torch.randperm(n, generator=generator).numpy()
        total = 0.0
        for start in range(0, n, config.batch_size):
            rows = order[start : start + config.batch_size]
            block = y[rows].tocoo()
            log_p = torch.log_softmax(x_t[rows] @ weight.T + bias, dim=1)  # (b, |V|)
            picked = log_p[torch.as_tensor(block.row), torch.as_tensor(block.col)]
            cross_entropy = -(torch.as_tensor(block.data, dtype=torch.float32) * picked).sum() / len(rows)
            loss = cross_entropy + config.l2 / n * weight.pow(2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(cross_entropy.detach()) * len(rows)
        logger.info("kl fit epoch %d/%d: cross-entropy %.4f", epoch + 1, config.epochs, total / n)
    return weight.detach().numpy().copy(), bias.detach().numpy().copy()


#: One registry of fits ``(X (n, d), Y (n, |V|) CSR, config) → (W (|V|, d), b (|V|,))``.
FITS: Mapping[str, Callable[[np.ndarray, sp.spmatrix, FitConfig], tuple[np.ndarray, np.ndarray]]] = {
    "kl": fit_kl,
    "ridge": fit_ridge,
}


def get_fit(method: str) -> Callable[[np.ndarray, sp.spmatrix, FitConfig], tuple[np.ndarray, np.ndarray]]:
    """The fit called ``method``.

    Raises:
        UnknownNameError: naming the registered fits.
    """
    try:
        return FITS[method]
    except KeyError:
        raise UnknownNameError(f"unknown fit {method!r}; expected one of {sorted(FITS)}") from None


__all__ = [
    "DEFAULT_COLUMN_CHUNK",
    "FITS",
    "FitConfig",
    "check_finite",
    "check_fit_inputs",
    "fit_kl",
    "fit_ridge",
    "get_fit",
    "mean_kl",
]
