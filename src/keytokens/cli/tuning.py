"""CLI command ``tune``: choose a retrieval recipe on one's own train qrels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from keytokens.cli.app import Head, Json, Model, app, err, out, print_json

GRIDS = ("full", "quick")


@app.command()
def tune(
    data_dirs: Annotated[
        list[Path], typer.Argument(help="BEIR folder(s); several are tuned together (one recipe for all)")
    ],
    out_file: Annotated[Path, typer.Option("--out", help="recipe file to write (JSON), e.g. recipe.json")],
    model: Model = "minilm",
    split: Annotated[str, typer.Option(help="qrels split to tune on (train: never the split you report)")] = "train",
    grid: Annotated[str, typer.Option(help="candidates: full or quick")] = "full",
    name: Annotated[str | None, typer.Option(help="the recipe's name [tuned-MODEL]")] = None,
    max_length: Annotated[int | None, typer.Option("--max-length", min=1, help="cap on document tokens")] = None,
    head: Head = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="do not reuse or save cached embeddings")] = False,
    as_json: Json = False,
) -> None:
    """Search every retrieval setting on train qrels and save the best recipe (use it with --recipe FILE).

    Stages: BM25 k1/b and term normalisation, expansion head and K, dense similarity, fusion weights
    (pure sparse and pure dense included, so on the tuning split the hybrid is never below either side).
    The tuning report (every candidate's score) is written beside the recipe as NAME.tuning.json.
    """
    from keytokens.evaluation import load_beir
    from keytokens.evaluation.tuning import QUICK_GRID, TuningGrid
    from keytokens.evaluation.tuning import tune as run_tune
    from keytokens.lens import Lens

    if grid not in GRIDS:
        raise typer.BadParameter(f"unknown grid {grid!r}; expected one of {list(GRIDS)}")
    if out_file.is_dir():
        raise typer.BadParameter(f"--out {str(out_file)!r} is a folder; give a file name such as recipe.json")
    datasets = [load_beir(d, split=split, strict=False) for d in data_dirs]
    lens = Lens.load(model, head=head, max_length=max_length)

    def progress(trial) -> None:
        if not as_json:
            scores = "  ".join(f"{k} {v:.4f}" for k, v in trial.scores.items())
            err.print(f"[{trial.stage}] {trial.system}: {scores}", highlight=False, markup=False)

    result = run_tune(
        datasets,
        lens,
        grid=QUICK_GRID if grid == "quick" else TuningGrid(),
        name=name or f"tuned-{lens.name}",
        cache=not no_cache,
        show_progress=not as_json,
        on_trial=progress,
    )
    recipe = result.recipe.replace(head=head)
    recipe.save(out_file)
    report_file = out_file.with_name(out_file.stem + ".tuning.json")
    _write_json(report_file, result.to_dict())
    if as_json:
        print_json({"recipe": recipe.to_dict(), "file": str(out_file), "report": str(report_file)})
        return
    table = Table("stage", "system", *result.datasets, "mean", title=f"best of each stage ({result.metric}, {split})")
    for stage in ("lexical", "expansion", "dense", "fusion"):
        best = result.best(stage)
        table.add_row(stage, best.system, *(f"{best.scores[d]:.4f}" for d in result.datasets), f"{best.mean:.4f}")
    out.print(table)
    out.print(f"recipe {recipe.name!r} written to {out_file} (every candidate in {report_file})")


def _write_json(path: Path, data: dict) -> None:
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, allow_nan=False)
    os.replace(tmp, path)


__all__ = ["tune"]
