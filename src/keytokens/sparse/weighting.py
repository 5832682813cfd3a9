"""Document token weights: how an aligned token's logit becomes its weight in the index.

PAPER.md §4 leaves the weight open ("raw logit, softmax probability, ReLU or log-saturated
logit"); each choice is a tiny pure function here, registered in :data:`WEIGHTINGS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from keytokens.errors import UnknownNameError

#: ``(b, |V|) float32`` logits (``-inf`` where a token may not be indexed) → ``(b, |V|) float32``
#: weights. Only the weights of the tokens kept for the index are read.
WeightFn = Callable[[np.ndarray], np.ndarray]


def raw(logits: np.ndarray) -> np.ndarray:
    """The logit itself, ``z_t = E_g h`` (PAPER.md §1); may be negative."""
    return logits.astype(np.float32, copy=False)


def relu(logits: np.ndarray) -> np.ndarray:
    """``max(0, z_t)``: only positive evidence counts, as in SPLADE (Formal et al., SIGIR 2021)."""
    return np.maximum(logits, 0.0).astype(np.float32, copy=False)


def log1p_relu(logits: np.ndarray) -> np.ndarray:
    """``log(1 + max(0, z_t))``: SPLADE's log saturation, so one huge logit cannot dominate a score."""
    return np.log1p(np.maximum(logits, 0.0)).astype(np.float32, copy=False)


def softmax(logits: np.ndarray) -> np.ndarray:
    """``p_t = exp(z_t) / Σ_v exp(z_v)`` over the indexable vocabulary (the distribution of Text2Token, §6)."""
    from scipy.special import logsumexp  # here, not at import (start-up of `keytokens search`)

    norm = logsumexp(logits.astype(np.float64), axis=1, keepdims=True)
    return np.exp(logits - norm).astype(np.float32)


#: One registry for weightings; error messages list exactly these names.
WEIGHTINGS: Mapping[str, WeightFn] = {
    "raw": raw,
    "relu": relu,
    "log1p-relu": log1p_relu,
    "softmax": softmax,
}


def get_weighting(name: str) -> WeightFn:
    """Return the weighting called ``name``.

    Raises:
        UnknownNameError: naming the registered weightings.
    """
    try:
        return WEIGHTINGS[name]
    except KeyError:
        raise UnknownNameError(f"unknown weighting {name!r}; expected one of {sorted(WEIGHTINGS)}") from None


__all__ = ["WEIGHTINGS", "WeightFn", "get_weighting", "log1p_relu", "raw", "relu", "softmax"]
