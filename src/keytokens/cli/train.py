"""CLI command ``train``: make an embedder from a causal LM backbone."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

import typer

from keytokens.cli.app import Json, app, choice, finite, out, print_json


@app.command()
def train(
    out_dir: Annotated[str, typer.Option("--out", help="folder for checkpoints, adapter/model and train_meta.json")],
    base: Annotated[str, typer.Option(help="causal LM backbone preset or folder")] = "smollm2",
    pairs: Annotated[
        str | None,
        typer.Option(
            help="pairs file: STS .tsv (score >= --min-score) or anchor<TAB>positive; "
            "default: STS-B train from the shared data"
        ),
    ] = None,
    unsupervised: Annotated[str | None, typer.Option(help="sentences file for SimCSE-style dropout views")] = None,
    min_score: Annotated[float, typer.Option(help="keep STS pairs with at least this score", callback=finite)] = 4.0,
    method: Annotated[str, typer.Option(help="lora or full")] = "lora",
    pooling: Annotated[
        str,
        typer.Option(help="pooling of the new embedder", callback=choice("keytokens.embedders.pooling", "POOLINGS")),
    ] = "mean",
    steps: Annotated[int, typer.Option(min=1, help="optimizer steps (checkpointed every 20)")] = 120,
    batch_size: Annotated[int, typer.Option(min=2, help="pairs per step (the in-batch negatives)")] = 32,
    lr: Annotated[float, typer.Option(min=0.0, help="learning rate", callback=finite)] = 2e-4,
    max_length: Annotated[int, typer.Option(min=4, help="tokens per text")] = 48,
    dropout: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.9,
            help="LoRA and attention dropout while training (--unsupervised views differ only through it)",
        ),
    ] = 0.0,
    text2token: Annotated[
        float, typer.Option(min=0.0, help="weight of the Text2Token KL loss (0 = off)", callback=finite)
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="random seed (pair order, LoRA init, dropout)")] = 0,
    as_json: Json = False,
) -> None:
    """Fine-tune a backbone into an embedder (InfoNCE; LoRA or full); resumes an interrupted run."""
    from keytokens.datasets import data_dir, load_texts
    from keytokens.training.pairs import read_pairs, unsupervised_pairs
    from keytokens.training.trainer import TrainConfig
    from keytokens.training.trainer import train as run_training

    if pairs and unsupervised:
        raise typer.BadParameter("give --pairs or --unsupervised, not both")
    if unsupervised:
        data = unsupervised_pairs(load_texts(unsupervised))
    else:
        data = read_pairs(pairs or data_dir() / "sts" / "stsb" / "train.tsv", min_score=min_score)
    config = TrainConfig(
        base=base,
        pooling=pooling,
        method=method,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        max_length=max_length,
        dropout=dropout,
        text2token_weight=text2token,
        seed=seed,
    )
    command = "keytokens " + shlex.join(sys.argv[1:]) if sys.argv[0].endswith("keytokens") else None
    result = run_training(config, data, out_dir, show_progress=not as_json, command=command)
    summary = {
        "out": str(result.out_dir),
        "pairs": len(data),
        "steps": steps,
        "resumed_from": result.resumed_from,
        "first_loss": result.losses[0],
        "last_loss": result.losses[-1],
        "seconds": round(result.seconds, 1),
    }
    if as_json:
        print_json(summary)
    else:
        out.print(
            f"trained {steps} steps on {len(data)} pairs in {result.seconds:.0f} s; loss "
            f"{result.losses[0]:.3f} → {result.losses[-1]:.3f}; wrote {result.out_dir}"
        )
