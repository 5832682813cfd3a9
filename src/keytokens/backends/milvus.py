"""Milvus as the index engine: one collection of sparse and dense document vectors, searched by Milvus.

``uri`` is a file ending in ``.db`` (Milvus Lite, embedded, ``pip install 'keytokens[milvus]'``) or
``http://host:19530`` (a Milvus standalone or distributed deployment). A collection holds the document id
(primary key), the sparse vector (``SPARSE_FLOAT_VECTOR``, ``SPARSE_INVERTED_INDEX``, inner product) and
the dense vector (``FLOAT_VECTOR``, exact ``FLAT`` index, inner product). A side collection
``<name>__keytokens`` holds one record: the settings (:class:`~keytokens.backends.collection.CollectionInfo`),
whether the last write finished, the document frequency of each token (for IDF query weights) and the
fitted centering. Writes are upserts by document id, so re-running an ingest is idempotent.

Milvus rejects an empty sparse vector, so a document with no token stores one weight on the marker
dimension ``|V|``, which no query holds; a query with no token searches dimension ``|V| + 1``, which no
document holds, and so matches nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from keytokens.backends import lite
from keytokens.backends.collection import CollectionInfo, check_collection_name
from keytokens.backends.milvus_schema import (
    META_SUFFIX,
    check_ids,
    collect,
    create_collections,
    dense_df,
    document_rows,
    drop,
    half_made,
    reason,
    sparse_df,
    sparse_queries,
)
from keytokens.backends.positive import get_positive
from keytokens.errors import InputError, KeytokensError, ShapeError, UnknownNameError, require
from keytokens.heads.base import check_finite
from keytokens.progress import track
from keytokens.ranking import SearchResults
from keytokens.retrieval.dense import get_similarity
from keytokens.sparse.centering import Centering

logger = logging.getLogger(__name__)

#: Documents per upsert request (bounded by Milvus's 64 MB gRPC message).
DEFAULT_BATCH = 1000
#: Queries per search request.
QUERY_CHUNK = 256
#: Most results Milvus returns per query (its ``topk`` bound): a larger ``k`` returns at most this many.
MAX_LIMIT = 16_384
#: Milvus's hybrid rankers, by name: ``rrf`` (RRFRanker) and ``weighted`` (WeightedRanker).
RANKERS = ("rrf", "weighted")
_META_KEY = "info"
_IP = {"metric_type": "IP"}


class BackendUnavailableError(KeytokensError, ConnectionError):
    """The engine cannot be reached (a wrong URI, a server down, a missing folder)."""


def is_local(uri: str) -> bool:
    """Whether ``uri`` names a Milvus Lite file rather than a server."""
    return "://" not in str(uri)


def connect(uri: str | Path, *, timeout: float = 10.0, must_exist: bool = False):
    """A ``MilvusClient`` for ``uri``; nothing is created on the server.

    Args:
        uri: a Milvus Lite ``.db`` path or a server URL.
        timeout: seconds to wait for a server.
        must_exist: refuse a Milvus Lite path that does not exist (opening one creates an empty database).

    Raises:
        MissingDependencyError: pymilvus (or milvus-lite for a local file) is not installed.
        InputError: a local file not ending in ``.db``, or (``must_exist``) no database at that path.
        BackendUnavailableError: the server cannot be reached or the file's folder does not exist.
    """
    uri = str(uri)
    pymilvus = require("pymilvus", "milvus")
    if is_local(uri):
        require("milvus_lite", "milvus")
        if not uri.endswith(".db"):
            raise InputError(f"a Milvus Lite file must end in .db; got {uri!r}")
        if not Path(uri).resolve().parent.is_dir():
            raise BackendUnavailableError(f"cannot open Milvus Lite at {uri!r}: its folder does not exist")
        if must_exist:
            lite.check_exists(uri)
        lite.quiet()
    try:
        return pymilvus.MilvusClient(uri=uri, timeout=timeout)
    except Exception as exc:  # pymilvus raises bare MilvusException subclasses for every failure
        raise BackendUnavailableError(f"cannot reach Milvus at {uri!r}: {reason(exc)}") from None


class MilvusIndex:
    """One Milvus collection of document vectors, with its settings record.

    Use :meth:`create` to write (create or reopen with the same settings) and :meth:`open` to search.

    Args:
        client: a connected ``MilvusClient``.
        name: the collection.
        info: its settings.
        uri: where it lives, for messages.
        record: the side record (``complete``, ``n_docs``, ``centering``).
        created: whether this process created it (a failed first write then removes it).
    """

    def __init__(self, client, name: str, info: CollectionInfo, *, uri: str, record: dict, created: bool) -> None:
        self.client = client
        self.name = name
        self.info = info
        self.uri = uri
        self.record = record
        self.created = created
        self._df: np.ndarray | None = None
        self._centering: Centering | None = None

    @property
    def where(self) -> str:
        """``collection 'x' at 'uri'``, for messages."""
        return f"collection {self.name!r} at {self.uri!r}"

    @classmethod
    def create(cls, uri: str | Path, name: str, info: CollectionInfo, *, overwrite: bool = False) -> MilvusIndex:
        """Open ``name`` for writing: created when missing, reused when its settings equal ``info``.

        Raises:
            BackendUnavailableError: ``uri`` cannot be reached.
            InputError: the collection exists with other settings (naming them) and ``overwrite`` is false.
        """
        check_collection_name(name)
        client = connect(uri)
        meta = name + META_SUFFIX
        if is_local(str(uri)):
            lite.clear_half_made(str(uri), (name, meta))
        exists = client.has_collection(name) or client.has_collection(meta)
        if exists and (overwrite or half_made(client, name)):
            drop(client, name)
            exists = False
        if exists:
            index = cls._open(client, name, str(uri))
            index.info.check_same(info, where=index.where)
            return index
        try:
            create_collections(client, name, info)
            record = {"complete": False, "n_docs": 0, "centering": "none", "info": info.to_dict()}
            index = cls(client, name, info, uri=str(uri), record=record, created=True)
            index._write_record(np.zeros(info.index.vocab_size, dtype=np.int64), Centering())
        except Exception as exc:
            drop(client, name)
            raise BackendUnavailableError(f"cannot create collection {name!r} at {str(uri)!r}: {reason(exc)}") from None
        return index

    @classmethod
    def open(cls, uri: str | Path, name: str) -> MilvusIndex:
        """Open a finished collection for searching.

        Raises:
            BackendUnavailableError: ``uri`` cannot be reached.
            InputError: no such collection, not a keytokens collection, or its last write did not finish.
        """
        check_collection_name(name)
        index = cls._open(connect(uri, must_exist=True), name, str(uri))
        if not index.record.get("complete"):
            raise InputError(
                f"{index.where} is incomplete (its last write did not finish); run `keytokens index` again"
            )
        return index

    @classmethod
    def _open(cls, client, name: str, uri: str) -> MilvusIndex:
        meta = name + META_SUFFIX
        where = f"collection {name!r} at {uri!r}"
        if not client.has_collection(name):
            raise InputError(f"{where} does not exist; build it with `keytokens index --backend milvus`")
        if not client.has_collection(meta):
            raise InputError(f"{where} was not written by keytokens (no {meta!r} record)")
        client.load_collection(meta)
        rows = client.query(meta, ids=[_META_KEY], output_fields=["info"])
        if not rows:
            raise InputError(f"{where} has an empty settings record; rebuild it with --force")
        record = dict(rows[0]["info"])
        try:
            info = CollectionInfo.from_dict(record["info"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{where} has a damaged or foreign settings record ({exc}); rebuild it with --force"
            ) from None
        client.load_collection(name)
        return cls(client, name, info, uri=uri, record=record, created=False)

    @property
    def n_docs(self) -> int:
        """Documents in the collection (counted by Milvus)."""
        rows = self.client.query(self.name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def document_frequency(self) -> np.ndarray:
        """``(|V|,) int64``: documents holding each token, as recorded by the last finished write."""
        if self._df is None:
            row = self.client.query(self.name + META_SUFFIX, ids=[_META_KEY], output_fields=["df", "centering"])[0]
            self._df = dense_df(row["df"], self.info.index.vocab_size)
            vector = np.asarray(row["centering"], dtype=np.float32)
            self._centering = Centering(
                self.record["centering"], None if self.record["centering"] == "none" else vector
            )
        return self._df

    @property
    def centering(self) -> Centering:
        """The centering fitted on the corpus (applied to expanded queries)."""
        self.document_frequency()
        return self._centering

    def write(
        self,
        batches: Iterable[tuple[Sequence[str], sp.csr_matrix, np.ndarray]],
        *,
        centering: Centering,
        total: int | None = None,
        show_progress: bool = False,
    ) -> int:
        """Upsert ``(doc_ids, sparse vectors, embeddings)`` batches, then record the statistics.

        The record says ``complete: false`` while writing, so a search refuses a half-written collection;
        if this process created the collection and the write fails, the collection is removed.

        Returns:
            Documents written.

        Raises:
            ShapeError: a batch's vectors or embeddings do not match the collection.
            BackendUnavailableError: Milvus fails during the write.
        """
        fresh = self.created or self.n_docs == 0
        df = np.zeros(self.info.index.vocab_size + 2, dtype=np.int64)
        written = 0
        try:
            self._write_record(None, None, complete=False)
            for ids, vectors, embeddings in track(batches, total=total, description="upserting", enabled=show_progress):
                positive = self._check_batch(ids, vectors, embeddings)
                for start in range(0, len(ids), DEFAULT_BATCH):
                    stop = start + DEFAULT_BATCH
                    rows = document_rows(ids[start:stop], positive[start:stop], embeddings[start:stop], self.info)
                    self.client.upsert(self.name, rows)
                np.add.at(df, positive.indices, 1)
                written += len(ids)
            self.client.flush(self.name)  # seals the segments so searches use the index (100x faster on Lite)
            if not fresh or self.n_docs != written:  # ids overwritten or already there: count what is stored
                df = self._scan_df()
            self._write_record(df[: self.info.index.vocab_size], centering, complete=True)
        except Exception as exc:
            if self.created:
                drop(self.client, self.name)
            if isinstance(exc, KeytokensError):
                raise
            raise BackendUnavailableError(f"writing {self.where} failed: {reason(exc)}") from None
        return written

    def _check_batch(self, ids, vectors, embeddings) -> sp.csr_matrix:
        vocab = self.info.index.vocab_size
        if vectors.shape != (len(ids), vocab):
            raise ShapeError(f"sparse vectors have shape {vectors.shape}; expected ({len(ids)}, {vocab})")
        if np.shape(embeddings) != (len(ids), self.info.dim):
            raise ShapeError(f"embeddings have shape {np.shape(embeddings)}; expected ({len(ids)}, {self.info.dim})")
        check_ids(ids)
        check_finite(embeddings, what="document embedding")
        return get_positive(self.info.positive)(sp.csr_matrix(vectors, dtype=np.float32))

    def _scan_df(self) -> np.ndarray:
        df = np.zeros(self.info.index.vocab_size + 2, dtype=np.int64)
        iterator = self.client.query_iterator(self.name, batch_size=4096, output_fields=["sparse"])
        try:
            while rows := iterator.next():
                for row in rows:
                    df[np.fromiter(row["sparse"].keys(), dtype=np.int64)] += 1
        finally:
            iterator.close()
        return df

    def _write_record(self, df: np.ndarray | None, centering: Centering | None, *, complete: bool = False) -> None:
        meta = self.name + META_SUFFIX
        if df is None:  # only the flag changes: keep the stored statistics
            row = self.client.query(meta, ids=[_META_KEY], output_fields=["df", "centering"])[0]
            df_dict, vector = row["df"], row["centering"]
        else:
            df_dict = sparse_df(df, self.info.index.vocab_size)
            vector = np.zeros(self.info.dim, dtype=np.float32) if centering.vector is None else centering.vector
            self.record["centering"] = centering.name
            self.record["n_docs"] = self.n_docs
            self._df = None
        self.record["complete"] = complete
        row = {
            "key": _META_KEY,
            "info": self.record,
            "df": df_dict,
            "centering": np.asarray(vector, np.float32).tolist(),
        }
        self.client.upsert(meta, [row])
        self.client.flush(meta)

    def search_sparse(self, queries: sp.csr_matrix, *, k: int) -> SearchResults:
        """The ``k`` best documents of each ``(n, |V|)`` query vector by inner product (matched documents only)."""
        data = sparse_queries(self._check_queries(queries), self.info.index.vocab_size)
        return self._search(data, "sparse", k=k, positive_only=True)

    def search_dense(self, embeddings: np.ndarray, *, k: int) -> SearchResults:
        """The ``k`` best documents of each ``(n, d)`` query embedding by exact inner product."""
        return self._search(self._dense(embeddings), "dense", k=k, positive_only=False)

    def search_hybrid(
        self,
        queries: sp.csr_matrix,
        embeddings: np.ndarray,
        *,
        k: int,
        ranker: str = "rrf",
        weights: Sequence[float] = (1.0, 1.0),
        rrf_k: int = 60,
        depth: int = 100,
    ) -> SearchResults:
        """Sparse and dense searches fused by Milvus's own ranker (``rrf`` or ``weighted``).

        Raises:
            UnknownNameError: an unknown ranker.
        """
        pymilvus = require("pymilvus", "milvus")
        if ranker not in RANKERS:
            raise UnknownNameError(f"unknown ranker {ranker!r}; expected one of {list(RANKERS)}")
        fuse = pymilvus.RRFRanker(rrf_k) if ranker == "rrf" else pymilvus.WeightedRanker(*weights)
        sparse = sparse_queries(self._check_queries(queries), self.info.index.vocab_size)
        dense = self._dense(embeddings)
        if len(sparse) != len(dense):
            raise ShapeError(f"{len(sparse)} sparse queries but {len(dense)} dense queries")
        limit = min(max(depth, k), MAX_LIMIT)
        ids, scores = [], []
        for start in range(0, len(dense), QUERY_CHUNK):
            stop = start + QUERY_CHUNK
            requests = [
                pymilvus.AnnSearchRequest(sparse[start:stop], "sparse", self.info.sparse_search_params(), limit),
                pymilvus.AnnSearchRequest(dense[start:stop], "dense", dict(_IP), limit),
            ]
            hits = self.client.hybrid_search(self.name, requests, fuse, limit=min(k, MAX_LIMIT), output_fields=[])
            collect(hits, ids, scores, positive_only=False)
        return SearchResults(doc_ids=tuple(ids), scores=tuple(scores))

    def _search(self, data: list, field: str, *, k: int, positive_only: bool) -> SearchResults:
        if k < 1:
            raise ValueError(f"k must be positive; got {k}")
        ids, scores = [], []
        for start in range(0, len(data), QUERY_CHUNK):
            hits = self.client.search(
                self.name, data=data[start : start + QUERY_CHUNK], anns_field=field, limit=min(k, MAX_LIMIT),
                search_params=self.info.sparse_search_params() if field == "sparse" else dict(_IP), output_fields=[],
            )  # fmt: skip
            collect(hits, ids, scores, positive_only=positive_only)
        return SearchResults(doc_ids=tuple(ids), scores=tuple(scores))

    def _check_queries(self, queries) -> sp.csr_matrix:
        vocab = self.info.index.vocab_size
        if not sp.issparse(queries) or queries.ndim != 2 or queries.shape[1] != vocab:
            raise ShapeError(
                f"query vectors must be a scipy sparse (n, {vocab}) matrix; got {getattr(queries, 'shape', None)}"
            )
        return get_positive("clip")(sp.csr_matrix(queries, dtype=np.float32))

    def _dense(self, embeddings: np.ndarray) -> list:
        q = np.asarray(embeddings, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.info.dim:
            raise ShapeError(f"query embeddings have shape {q.shape}; expected (n, {self.info.dim})")
        check_finite(q, what="query embedding")
        return get_similarity(self.info.similarity)(q).tolist()

    def drop(self) -> None:
        """Remove the collection and its record."""
        drop(self.client, self.name)

    def close(self) -> None:
        """Close the connection."""
        self.client.close()

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {"uri": self.uri, "collection": self.name, **self.info.to_dict(), "n_docs": self.record.get("n_docs")}


__all__ = ["DEFAULT_BATCH", "RANKERS", "BackendUnavailableError", "MilvusIndex", "connect", "is_local"]
