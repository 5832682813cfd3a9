"""Retrieval options shared by ``index``, ``eval`` and ``tune``: a recipe, and flags that override its settings.

Every override defaults to ``None`` ("what the recipe says"), so the recipe stays the one source of
defaults and a flag changes exactly the setting it names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

import typer

from keytokens.cli.app import choice

#: The recipe every retrieval command uses unless told (``keytokens.retrieval.recipes.DEFAULT_RECIPE``; the CLI
#: does not import the library to know its name, so that ``--help`` stays fast).
DEFAULT_RECIPE = "default"

RecipeName = Annotated[
    str,
    typer.Option(
        "--recipe",
        "-r",
        help="recipe: default, lexical, expanded, expanded-model, paper, or a .json from `keytokens tune`",
    ),
]
DocTokens = Annotated[
    int | None,
    typer.Option("--doc-tokens", min=0, help="aligned tokens added to each document (K) [default: the recipe's]"),
]
ExpansionHead = Annotated[
    str | None,
    typer.Option(
        "--expansion-head",
        help="where expansion tokens come from: model, fitted or none [recipe's]",
        callback=choice("keytokens.sparse.expansion", "EXPANSION_HEADS"),
    ),
]
K1 = Annotated[float | None, typer.Option("--k1", min=0.0, help="BM25 term-frequency saturation [recipe's]")]
B = Annotated[float | None, typer.Option("--b", min=0.0, max=1.0, help="BM25 length normalisation [recipe's]")]
Normalize = Annotated[
    str | None,
    typer.Option(
        "--normalize",
        help="merge token variants: none, surface or stem [recipe's]",
        callback=choice("keytokens.sparse.lexical", "NORMALIZATIONS"),
    ),
]
Weighting = Annotated[
    str | None,
    typer.Option(
        help="aligned-token recipes (paper): document weights raw, relu, log1p-relu or softmax",
        callback=choice("keytokens.sparse.weighting", "WEIGHTINGS"),
    ),
]
Centering = Annotated[
    str | None,
    typer.Option(
        help="remove before the head: none, mean or pc1 (fitted on the corpus) [recipe's]",
        callback=choice("keytokens.sparse.centering", "CENTERINGS"),
    ),
]
KeepOwn = Annotated[
    bool | None,
    typer.Option("--keep-own-tokens/--no-keep-own-tokens", help="aligned-token recipes: also index own tokens"),
]
QueryWeights = Annotated[
    str | None,
    typer.Option(
        "--query-weights",
        help="query token weights: one or idf [recipe's]",
        callback=choice("keytokens.sparse.queries", "QUERY_WEIGHTS"),
    ),
]
Fusion = Annotated[
    str | None,
    typer.Option(
        help="hybrid fusion: interpolation or rrf [recipe's]", callback=choice("keytokens.retrieval.hybrid", "FUSIONS")
    ),
]
FusionWeights = Annotated[
    str | None, typer.Option("--fusion-weights", help="hybrid weights SPARSE,DENSE, e.g. 0.3,0.7 [recipe's]")
]
Similarity = Annotated[
    str | None,
    typer.Option(
        help="dense similarity: cosine or dot [recipe's]", callback=choice("keytokens.retrieval.dense", "SIMILARITIES")
    ),
]


@dataclass(frozen=True, slots=True)
class Overrides:
    """Flags given on the command line (None: keep the recipe's setting)."""

    doc_tokens: int | None = None
    expansion_head: str | None = None
    k1: float | None = None
    b: float | None = None
    normalize: str | None = None
    weighting: str | None = None
    centering: str | None = None
    keep_own_tokens: bool | None = None
    query_weights: str | None = None
    fusion: str | None = None
    fusion_weights: str | None = None
    similarity: str | None = None


def resolve_recipe(name: str | None, overrides: Overrides):
    """The recipe called ``name`` (or in that file) with the command line's overrides applied.

    Raises:
        typer.BadParameter: a flag that does not apply to the recipe's kind of index.
        InputError: a bad recipe file or bad fusion weights.
    """
    from keytokens.retrieval.recipes import FusionConfig, get_recipe, parse_fusion_weights
    from keytokens.sparse.documents import SparseConfig
    from keytokens.sparse.lexical import LexicalIndexConfig
    from keytokens.sparse.queries import QueryConfig

    recipe = get_recipe(name or DEFAULT_RECIPE)
    documents = recipe.documents
    o = overrides
    if isinstance(documents, LexicalIndexConfig):
        _refuse(o, ("weighting", "keep_own_tokens"), "lexical", "paper")
        lexical = documents.lexical
        lexical = replace(
            lexical,
            k1=lexical.k1 if o.k1 is None else o.k1,
            b=lexical.b if o.b is None else o.b,
            normalize=o.normalize or lexical.normalize,
        )
        documents = LexicalIndexConfig(lexical, _expansion(documents.expansion, o))
    else:
        _refuse(o, ("k1", "b", "normalize", "expansion_head"), "aligned-token", "default")
        documents = SparseConfig(
            k=documents.k if o.doc_tokens is None else o.doc_tokens,
            weighting=o.weighting or documents.weighting,
            centering=o.centering or documents.centering,
            keep_own_tokens=documents.keep_own_tokens if o.keep_own_tokens is None else o.keep_own_tokens,
        )
    fusion = recipe.fusion
    if o.fusion is not None or o.fusion_weights is not None:
        weights = parse_fusion_weights(o.fusion_weights) if o.fusion_weights is not None else fusion.weights
        fusion = FusionConfig(o.fusion or fusion.method, weights, fusion.depth)
    query = recipe.query
    if o.query_weights is not None:
        query = QueryConfig(weights=o.query_weights, expansion=query.expansion)
    return recipe.replace(documents=documents, fusion=fusion, query=query, similarity=o.similarity or recipe.similarity)


def _expansion(expansion, o: Overrides):
    from keytokens.sparse.expansion import ExpansionConfig

    head = o.expansion_head or expansion.head
    k = expansion.k if o.doc_tokens is None else o.doc_tokens
    if o.expansion_head == "none" or k == 0:
        return ExpansionConfig(head="none", k=0, l2=expansion.l2, centering=o.centering or expansion.centering)
    if head == "none":  # --doc-tokens on a recipe without expansion: expand with a fitted head
        head = "fitted"
    k = k or 8
    return ExpansionConfig(head=head, k=k, l2=expansion.l2, centering=o.centering or expansion.centering)


def _refuse(o: Overrides, names: tuple[str, ...], kind: str, other: str) -> None:
    given = [n for n in names if getattr(o, n) is not None]
    if given:
        flags = ", ".join("--" + n.replace("_", "-") for n in given)
        raise typer.BadParameter(f"{flags} do(es) not apply to a {kind} recipe; use --recipe {other} for it")


__all__ = ["DEFAULT_RECIPE", "Overrides", "resolve_recipe"]
