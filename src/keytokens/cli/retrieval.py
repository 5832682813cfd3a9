"""CLI commands of retrieval: ``index``, ``search``, ``eval``."""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from keytokens.cli.app import Head, Json, Model, app, err, out
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

DocK = Annotated[int, typer.Option("-k", min=1, help="aligned tokens kept per document (K)")]
Weighting = Annotated[str, typer.Option(help="document token weights: raw, relu, log1p-relu or softmax")]
Centering = Annotated[str, typer.Option(help="remove before the head: none, mean or pc1 (fitted on the corpus)")]
KeepOwn = Annotated[bool, typer.Option("--keep-own-tokens", help="also index each document's own tokens")]
QueryWeights = Annotated[str, typer.Option("--query-weights", help="query token weights: idf or one")]
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
    k: DocK = 64,
    weighting: Weighting = "relu",
    centering: Centering = "none",
    keep_own_tokens: KeepOwn = False,
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
    """Build a sparse index of aligned tokens (and optionally a dense index) from a corpus."""
    engine_options = _engine_options(engine, engine_option)
    if backend != "embedded" or from_shards is not None:
        if engine != "exact" or engine_options:
            raise typer.BadParameter("--engine works with `keytokens index CORPUS --out DIR` (embedded backend)")
        from keytokens.sparse import SparseConfig

        config = SparseConfig(k=k, weighting=weighting, centering=centering, keep_own_tokens=keep_own_tokens)
        index_scaled(
            corpus=corpus, out_dir=out_dir, from_shards=from_shards, backend=backend, uri=uri, collection=collection,
            model=model, config=config, dense_out=dense_out, head=head, max_length=max_length, force=force,
            no_cache=no_cache, as_json=as_json,
        )  # fmt: skip
        return
    if corpus is None or out_dir is None:
        raise typer.BadParameter("give CORPUS and --out (or --from-shards)")
    from keytokens.evaluation.beir import read_corpus
    from keytokens.lens import Lens
    from keytokens.retrieval import DenseIndex
    from keytokens.retrieval.dense import KIND as DENSE
    from keytokens.sparse import SparseConfig, build_index, encode_corpus
    from keytokens.sparse.index import KIND as SPARSE
    from keytokens.store import check_destination

    config = SparseConfig(k=k, weighting=weighting, centering=centering, keep_own_tokens=keep_own_tokens)
    check_destination(out_dir, kind=SPARSE, overwrite=force)
    if dense_out is not None:
        check_destination(dense_out, kind=DENSE, overwrite=force)
    doc_ids, texts = read_corpus(corpus)
    start = time.perf_counter()
    lens = Lens.load(model, head=head, max_length=max_length)
    encoding = encode_corpus(lens, texts, config, cache=not no_cache, show_progress=not as_json)
    sparse = build_index(lens, encoding, doc_ids)
    if engine != "exact":
        sparse = sparse.with_engine(engine, engine_options)
    sparse.save(out_dir, tokenizer=lens.vocabulary.tokenizer, overwrite=force)
    summary = {"index": str(out_dir), **sparse.to_dict(), "seconds": round(time.perf_counter() - start, 3)}
    if dense_out is not None:
        dense = DenseIndex.build(encoding.embeddings, doc_ids, model=lens.name)
        dense.save(dense_out, overwrite=force)
        summary["dense_index"] = str(dense_out)
    if as_json:
        out.print_json(json.dumps(summary))
        return
    title = f"K={k}, {weighting}, centering {centering}, engine {engine}"
    if sparse.engine.nbytes:
        title += f" ({sparse.engine.nbytes / 1e6:.1f} MB)"
    table = Table("index", "model", "documents", "tokens/doc", "MB", title=title)
    mb = f"{sparse.nbytes / 1e6:.2f}"
    table.add_row(str(out_dir), lens.name, str(sparse.n_docs), f"{sparse.nnz / sparse.n_docs:.1f}", mb)
    out.print(table)


@app.command()
def search(
    index_dir: Annotated[
        Path, typer.Argument(help="index folder written by `keytokens index` (with --backend milvus: the collection)")
    ],
    queries: Annotated[list[str], typer.Argument(help="one or more queries")],
    k: Annotated[int, typer.Option("-k", min=1, help="documents per query")] = 10,
    explain: Annotated[bool, typer.Option("--explain", help="show the matched tokens and their contributions")] = False,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="query model (default: tokenizer saved with the index)")
    ] = None,
    expand: Annotated[
        int, typer.Option("--expand", min=0, help="add the query's top-M aligned tokens (runs the model)")
    ] = 0,
    query_weights: QueryWeights = "idf",
    backend: Backend = "embedded",
    uri: Uri = "./keytokens.db",
    mode: Annotated[str, typer.Option("--mode", help="Milvus: sparse, dense or hybrid (Milvus's RRF)")] = "sparse",
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
        retriever = _sparse_retriever(index_dir, model, expand, query_weights, engine_option or [])
    results = retriever.search(queries, k=k)
    rows = []
    for i, query in enumerate(queries):
        hits = [{"id": d, "score": s} for d, s in results.hits(i)]
        if explain:
            for hit in hits:
                hit["explanation"] = retriever.explain(query, hit["id"]).to_dict()["matches"]
        rows.append({"query": query, "hits": hits})
    if as_json:
        out.print_json(json.dumps({"index": str(index_dir), "kind": kind, "k": k, "queries": rows}))
        return
    for row in rows:
        _print_hits(row, explain)


def _engine_options(engine: str, pairs: list[str] | None) -> dict:
    """Parse and check ``--engine-option`` pairs before any work (a bad knob fails fast)."""
    from keytokens.sparse.engines import engine_params, parse_options

    options = parse_options(engine, pairs or [])
    engine_params(engine, options)
    return options


def _sparse_retriever(index_dir: Path, model: str | None, expand: int, query_weights: str, pairs: list[str]):
    from keytokens.lens import Lens
    from keytokens.retrieval import SparseRetriever
    from keytokens.sparse import QueryConfig, SparseIndex
    from keytokens.sparse.engines import stored_engine

    query = QueryConfig(weights=query_weights, expansion=expand)
    options = _engine_options(stored_engine(index_dir), pairs)
    if model is None and expand == 0:
        return SparseRetriever.load(index_dir, query=query, engine_options=options)
    index = SparseIndex.load(index_dir, engine_options=options)
    return SparseRetriever.from_lens(index, Lens.load(model or index.info.model), query=query)


def _dense_retriever(index_dir: Path, model: str | None):
    from keytokens.lens import Lens
    from keytokens.retrieval import DenseIndex, DenseRetriever

    index = DenseIndex.load(index_dir)
    return DenseRetriever(index, Lens.load(model or index.model).embedder)


def _print_hits(row: dict, explain: bool) -> None:
    table = Table("rank", "document", "score", title=row["query"], title_justify="left")
    if explain:
        table.add_column("matched tokens (contribution)", overflow="fold")
    for rank, hit in enumerate(row["hits"], start=1):
        cells = [str(rank), hit["id"], f"{hit['score']:.4f}"]
        if explain:
            cells.append("  ".join(f"{m['token']} ({m['contribution']:.3f})" for m in hit["explanation"]))
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
    k: DocK = 64,
    weighting: Weighting = "relu",
    centering: Centering = "none",
    keep_own_tokens: KeepOwn = False,
    query_weights: QueryWeights = "idf",
    expand: Annotated[int, typer.Option("--expand", min=1, help="M of sparse+qexp")] = 16,
    fusion: Annotated[str, typer.Option(help="hybrid fusion: rrf or interpolation")] = "rrf",
    similarity: Annotated[str, typer.Option(help="dense similarity: dot or cosine")] = "dot",
    drop_self_hits: Annotated[
        bool, typer.Option("--drop-self-hits", help="ignore a document whose id is the query's")
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
    """Evaluate retrieval systems on a BEIR dataset: nDCG@10, Recall@100, MRR@10 (trec_eval)."""
    from keytokens.evaluation import Report, SystemSettings, build_systems, evaluate, load_beir, parse_systems
    from keytokens.evaluation.systems import needs_model
    from keytokens.retrieval.dense import get_similarity
    from keytokens.retrieval.hybrid import get_fusion
    from keytokens.sparse import SparseConfig, get_query_weights

    names = parse_systems(systems)
    check_backend(backend)
    settings = SystemSettings(
        sparse=SparseConfig(k=k, weighting=weighting, centering=centering, keep_own_tokens=keep_own_tokens),
        query_weights=query_weights,
        expansion=expand,
        fusion=fusion,
        similarity=similarity,
    )
    get_query_weights(query_weights), get_fusion(fusion), get_similarity(similarity)
    dataset = load_beir(data_dir, split=split)
    _quiet_bm25s()
    lens = None
    if needs_model(names):
        from keytokens.lens import Lens

        lens = Lens.load(model, head=head, max_length=max_length)
    build = partial(milvus_systems, uri=uri, collection=collection) if backend == "milvus" else build_systems
    built = build(
        names,
        dataset.doc_ids,
        dataset.doc_texts,
        lens=lens,
        settings=settings,
        cache=not no_cache,
        show_progress=not as_json,
    )
    results = []
    for system in built:
        result = evaluate(system.retriever, dataset, drop_self_hits=drop_self_hits, settings=system.to_dict())
        results.append(result)
    report = Report(dataset.name, split, tuple(results), settings={"data": str(data_dir), "dataset": dataset.to_dict()})
    if out_dir is not None:
        report.save(out_dir)
        err.print(f"report saved to {out_dir}")
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
        return
    _print_report(report)


def _quiet_bm25s() -> None:
    """bm25s sets its own logger to DEBUG on import; keep it to the CLI's level."""
    import logging

    import bm25s  # noqa: F401

    logging.getLogger("bm25s").setLevel(logging.getLogger().level)


def _print_report(report) -> None:
    names = list(dict.fromkeys(m for r in report.results for m in r.metrics))
    table = Table("system", *names, "queries", "search s", title=f"{report.dataset} ({report.split})")
    for r in report.results:
        table.add_row(r.system, *(f"{r.metrics[m]:.4f}" for m in names), str(r.n_queries), f"{r.search_seconds:.2f}")
    out.print(table)
