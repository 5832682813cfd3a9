"""The ``keytokens`` command line: a thin layer over the library (typer + rich).

Each command module registers its commands on :data:`keytokens.cli.app.app` when imported.
"""

from __future__ import annotations

import contextlib
import sys
import traceback

import typer
from rich.text import Text

from keytokens.cli import analysis, heads, interpret, lens, retrieval, scale, serve, train, tuning, verify  # noqa: F401
from keytokens.cli.app import CommandInterrupted, app, err, state
from keytokens.errors import KeytokensError
from keytokens.strings import printable

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every failure becomes one line on stderr.

    Exit codes: 0 success, 1 an error (bad input, a library error, a failure of the machine such as a full
    disk, or an unexpected failure: "internal error", with the traceback under ``-v``), 2 a usage error
    (bad option or argument), 130 interrupted (Ctrl-C).
    """
    _tolerant_streams()
    state["verbose"] = False
    try:
        code = app(args=argv, standalone_mode=False)
    except CommandInterrupted as exc:
        err.print(
            f"interrupted: {exc}; no index or report was changed; run the same command again to resume",
            highlight=False,
            soft_wrap=True,
        )
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err.print("aborted")
        return 1
    except typer.TyperException as exc:  # usage errors (bad option, missing argument)
        show = getattr(exc, "show", None)
        if show is None:
            return _fail(f"internal error: {type(exc).__name__}: {exc}", exc)
        show(file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except (KeytokensError, ValueError) as exc:  # the library's errors of input (ValueError by its convention)
        return _fail(str(exc), exc)
    except MemoryError as exc:
        return _fail(f"out of memory: {exc or 'an allocation failed'}; try a smaller input or -k", exc)
    except OSError as exc:  # the machine, not the code: a full disk, a permission, a missing device
        return _fail(f"{exc}", exc)
    except Exception as exc:  # a bug: say so in one line; -v shows where
        hint = "" if state["verbose"] else "; run with -v for the traceback"
        return _fail(f"internal error: {type(exc).__name__}: {exc}{hint}", exc)
    return code if isinstance(code, int) else 0


def _fail(message: str, exc: BaseException) -> int:
    """Print ``error: message`` (escaping what cannot be printed), with the traceback under ``-v``; return 1."""
    if state["verbose"]:
        sys.stderr.write(printable("".join(traceback.format_exception(exc))))
    line = printable(message).replace("\n", " ")
    err.print(Text.assemble(("error: ", "red"), line), highlight=False, soft_wrap=True)
    return 1


def _tolerant_streams() -> None:
    """Let stdout and stderr print any string (a path of bytes that are not UTF-8 comes out escaped)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) != "backslashreplace":
            with contextlib.suppress(ValueError, OSError):  # a closed or detached stream: leave it
                reconfigure(errors="backslashreplace")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
