"""CLI command ``fit-head``: fit a vocabulary head for an embedder on unlabelled texts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from keytokens.cli.app import Head, Json, Model, app, choice, err, finite, out, print_json


def _read_texts(source: str) -> list[str]:
    """A BEIR ``corpus.jsonl`` read as ``keytokens index`` reads it, or what ``align --data`` accepts."""
    if source.endswith(".jsonl"):
        from keytokens.evaluation.beir import read_corpus

        return list(read_corpus(source)[1])
    from keytokens.datasets import load_texts

    return load_texts(source)


def _corpus_argument(corpus: str | None, texts: str | None) -> str:
    """CORPUS, or the deprecated ``--texts`` (with a warning); exactly one of them."""
    if corpus is not None and texts is not None:
        raise typer.BadParameter("give the corpus once: as CORPUS (--texts is its deprecated spelling)")
    if texts is not None:
        err.print(Text.assemble(("warning: ", "yellow"), "--texts is deprecated; pass the corpus as an argument"))
        return texts
    if corpus is None:
        raise typer.BadParameter("give CORPUS: a BEIR corpus.jsonl, a .txt, an STS .tsv or a named sentence set")
    return corpus


@app.command("fit-head")
def fit_head_command(
    out_dir: Annotated[Path, typer.Option("--out", help="folder to write the fitted head to")],
    corpus: Annotated[
        str | None,
        typer.Argument(
            help="BEIR corpus.jsonl (title + text, as `index` reads it), a .txt (a text a line), an STS .tsv, "
            "or a named sentence set (sts-b, ...)",
            show_default=False,
        ),
    ] = None,
    model: Model = "minilm",
    target: Annotated[
        str,
        typer.Option(
            help="target distribution: tf, tfidf, model or mix", callback=choice("keytokens.heads.targets", "TARGETS")
        ),
    ] = "tfidf",
    fit: Annotated[
        str,
        typer.Option(
            "--fit",
            help="ridge (closed form, numpy) or kl (Adam, torch)",
            callback=choice("keytokens.heads.fitting", "FITS"),
        ),
    ] = "ridge",
    l2: Annotated[float, typer.Option("--l2", min=0.0, help="regularisation strength λ", callback=finite)] = 0.1,
    drop_stopwords: Annotated[
        bool,
        typer.Option(
            "--drop-stopwords/--keep-stopwords", help="targets keep content tokens only (no stopwords, punctuation)"
        ),
    ] = False,
    no_center: Annotated[bool, typer.Option("--no-center/--center", help="ridge without a bias (no centring)")] = False,
    top_n: Annotated[int, typer.Option("--top-n", min=1, help="tokens kept of model-derived targets")] = 64,
    mix: Annotated[float, typer.Option(min=0.0, max=1.0, help="weight of tfidf in mix targets")] = 0.5,
    epochs: Annotated[int, typer.Option(min=1, help="epochs of the kl fit")] = 10,
    lr: Annotated[float, typer.Option(min=0.0, help="Adam learning rate of the kl fit", callback=finite)] = 1e-2,
    head: Head = None,
    limit: Annotated[int | None, typer.Option(min=1, help="use the first N texts")] = None,
    max_length: Annotated[int | None, typer.Option("--max-length", min=1, help="cap on input tokens")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing head folder")] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache/--cache", help="do not reuse or save cached embeddings")
    ] = False,
    texts: Annotated[
        str | None, typer.Option("--texts", hidden=True, help="deprecated: pass the corpus as an argument")
    ] = None,
    as_json: Json = False,
) -> None:
    """Fit a linear head from a model's embeddings of CORPUS to their token distributions (no labels).

    Use it anywhere a head is taken: `--head OUT` for tokens, align, index and eval. --head here picks
    the source head of model-derived targets (default: the model's own).
    """
    from keytokens.encoding import encode_corpus_embeddings
    from keytokens.heads import FitConfig, TargetSpec, fit_head
    from keytokens.heads.fitted import KIND
    from keytokens.lens import Lens
    from keytokens.sparse.corpus import lens_settings
    from keytokens.store import check_destination

    source = _corpus_argument(corpus, texts)
    spec = TargetSpec(kind=target, drop_stopwords=drop_stopwords, top_n=top_n, mix=mix)
    config = FitConfig(method=fit, l2=l2, center=not no_center, epochs=epochs, lr=lr)
    check_destination(out_dir, kind=KIND, overwrite=force)
    texts_in = _read_texts(source)
    texts_in = texts_in[:limit] if limit else texts_in
    lens = Lens.load(model, head=head, max_length=max_length)
    embeddings = encode_corpus_embeddings(
        lens.embedder, texts_in, cache=not no_cache, settings=lens_settings(lens), show_progress=not as_json
    )
    fitted = fit_head(
        embeddings,
        texts_in,
        lens.vocabulary,
        embedder=lens.name,
        embedder_model=lens.preset.model if lens.preset is not None else None,
        target=spec,
        config=config,
        source_head=lens.head if spec.needs_head else None,
        texts_source=source,
    )
    fitted.save(out_dir, overwrite=force)
    summary = {"head": str(out_dir), **fitted.to_dict()}
    if as_json:
        print_json(summary)
        return
    table = Table("head", "model", "target", "fit", "λ", "texts", "|V| × d", "seconds", title="fitted head")
    table.add_row(
        str(out_dir),
        lens.name,
        target + (" (content)" if drop_stopwords else ""),
        fit,
        f"{l2:g}",
        str(fitted.info.n_texts),
        f"{fitted.vocab_size} × {fitted.hidden_size}",
        f"{fitted.info.seconds:.1f}",
    )
    out.print(table)
