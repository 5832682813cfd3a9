"""The typer app, consoles, shared options and logging set-up of the ``keytokens`` CLI."""

from __future__ import annotations

import importlib
import json
import logging
import math
import warnings
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from typer.core import TyperGroup

from keytokens._version import __version__
from keytokens.errors import KeytokensError


class CommandInterrupted(KeytokensError):
    """Ctrl-C stopped a command; the message says what was kept (typer would turn it into a silent exit)."""


class _Group(TyperGroup):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            kept = getattr(exc, "kept", None) or "no finished work was saved"
            raise CommandInterrupted(kept) from None


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Read text embeddings as the vocabulary tokens they align with.",
)
# markup off: texts, queries, ids and tokens are printed as they are ("[/x]" is not a closing tag)
out = Console(markup=False)
err = Console(stderr=True, markup=False)
#: Options of the root command that :func:`keytokens.cli.main` reads back (``verbose``: show tracebacks).
state = {"verbose": False}


def choice(module: str, registry: str) -> Callable[[str | None], str | None]:
    """An option callback refusing (as a usage error, before any model loads) a name not in a registry.

    Args:
        module: the module that holds the registry (imported only when the option is checked).
        registry: the registry's name there: a mapping or tuple of the accepted names.
    """

    def check(value: str | None) -> str | None:
        names = list(getattr(importlib.import_module(module), registry))
        if value is not None and value not in names:
            raise typer.BadParameter(f"{value!r} is not one of {names}")
        return value

    return check


def print_json(data) -> None:
    """Print ``data`` as JSON on stdout; NaN and Inf are never written (they are not JSON).

    Raises:
        RuntimeError: ``data`` holds NaN or Inf (a bug upstream: every source of numbers is checked).
    """
    try:
        text = json.dumps(data, allow_nan=False)
    except ValueError as exc:
        raise RuntimeError(f"the result holds NaN or Inf and cannot be written as JSON ({exc})") from None
    out.print_json(text)


def finite(value: float | None) -> float | None:
    """An option callback refusing ``nan`` and ``inf`` (which click's float accepts)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"expected a finite number; got {value}")
    return value


Model = Annotated[str, typer.Option("--model", "-m", help="preset name (see `keytokens models`), hub id or folder")]
K = Annotated[int, typer.Option("-k", min=1, help="tokens per text")]
TokenFilter = Annotated[
    str,
    typer.Option(
        "--filter", help="all, no-special or content", callback=choice("keytokens.lens.aligned", "TOKEN_FILTERS")
    ),
]
Role = Annotated[
    str, typer.Option(help="query or document (selects prompts)", callback=choice("keytokens.embedders.base", "ROLES"))
]
Json = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]
Head = Annotated[
    str | None, typer.Option("--head", help="override the head: lm, embeddings, SOURCE:KIND or a fitted head folder")
]


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False)],
        force=True,
    )
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft|sentence_transformers)")
    for noisy in ("transformers", "sentence_transformers", "huggingface_hub", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="log progress; show the traceback of a failure")
    ] = False,
) -> None:
    state["verbose"] = verbose
    _setup_logging(verbose)


@app.command()
def version() -> None:
    """Print the version."""
    out.print(__version__)
