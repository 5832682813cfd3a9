"""The ``keytokens`` command line: a thin layer over the library (typer + rich).

Each command module registers its commands on :data:`keytokens.cli.app.app` when imported.
"""

from __future__ import annotations

import sys

import typer
from rich.text import Text

from keytokens.cli import analysis, heads, interpret, lens, retrieval, scale, serve, train  # noqa: F401  (each registers its commands)
from keytokens.cli.app import app, err
from keytokens.errors import KeytokensError

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; library errors become one line on stderr and exit code 1."""
    try:
        app(args=argv, standalone_mode=False)
    except KeytokensError as exc:
        err.print(Text.assemble(("error: ", "red"), str(exc)), highlight=False, soft_wrap=True)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err.print("aborted")
        return 1
    except typer.TyperException as exc:  # usage errors (bad option, missing argument)
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show(file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
