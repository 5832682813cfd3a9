"""What an engine collection was built from, checked before anything is written to it or read from it.

A collection built with another model, head, tokenizer, K, weighting or schema gives other scores
for the same query, so writing to it or searching it with another configuration is refused, naming
every setting that differs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keytokens.backends.positive import get_positive
from keytokens.errors import InputError
from keytokens.jsonfields import get_int, get_str
from keytokens.retrieval.dense import get_similarity
from keytokens.sparse.index import IndexInfo

#: Layout of the Milvus collections (fields, side record); bump when it changes.
SCHEMA_VERSION = 1
#: Milvus's query algorithms of a ``SPARSE_INVERTED_INDEX`` (its ``inverted_index_algo``), Milvus's default first.
SPARSE_ALGOS = ("DAAT_MAXSCORE", "DAAT_WAND", "TAAT_NAIVE")
#: Range Milvus (knowhere) accepts for the search knob ``dim_max_score_ratio`` (default 1.05; below 1 prunes).
DIM_MAX_SCORE_RATIO = (0.5, 1.3)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")


def check_collection_name(name: str) -> str:
    """Return ``name`` if it is a valid collection name (letters, digits, underscores).

    Raises:
        InputError: naming what is allowed.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(f"collection name {name!r} is invalid; use letters, digits and underscores, not a digit first")
    return name


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    """Settings of one collection of sparse and dense document vectors.

    Attributes:
        index: model, head, tokenizer fingerprint, ``|V|`` and the sparse config (K, weighting, centering).
        dim: size ``d`` of the dense vectors.
        similarity: dense similarity (``dot`` or ``cosine``; cosine vectors are stored unit-normalised).
        positive: key of :data:`~keytokens.backends.positive.POSITIVE_TRANSFORMS` applied to document weights.
        schema_version: :data:`SCHEMA_VERSION` of the layout.
        sparse_algo: the sparse index's ``inverted_index_algo``, one of :data:`SPARSE_ALGOS` (chosen by
            bench/milvus_sparse.py; collections recorded without it were built with Milvus's default, the first).
        dim_max_score_ratio: Milvus's search knob scaling each token's maximum score in MaxScore/WAND
            pruning, in :data:`DIM_MAX_SCORE_RATIO`; None for Milvus's default (1.05, exact).
    """

    index: IndexInfo
    dim: int
    similarity: str = "dot"
    positive: str = "none"
    schema_version: int = SCHEMA_VERSION
    sparse_algo: str = SPARSE_ALGOS[0]
    dim_max_score_ratio: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.dim, int) or self.dim < 1:
            raise ValueError(f"dim must be a positive integer; got {self.dim!r}")
        get_similarity(self.similarity)
        get_positive(self.positive)
        if self.sparse_algo not in SPARSE_ALGOS:
            raise InputError(
                f"unknown Milvus sparse algorithm {self.sparse_algo!r}; expected one of {list(SPARSE_ALGOS)}"
            )
        low, high = DIM_MAX_SCORE_RATIO
        ratio = self.dim_max_score_ratio
        if ratio is not None and (
            isinstance(ratio, bool) or not isinstance(ratio, int | float) or not low <= ratio <= high
        ):
            raise InputError(f"dim_max_score_ratio must be None or in [{low}, {high}]; got {ratio!r}")

    def sparse_search_params(self) -> dict:
        """Search parameters of the sparse field, as Milvus takes them."""
        params = {} if self.dim_max_score_ratio is None else {"dim_max_score_ratio": self.dim_max_score_ratio}
        return {"metric_type": "IP", "params": params}

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            **self.index.to_dict(),
            "dim": self.dim,
            "similarity": self.similarity,
            "positive": self.positive,
            "schema_version": self.schema_version,
            "sparse_algo": self.sparse_algo,
            "dim_max_score_ratio": self.dim_max_score_ratio,
        }

    @classmethod
    def from_dict(cls, data: dict) -> CollectionInfo:
        """Inverse of :meth:`to_dict`.

        Raises:
            FieldError: a field is missing or of the wrong type.
        """
        return cls(
            index=IndexInfo.from_dict(data),
            dim=get_int(data, "dim", minimum=1),
            similarity=get_str(data, "similarity"),
            positive=get_str(data, "positive"),
            schema_version=get_int(data, "schema_version"),
            sparse_algo=str(data.get("sparse_algo", SPARSE_ALGOS[0])),
            dim_max_score_ratio=data.get("dim_max_score_ratio"),
        )

    def differences(self, other: CollectionInfo) -> list[str]:
        """Settings in which ``other`` differs from this, as ``name: this vs other`` lines."""
        mine, theirs = flatten(self.to_dict()), flatten(other.to_dict())
        return [f"{key} {mine.get(key)!r} vs {theirs.get(key)!r}" for key in mine if mine.get(key) != theirs.get(key)]

    def check_same(self, other: CollectionInfo, *, where: str) -> None:
        """Refuse ``other`` (this run's settings) when it differs from this (the stored collection's).

        Raises:
            InputError: naming every setting that differs, stored value first.
        """
        diffs = self.differences(other)
        if diffs:
            raise InputError(
                f"{where} was built with another configuration ({'; '.join(diffs)}; stored vs this run): "
                "use another collection, or rebuild it with --force"
            )


def flatten(data: dict, prefix: str = "") -> dict:
    """Nested settings as one level of dotted keys (``config.k``), for naming what differs."""
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


__all__ = [
    "DIM_MAX_SCORE_RATIO",
    "SCHEMA_VERSION",
    "SPARSE_ALGOS",
    "CollectionInfo",
    "check_collection_name",
    "flatten",
]
