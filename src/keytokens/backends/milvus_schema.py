"""The layout of keytokens's Milvus collections, and conversions between its rows and numpy/scipy arrays."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from keytokens.backends.collection import CollectionInfo
from keytokens.retrieval.dense import get_similarity

logger = logging.getLogger(__name__)

#: Longest document id stored.
MAX_ID_LENGTH = 512
#: Suffix of the side collection holding the settings record.
META_SUFFIX = "__keytokens"
#: Fields of a document collection, in order (how a half-made one is recognised).
DOCUMENT_FIELDS = ("id", "sparse", "dense")


def reason(exc: Exception) -> str:
    """First line of a pymilvus error's message."""
    return str(getattr(exc, "message", None) or exc).splitlines()[0]


def create_collections(client, name: str, info: CollectionInfo) -> None:
    """Create the document collection (id, sparse, dense) and its settings collection, with their indexes."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, description="keytokens sparse and dense document vectors")
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=MAX_ID_LENGTH)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=info.dim)
    params = client.prepare_index_params()
    algo = {"inverted_index_algo": info.sparse_algo}
    params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP", params=algo)
    params.add_index(field_name="dense", index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=params)

    meta = client.create_schema(auto_id=False, description="keytokens settings record")
    meta.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
    meta.add_field("info", DataType.JSON)
    meta.add_field("df", DataType.SPARSE_FLOAT_VECTOR)
    meta.add_field("centering", DataType.FLOAT_VECTOR, dim=info.dim)
    params = client.prepare_index_params()
    params.add_index(field_name="df", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    params.add_index(field_name="centering", index_type="FLAT", metric_type="L2")
    client.create_collection(name + META_SUFFIX, schema=meta, index_params=params)


def drop(client, name: str) -> None:
    """Drop the collection and its settings collection (best effort)."""
    for collection in (name, name + META_SUFFIX):
        try:
            if client.has_collection(collection):
                client.drop_collection(collection)
        except Exception as exc:  # cleanup is best effort; the original error matters more
            logger.warning("could not drop %s: %s", collection, reason(exc))


def check_ids(ids: Sequence[str]) -> None:
    """Refuse ids a collection cannot hold: not a valid id, or longer than :data:`MAX_ID_LENGTH`.

    Raises:
        InputError: naming the position.
    """
    from keytokens.errors import InputError
    from keytokens.strings import check_doc_id

    for i, d in enumerate(ids):
        check_doc_id(d, f"position {i}")
        if len(d) > MAX_ID_LENGTH:
            raise InputError(f"position {i}: document id is longer than Milvus's {MAX_ID_LENGTH} characters")


def half_made(client, name: str) -> bool:
    """Whether ``name`` is what a write killed before its side record leaves: one of the pair without the other.

    The side record alone holds nothing of value; the document collection alone counts only when it has
    keytokens's fields (``id``, ``sparse``, ``dense``) and no rows.
    """
    meta = name + META_SUFFIX
    has_docs, has_meta = client.has_collection(name), client.has_collection(meta)
    if has_docs == has_meta:
        return False
    if has_meta:
        return True
    if [f.get("name") for f in client.describe_collection(name).get("fields", [])] != list(DOCUMENT_FIELDS):
        return False
    client.load_collection(name)
    return int(client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]) == 0


def document_rows(
    ids: Sequence[str], vectors: sp.csr_matrix, embeddings: np.ndarray, info: CollectionInfo
) -> list[dict]:
    """Upsert rows; a document without tokens stores one weight on the marker dimension ``|V|``."""
    dense = get_similarity(info.similarity)(np.asarray(embeddings, dtype=np.float32))
    rows = []
    for i, doc_id in enumerate(ids):
        lo, hi = vectors.indptr[i], vectors.indptr[i + 1]
        sparse = dict(zip(vectors.indices[lo:hi].tolist(), vectors.data[lo:hi].tolist(), strict=True))
        rows.append({"id": doc_id, "sparse": sparse or {info.index.vocab_size: 1.0}, "dense": dense[i].tolist()})
    return rows


def sparse_queries(queries: sp.csr_matrix, vocab_size: int) -> list[dict]:
    """CSR query rows as ``{token: weight}``; an empty row searches dimension ``|V| + 1``, which no document holds."""
    out = []
    for i in range(queries.shape[0]):
        lo, hi = queries.indptr[i], queries.indptr[i + 1]
        row = dict(zip(queries.indices[lo:hi].tolist(), queries.data[lo:hi].tolist(), strict=True))
        out.append(row or {vocab_size + 1: 1.0})
    return out


def collect(hits, ids: list, scores: list, *, positive_only: bool) -> None:
    """Append one ``(ids, scores)`` row per query of a Milvus search result, ties ordered by id."""
    for row in hits:
        pairs = [(str(h["id"]), float(h["distance"])) for h in row if not positive_only or h["distance"] > 0]
        pairs.sort(key=lambda p: (-p[1], p[0]))  # Milvus leaves ties in any order
        ids.append(tuple(p[0] for p in pairs))
        scores.append(np.asarray([p[1] for p in pairs], dtype=np.float32))


def sparse_df(df: np.ndarray, vocab_size: int) -> dict:
    """Document frequencies as a sparse record (Milvus refuses an empty one: a marker past ``|V|``)."""
    nz = np.flatnonzero(df[:vocab_size])
    return dict(zip(nz.tolist(), df[nz].astype(float).tolist(), strict=True)) or {vocab_size + 1: 1.0}


def dense_df(stored: dict, vocab_size: int) -> np.ndarray:
    """Inverse of :func:`sparse_df`: ``(|V|,) int64``."""
    df = np.zeros(vocab_size, dtype=np.int64)
    for token, count in stored.items():
        if int(token) < vocab_size:
            df[int(token)] = round(count)
    return df


__all__ = [
    "DOCUMENT_FIELDS",
    "MAX_ID_LENGTH",
    "META_SUFFIX",
    "check_ids",
    "collect",
    "create_collections",
    "dense_df",
    "document_rows",
    "drop",
    "half_made",
    "reason",
    "sparse_df",
    "sparse_queries",
]
