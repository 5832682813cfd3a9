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
    """

    index: IndexInfo
    dim: int
    similarity: str = "dot"
    positive: str = "none"
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.dim, int) or self.dim < 1:
            raise ValueError(f"dim must be a positive integer; got {self.dim!r}")
        get_similarity(self.similarity)
        get_positive(self.positive)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            **self.index.to_dict(),
            "dim": self.dim,
            "similarity": self.similarity,
            "positive": self.positive,
            "schema_version": self.schema_version,
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


__all__ = ["SCHEMA_VERSION", "CollectionInfo", "check_collection_name", "flatten"]
