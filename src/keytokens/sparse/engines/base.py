"""What every search engine of the sparse index does, and the knobs' bookkeeping.

An engine answers ``score(q, d) = q · X[d]`` top-k queries over the index's ``(n_docs, |V|)`` CSC
matrix ``X`` of non-negative float32 weights, whatever recipe made the weights: the exact engine by
a scipy sparse product, an approximate one (Seismic) through its own data structure, built from
``X`` and saved beside it. Knobs are a frozen dataclass per engine; a field whose metadata says
``search`` only changes how queries run (it can change on a loaded engine), every other field changes
what is built (a saved engine built with other values is refused).
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import scipy.sparse as sp

from keytokens.errors import InputError

#: ``field(metadata=SEARCH)`` marks a knob that only acts at query time.
SEARCH = {"search": True}


class Engine(Protocol):
    """Top-k search over the rows of a sparse matrix, built from it, saved and loaded beside it.

    Attributes:
        name: the engine's registry name.
        params: its knobs (a frozen dataclass with ``to_dict``).
        nbytes: bytes of what it holds beyond the index's own matrix (0 for the exact engine).
    """

    name: ClassVar[str]
    params: Any

    @property
    def nbytes(self) -> int:
        """Bytes of the engine's own data structure."""
        ...

    @classmethod
    def build(cls, matrix: sp.csc_matrix, params: Any) -> Engine:
        """Build from the index's ``(n_docs, |V|)`` CSC matrix."""
        ...

    @classmethod
    def load(cls, folder: Path, matrix: sp.csc_matrix, params: Any) -> Engine:
        """Open what :meth:`save` wrote to ``folder`` (``params`` as saved, with search knobs applied)."""
        ...

    def save(self, folder: Path) -> dict[str, Path]:
        """Write the engine's files into the existing folder ``folder``; returns name → file."""
        ...

    def search(self, queries: sp.csr_matrix, *, k: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The ``k`` best rows of each ``(n, |V|)`` float32 query in CSR layout.

        ``queries`` is a scipy CSR matrix or a :class:`~keytokens.sparse.queries.QueryBatch`: an engine
        reads only ``indptr``, ``indices`` (sorted, distinct per row), ``data`` and ``shape``.

        Returns:
            Per query, ``(m,) int64`` row positions and ``(m,) float32`` scores (``m ≤ k``), best
            first, ties by position; rows scoring 0 are left out.
        """
        ...

    def with_params(self, params: Any) -> Engine:
        """The same built engine with other search knobs."""
        ...


def search_fields(params) -> set[str]:
    """Names of the knobs that only act at query time."""
    return {f.name for f in dataclasses.fields(params) if f.metadata.get("search")}


def build_settings(params) -> dict:
    """The knobs that shape what is built (all but the search knobs)."""
    searched = search_fields(params)
    return {k: v for k, v in params.to_dict().items() if k not in searched}


def check_range(name: str, value, *, low, high=None, low_open: bool = False, integer: bool = False) -> None:
    """Refuse a knob outside ``[low, high]`` (``(low, high]`` with ``low_open``), naming both.

    Raises:
        InputError: wrong type or out of range (a ValueError).
    """
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise InputError(f"{name} must be {'an integer' if integer else 'a number'}; got {value!r}")
    below = value <= low if low_open else value < low
    if below or (high is not None and value > high):
        span = f"{'(' if low_open else '['}{low}, {'∞)' if high is None else f'{high}]'}"
        raise InputError(f"{name} must be in {span}; got {value!r}")


def params_from_dict(cls, data: dict):
    """A params dataclass from ``data``, refusing unknown knobs by name.

    Raises:
        ValueError: a key that is not a knob of ``cls`` (listing the knobs), or a value out of range.
    """
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InputError(f"unknown engine option {unknown[0]!r}; expected one of {known}")
    return cls(**data)


def matrix_fingerprint(matrix: sp.csc_matrix) -> str:
    """A short fingerprint of a CSC matrix: its shape, postings per column and weight and row sums.

    Cheap (one pass over the arrays, no hashing of the weights) yet it changes when documents, tokens
    or weights change, so an engine saved for another matrix is refused.
    """
    h = hashlib.sha256()
    h.update(np.asarray(matrix.shape, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(matrix.indptr, dtype=np.int64).tobytes())
    h.update(np.float64(np.sum(matrix.data, dtype=np.float64)).tobytes())
    h.update(np.int64(np.sum(matrix.indices, dtype=np.int64)).tobytes())
    return h.hexdigest()[:32]


def file_digest(path: Path) -> str:
    """sha256 of a file, read in 8 MiB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while piece := f.read(8 << 20):
            h.update(piece)
    return h.hexdigest()


__all__ = [
    "SEARCH",
    "Engine",
    "build_settings",
    "check_range",
    "file_digest",
    "matrix_fingerprint",
    "params_from_dict",
    "search_fields",
]
