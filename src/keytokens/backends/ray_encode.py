"""Encoding a corpus into Parquet shards, in-process or over a Ray cluster (Ray Data, one model per actor).

The corpus is cut into shards of ``shard_size`` documents (:mod:`keytokens.backends.shards`). Each pending
shard is encoded by a :class:`ShardEncoder` (the lens's forward pass, then its head's sparse reading of the
same embeddings) and written by whoever encoded it, so with ``--ray`` the output folder must be shared
by the cluster's nodes. Shards already complete are skipped, so a killed run resumes where it stopped.
Without Ray the same :class:`ShardEncoder` runs in this process, shard after shard.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from keytokens.backends.shards import (
    MANIFEST,
    ShardError,
    ShardSpec,
    corpus_fingerprint,
    read_manifest,
    shard_status,
    write_manifest,
    write_shard,
)
from keytokens.commit import Transaction
from keytokens.encoding import CorpusEmbeddings
from keytokens.errors import InputError, Interrupted, require
from keytokens.lens import Lens
from keytokens.progress import track
from keytokens.sparse.corpus import check_k, index_info, lens_settings, sparse_vectors
from keytokens.sparse.documents import SparseConfig
from keytokens.sparse.tokenizer import TOKENIZER_DIR, save_tokenizer

logger = logging.getLogger(__name__)

#: Documents per shard.
DEFAULT_SHARD_SIZE = 1024
#: Builds the lens inside each worker (a picklable callable, e.g. ``functools.partial(Lens.load, "minilm")``).
LensFactory = Callable[[], Lens]


@dataclass(frozen=True, slots=True)
class EncodeReport:
    """What one ``encode`` run did.

    Attributes:
        folder: the shard folder.
        n_docs: documents in the corpus.
        n_shards: shards in the folder.
        encoded: shards encoded by this run.
        skipped: shards already complete and skipped.
        workers: Ray actors used (0 in-process).
        seconds: wall time.
    """

    folder: str
    n_docs: int
    n_shards: int
    encoded: int
    skipped: int
    workers: int
    seconds: float

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "folder": self.folder,
            "n_docs": self.n_docs,
            "n_shards": self.n_shards,
            "encoded": self.encoded,
            "skipped": self.skipped,
            "workers": self.workers,
            "seconds": round(self.seconds, 3),
            "docs_per_second": round(self.n_docs * self.encoded / max(self.n_shards, 1) / max(self.seconds, 1e-9), 1),
        }


def check_shardable(config: SparseConfig) -> None:
    """Refuse settings that need the whole corpus before any shard can be written.

    Raises:
        InputError: a centering (fitted on the whole corpus) other than ``none``.
    """
    if config.centering != "none":
        raise InputError(
            f"centering {config.centering!r} is fitted on the whole corpus, so shards cannot be encoded "
            "independently: use --centering none, or `keytokens index CORPUS` in one process"
        )


class ShardEncoder:
    """Encodes shards and writes them: a Ray Data callable class (one lens per actor), or a plain object.

    Args:
        lens_factory: builds the lens once per worker.
        config: sparse settings.
        spec: the folder's :class:`ShardSpec` as a dict.
        folder: the shard folder (shared by every worker).
    """

    def __init__(self, lens_factory: LensFactory, config: dict, spec: dict, folder: str) -> None:
        self.lens = lens_factory()
        self.config = SparseConfig.from_dict(config)
        self.spec = ShardSpec.from_dict(spec)
        self.folder = folder

    def encode(self, shard: int, ids: Sequence[str], texts: Sequence[str], embeddings: np.ndarray | None = None) -> int:
        """Encode and write one shard (from ``embeddings`` when they are already computed); returns its number."""
        if embeddings is None:
            embeddings = np.asarray(self.lens.embedder.encode(list(texts), role="document"), dtype=np.float32)
        vectors, _ = sparse_vectors(self.lens, embeddings, texts, self.config)
        write_shard(self.folder, shard, self.spec, list(ids), embeddings, vectors)
        return shard

    def __call__(self, batch: dict) -> dict:
        """Ray Data entry point: a batch of rows ``{shard, ids, texts}`` → ``{shard}`` written."""
        done = [
            self.encode(int(s), list(i), list(t))
            for s, i, t in zip(batch["shard"], batch["ids"], batch["texts"], strict=True)
        ]
        return {"shard": np.asarray(done, dtype=np.int64)}


def plan(folder: str | Path, spec: ShardSpec, *, force: bool = False) -> list[int]:
    """Shards still to encode; writes the manifest of a new folder.

    Raises:
        ShardError: the folder holds shards of another configuration or corpus (unless ``force``), or a
            shard of another encoding.
    """
    folder = Path(folder)
    if (folder / "manifest.json").is_file() and not force:
        old = read_manifest(folder)
        diffs = old.differences(spec)
        if diffs:
            raise ShardError(
                f"{str(folder)!r} holds shards of another encoding ({'; '.join(diffs)}; folder vs this run): "
                "encode into another folder, or pass --force to start over"
            )
    elif folder.is_dir() and any(folder.iterdir()) and not force and not (folder / "manifest.json").is_file():
        raise ShardError(f"{str(folder)!r} is not empty and not a shard folder; choose another --out")
    if force:  # start over: nothing of the previous run may survive (its shards, its tokenizer)
        for stale in [*folder.glob("shard-*.parquet"), *folder.glob(".shard-*.tmp"), folder / MANIFEST]:
            stale.unlink(missing_ok=True)
        shutil.rmtree(folder / TOKENIZER_DIR, ignore_errors=True)
    write_manifest(folder, spec)
    pending = []
    for i in range(spec.n_shards):
        status = shard_status(folder, i, spec)
        if status == "damaged":
            logger.warning("shard %d in %s is damaged; encoding it again", i, folder)
        if status != "complete":
            pending.append(i)
    return pending


def encode_to_shards(
    doc_ids: Sequence[str],
    texts: Sequence[str],
    folder: str | Path,
    *,
    lens_factory: LensFactory,
    config: SparseConfig,
    shard_size: int = DEFAULT_SHARD_SIZE,
    use_ray: bool = False,
    address: str | None = None,
    workers: int | None = None,
    force: bool = False,
    show_progress: bool = False,
    cache: bool | str | Path = True,
    request: Mapping[str, Any] | None = None,
) -> EncodeReport:
    """Encode a corpus into the shard folder ``folder``, skipping the shards already complete.

    In-process, the embeddings come from the corpus-encoding cache that ``keytokens index`` and ``eval``
    fill and read (:class:`keytokens.encoding.CorpusEmbeddings`), so either command reuses the other's
    work. Given ``request`` (what the lens factory loads: model, head, max length), a re-run whose every
    shard is complete returns without loading the model.

    Args:
        doc_ids: the documents' ids.
        texts: their texts.
        folder: the shard folder (created if needed).
        lens_factory: builds the lens (here, and once in each Ray actor).
        config: sparse settings (centering must be ``none``).
        shard_size: documents per shard.
        use_ray: map over a Ray cluster's actor pool instead of this process.
        address: the cluster to join (``auto``, ``ray://host:10001``); a local one is started when omitted.
        workers: actors (one model each); default one per GPU, else one per CPU of the cluster.
        force: discard a folder of another encoding instead of refusing it.
        show_progress: show progress over shards.
        cache: the corpus-encoding cache (see :func:`keytokens.encoding.encode_corpus_embeddings`); in-process only.
        request: the settings ``lens_factory`` loads with; recorded, so that a finished folder is recognised
            without loading the model.

    Raises:
        InputError: an empty corpus, a centering other than ``none``, or ids and texts of different lengths.
        ShardError: the folder belongs to another encoding.
        MissingDependencyError: pyarrow (or ray, with ``use_ray``) is missing.
    """
    start = time.perf_counter()
    check_shardable(config)
    if len(doc_ids) != len(texts) or not texts:
        raise InputError(f"{len(doc_ids)} ids for {len(texts)} texts; expected the same positive number")
    require("pyarrow", "ray")
    folder = Path(folder)
    asked = None if request is None else _request_record(request, config, doc_ids, texts, shard_size)
    if asked is not None and not force and _finished(folder, asked):
        logger.info("every shard in %s is complete; nothing to encode", folder)
        n_shards = read_manifest(folder).n_shards
        return EncodeReport(str(folder), len(texts), n_shards, 0, n_shards, 0, time.perf_counter() - start)
    lens = lens_factory()
    check_k(lens, config)  # before any shard is written
    spec = ShardSpec(
        index=index_info(lens, config),
        lens=lens_settings(lens),
        dim=int(lens.embedder.dim),
        n_docs=len(texts),
        shard_size=shard_size,
        corpus=corpus_fingerprint(doc_ids, texts),
    )
    pending = plan(folder, spec, force=force)
    _save_tokenizer(lens.vocabulary.tokenizer, folder)  # always this run's: a folder never keeps another's
    if asked is not None:
        _write_request(folder, asked)
    used = 0
    if pending and use_ray:
        used = _encode_with_ray(
            pending, doc_ids, texts, spec, folder, lens_factory, config, address, workers, show_progress
        )
    elif pending:
        corpus = CorpusEmbeddings(lens.embedder, texts, cache=cache, settings=lens_settings(lens))
        encoder = ShardEncoder(lambda: lens, config.to_dict(), spec.to_dict(), str(folder))
        sizes = [spec.bounds(s)[1] - spec.bounds(s)[0] for s in pending]
        shards = track(
            pending, total=len(pending), description="encoding shards", enabled=show_progress, unit="documents",
            sizes=sizes,
        )  # fmt: skip
        done = spec.n_shards - len(pending)
        try:
            for shard in shards:
                lo, hi = spec.bounds(shard)
                encoder.encode(shard, doc_ids[lo:hi], texts[lo:hi], embeddings=corpus.rows(lo, hi))
                done += 1
        except KeyboardInterrupt:
            raise Interrupted(f"{done} of {spec.n_shards} shards are complete in {str(folder)!r}") from None
        corpus.report_truncation()
    return EncodeReport(
        folder=str(folder),
        n_docs=spec.n_docs,
        n_shards=spec.n_shards,
        encoded=len(pending),
        skipped=spec.n_shards - len(pending),
        workers=used,
        seconds=time.perf_counter() - start,
    )


def _save_tokenizer(tokenizer, folder: Path) -> None:
    """Write ``folder/tokenizer`` atomically, replacing whatever tokenizer was there."""
    with Transaction([folder / TOKENIZER_DIR]) as tx:
        staged = tx.stage(folder / TOKENIZER_DIR)
        save_tokenizer(tokenizer, staged)  # writes staged/tokenizer: lift its files one level up
        for item in (staged / TOKENIZER_DIR).iterdir():
            item.rename(staged / item.name)
        (staged / TOKENIZER_DIR).rmdir()


#: Written next to the manifest: the request (model, head, …) that produced it, to skip a finished folder unloaded.
REQUEST = "request.json"


def _request_record(request: Mapping[str, Any], config: SparseConfig, doc_ids, texts, shard_size: int) -> dict:
    return {
        "request": dict(request),
        "config": config.to_dict(),
        "corpus": corpus_fingerprint(doc_ids, texts),
        "n_docs": len(texts),
        "shard_size": shard_size,
    }


def _finished(folder: Path, asked: dict) -> bool:
    """Whether ``folder`` holds every shard of exactly this request (read from files; no model)."""
    try:
        if json.loads((folder / REQUEST).read_text()) != json.loads(json.dumps(asked)):
            return False
        spec = read_manifest(folder)
        return all(shard_status(folder, i, spec) == "complete" for i in range(spec.n_shards))
    except (OSError, ValueError, ShardError):
        return False


def _write_request(folder: Path, asked: dict) -> None:
    tmp = folder / f".{REQUEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(asked, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, folder / REQUEST)


def _encode_with_ray(
    pending, doc_ids, texts, spec, folder, lens_factory, config, address, workers, show_progress
) -> int:
    ray = require("ray", "ray")
    ray.data.DataContext.get_current().enable_progress_bars = False
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    try:
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        size = max(1, min(workers or gpus or int(resources.get("CPU", 1)), len(pending)))
        rows = []
        for shard in pending:
            lo, hi = spec.bounds(shard)
            rows.append({"shard": shard, "ids": list(doc_ids[lo:hi]), "texts": list(texts[lo:hi])})
        encoded = ray.data.from_items(rows).map_batches(
            ShardEncoder,
            fn_constructor_kwargs={
                "lens_factory": lens_factory,
                "config": config.to_dict(),
                "spec": spec.to_dict(),
                "folder": str(folder.resolve()),
            },
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=size),
            num_gpus=1 if gpus else 0,
            num_cpus=0 if gpus else 1,
        )
        for _ in track(
            encoded.iter_rows(),
            total=len(pending),
            description=f"encoding shards ({size} actors)",
            enabled=show_progress,
        ):
            pass
    finally:
        if started:
            ray.shutdown()
    return size


def load_lens(model: str, head: str | None = None, max_length: int | None = None) -> Lens:
    """``Lens.load`` as a picklable module-level function (for ``functools.partial`` in Ray actors)."""
    return Lens.load(model, head=head, max_length=max_length)


__all__ = [
    "DEFAULT_SHARD_SIZE",
    "EncodeReport",
    "LensFactory",
    "ShardEncoder",
    "check_shardable",
    "encode_to_shards",
    "load_lens",
    "plan",
]
