"""CLI command ``verify``: read a whole store and compare it with the checksums its ``meta.json`` recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from keytokens.cli.app import Json, app, out


@app.command()
def verify(
    folder: Annotated[Path, typer.Argument(help="an index (or any folder keytokens wrote: a fitted head)")],
    as_json: Json = False,
) -> None:
    """Check every file of an index against its recorded checksums; exit 1 naming what is damaged."""
    from keytokens.store import StoreError
    from keytokens.store import verify as verify_store

    report = verify_store(folder)
    if report.ok:
        _open(folder, report.kind)  # the structural checks every load makes (finite weights, postings in order)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    if not report.ok:
        raise StoreError(f"{str(folder)!r} is damaged: {'; '.join(report.damaged)}; rebuild it")
    if as_json:
        return
    if report.has_checksums:
        out.print(f"{folder}: {report.kind}, {len(report.checked)} files match their checksums", highlight=False)
    else:
        out.print(
            f"{folder}: {report.kind}, no checksums recorded (written by an older keytokens): "
            "shapes and dtypes checked only; rebuild it to record checksums",
            highlight=False,
        )


def _open(folder: Path, kind: str) -> None:
    if kind == "sparse-index":
        from keytokens.sparse import SparseIndex

        SparseIndex.load(folder)
    elif kind == "dense-index":
        from keytokens.retrieval import DenseIndex

        DenseIndex.load(folder)
