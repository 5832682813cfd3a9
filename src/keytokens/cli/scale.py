"""CLI of scaling out: ``encode`` (Parquet shards, optionally over Ray) and the Milvus side of ``index``/``eval``."""

from __future__ import annotations

import json
import logging
import time
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from keytokens.cli.app import Head, Json, Model, app, choice, err, out, print_json

BACKENDS = ("embedded", "milvus")
#: The search modes of a Milvus collection (as ``keytokens.backends.milvus_retriever.MODES``, which imports pymilvus).
MILVUS_MODES = ("sparse", "dense", "hybrid")
Backend = Annotated[
    str,
    typer.Option(
        "--backend",
        help="index engine: embedded (folders of .npy) or milvus",
        callback=choice("keytokens.cli.scale", "BACKENDS"),
    ),
]
Uri = Annotated[
    str, typer.Option("--uri", help="Milvus: a Milvus Lite file (./corpus.db) or a server (http://host:19530)")
]
Collection = Annotated[str, typer.Option("--collection", help="Milvus collection name")]
FromShards = Annotated[
    Path | None, typer.Option("--from-shards", help="index the Parquet shards written by `keytokens encode`")
]


def check_backend(backend: str) -> None:
    """Refuse an unknown backend, listing the known ones."""
    if backend not in BACKENDS:
        raise typer.BadParameter(f"unknown backend {backend!r}; expected one of {list(BACKENDS)}")


def quiet_engines() -> None:
    """Silence pymilvus and Ray, which log every failed call with a traceback; the CLI reports one line."""
    for name in ("pymilvus", "ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@app.command()
def encode(
    corpus: Annotated[Path, typer.Argument(help="BEIR corpus.jsonl (_id, title, text)")],
    out_dir: Annotated[Path, typer.Option("--out", help="shard folder (shared by all nodes with --ray)")],
    model: Model = "minilm",
    k: Annotated[int, typer.Option("--doc-tokens", min=1, help="aligned tokens kept per document (K)")] = 64,
    weighting: Annotated[
        str,
        typer.Option(
            help="document token weights: raw, relu, log1p-relu or softmax",
            callback=choice("keytokens.sparse.weighting", "WEIGHTINGS"),
        ),
    ] = "relu",
    keep_own_tokens: Annotated[
        bool, typer.Option("--keep-own-tokens/--no-keep-own-tokens", help="also keep each document's own tokens")
    ] = False,
    shard_size: Annotated[int, typer.Option("--shard-size", min=1, help="documents per shard")] = 1024,
    use_ray: Annotated[
        bool, typer.Option("--ray", help="encode with a Ray Data actor pool (one model per actor)")
    ] = False,
    address: Annotated[
        str | None, typer.Option("--address", help="Ray cluster to join (auto, ray://host:10001); default local")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Ray actors (default: GPUs, else CPUs)")
    ] = None,
    max_length: Annotated[int | None, typer.Option("--max-length", min=1, help="cap on document tokens")] = None,
    head: Head = None,
    force: Annotated[bool, typer.Option("--force", help="start over in a folder of another encoding")] = False,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache/--cache", help="do not reuse or save cached corpus embeddings (in-process only)"),
    ] = False,
    as_json: Json = False,
) -> None:
    """Encode a corpus into Parquet shards (dense vector, sparse token ids and weights); re-runs resume.

    In-process it reads and fills the corpus-encoding cache `index` and `eval` use; a re-run that finds
    every shard complete does not load the model.
    """
    from keytokens.backends.ray_encode import check_shardable, encode_to_shards, load_lens
    from keytokens.evaluation.beir import read_corpus
    from keytokens.sparse import SparseConfig

    config = SparseConfig(k=k, weighting=weighting, keep_own_tokens=keep_own_tokens)
    check_shardable(config)
    if address is not None and not use_ray:
        raise typer.BadParameter("--address needs --ray")
    doc_ids, texts = read_corpus(corpus)
    quiet_engines()
    report = encode_to_shards(
        doc_ids,
        texts,
        out_dir,
        lens_factory=partial(load_lens, model, head, max_length),
        config=config,
        shard_size=shard_size,
        use_ray=use_ray,
        address=address,
        workers=workers,
        force=force,
        show_progress=not as_json,
        cache=not no_cache,
        request={"model": model, "head": head, "max_length": max_length},
    )
    summary = report.to_dict()
    if as_json:
        print_json(summary)
        return
    table = Table(*summary, title=f"{model}: K={k}, {weighting}")
    table.add_row(*(str(v) for v in summary.values()))
    out.print(table)


def index_scaled(
    *,
    corpus: Path | None,
    out_dir: Path | None,
    from_shards: Path | None,
    backend: str,
    uri: str,
    collection: str,
    model: str,
    config,
    similarity: str = "cosine",
    dense_out: Path | None,
    head: str | None,
    max_length: int | None,
    force: bool,
    no_cache: bool,
    as_json: bool,
) -> None:
    """``keytokens index`` into Milvus, or from shards into either backend."""
    check_backend(backend)
    if (corpus is None) == (from_shards is None):
        raise typer.BadParameter("give either CORPUS or --from-shards")
    if backend == "embedded" and out_dir is None:
        raise typer.BadParameter("the embedded backend needs --out")
    quiet_engines()
    start = time.perf_counter()
    if from_shards is not None:
        summary = _index_shards(from_shards, backend, uri, collection, out_dir, dense_out, force, as_json)
    else:
        summary = _index_corpus_milvus(
            corpus, uri, collection, model, config, head, max_length, force, no_cache, as_json, similarity
        )
    summary["seconds"] = round(time.perf_counter() - start, 3)
    if as_json:
        print_json(summary)
        return
    table = Table("key", "value", title=f"index ({backend})")
    for key in ("backend", "uri", "collection", "index", "model", "n_docs", "seconds"):
        if key in summary:
            table.add_row(key, str(summary[key]))
    out.print(table)


def _index_corpus_milvus(
    corpus, uri, collection, model, config, head, max_length, force, no_cache, as_json, similarity: str = "cosine"
) -> dict:
    from keytokens.backends.milvus import connect
    from keytokens.backends.milvus_schema import check_ids
    from keytokens.evaluation.beir import read_corpus
    from keytokens.lens import Lens
    from keytokens.sparse import encode_corpus

    connect(uri).close()  # an unreachable URI fails before the model loads and before anything is written
    doc_ids, texts = read_corpus(corpus)
    check_ids(doc_ids)  # before hours of encoding, not after
    lens = Lens.load(model, head=head, max_length=max_length)
    encoding = encode_corpus(lens, texts, config, cache=not no_cache, show_progress=not as_json)
    index = write_milvus(
        uri,
        collection,
        lens=lens,
        encoding=encoding,
        doc_ids=doc_ids,
        similarity=similarity,
        force=force,
        progress=not as_json,
    )
    return {"backend": "milvus", **index.to_dict()}


def write_milvus(
    uri, collection, *, lens, encoding, doc_ids, similarity: str = "cosine", force: bool = False, progress: bool = False
):
    """Upsert an encoded corpus into a Milvus collection (created, or reused when its settings match)."""
    from keytokens.backends import CollectionInfo, MilvusIndex
    from keytokens.backends.positive import default_positive
    from keytokens.sparse import index_info

    info = CollectionInfo(
        index_info(lens, encoding.config),
        dim=int(encoding.embeddings.shape[1]),
        similarity=similarity,
        positive=default_positive(getattr(encoding.config, "weighting", "relu")),
    )
    index = MilvusIndex.create(uri, collection, info, overwrite=force)
    batches = [
        (doc_ids[i : i + 10_000], encoding.vectors[i : i + 10_000], encoding.embeddings[i : i + 10_000])
        for i in range(0, len(doc_ids), 10_000)
    ]
    index.write(batches, centering=encoding.centering, total=len(batches), show_progress=progress)
    return index


def _index_shards(folder, backend, uri, collection, out_dir, dense_out, force, as_json) -> dict:
    from keytokens.backends.positive import default_positive
    from keytokens.backends.shards import iter_shards, read_manifest
    from keytokens.sparse.centering import Centering

    spec = read_manifest(folder)
    if backend == "milvus":
        from keytokens.backends import CollectionInfo, MilvusIndex

        info = CollectionInfo(
            spec.index, dim=spec.dim, positive=default_positive(getattr(spec.index.config, "weighting", "relu"))
        )
        index = MilvusIndex.create(uri, collection, info, overwrite=force)
        batches = ((s.ids, s.vectors, s.embeddings) for s in iter_shards(folder, spec))
        index.write(batches, centering=Centering(), total=spec.n_shards, show_progress=not as_json)
        return {"backend": "milvus", "from_shards": str(folder), **index.to_dict()}
    return _shards_to_folder(folder, spec, out_dir, dense_out, force)


def _shards_to_folder(folder, spec, out_dir, dense_out, force) -> dict:
    import numpy as np
    import scipy.sparse as sp

    from keytokens.backends.shards import iter_shards
    from keytokens.retrieval import DenseIndex
    from keytokens.retrieval.dense import KIND as DENSE
    from keytokens.sparse import SparseIndex
    from keytokens.sparse.index import KIND as SPARSE
    from keytokens.sparse.tokenizer import check_tokenizer_path
    from keytokens.store import store_transaction

    check_tokenizer_path(out_dir)

    destinations = {out_dir: SPARSE, **({dense_out: DENSE} if dense_out is not None else {})}
    with store_transaction(destinations, overwrite=force) as tx:  # refused now, not after reading the shards
        tokenizer = _hf_tokenizer(folder, spec)
        shards = list(iter_shards(folder, spec))
        ids = [d for s in shards for d in s.ids]
        sparse = SparseIndex.build(sp.vstack([s.vectors for s in shards], format="csr"), ids, info=spec.index)
        sparse.save(out_dir, tokenizer=tokenizer, overwrite=force, transaction=tx)
        summary = {"backend": "embedded", "from_shards": str(folder), "index": str(out_dir), **sparse.to_dict()}
        if dense_out is not None:
            embeddings = np.concatenate([s.embeddings for s in shards])
            dense = DenseIndex.build(embeddings, ids, model=spec.index.model)
            dense.save(dense_out, overwrite=force, transaction=tx)
            summary["dense_index"] = str(dense_out)
    return summary


def _hf_tokenizer(folder: Path, spec):
    """The tokenizer saved with the shards, as a Hugging Face tokenizer (so it can be saved with the index).

    Raises:
        InputError: the tokenizer folder is missing, damaged or incomplete, or it is not the tokenizer the
            shards were encoded with (another fingerprint).
    """
    from transformers import AutoTokenizer

    from keytokens.errors import InputError
    from keytokens.sparse.tokenizer import TOKENIZER_DIR, tokenizer_fingerprint

    path = Path(folder) / TOKENIZER_DIR
    redo = f"re-run `keytokens encode` into {str(folder)!r} with --force"
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        special = json.loads((path / "keytokens_special.json").read_text())
        name = special.get("name") if isinstance(special, dict) else None
    except Exception as exc:  # transformers raises many types for a missing or damaged folder
        raise InputError(f"the tokenizer saved in {str(folder)!r} cannot be read ({exc}); {redo}") from None
    if tokenizer_fingerprint(tokenizer) != spec.index.tokenizer:
        raise InputError(
            f"the tokenizer saved in {str(folder)!r} is not the one its shards were encoded with "
            f"({spec.index.model!r}, fingerprint {spec.index.tokenizer}); {redo}"
        )
    tokenizer.name_or_path = name if isinstance(name, str) and name else str(path)
    return tokenizer


def milvus_retriever(uri: str, collection: str, *, model, head, mode: str, expand: int, query_weights: str | None):
    """A :class:`MilvusRetriever` over a finished collection, with the lens it was built with (or ``model``)."""
    from keytokens.backends import MilvusIndex
    from keytokens.backends.milvus_retriever import MODES, MilvusRetriever
    from keytokens.lens import Lens
    from keytokens.sparse import QueryConfig

    if mode not in MODES:
        raise typer.BadParameter(f"unknown mode {mode!r}; expected one of {list(MODES)}")
    quiet_engines()
    index = MilvusIndex.open(uri, collection)
    built = index.info.index
    lens = Lens.load(model or built.model, head=head)
    if expand and lens.head.name != built.head:
        raise typer.BadParameter(
            f"{index.where} was built with head {built.head!r}; --expand reads queries through {lens.head.name!r}: "
            "pass the same --head"
        )
    query = QueryConfig(weights=query_weights or built.config.query_weights, expansion=expand)
    return MilvusRetriever(index, lens, mode=mode, query=query, name=f"milvus-{mode}")


def milvus_systems(names, doc_ids, doc_texts, *, lens, recipe, uri: str, collection: str, cache, show_progress: bool):
    """The evaluation's systems with sparse, dense and hybrid served by a Milvus collection (BM25 stays local).

    Raises:
        InputError: the collection holds documents that are not this corpus's.
    """
    from keytokens.backends.milvus_retriever import MilvusRetriever
    from keytokens.errors import InputError
    from keytokens.evaluation.systems import System, build_systems, needs_model
    from keytokens.sparse import QueryConfig, encode_corpus

    quiet_engines()
    local = {
        s.name: s for s in build_systems([n for n in names if not needs_model([n])], doc_ids, doc_texts, lens=None)
    }
    if not needs_model(names):
        return [local[n] for n in names]
    start = time.perf_counter()
    encoding = encode_corpus(lens, doc_texts, recipe.documents, cache=cache, show_progress=show_progress)
    index = write_milvus(
        uri, collection, lens=lens, encoding=encoding, doc_ids=list(doc_ids), similarity=recipe.similarity,
        progress=show_progress,
    )  # fmt: skip
    if index.n_docs != len(doc_ids):
        raise InputError(
            f"{index.where} holds {index.n_docs} documents, the corpus {len(doc_ids)}: use another --collection"
        )
    seconds = time.perf_counter() - start
    built = []
    for name in names:
        if name in local:
            built.append(local[name])
            continue
        mode = "sparse" if name.startswith("sparse") else name
        query = QueryConfig(
            weights=recipe.query.weights, expansion=(recipe.query.expansion or 16) if name == "sparse+qexp" else 0
        )
        retriever = MilvusRetriever(
            index, lens, mode=mode, query=query, ranker=recipe.fusion.method, weights=recipe.fusion.weights, name=name
        )
        info = {
            "model": lens.name,
            "recipe": recipe.name,
            "documents": recipe.documents.to_dict(),
            **retriever.to_dict(),
        }
        built.append(System(name, retriever, info, seconds))
    err.print(f"milvus: {index.where}, {index.n_docs} documents")
    return built


__all__ = ["BACKENDS", "check_backend", "index_scaled", "milvus_systems", "write_milvus"]
