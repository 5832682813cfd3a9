"""Typed reading of JSON fields (``meta.json``, manifests, records): a wrong type is refused by name.

``int("abc")`` or ``[]["k"]`` deep inside a loader gives a message that names neither the file nor the
field; ``int(1e300)`` overflows and ``int(True)`` is silently 1. These readers check the JSON type
(``bool`` is not an ``int``; a float is an ``int`` only when integral) and the range, and raise
:class:`FieldError` saying which field holds what. Callers turn it into "<file> is damaged: …".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from keytokens.errors import InputError

_MISSING = object()


class FieldError(InputError):
    """A JSON field is missing or of the wrong type or range."""


def _get(data: Any, key: str) -> Any:
    if not isinstance(data, Mapping):
        raise FieldError(f"expected a JSON object holding {key!r}; got {_show(data)}")
    value = data.get(key, _MISSING)
    if value is _MISSING:
        raise FieldError(f"field {key!r} is missing")
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return f"{text[:60]}… ({type(value).__name__})" if len(text) > 60 else f"{text} ({type(value).__name__})"


def get_int(data: Any, key: str, *, minimum: int | None = None) -> int:
    """``data[key]`` as an integer (not a bool, not a fractional float), at least ``minimum``.

    Raises:
        FieldError: missing, of another type, or below ``minimum``.
    """
    value = _get(data, key)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(f"field {key!r} is {_show(value)}; expected an integer")
    if minimum is not None and value < minimum:
        raise FieldError(f"field {key!r} is {value}; expected an integer ≥ {minimum}")
    if abs(value) >= 2**62:
        raise FieldError(f"field {key!r} is {value}; expected an integer of at most 62 bits")
    return value


def get_float(data: Any, key: str) -> float:
    """``data[key]`` as a finite number (an integer counts; a bool does not).

    Raises:
        FieldError: missing, not a number, or NaN/Inf.
    """
    value = _get(data, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(f"field {key!r} is {_show(value)}; expected a number")
    if not math.isfinite(value) or abs(value) > 1e300:
        raise FieldError(f"field {key!r} is {value}; expected a finite number")
    return float(value)


def get_str(data: Any, key: str, *, allow_empty: bool = True) -> str:
    """``data[key]`` as a string.

    Raises:
        FieldError: missing, not a string, or empty when ``allow_empty`` is false.
    """
    value = _get(data, key)
    if not isinstance(value, str):
        raise FieldError(f"field {key!r} is {_show(value)}; expected a string")
    if not value and not allow_empty:
        raise FieldError(f"field {key!r} is empty; expected a non-empty string")
    return value


def get_optional_str(data: Any, key: str) -> str | None:
    """``data[key]`` as a string or ``None`` (missing counts as ``None``).

    Raises:
        FieldError: of another type.
    """
    if isinstance(data, Mapping) and data.get(key) is None:
        return None
    return get_str(data, key)


def get_bool(data: Any, key: str) -> bool:
    """``data[key]`` as a JSON boolean.

    Raises:
        FieldError: missing or not ``true``/``false``.
    """
    value = _get(data, key)
    if not isinstance(value, bool):
        raise FieldError(f"field {key!r} is {_show(value)}; expected true or false")
    return value


def get_dict(data: Any, key: str) -> dict:
    """``data[key]`` as a JSON object.

    Raises:
        FieldError: missing or not an object.
    """
    value = _get(data, key)
    if not isinstance(value, dict):
        raise FieldError(f"field {key!r} is {_show(value)}; expected a JSON object")
    return value


def get_list(data: Any, key: str) -> list:
    """``data[key]`` as a JSON array.

    Raises:
        FieldError: missing or not an array.
    """
    value = _get(data, key)
    if not isinstance(value, list):
        raise FieldError(f"field {key!r} is {_show(value)}; expected a JSON array")
    return value


__all__ = ["FieldError", "get_bool", "get_dict", "get_float", "get_int", "get_list", "get_optional_str", "get_str"]
