"""The typer app, consoles, shared options and logging set-up of the ``keytokens`` CLI."""

from __future__ import annotations

import logging
import warnings
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
out = Console()
err = Console(stderr=True)

Model = Annotated[str, typer.Option("--model", "-m", help="preset name (see `keytokens models`), hub id or folder")]
K = Annotated[int, typer.Option("-k", min=1, help="tokens per text")]
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
def _root(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log progress")] = False) -> None:
    _setup_logging(verbose)


@app.command()
def version() -> None:
    """Print the version."""
    out.print(__version__)
