"""The ``Embedder`` protocol and the checks every embedder applies to its input."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from keytokens.errors import InputError
from keytokens.texts import as_texts, check_texts  # noqa: F401  (re-exported: every embedder checks its input here)

logger = logging.getLogger(__name__)

#: Off while a caller that encodes in parts (a corpus in chunks) reports truncation once for the whole.
_REPORT_TRUNCATION: ContextVar[bool] = ContextVar("keytokens_report_truncation", default=True)

Role = Literal["query", "document"]
ROLES: tuple[Role, ...] = ("query", "document")


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to ``(n, d) float32`` embeddings; ``role`` selects per-role prompts."""

    name: str

    @property
    def dim(self) -> int:
        """``d``, the embedding size."""
        ...

    def encode(
        self,
        texts: Sequence[str],
        *,
        role: Role = "document",
        batch_size: int | None = None,
        show_progress: bool = False,
    ) -> np.ndarray:
        """Return ``(len(texts), d) float32`` embeddings, even for one text."""
        ...


def check_role(role: str) -> Role:
    """Return ``role`` if it is ``query`` or ``document``.

    Raises:
        InputError: naming the accepted roles.
    """
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; expected one of {list(ROLES)}")
    return role  # type: ignore[return-value]


def report_truncation(name: str, truncated: int, total: int, max_length: int | None) -> None:
    """Log, in one line, that ``truncated`` of ``total`` texts were cut to the model's ``max_length`` tokens.

    Embedders call it after each :meth:`Embedder.encode`; inside :func:`truncation_reports_off` it is silent
    (the caller reports the total once).
    """
    if truncated and _REPORT_TRUNCATION.get():
        logger.warning(
            "%d of %d texts were longer than %s's max length of %s tokens and were truncated (their ends are not read)",
            truncated,
            total,
            name,
            max_length,
        )


@contextmanager
def truncation_reports_off() -> Iterator[None]:
    """Silence :func:`report_truncation` inside the block (for a caller that reports the total itself)."""
    token = _REPORT_TRUNCATION.set(False)
    try:
        yield
    finally:
        _REPORT_TRUNCATION.reset(token)
