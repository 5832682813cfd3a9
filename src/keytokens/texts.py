"""The one rule for text input: one string is one text, as in sentence-transformers.

Every API that takes texts passes them through :func:`as_texts` (or
:func:`keytokens.embedders.check_texts`, which also refuses empty texts), so ``encode("banana")``
returns one row, never six rows of characters.
"""

from __future__ import annotations

from collections.abc import Iterable

from keytokens.errors import EmptyTextError, InputError


def as_texts(texts: str | Iterable[str]) -> list[str]:
    """``texts`` as a list of strings; one string is one text.

    Raises:
        InputError: ``texts`` is not a string or an iterable of strings (the first non-string is named).
    """
    if isinstance(texts, str):
        return [texts]
    try:
        out = list(texts)
    except TypeError:
        raise InputError(f"texts must be a string or a sequence of strings; got {type(texts).__name__}") from None
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InputError(f"text {i} is {type(text).__name__}, expected str")
    return out


def check_texts(texts: str | Iterable[str]) -> list[str]:
    """Validate a batch of texts (one string is one text).

    Raises:
        InputError: ``texts`` holds a non-string.
        EmptyTextError: a text is empty or whitespace only (its position is named).
    """
    out = as_texts(texts)
    for i, text in enumerate(out):
        if not text.strip():
            raise EmptyTextError(f"text {i} is empty or whitespace only")
    return out


__all__ = ["as_texts", "check_texts"]
