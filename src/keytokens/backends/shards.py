"""Encoded corpora as Parquet shards: one file per ``shard_size`` documents plus a manifest.

A shard folder holds ``manifest.json`` (:class:`ShardSpec`: model, head, tokenizer fingerprint, sparse
settings, corpus fingerprint, shard size), the tokenizer, and ``shard-000000.parquet`` … with the
columns ``id`` (string), ``dense`` (``fixed_size_list<float32>[d]``), ``token_ids`` (``list<int32>``) and
``weights`` (``list<float32>``). Each shard is written to a temporary name and renamed, and carries in
its Parquet metadata the manifest it belongs to, its number and a checksum of its arrays, so a re-run
skips the shards already complete, and a damaged shard or one of another model or configuration is
refused by name.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from keytokens.backends.collection import flatten
from keytokens.errors import InputError, require
from keytokens.jsonfields import get_dict, get_int, get_str
from keytokens.sparse.index import IndexInfo

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
_META_KEY = b"keytokens"


class ShardError(InputError):
    """A shard folder or shard is missing, damaged, or encoded with another configuration."""


@dataclass(frozen=True, slots=True)
class ShardSpec:
    """What every shard of one folder shares.

    Attributes:
        index: model, head, tokenizer fingerprint, ``|V|`` and sparse config of the vectors.
        lens: the settings that identify the embedder (its preset).
        dim: size ``d`` of the dense vectors.
        n_docs: documents in the corpus.
        shard_size: documents per shard (the last may hold fewer).
        corpus: fingerprint of the corpus ids and texts (:func:`corpus_fingerprint`).
        schema_version: :data:`SCHEMA_VERSION`.
    """

    index: IndexInfo
    lens: dict
    dim: int
    n_docs: int
    shard_size: int
    corpus: str
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.shard_size < 1 or self.n_docs < 1 or self.dim < 1:
            raise ValueError(
                f"shard_size, n_docs and dim must be positive; got {self.shard_size}, {self.n_docs}, {self.dim}"
            )

    @property
    def n_shards(self) -> int:
        """Number of shards."""
        return -(-self.n_docs // self.shard_size)

    def bounds(self, shard: int) -> tuple[int, int]:
        """``(start, stop)`` document positions of ``shard``."""
        start = shard * self.shard_size
        return start, min(start + self.shard_size, self.n_docs)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "index": self.index.to_dict(),
            "lens": self.lens,
            "dim": self.dim,
            "n_docs": self.n_docs,
            "shard_size": self.shard_size,
            "corpus": self.corpus,
            "schema_version": self.schema_version,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ShardSpec:
        """Inverse of :meth:`to_dict`.

        Raises:
            FieldError: a field is missing or of the wrong type.
        """
        return cls(
            index=IndexInfo.from_dict(get_dict(data, "index")),
            lens=get_dict(data, "lens"),
            dim=get_int(data, "dim", minimum=1),
            n_docs=get_int(data, "n_docs", minimum=1),
            shard_size=get_int(data, "shard_size", minimum=1),
            corpus=get_str(data, "corpus"),
            schema_version=get_int(data, "schema_version"),
        )

    def differences(self, other: ShardSpec) -> list[str]:
        """Settings that differ, as ``name: this vs other``."""
        mine, theirs = flatten(self.to_dict()), flatten(other.to_dict())
        return [
            f"{k} {mine.get(k)!r} vs {theirs.get(k)!r}"
            for k in sorted(set(mine) | set(theirs))
            if mine.get(k) != theirs.get(k)
        ]


@dataclass(frozen=True, slots=True)
class Shard:
    """One shard read back.

    Attributes:
        ids: its ``n`` document ids.
        embeddings: ``(n, d) float32`` dense vectors.
        vectors: ``(n, |V|) float32`` CSR sparse vectors.
    """

    ids: tuple[str, ...]
    embeddings: np.ndarray
    vectors: sp.csr_matrix


def corpus_fingerprint(doc_ids: Sequence[str], texts: Sequence[str]) -> str:
    """Hash of the ids and texts, in order (a resumed run must encode the same corpus)."""
    digest = hashlib.sha256()
    for doc_id, text in zip(doc_ids, texts, strict=True):
        for part in (doc_id, text):
            data = part.encode("utf-8")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
    return digest.hexdigest()[:24]


def shard_path(folder: str | Path, shard: int) -> Path:
    """File of shard number ``shard``."""
    return Path(folder) / f"shard-{shard:06d}.parquet"


def write_manifest(folder: str | Path, spec: ShardSpec) -> Path:
    """Write ``manifest.json`` atomically."""
    path = Path(folder) / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(spec.to_dict(), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def read_manifest(folder: str | Path) -> ShardSpec:
    """The manifest of a shard folder.

    Raises:
        ShardError: no manifest (not a shard folder, or ``keytokens encode`` never started there) or a damaged one.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ShardError(f"{str(folder)!r} has no {MANIFEST}: write shards there with `keytokens encode`")
    try:
        return ShardSpec.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ShardError(f"{str(path)!r} is damaged: {exc}") from None


def write_shard(
    folder: str | Path, shard: int, spec: ShardSpec, ids: Sequence[str], embeddings: np.ndarray, vectors: sp.csr_matrix
) -> Path:
    """Write one shard atomically (temporary name, then rename).

    Raises:
        ValueError: the arrays do not match ``spec`` or the shard's bounds.
    """
    pa = require("pyarrow", "ray")
    pq = require("pyarrow.parquet", "ray")
    start, stop = spec.bounds(shard)
    emb = np.ascontiguousarray(embeddings, dtype=np.float32)
    csr = sp.csr_matrix(vectors, dtype=np.float32)
    csr.sort_indices()
    if len(ids) != stop - start or emb.shape != (len(ids), spec.dim) or csr.shape != (len(ids), spec.index.vocab_size):
        raise ValueError(
            f"shard {shard}: {len(ids)} ids, embeddings {emb.shape}, vectors {csr.shape} do not match the spec"
        )
    indptr = csr.indptr.astype(np.int32)
    table = pa.table(
        {
            "id": pa.array(list(ids), type=pa.string()),
            "dense": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), spec.dim),
            "token_ids": pa.ListArray.from_arrays(pa.array(indptr), pa.array(csr.indices.astype(np.int32))),
            "weights": pa.ListArray.from_arrays(pa.array(indptr), pa.array(csr.data)),
        }
    )
    meta = {"spec": spec.to_dict(), "shard": shard, "rows": len(ids), "checksum": _checksum(ids, emb, csr)}
    table = table.replace_schema_metadata({_META_KEY: json.dumps(meta, sort_keys=True).encode("utf-8")})
    path = shard_path(folder, shard)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)  # a shard is either whole or absent
    finally:
        tmp.unlink(missing_ok=True)
    return path


def shard_status(folder: str | Path, shard: int, spec: ShardSpec) -> str:
    """``complete``, ``missing`` or ``damaged`` (reads only the file's footer).

    Raises:
        ShardError: the shard belongs to another configuration or corpus (saying which settings differ).
    """
    path = shard_path(folder, shard)
    if not path.is_file():
        return "missing"
    meta = _shard_meta(path)
    if meta is None:
        return "damaged"
    _check_owner(path, meta, spec, shard)
    return "complete" if meta.get("rows") == spec.bounds(shard)[1] - spec.bounds(shard)[0] else "damaged"


def read_shard(folder: str | Path, shard: int, spec: ShardSpec) -> Shard:
    """Read and verify one shard.

    Raises:
        ShardError: missing, damaged (unreadable, wrong row count or checksum), or of another configuration.
    """
    pq = require("pyarrow.parquet", "ray")
    path = shard_path(folder, shard)
    status = shard_status(folder, shard, spec)
    if status != "complete":
        raise ShardError(f"shard {str(path)!r} is {status}; run `keytokens encode` again to complete the folder")
    try:
        table = pq.read_table(path)
        ids = tuple(table.column("id").to_pylist())
        emb = _values(table, "dense").reshape(len(ids), spec.dim)
        tokens = table.column("token_ids").combine_chunks()
        indptr = np.asarray(tokens.offsets, dtype=np.int64)
        vectors = sp.csr_matrix(
            (_values(table, "weights"), np.asarray(tokens.values, dtype=np.int64), indptr),
            shape=(len(ids), spec.index.vocab_size),
        )
        ok = _checksum(ids, emb, vectors) == _shard_meta(path)["checksum"]
    except Exception as exc:  # pyarrow raises many types for a damaged file
        raise ShardError(
            f"shard {str(path)!r} is damaged ({exc}); delete it and run `keytokens encode` again"
        ) from None
    if not ok:
        raise ShardError(
            f"shard {str(path)!r} is damaged (checksum mismatch); delete it and run `keytokens encode` again"
        )
    return Shard(ids=ids, embeddings=emb, vectors=vectors)


def iter_shards(folder: str | Path, spec: ShardSpec | None = None) -> Iterator[Shard]:
    """Every shard of a complete folder, in order, each verified before it is yielded.

    Raises:
        ShardError: the folder is incomplete (naming how many shards are missing), or a shard is damaged or foreign.
    """
    spec = spec or read_manifest(folder)
    status = {i: shard_status(folder, i, spec) for i in range(spec.n_shards)}
    bad = [i for i, s in status.items() if s != "complete"]
    if bad:
        first = shard_path(folder, bad[0]).name
        raise ShardError(
            f"{str(folder)!r} is incomplete: {len(bad)} of {spec.n_shards} shards are missing or damaged "
            f"(first {first}); run `keytokens encode` again to resume"
        )
    for i in range(spec.n_shards):
        yield read_shard(folder, i, spec)


def _values(table, column: str) -> np.ndarray:
    return np.asarray(table.column(column).combine_chunks().values, dtype=np.float32)


def _shard_meta(path: Path) -> dict | None:
    pq = require("pyarrow.parquet", "ray")
    try:
        raw = (pq.read_schema(path).metadata or {}).get(_META_KEY)
        return None if raw is None else json.loads(raw)
    except Exception:  # a truncated or overwritten file: its footer cannot be read
        return None


def _check_owner(path: Path, meta: dict, spec: ShardSpec, shard: int) -> None:
    try:
        theirs = ShardSpec.from_dict(meta["spec"])
    except (KeyError, TypeError, ValueError):
        raise ShardError(f"shard {str(path)!r} was not written by keytokens encode") from None
    diffs = theirs.differences(spec)
    if diffs or meta.get("shard") != shard:
        what = "; ".join(diffs) or f"shard number {meta.get('shard')} vs {shard}"
        raise ShardError(
            f"shard {str(path)!r} belongs to another encoding ({what}; shard vs folder): "
            "move it away or encode into another folder"
        )


def _checksum(ids: Sequence[str], emb: np.ndarray, vectors: sp.csr_matrix) -> str:
    digest = hashlib.sha256("\n".join(ids).encode("utf-8"))
    for arr in (
        emb,
        vectors.data.astype(np.float32),
        vectors.indices.astype(np.int64),
        vectors.indptr.astype(np.int64),
    ):
        digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()[:24]


__all__ = [
    "MANIFEST",
    "SCHEMA_VERSION",
    "Shard",
    "ShardError",
    "ShardSpec",
    "corpus_fingerprint",
    "iter_shards",
    "read_manifest",
    "read_shard",
    "shard_path",
    "shard_status",
    "write_manifest",
    "write_shard",
]
