"""The typer app, consoles, shared options and logging set-up of the ``keytokens`` CLI."""

from __future__ import annotations

import copy as _copy
import importlib
import json
import logging
import math
import os
import sys
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, get_args, get_origin

import click
import typer
from rich.console import Console
from rich.logging import RichHandler
from typer.core import TyperGroup

from keytokens._version import __version__
from keytokens.errors import KeytokensError


class CommandInterrupted(KeytokensError):
    """Ctrl-C stopped a command; the message says what was kept (typer would turn it into a silent exit)."""


class _PolishedGroup(TyperGroup):
    """The root command group, finished by :func:`polish` once typer has built it (commands and options)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        polish(self)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            kept = getattr(exc, "kept", None) or "no finished work was saved"
            raise CommandInterrupted(kept) from None


app = typer.Typer(
    cls=_PolishedGroup,
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
Json = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]


# Choices are checked while the command line is parsed, before any model loads (the registries' own names).
Role = Annotated[
    str,
    typer.Option(
        metavar="query|document",
        callback=choice("keytokens.embedders.base", "ROLES"),
        help="query or document (selects prompts)",
    ),
]
TokenFilter = Annotated[
    str,
    typer.Option(
        "--filter",
        metavar="all|no-special|content",
        callback=choice("keytokens.lens.aligned", "TOKEN_FILTERS"),
        help="tokens to show: all, no-special or content",
    ),
]
Head = Annotated[
    str | None, typer.Option("--head", help="override the head: lm, embeddings, SOURCE:KIND or a fitted head folder")
]


#: What the libraries under us print unless asked: their warnings (``Token indices sequence length is longer
#: than …``; keytokens reports truncation itself, once) and tqdm bars (``Loading weights``, ``Converting and
#: de-quantizing GGUF tensors``); keytokens shows its own progress.
_QUIET_LIBRARIES = {
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",
}


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
    _quiet_libraries()


def _quiet_libraries() -> None:
    """Silence transformers' and the hub's warnings and bars (read from the environment when they are imported)."""
    for name, value in _QUIET_LIBRARIES.items():
        os.environ.setdefault(name, value)
    if "transformers" in sys.modules:  # imported already: the environment is read too late
        sys.modules["transformers"].utils.logging.set_verbosity_error()
        sys.modules["transformers"].utils.logging.disable_progress_bar()
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].utils.logging.set_verbosity_error()
        sys.modules["huggingface_hub"].utils.disable_progress_bars()


def _print_version(value: bool) -> None:
    if value:
        out.print(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="log progress; show the traceback of a failure (also after the command)"),
    ] = False,
    show_version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_print_version, help="print the version and exit")
    ] = False,
) -> None:
    state["verbose"] = verbose
    _setup_logging(verbose)


def _verbose_after_command(ctx, param, value: bool) -> bool:
    if value:
        state["verbose"] = True
        _setup_logging(True)
    return value


_TYPE_NAMES = {str: "TEXT", int: "INTEGER", float: "FLOAT", bool: "BOOLEAN", Path: "PATH"}


def _value_type(param, ctx) -> str | None:
    """The type column of ``--help``: TEXT, INTEGER, PATH, ``a|b`` for choices, the metavar; nothing for a flag."""
    if getattr(param, "is_flag", False):
        return None
    if param.metavar:
        return param.metavar
    desc = param.type_descriptor
    if desc.is_choice:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices)
    annotation = desc.annotation
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    return _TYPE_NAMES.get(annotation, "PATH" if desc.is_path else str(getattr(annotation, "__name__", annotation)))


def _plain_type(param):
    if param is not None and hasattr(param, "display_type_rich"):
        param.display_type_rich = partial(_value_type, param)
    return param


def _help_option(make, ctx):
    return _plain_type(make(ctx))


def polish(command: click.Group) -> click.Group:
    """Finish the click command typer built: plain type names in help, and ``-v`` accepted after any command.

    Typer prints a Python annotation (``<str>``, ``<bool>``) as an option's type; help shows the type a user
    types instead, and nothing for a flag. The root's ``--verbose`` is copied onto every command.
    """
    verbose = next(p for p in command.params if p.name == "verbose")
    for sub in [command, *command.commands.values()]:
        for param in sub.params:
            _plain_type(param)
        sub.get_help_option = partial(_help_option, sub.get_help_option)
        if sub is not command and not any(p.name == "verbose" for p in sub.params):
            copy = _copy.copy(verbose)
            copy.expose_value = False
            copy.callback = _verbose_after_command
            sub.params.append(copy)
    return command


@app.command()
def version() -> None:
    """Print the version."""
    out.print(__version__)
