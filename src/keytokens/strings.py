r"""Which strings keytokens accepts: texts that are valid Unicode, document ids that survive a round trip.

Two kinds of string break things far from where they enter:

- A text holding lone surrogates (what Python makes of bytes that are not UTF-8 in a command-line
  argument, or a JSON ``"\ud800"`` escape) cannot be encoded; tokenizers fail on it deep inside.
- A document id with control characters or surrounding whitespace does not survive storage: numpy
  unicode arrays drop trailing NULs, so ``"d1"`` and ``"d1\x00"`` become one id, and ids that look the
  same on screen are not the same key.

Both are refused where they enter, naming the text or line.
"""

from __future__ import annotations

import unicodedata

from keytokens.errors import InputError


def is_valid_unicode(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (it holds no lone surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    r"""``text`` with what cannot be printed as UTF-8 escaped (``\xff`` for a byte that was not UTF-8)."""
    if is_valid_unicode(text):
        return text
    try:  # bytes decoded with surrogateescape (command-line arguments) come back as the bytes they were
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def check_unicode(text: str, what: str) -> str:
    """Return ``text`` if it is valid Unicode.

    Args:
        text: the string.
        what: how to name it in the error (``"text 3"``, ``"query 0"``).

    Raises:
        InputError: it holds bytes that were not UTF-8 (or lone surrogates), shown escaped.
    """
    if not is_valid_unicode(text):
        raise InputError(f"{what} is not valid UTF-8 text: '{printable(_excerpt(text))}'")
    return text


def _excerpt(text: str, width: int = 30) -> str:
    """Up to ``width`` characters either side of the first lone surrogate, ``…`` marking what was cut."""
    bad = next(i for i, c in enumerate(text) if "\ud800" <= c <= "\udfff")
    start, stop = max(0, bad - width), min(len(text), bad + width + 1)
    return ("…" if start else "") + text[start:stop] + ("…" if stop < len(text) else "")


def id_problem(doc_id: object) -> str | None:
    """Why ``doc_id`` cannot be a document id, or ``None`` when it can.

    An id is a non-empty string of valid Unicode without control characters (C0, DEL, C1) and
    without leading or trailing whitespace.
    """
    if not isinstance(doc_id, str):
        return f"is a {type(doc_id).__name__}; expected a non-empty string"
    if not doc_id:
        return "is empty; expected a non-empty string"
    if not is_valid_unicode(doc_id):
        return f"{printable(doc_id)!r} is not valid UTF-8"
    if doc_id != doc_id.strip():
        return f"{doc_id!r} has leading or trailing whitespace"
    if not doc_id.isprintable() and any(unicodedata.category(c) == "Cc" for c in doc_id):
        return f"{doc_id!r} holds a control character"
    return None


def check_doc_id(doc_id: object, where: str, *, kind: str = "document") -> str:
    """Return ``doc_id`` if it can be an id (see :func:`id_problem`).

    Args:
        doc_id: the id as read.
        where: how to name it in the error (``"corpus.jsonl:3"``, ``"position 2"``).
        kind: what it identifies (``document``, ``query``).

    Raises:
        InputError: naming ``where`` and the problem.
    """
    problem = id_problem(doc_id)
    if problem is not None:
        raise InputError(f"{where}: {kind} id {problem}")
    return doc_id  # type: ignore[return-value]


__all__ = ["check_doc_id", "check_unicode", "id_problem", "is_valid_unicode", "printable"]
