"""The ``Retriever`` protocol: every system (sparse, dense, hybrid, BM25) ranks documents for queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from keytokens.ranking import SearchResults
from keytokens.texts import check_texts


@runtime_checkable
class Retriever(Protocol):
    """Anything that returns the ``k`` best documents of each query."""

    name: str

    def search(self, queries: Sequence[str], *, k: int) -> SearchResults:
        """Rank documents for each query, best first (at most ``k`` per query)."""
        ...


def check_search(queries: str | Sequence[str], k: int) -> list[str]:
    """Validate a search call's arguments.

    Raises:
        InputError: ``queries`` holds a non-string (one string is one query).
        EmptyTextError: a query is empty or whitespace only.
        ValueError: ``k`` is not a positive integer.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer; got {k!r}")
    return check_texts(queries)


__all__ = ["Retriever", "SearchResults", "check_search"]
