"""CLI command of the web explorer: ``serve``."""

from __future__ import annotations

import logging
import threading
from typing import Annotated

import typer
from rich.text import Text

from keytokens.cli.app import app, err

logger = logging.getLogger(__name__)


@app.command()
def serve(
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="a preset the page may open (repeat; see `keytokens models`); default: both offline models, "
            "minilm and smollm2-eol",
            show_default=False,
        ),
    ] = None,
    indexes: Annotated[
        list[str] | None, typer.Option("--index", help="NAME=DIR: a sparse index the page may search (repeat)")
    ] = None,
    instructions: Annotated[
        list[str] | None,
        typer.Option("--instruction", help="NAME=TEXT: an instruction offered for presets that take them (repeat)"),
    ] = None,
    host: Annotated[
        str, typer.Option(help="address to bind; keep 127.0.0.1 unless you mean to share it")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port")] = 8000,
    preload: Annotated[
        bool, typer.Option("--preload/--no-preload", help="load every model at start-up, in the background")
    ] = False,
) -> None:
    """Start the web explorer: type texts, see their aligned tokens; compare, instruct, adjust, search.

    Without --model the page offers both offline models, minilm and smollm2-eol (each loads on first use).
    """
    from keytokens.errors import require

    require("fastapi", "serve")
    uvicorn = require("uvicorn", "serve")
    from keytokens.server.app import LOOPBACK_HOSTS, create_app

    explorer = build_explorer(models or ["minilm", "smollm2-eol"], indexes or [], instructions or [])
    loopback = host in ("127.0.0.1", "localhost")
    if not loopback:
        warning = f"serving on {host}: anyone who can reach it can run the models"
        err.print(Text.assemble(("warning: ", "yellow"), warning))
    application = create_app(explorer, allowed_hosts=LOOPBACK_HOSTS if loopback else None)
    if preload:
        threading.Thread(target=_preload, args=(explorer,), daemon=True, name="preload").start()
    err.print(f"keytokens explorer on http://{host}:{port}/  (presets: {', '.join(explorer.models.names)})")
    uvicorn.run(application, host=host, port=port, log_level="warning")


def build_explorer(models: list[str], indexes: list[str], instructions: list[str]):
    """An :class:`~keytokens.server.Explorer` over presets, ``NAME=DIR`` indexes and ``NAME=TEXT`` instructions.

    Raises:
        UnknownNameError: a name that is not a preset.
        InputError: a malformed index or instruction, a repeated name, or a folder that is not a sparse index.
    """
    from keytokens.embedders import get_preset
    from keytokens.errors import InputError
    from keytokens.interpret.instructions import Instruction
    from keytokens.server import Explorer, IndexCache, ModelCache, parse_index

    names = list(dict.fromkeys(models))
    cache = ModelCache([get_preset(n) for n in names], load=_load_lens)
    paths = dict(parse_index(spec) for spec in indexes)
    if len(paths) != len(indexes):
        raise InputError("index names must be unique")
    parsed = [Instruction.parse(spec) for spec in instructions]
    if len({i.name for i in parsed}) != len(parsed):
        raise InputError("instruction names must be unique")
    return Explorer(cache, IndexCache(paths), instructions=parsed)


def _load_lens(preset):
    from keytokens.lens import Lens

    return Lens.load(preset.name)


def _preload(explorer) -> None:
    for name in explorer.models.names:
        try:
            explorer.models.get(name)
        except Exception as exc:  # reported, and the page will report it again on use
            logger.warning("could not preload %s: %s", name, exc)
