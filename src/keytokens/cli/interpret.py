"""CLI commands of the interpretation analyses: ``instructions`` and ``relatedness``."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from keytokens.cli.app import Json, K, Model, Role, TokenFilter, app, err, out, print_json

OutDir = Annotated[Path | None, typer.Option("--out", help="folder for the report (.md, .json, .png)")]


def _command(name: str, *parts: tuple[str, object]) -> str:
    """The command line that reproduces a run, for the report."""
    words = ["keytokens", name]
    for flag, value in parts:
        if value is None or value is False or value == []:
            continue
        for item in value if isinstance(value, list) else [value]:
            words += [flag] if item is True else [flag, str(item)] if flag else [str(item)]
    return shlex.join(words)


@app.command()
def instructions(
    texts: Annotated[list[str] | None, typer.Argument(help="texts (default: --data, else built-in examples)")] = None,
    model: Model = "smollm2-eol",
    instruction: Annotated[
        list[str] | None,
        typer.Option("--instruction", "-i", help="NAME=TEXT (repeat); default: the preset's own per-role instructions"),
    ] = None,
    instruction_format: Annotated[
        str | None,
        typer.Option(help="how an instruction precedes the prompt, with {instruction} (default: the preset's)"),
    ] = None,
    data: Annotated[str | None, typer.Option(help="sts-b, sts12-smtnews, ... or a text file")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="use the first N texts of --data")] = None,
    k: K = 10,
    role: Role = "document",
    token_filter: TokenFilter = "all",
    out_dir: OutDir = None,
    as_json: Json = False,
) -> None:
    """The same texts under several instructions: overlap@k with no instruction, tokens gained and lost."""
    from keytokens.datasets import load_texts
    from keytokens.interpret.instructions import EXAMPLE_TEXTS, Instruction, instruction_analysis, preset_instructions
    from keytokens.lens import Lens

    parsed = [Instruction.parse(spec) for spec in instruction or []]
    if texts:
        chosen = list(texts)
    elif data:
        chosen = load_texts(data, limit=limit)
    else:
        chosen = list(EXAMPLE_TEXTS)
    lens = Lens.load(model)
    parsed = parsed or list(preset_instructions(lens))
    report = instruction_analysis(
        lens,
        chosen,
        parsed,
        k=k,
        role=role,
        token_filter=token_filter,
        instruction_format=instruction_format,  # type: ignore[arg-type]
    )
    command = _command(
        "instructions",
        ("", list(texts or [])),
        ("--model", model),
        ("--instruction", list(instruction or [])),
        ("--instruction-format", instruction_format),
        ("--data", data),
        ("--limit", limit),
        ("-k", k),
        ("--role", role),
        ("--filter", token_filter),
        ("--out", str(out_dir) if out_dir else None),
    )
    if out_dir is not None:
        files = _write_instructions(report, out_dir, command)
        err.print("wrote " + ", ".join(str(f) for f in files), soft_wrap=True)
    if as_json:
        print_json({"command": command, **report.to_dict()})
        return
    table = Table("instruction", f"overlap@{k}", "gained most often", "lost most often", title=report.model)
    for e in report.effects:
        gained = "  ".join(f"{t} ({c})" for t, c in e.gained[:6])
        lost = "  ".join(f"{t} ({c})" for t, c in e.lost[:6])
        table.add_row(e.instruction.name, f"{e.mean_overlap:.3f}", gained, lost)
    out.print(table)


def _write_instructions(report, out_dir: Path, command: str) -> list[Path]:
    from keytokens.interpret.report import instructions_markdown, write_json, write_text
    from keytokens.reports.interpret_plots import plot_instruction_effects
    from keytokens.reports.plots import save

    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "instructions.png"
    save(plot_instruction_effects(report), png)
    md = write_text(out_dir / "instructions.md", instructions_markdown(report, command=command, plot=png.name))
    js = write_json(out_dir / "instructions.json", {"command": command, **report.to_dict()})
    return [md, js, png]


@app.command()
def relatedness(
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="preset, hub id or folder (repeat); default: both offline models, minilm and smollm2-eol, in turn",
            show_default=False,
        ),
    ] = None,
    word_sets: Annotated[
        str, typer.Option("--sets", help="comma-separated word-pair sets")
    ] = "ws353-sim,ws353-rel,simlex999",
    k: K = 10,
    token_filter: TokenFilter = "content",
    limit: Annotated[int | None, typer.Option(min=3, help="use the first N pairs of each set (a quick look)")] = None,
    out_dir: OutDir = None,
    as_json: Json = False,
) -> None:
    """Spearman ρ of embedding cosine and aligned-token overlap with human similarity/relatedness scores.

    Without --model it runs both offline models, minilm and then smollm2-eol (one in memory at a time).
    """
    from keytokens.interpret.relatedness import get_word_set, load_word_set
    from keytokens.lens import Lens

    names = [s.strip() for s in word_sets.split(",") if s.strip()]
    for name in names:
        get_word_set(name)
        load_word_set(name)  # fail on missing data before loading any model
    models = list(dict.fromkeys(models or ["minilm", "smollm2-eol"]))
    results = []
    for model in models:
        lens = Lens.load(model)
        results.append(_relatedness_of(lens, names, k, token_filter, limit))
        del lens  # one model in memory at a time
    command = _command(
        "relatedness",
        ("--model", models),
        ("--sets", word_sets),
        ("-k", k),
        ("--filter", token_filter),
        ("--limit", limit),
        ("--out", str(out_dir) if out_dir else None),
    )
    data = {"command": command, "k": k, "token_filter": token_filter, "models": [r.to_dict() for r in results]}
    if out_dir is not None:
        files = _write_relatedness(results, data, out_dir, k, token_filter, command)
        err.print("wrote " + ", ".join(str(f) for f in files), soft_wrap=True)
    if as_json:
        print_json(data)
        return
    _print_relatedness(results)


def _relatedness_of(lens, names, k, token_filter, limit=None):
    from keytokens.interpret.relatedness import relatedness as measure

    return measure(lens, names, k=k, token_filter=token_filter, limit=limit)


def _write_relatedness(results, data: dict, out_dir: Path, k: int, token_filter: str, command: str) -> list[Path]:
    from keytokens.interpret.report import relatedness_markdown, write_json, write_text
    from keytokens.reports.interpret_plots import plot_relatedness
    from keytokens.reports.plots import save

    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "relatedness.png"
    save(plot_relatedness(results), png)
    text = relatedness_markdown(results, k=k, token_filter=token_filter, command=command)
    md = write_text(out_dir / "relatedness.md", text + f"\n![Spearman ρ per word set]({png.name})\n")
    return [md, write_json(out_dir / "relatedness.json", data), png]


def _print_relatedness(results) -> None:
    table = Table(
        "model", "word set", "pairs", "ρ cosine", "ρ Jaccard", "ρ weighted", title="Spearman ρ with human scores"
    )
    for r in results:
        for s in r.scores:
            c = s.correlations
            table.add_row(
                r.model,
                s.word_set.name,
                str(s.n_pairs),
                *(f"{c[m].rho:.3f}" for m in ("cosine", "jaccard", "weighted-jaccard")),
            )
    out.print(table)
    for r in results:
        c = r.contrast
        out.print(f"{r.model}: cosine({c.texts[0]!r}, {c.texts[1]!r}) = {c.cosine:.3f}", highlight=False)
        for text, row in zip(c.texts, c.tokens, strict=True):
            out.print(f"  {text!r}: {'  '.join(t.token for t in row)}", highlight=False)
