"""The indexes a server may search: named at start-up (``NAME=DIR``), opened lazily once.

The search view needs only :class:`Searcher`; :class:`~keytokens.retrieval.SparseRetriever` is one
(queries through the tokenizer saved with the index, no model run), and tests plug in others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from keytokens.errors import InputError, UnknownNameError
from keytokens.ranking import SearchResults

SPARSE_KIND = "sparse-index"


class Explained(Protocol):
    """Why a document matched: anything with a ``to_dict()`` holding ``score`` and ``matches``."""

    def to_dict(self) -> dict:
        """``{"doc_id", "score", "matches": [{"id", "token", "query_weight", "doc_weight", "contribution"}]}``."""
        ...


@runtime_checkable
class Searcher(Protocol):
    """Ranks an index's documents for queries and explains a match."""

    def search(self, queries: Sequence[str], *, k: int) -> SearchResults:
        """The ``k`` best documents of each query."""
        ...

    def explain(self, query: str, doc_id: str) -> Explained:
        """The tokens ``query`` shares with ``doc_id`` and what each contributed."""
        ...


def open_sparse_index(path: Path) -> Searcher:
    """A :class:`~keytokens.retrieval.SparseRetriever` over the index at ``path`` (its saved tokenizer).

    Every file is first checked against the checksums recorded when the index was written: a server
    answers from an intact index or not at all.

    Raises:
        StoreError: the index is missing, damaged, or its checksums differ.
    """
    from keytokens.retrieval import SparseRetriever
    from keytokens.store import StoreError, verify

    report = verify(path)
    if not report.ok:
        raise StoreError(f"index {str(path)!r} is damaged: {'; '.join(report.damaged)}; rebuild it")
    return SparseRetriever.load(path)


def index_summary(path: Path) -> dict:
    """What ``meta.json`` says of a sparse index, without opening its arrays.

    Raises:
        StoreError: not a keytokens store, or its ``meta.json`` is damaged (a field of the wrong type).
        InputError: a store of another kind.
    """
    from keytokens.sparse.index import read_settings
    from keytokens.store import StoreError, read_meta

    document = read_meta(path)
    if document["kind"] != SPARSE_KIND:
        raise InputError(f"{str(path)!r} holds a {document['kind']}; the explorer searches {SPARSE_KIND}es")
    try:
        info, n_docs, _ = read_settings(document["meta"])
    except ValueError as exc:
        raise StoreError(f"{str(path)!r} is damaged: {exc}") from None
    weighting = getattr(info.config, "weighting", "bm25")  # a lexical index's weights are BM25 impacts
    return {"model": info.model, "n_docs": n_docs, "k": info.config.k, "weighting": weighting}


def parse_index(spec: str) -> tuple[str, Path]:
    """Parse ``NAME=DIR``.

    Raises:
        InputError: no ``=``, or a name that is not letters, digits, ``-``, ``_`` or ``.``.
    """
    name, sep, folder = spec.partition("=")
    name = name.strip()
    if not sep or not folder.strip():
        raise InputError(f"index {spec!r} must be NAME=DIR, e.g. scifact=indexes/scifact")
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise InputError(f"index name {name!r} must be letters, digits, '-', '_' or '.'")
    return name, Path(folder.strip()).expanduser()


@dataclass(frozen=True, slots=True)
class ServedIndex:
    """An opened index and the lock its searcher runs under (tokenizers are not thread-safe)."""

    searcher: Searcher
    lock: threading.Lock


class IndexCache:
    """The indexes a server serves.

    Args:
        paths: name → index folder, checked at start-up with :func:`index_summary`.
        load: opens a folder as a :class:`Searcher` (default :func:`open_sparse_index`).
        summaries: name → summary, when already known (default: read from each folder now).
    """

    def __init__(
        self,
        paths: Mapping[str, Path],
        *,
        load: Callable[[Path], Searcher] = open_sparse_index,
        summaries: Mapping[str, dict] | None = None,
    ) -> None:
        self._paths = dict(paths)
        self._load = load
        self._summaries = dict(summaries) if summaries is not None else {n: index_summary(p) for n, p in paths.items()}
        self._opened: dict[str, ServedIndex] = {}
        self._opening = {name: threading.Lock() for name in self._paths}

    @property
    def names(self) -> tuple[str, ...]:
        """The served index names."""
        return tuple(self._paths)

    def summary(self, name: str) -> dict:
        """``{"model", "n_docs", "k", "weighting"}`` of index ``name``."""
        self._check(name)
        return dict(self._summaries.get(name, {}))

    def get(self, name: str) -> ServedIndex:
        """The opened index ``name`` (opened on first use).

        Raises:
            UnknownNameError: not served.
        """
        self._check(name)
        served = self._opened.get(name)
        if served is None:
            with self._opening[name]:
                served = self._opened.get(name)
                if served is None:
                    served = ServedIndex(self._load(self._paths[name]), threading.Lock())
                    self._opened[name] = served
        return served

    def _check(self, name: str) -> None:
        if name not in self._paths:
            served = list(self._paths) or "no index (start it with --index NAME=DIR)"
            raise UnknownNameError(f"unknown index {name!r}; this server serves {served}")


__all__ = ["IndexCache", "Searcher", "ServedIndex", "index_summary", "open_sparse_index", "parse_index"]
