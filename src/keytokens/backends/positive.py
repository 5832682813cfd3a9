"""Positive weights for engines that store only non-negative sparse weights (Milvus).

Milvus's ``SPARSE_FLOAT_VECTOR`` accepts finite, non-negative weights only. ``relu``, ``log1p-relu``
and ``softmax`` weightings already give positive weights, so they pass unchanged (``none``) and the
engine's scores equal the embedded :class:`~keytokens.sparse.SparseIndex`'s. ``raw`` logits can be
negative: ``clip`` drops the negative weights (``max(0, z)``, the ReLU of SPLADE, Formal et al. 2021),
so negative evidence no longer lowers a score. The transform used is recorded with the collection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import scipy.sparse as sp

from keytokens.errors import InputError, UnknownNameError

#: ``(n, |V|) float32`` CSR → CSR whose stored weights are all positive.
PositiveFn = Callable[[sp.csr_matrix], sp.csr_matrix]


def keep(vectors: sp.csr_matrix) -> sp.csr_matrix:
    """The vectors unchanged; refuses a negative weight (the weighting should have been positive)."""
    if vectors.nnz and float(vectors.data.min()) < 0:
        raise InputError("sparse vectors hold negative weights; index them with the 'clip' positive transform")
    return _drop_zeros(vectors)


def clip(vectors: sp.csr_matrix) -> sp.csr_matrix:
    """``max(0, w)``: negative weights are dropped."""
    out = vectors.copy()
    out.data = np.maximum(out.data, 0.0).astype(np.float32, copy=False)
    return _drop_zeros(out)


def _drop_zeros(vectors: sp.csr_matrix) -> sp.csr_matrix:
    out = sp.csr_matrix(vectors, dtype=np.float32, copy=True)
    out.eliminate_zeros()
    return out


#: One registry for positive transforms; error messages list exactly these names.
POSITIVE_TRANSFORMS: Mapping[str, PositiveFn] = {"none": keep, "clip": clip}


def get_positive(name: str) -> PositiveFn:
    """Return the positive transform called ``name``.

    Raises:
        UnknownNameError: naming the registered transforms.
    """
    try:
        return POSITIVE_TRANSFORMS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown positive transform {name!r}; expected one of {sorted(POSITIVE_TRANSFORMS)}"
        ) from None


def default_positive(weighting: str) -> str:
    """``clip`` for the ``raw`` weighting (the only one that can be negative), ``none`` otherwise."""
    return "clip" if weighting == "raw" else "none"


__all__ = ["POSITIVE_TRANSFORMS", "PositiveFn", "clip", "default_positive", "get_positive", "keep"]
