"""Typed exceptions raised by keytokens.

Every error a user can cause is one of these, so callers (and the CLI) can tell bad input
from a bug. They subclass the built-in that fits (``ValueError`` for bad values), so
``except ValueError`` keeps working for code that does not know keytokens.
"""

from __future__ import annotations


class KeytokensError(Exception):
    """Base class of every error keytokens raises on purpose."""


class InputError(KeytokensError, ValueError):
    """A text, file or argument is not what was expected."""


class EmptyTextError(InputError):
    """A text is empty or whitespace only."""


class UnknownNameError(InputError, KeyError):
    """A name (preset, pooling, metric definition, dataset) is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ShapeError(InputError):
    """An array, head or file has the wrong shape or dtype."""


class ModelNotAvailableError(KeytokensError, OSError):
    """A model or checkpoint cannot be found locally and the hub cannot be reached."""


class MissingDependencyError(KeytokensError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped long work; ``kept`` says what was saved, which running the same work again reuses."""

    def __init__(self, kept: str) -> None:
        super().__init__(kept)
        self.kept = kept


def require(module: str, extra: str):
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``extra``.

    Args:
        module: dotted module name to import.
        extra: the ``keytokens[extra]`` that installs it.

    Returns:
        The imported module.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module!r} is needed for this; install it with: pip install 'keytokens[{extra}]'"
        ) from exc
