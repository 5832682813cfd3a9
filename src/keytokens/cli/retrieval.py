"""CLI commands of retrieval: ``index``, ``search``, ``eval``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from keytokens.cli.app import Head, Json, Model, app, choice, err, out, print_json
from keytokens.cli.recipe_options import (
    DEFAULT_RECIPE,
    K1,
    B,
    Centering,
    DocTokens,
    ExpansionHead,
    Fusion,
    FusionWeights,
    KeepOwn,
    Normalize,
    Overrides,
    QueryWeights,
    RecipeName,
    Similarity,
    Weighting,
    resolve_recipe,
)
from keytokens.cli.scale import (
    Backend,
    Collection,
    FromShards,
    Uri,
    check_backend,
    index_scaled,
    milvus_retriever,
    milvus_systems,
)

QueryWeightsFlag = Annotated[
    str | None,
    typer.Option(
        "--query-weights",
        help="query token weights: one or idf [the index's]",
        callback=choice("keytokens.sparse.queries", "QUERY_WEIGHTS"),
    ),
]
MaxLength = Annotated[int | None, typer.Option("--max-length", min=1, help="cap on document tokens")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="do not reuse or save cached corpus embeddings")]
Engine = Annotated[str, typer.Option("--engine", help="sparse search engine saved with the index: exact or seismic")]
EngineOption = Annotated[
    list[str] | None, typer.Option("--engine-option", help="engine knob KEY=VALUE, repeatable (heap_factor=0.9)")
]


@app.command()
def index(
    corpus: Annotated[Path | None, typer.Argument(help="BEIR corpus.jsonl (_id, title, text)")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="index folder to write (embedded backend)")] = None,
    model: Model = "minilm",
    recipe: RecipeName = DEFAULT_RECIPE,
    doc_tokens: DocTokens = None,
    expansion_head: ExpansionHead = None,
    k1: K1 = None,
    b: B = None,
    normalize: Normalize = None,
    weighting: Weighting = None,
    centering: Centering = None,
    keep_own_tokens: KeepOwn = None,
    dense_out: Annotated[Path | None, typer.Option("--dense-out", help="also write a dense index here")] = None,
    max_length: MaxLength = None,
    head: Head = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing index")] = False,
    no_cache: NoCache = False,
    backend: Backend = "embedded",
    uri: Uri = "./keytokens.db",
    collection: Collection = "keytokens",
    from_shards: FromShards = None,
    engine: Engine = "exact",
    engine_option: EngineOption = None,
    as_json: Json = False,
) -> None:
    """Build a sparse index (and optionally a dense one) from a corpus, as the recipe says.

    The default recipe indexes each document's own tokens with BM25 impacts plus its top aligned tokens
    (a head fitted on the corpus reads them); queries need only the tokenizer.
    """
    overrides = Overrides(
        doc_tokens=doc_tokens, expansion_head=expansion_head, k1=k1, b=b, normalize=normalize,
        weighting=weighting, centering=centering, keep_own_tokens=keep_own_tokens,
    )  # fmt: skip
    chosen = resolve_recipe(recipe, overrides)
    head = head or chosen.head
    engine_options = _engine_options(engine, engine_option)
    if backend != "embedded" or from_shards is not None:
        if engine != "exact" or engine_options:
            raise typer.BadParameter("--engine works with `keytokens index CORPUS --out DIR` (embedded backend)")
        index_scaled(
            corpus=corpus, out_dir=out_dir, from_shards=from_shards, backend=backend, uri=uri, collection=collection,
            model=model, config=chosen.documents, similarity=chosen.similarity, dense_out=dense_out, head=head,
            max_length=max_length, force=force,
            no_cache=no_cache, as_json=as_json,
        )  # fmt: skip
        return
    if corpus is None or out_dir is None:
        raise typer.BadParameter("give CORPUS and --out (or --from-shards)")
    from keytokens.evaluation.beir import read_corpus
    from keytokens.lens import Lens
    from keytokens.retrieval import DenseIndex
    from keytokens.retrieval.dense import KIND as DENSE
    from keytokens.sparse import build_index, encode_corpus
    from keytokens.sparse.index import KIND as SPARSE
    from keytokens.sparse.tokenizer import check_tokenizer_path, tokenizer_fingerprint
    from keytokens.store import store_transaction

    check_tokenizer_path(out_dir)
    if dense_out is not None and dense_out.absolute() == out_dir.absolute():
        raise typer.BadParameter("--dense-out must be another folder than --out")
    destinations = {out_dir: SPARSE, **({dense_out: DENSE} if dense_out is not None else {})}
    with store_transaction(destinations, overwrite=force) as tx:  # refused now, not after the encoding
        doc_ids, texts = read_corpus(corpus)
        start = time.perf_counter()
        lens = Lens.load(model, head=head, max_length=max_length)
        chosen.check_model(lens.name, tokenizer_fingerprint(lens.vocabulary.tokenizer))
        encoding = encode_corpus(lens, texts, chosen.documents, cache=not no_cache, show_progress=not as_json)
        sparse = build_index(lens, encoding, doc_ids).with_snippets(texts)
        if engine != "exact":
            sparse = sparse.with_engine(engine, engine_options)
        sparse.save(out_dir, tokenizer=lens.vocabulary.tokenizer, overwrite=force, transaction=tx)
        summary = {"index": str(out_dir), "recipe": chosen.name, **sparse.to_dict(), **(encoding.details or {})}
        if dense_out is not None:
            dense = DenseIndex.build(encoding.embeddings, doc_ids, model=lens.name, similarity=chosen.similarity)
            dense.save(dense_out, overwrite=force, transaction=tx)
            summary["dense_index"] = str(dense_out)
    summary["seconds"] = round(time.perf_counter() - start, 3)
    if as_json:
        print_json(summary)
        return
    title = f"recipe {chosen.name}: {_describe(chosen)}; engine {engine}"
    if sparse.engine.nbytes:
        title += f" ({sparse.engine.nbytes / 1e6:.1f} MB)"
    table = Table("index", "model", "documents", "terms/doc", "MB", title=title)
    mb = f"{sparse.nbytes / 1e6:.2f}"
    table.add_row(str(out_dir), lens.name, str(sparse.n_docs), f"{sparse.nnz / sparse.n_docs:.1f}", mb)
    out.print(table)


def _describe(recipe) -> str:
    docs = recipe.documents
    if recipe.lexical:
        lex, exp = docs.lexical, docs.expansion
        expansion = f"+ top-{exp.k} aligned tokens ({exp.head} head)" if exp.enabled else "no expansion"
        return f"own tokens BM25 k1 {lex.k1:g} b {lex.b:g} ({lex.normalize}) {expansion}"
    return f"aligned tokens K={docs.k}, {docs.weighting}, centering {docs.centering}"


@app.command()
def search(
    index_dir: Annotated[
        Path, typer.Argument(help="index folder written by `keytokens index` (with --backend milvus: the collection)")
    ],
    queries: Annotated[list[str], typer.Argument(help="one or more queries")],
    k: Annotated[int, typer.Option("--top", "-k", min=1, help="documents per query")] = 10,
    explain: Annotated[bool, typer.Option("--explain", help="show the matched tokens and their contributions")] = False,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="query model (default: tokenizer saved with the index)")
    ] = None,
    expand: Annotated[
        int, typer.Option("--expand", min=0, help="add the query's top-M aligned tokens (runs the model)")
    ] = 0,
    query_weights: QueryWeightsFlag = None,
    recipe: Annotated[
        str | None,
        typer.Option(
            "--recipe", "-r", help="take the query settings of this recipe (the index must have its documents)"
        ),
    ] = None,
    backend: Backend = "embedded",
    uri: Uri = "./keytokens.db",
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="Milvus: sparse, dense or hybrid (Milvus's RRF)",
            callback=choice("keytokens.cli.scale", "MILVUS_MODES"),
        ),
    ] = "sparse",
    head: Head = None,
    engine_option: EngineOption = None,
    as_json: Json = False,
) -> None:
    """Search a sparse (or dense) index; --explain shows why each document matched.

    A sparse index is searched by the engine saved with it; --engine-option changes its search knobs.

    With --backend milvus, INDEX names a collection at --uri written by `keytokens index --backend milvus`.
    """
    from keytokens.store import read_meta

    check_backend(backend)
    if backend == "milvus":
        if explain:
            raise typer.BadParameter("--explain works on the embedded index only")
        kind = f"milvus-{mode}"
        retriever = milvus_retriever(uri, str(index_dir), model=model, head=head, mode=mode, expand=expand,
                                     query_weights=query_weights)  # fmt: skip
    elif (kind := read_meta(index_dir)["kind"]) == "dense-index":
        if explain:
            raise typer.BadParameter("--explain works on sparse indexes only")
        retriever = _dense_retriever(index_dir, model)
    else:
        retriever = _sparse_retriever(index_dir, model, expand, query_weights, engine_option or [], recipe)
    results = retriever.search(queries, k=k)
    rows = []
    for i, query in enumerate(queries):
        hits = [{"id": d, "score": s} for d, s in results.hits(i)]
        snippets = getattr(getattr(retriever, "index", None), "snippet", None)
        if snippets is not None:
            for hit in hits:
                hit["snippet"] = snippets(hit["id"])
        if explain:
            for hit in hits:
                hit["explanation"] = retriever.explain(query, hit["id"]).to_dict()["matches"]
        rows.append({"query": query, "hits": hits})
    if as_json:
        print_json({"index": str(index_dir), "kind": kind, "k": k, "queries": rows})
        return
    for row in rows:
        _print_hits(row, explain)


def _engine_options(engine: str, pairs: list[str] | None) -> dict:
    """Parse and check ``--engine-option`` pairs before any work (a bad knob fails fast)."""
    from keytokens.sparse.engines import engine_params, parse_options

    options = parse_options(engine, pairs or [])
    engine_params(engine, options)
    return options


def _sparse_retriever(
    index_dir: Path, model: str | None, expand: int, query_weights: str | None, pairs: list[str], recipe: str | None
):
    from keytokens.lens import Lens
    from keytokens.retrieval import SparseRetriever
    from keytokens.sparse import QueryConfig, SparseIndex
    from keytokens.sparse.engines import stored_engine

    index = SparseIndex.load(index_dir, engine_options=_engine_options(stored_engine(index_dir), pairs))
    query = QueryConfig(weights=query_weights or index.info.config.query_weights, expansion=expand)
    if recipe is not None:
        query = _recipe_query(recipe, index, query_weights, expand)
    if model is None and expand == 0:
        from keytokens.sparse.tokenizer import load_tokenizer

        return SparseRetriever(index, load_tokenizer(index_dir), query=query)
    return SparseRetriever.from_lens(index, Lens.load(model or index.info.model), query=query)


def _recipe_query(name: str, index, query_weights: str | None, expand: int):
    """The recipe's query settings (flags given override them), for an index built with its documents."""
    from keytokens.errors import InputError
    from keytokens.retrieval.recipes import get_recipe
    from keytokens.sparse import QueryConfig

    chosen = get_recipe(name)
    if chosen.documents != index.info.config:
        raise InputError(
            f"the index at {str(index.path)!r} was built with documents {index.info.config.to_dict()}, "
            f"recipe {chosen.name!r} with {chosen.documents.to_dict()}: search it without --recipe, or rebuild it"
        )
    return QueryConfig(weights=query_weights or chosen.query.weights, expansion=expand or chosen.query.expansion)


def _dense_retriever(index_dir: Path, model: str | None):
    from keytokens.lens import Lens
    from keytokens.retrieval import DenseIndex, DenseRetriever

    index = DenseIndex.load(index_dir)
    return DenseRetriever(index, Lens.load(model or index.model).embedder)


def _print_hits(row: dict, explain: bool) -> None:
    table = Table("rank", "document", "score", title=row["query"], title_justify="left")
    show_snippets = any(hit.get("snippet") for hit in row["hits"])
    if show_snippets:
        table.add_column("text", overflow="fold", max_width=60)
    if explain:
        table.add_column("matched tokens (contribution)", overflow="fold")
    for rank, hit in enumerate(row["hits"], start=1):
        cells = [str(rank), hit["id"], f"{hit['score']:.4g}"]
        if show_snippets:
            cells.append((hit.get("snippet") or "")[:120])
        if explain:
            cells.append("  ".join(f"{m['token']} ({m['contribution']:.3g})" for m in hit["explanation"]))
        table.add_row(*cells)
    if not row["hits"]:
        err.print(f"no document shares a token with {row['query']!r}")
    out.print(table)


@app.command("eval")
def evaluate_command(
    data_dir: Annotated[Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")],
    model: Model = "minilm",
    systems: Annotated[str, typer.Option(help="comma-separated: dense, sparse, sparse+qexp, hybrid, bm25")] = (
        "dense,sparse,hybrid"
    ),
    split: Annotated[str, typer.Option(help="qrels split to evaluate")] = "test",
    recipe: RecipeName = DEFAULT_RECIPE,
    doc_tokens: DocTokens = None,
    expansion_head: ExpansionHead = None,
    k1: K1 = None,
    b: B = None,
    normalize: Normalize = None,
    weighting: Weighting = None,
    centering: Centering = None,
    keep_own_tokens: KeepOwn = None,
    query_weights: QueryWeights = None,
    expand: Annotated[int | None, typer.Option("--expand", min=1, help="M of sparse+qexp [16]")] = None,
    fusion: Fusion = None,
    fusion_weights: FusionWeights = None,
    similarity: Similarity = None,
    depth: Annotated[int, typer.Option("--depth", min=10, help="documents retrieved per query")] = 100,
    drop_self_hits: Annotated[
        bool, typer.Option("--drop-self-hits", help="ignore a document whose id is the query's (ArguAna, Quora)")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="refuse qrels naming documents or queries absent from the data")
    ] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="save report.json, report.md and TREC runs")] = None,
    max_length: MaxLength = None,
    head: Head = None,
    no_cache: NoCache = False,
    backend: Backend = "embedded",
    uri: Uri = "./keytokens.db",
    collection: Collection = "keytokens",
    as_json: Json = False,
) -> None:
    """Evaluate retrieval systems on a BEIR dataset with a recipe: nDCG@10, Recall@100, MRR@10 (trec_eval)."""
    from keytokens.evaluation import Report, build_systems, evaluate, load_beir, parse_systems
    from keytokens.evaluation.systems import needs_model
    from keytokens.sparse import QueryConfig

    names = parse_systems(systems)
    check_backend(backend)
    overrides = Overrides(
        doc_tokens=doc_tokens, expansion_head=expansion_head, k1=k1, b=b, normalize=normalize, weighting=weighting,
        centering=centering, keep_own_tokens=keep_own_tokens, query_weights=query_weights, fusion=fusion,
        fusion_weights=fusion_weights, similarity=similarity,
    )  # fmt: skip
    chosen = resolve_recipe(recipe, overrides)
    if expand is not None:
        chosen = chosen.replace(query=QueryConfig(weights=chosen.query.weights, expansion=expand))
    dataset = load_beir(data_dir, split=split, strict=strict)
    for problem in dataset.problems[:3]:
        err.print(f"warning: {problem} (as BEIR and MTEB do; --strict refuses)", highlight=False)
    _quiet_bm25s()
    lens = None
    if needs_model(names):
        from keytokens.lens import Lens
        from keytokens.sparse.tokenizer import tokenizer_fingerprint

        lens = Lens.load(model, head=head or chosen.head, max_length=max_length)
        chosen.check_model(lens.name, tokenizer_fingerprint(lens.vocabulary.tokenizer))
    if backend == "milvus":
        built = milvus_systems(
            names, dataset.doc_ids, dataset.doc_texts, lens=lens, recipe=chosen, uri=uri, collection=collection,
            cache=not no_cache, show_progress=not as_json,
        )  # fmt: skip
    else:
        built = build_systems(
            names, dataset.doc_ids, dataset.doc_texts, lens=lens, recipe=chosen, query_texts=dataset.query_texts,
            cache=not no_cache, show_progress=not as_json,
        )  # fmt: skip
    results = []
    for system in built:
        result = evaluate(
            system.retriever, dataset, depth=depth, drop_self_hits=drop_self_hits, settings=system.to_dict()
        )
        results.append(result)
    settings = {"data": str(data_dir), "dataset": dataset.to_dict(), "recipe": chosen.to_dict()}
    report = Report(dataset.name, split, tuple(results), settings=settings)
    if out_dir is not None:
        report.save(out_dir)
        err.print(f"report saved to {out_dir}")
    if as_json:
        print_json(report.to_dict())
        return
    _print_report(report, chosen)


def _quiet_bm25s() -> None:
    """bm25s sets its own logger to DEBUG on import; keep it to the CLI's level."""
    import logging

    import bm25s  # noqa: F401

    logging.getLogger("bm25s").setLevel(logging.getLogger().level)


def _print_report(report, recipe) -> None:
    names = list(dict.fromkeys(m for r in report.results for m in r.metrics))
    title = f"{report.dataset} ({report.split}), recipe {recipe.name}: {_describe(recipe)}"
    table = Table("system", *names, "queries", "search s", title=title)
    for r in report.results:
        table.add_row(r.system, *(f"{r.metrics[m]:.4f}" for m in names), str(r.n_queries), f"{r.search_seconds:.2f}")
    out.print(table)
