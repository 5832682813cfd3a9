"""What a sparse index was built from: :class:`IndexInfo`, saved in its ``meta.json`` and read back typed.

The document side is either aligned tokens only (:class:`~keytokens.sparse.documents.SparseConfig`, the
paper) or own tokens with BM25 impacts plus expansion (:class:`~keytokens.sparse.lexical.LexicalIndexConfig`);
``config.mode`` says which (absent in indexes written before lexical ones existed: aligned).
"""

from __future__ import annotations

from dataclasses import dataclass

from keytokens.jsonfields import get_dict, get_int, get_str
from keytokens.sparse.centering import get_centering
from keytokens.sparse.documents import SparseConfig
from keytokens.sparse.lexical import LexicalIndexConfig


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """What an index was built from; saved in ``meta.json`` and checked when it is searched.

    Attributes:
        model: the embedder (preset name, hub id or path).
        head: the vocabulary head's name.
        tokenizer: fingerprint of the tokenizer (:func:`~keytokens.sparse.tokenizer.tokenizer_fingerprint`).
        vocab_size: ``|V|``, the columns of the matrix.
        config: the document side: aligned tokens (:class:`SparseConfig`) or own tokens with BM25 impacts
            plus expansion (:class:`LexicalIndexConfig`).
    """

    model: str
    head: str
    tokenizer: str
    vocab_size: int
    config: SparseConfig | LexicalIndexConfig

    def __post_init__(self) -> None:
        if self.vocab_size < 1:
            raise ValueError(f"vocab_size must be positive; got {self.vocab_size}")

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "model": self.model,
            "head": self.head,
            "tokenizer": self.tokenizer,
            "vocab_size": self.vocab_size,
            "config": self.config.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> IndexInfo:
        """Inverse of :meth:`to_dict`.

        Raises:
            FieldError: a field is missing or of the wrong type.
        """
        return cls(
            model=get_str(data, "model", allow_empty=False),
            head=get_str(data, "head", allow_empty=False),
            tokenizer=get_str(data, "tokenizer", allow_empty=False),
            vocab_size=get_int(data, "vocab_size", minimum=1),
            config=document_config(get_dict(data, "config")),
        )


def document_config(data: dict) -> SparseConfig | LexicalIndexConfig:
    """A document config from its ``to_dict`` form (``mode`` absent: an aligned-token index of schema 1)."""
    if not isinstance(data, dict):
        raise TypeError(f"config must be a JSON object; got {type(data).__name__}")
    if data.get("mode", "aligned") == "lexical":
        return LexicalIndexConfig.from_dict(data)
    return SparseConfig.from_dict(data)


def read_settings(meta: dict) -> tuple[IndexInfo, int, str]:
    """``(info, n_docs, centering name)`` from the ``meta`` of an index's ``meta.json``, every field type-checked.

    Raises:
        FieldError: a field is missing or of the wrong type.
        UnknownNameError: an unknown weighting or centering.
    """
    centering = get_str(meta, "centering")
    get_centering(centering)
    return IndexInfo.from_dict(meta), get_int(meta, "n_docs", minimum=1), centering


__all__ = ["IndexInfo", "document_config", "read_settings"]
