"""CLI commands of the token lens: ``models``, ``tokens``, ``align``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from keytokens.cli.app import Head, Json, K, Model, Role, TokenFilter, app, out, print_json


@app.command()
def models(as_json: Json = False) -> None:
    """List presets and whether each can load offline right now."""
    from keytokens.availability import available_offline
    from keytokens.embedders import PRESETS

    rows = [{**p.to_dict(), "offline": available_offline(p)} for p in PRESETS.values()]
    if as_json:
        print_json(rows)
        return
    table = Table("preset", "offline", "model, pooling, head, prompt", "use it for", show_lines=True)
    for column in table.columns:
        column.overflow = "fold"
    for r in rows:
        prompt = "template" if r["prompt"]["template"] != "{text}" else ""
        prompt = ", ".join(filter(None, [prompt, "instructions" if r["prompt"]["instructions"] else ""]))
        how = "\n".join(filter(None, [r["model"], f"{r['pooling']} pooling, head {r['head']}", prompt]))
        use = Text(r["use"]) + (Text(f"\nnote: {r['note']}", style="dim") if r["note"] else Text())
        table.add_row(r["name"], Text("yes", style="green") if r["offline"] else "no", how, use)
    out.print(table)


@app.command()
def tokens(
    texts: Annotated[list[str] | None, typer.Argument(help="texts to read")] = None,
    model: Model = "minilm",
    k: K = 10,
    role: Role = "document",
    token_filter: TokenFilter = "all",
    embeddings: Annotated[
        str | None, typer.Option(help=".npy of precomputed (n, d) embeddings to read instead")
    ] = None,
    head: Head = None,
    as_json: Json = False,
) -> None:
    """Show the top-k aligned tokens of each text (or of each row of --embeddings)."""
    from keytokens.embedders import load_embeddings
    from keytokens.lens import Lens, aligned_tokens

    if not texts and not embeddings:
        raise typer.BadParameter("give one or more texts, or --embeddings FILE.npy")
    lens = Lens.load(model, head=head)
    if embeddings:
        emb = load_embeddings(embeddings, dim=lens.head.hidden_size)
        result = aligned_tokens(
            emb,
            lens.head,
            lens.vocabulary,
            k=k,
            token_filter=token_filter,
            texts=tuple(texts) if texts and len(texts) == len(emb) else None,
        )
    else:
        result = lens.aligned_tokens(texts, k=k, role=role, token_filter=token_filter)  # type: ignore[arg-type]
    if as_json:
        print_json({"model": lens.name, "head": lens.head.name, "k": k, **result.to_dict()})
        return
    table = Table("text", f"top-{k} aligned tokens ({lens.name})", show_lines=True)
    for i, toks in enumerate(result.tokens):
        label = result.texts[i] if result.texts else f"row {i}"
        table.add_row(label, "  ".join(toks))
    out.print(table)


@app.command()
def align(
    model: Model = "minilm",
    data: Annotated[str, typer.Option(help="sts-b, sts12-smtnews, ... or a .txt/.jsonl/.tsv file")] = "sts-b",
    k: K = 10,
    limit: Annotated[int | None, typer.Option(min=1, help="use the first N texts")] = None,
    definitions: Annotated[
        str, typer.Option(help="comma-separated metric definitions")
    ] = "paper,authors-code,content,content-surface",
    head: Head = None,
    as_json: Json = False,
) -> None:
    """Alignment metrics Hit@k, LAR and GAR of a model on a dataset, in each definition."""
    from keytokens.datasets import load_texts
    from keytokens.lens import Lens
    from keytokens.metrics import alignment_scores
    from keytokens.metrics.alignment import get_definition

    names = [d.strip() for d in definitions.split(",") if d.strip()]
    if not names:
        raise typer.BadParameter("name at least one metric definition", param_hint="--definitions")
    for name in names:
        get_definition(name)
    texts = load_texts(data, limit=limit)
    lens = Lens.load(model, head=head)
    emb = lens.encode(texts, show_progress=not as_json)
    scores = alignment_scores(emb, texts, lens.head, lens.vocabulary, k=k, definitions=names)
    if as_json:
        out.print_json(
            json.dumps(
                {"model": lens.name, "data": data, "n_texts": len(texts), "scores": [s.to_dict() for s in scores]}
            )
        )
        return
    table = Table("definition", f"Hit@{k}", "LAR", "GAR", "texts", title=f"{lens.name} on {data}")
    for s in scores:
        table.add_row(s.definition, f"{s.hit:.3f}", f"{s.lar:.3f}", f"{s.gar:.3f}", str(s.n_texts))
    out.print(table)
