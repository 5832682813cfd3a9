"""CLI commands of the spectral analysis: ``spectrum``."""

from __future__ import annotations

from typing import Annotated

import typer

from keytokens.cli.app import Json, K, app, out, print_json


@app.command()
def spectrum(
    backbone: Annotated[str, typer.Option(help="backbone preset (raw LM, e.g. smollm2)")] = "smollm2",
    embedder: Annotated[
        str, typer.Option(help="embedder made from it (e.g. smollm2-eol, smollm2-cse)")
    ] = "smollm2-eol",
    data: Annotated[str, typer.Option(help="sts-b, sts12-smtnews, ... or a text file")] = "sts-b",
    limit: Annotated[int | None, typer.Option(min=2, help="use the first N texts")] = 1000,
    components: Annotated[int, typer.Option(min=1, help="principal components to compare")] = 50,
    out_dir: Annotated[str, typer.Option("--out", help="folder for PNGs and summary.json")] = "spectrum",
    k: K = 10,
    as_json: Json = False,
) -> None:
    """Backbone vs embedder: variation per component, first-component contribution, λ sweep."""
    from keytokens.datasets import load_texts
    from keytokens.lens import Lens
    from keytokens.reports.spectrum import spectrum_report

    texts = load_texts(data, limit=limit)
    report = spectrum_report(
        Lens.load(backbone), Lens.load(embedder), texts, n_components=components, k=k, show_progress=not as_json
    )
    files = report.write(out_dir)
    if as_json:
        print_json(report.summary)
        return
    var = report.summary["variation"]
    out.print(
        f"v1 = {var['v1']:.2f}; largest other |v_j| = {var['largest_other_abs_v']:.2f}; "
        f"share of the mean change on u1 = {var['share_v1']:.1%}"
    )
    for ex in report.summary["examples"]:
        out.print(repr(ex["text"]))
        for label, tokens in ex["tokens"].items():
            out.print(f"  {label:>14}: {'  '.join(tokens)}", highlight=False)
    out.print("wrote " + ", ".join(str(f) for f in files))
