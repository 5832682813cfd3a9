"""The ``Embedder`` protocol and the checks every embedder applies to its input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from keytokens.errors import EmptyTextError, InputError
from keytokens.strings import check_unicode

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


def check_texts(texts: Sequence[str]) -> list[str]:
    """Validate a batch of texts.

    Raises:
        InputError: ``texts`` is a bare string, holds a non-string, or a text that is not valid Unicode (bytes
            that were not UTF-8).
        EmptyTextError: a text is empty or whitespace only (its position is named).
    """
    if isinstance(texts, str):
        raise InputError("texts must be a sequence of strings, not one string; wrap it in a list")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InputError(f"text {i} is {type(text).__name__}, expected str")
        if not text.strip():
            raise EmptyTextError(f"text {i} is empty or whitespace only")
        check_unicode(text, f"text {i}")
    return out


def check_role(role: str) -> Role:
    """Return ``role`` if it is ``query`` or ``document``.

    Raises:
        InputError: naming the accepted roles.
    """
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; expected one of {list(ROLES)}")
    return role  # type: ignore[return-value]
