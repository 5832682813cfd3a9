"""A corpus through one lens: one forward pass gives each document's dense embedding and sparse vector.

The model runs once per document (cached and resumable, :mod:`keytokens.encoding`); the sparse
vectors are the head's reading of those same embeddings, so a dense index and a sparse index of a
corpus always describe the same forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from keytokens.encoding import DEFAULT_CORPUS_CHUNK, encode_corpus_embeddings
from keytokens.errors import InputError
from keytokens.lens import Lens
from keytokens.sparse.centering import Centering
from keytokens.sparse.documents import SparseConfig, encode_documents
from keytokens.sparse.expansion import expansion_stats, expansion_tokens
from keytokens.sparse.index import IndexInfo, SparseIndex
from keytokens.sparse.lexical import LexicalIndexConfig, lexical_vectors, map_tokens, token_map
from keytokens.sparse.tokenizer import tokenize, tokenizer_fingerprint

#: The document side of a sparse index: aligned tokens only (the paper) or own tokens + expansion.
DocumentConfig = SparseConfig | LexicalIndexConfig


@dataclass(frozen=True, slots=True)
class CorpusEncoding:
    """Dense and sparse encodings of one corpus from one forward pass.

    Attributes:
        embeddings: ``(n, d) float32`` document embeddings, as the embedder returns them.
        vectors: ``(n, |V|) float32`` CSR sparse document vectors.
        centering: the centering fitted on ``embeddings`` and applied before the head.
        config: the sparse settings used.
        token_map: ``(|V|,) int32`` token id → term id of a lexical index (None: identity).
        details: what the encoding did (expansion head, share of new expansion tokens).
    """

    embeddings: np.ndarray
    vectors: sp.csr_matrix
    centering: Centering
    config: DocumentConfig
    token_map: np.ndarray | None = None
    details: dict | None = None

    def __post_init__(self) -> None:
        if self.embeddings.ndim != 2 or self.vectors.shape[0] != self.embeddings.shape[0]:
            raise ValueError(f"embeddings {self.embeddings.shape} and vectors {self.vectors.shape} differ in rows")

    def to_dict(self) -> dict:
        """JSON-ready summary (sizes and settings, not the arrays)."""
        return {
            "n_docs": int(self.embeddings.shape[0]),
            "dim": int(self.embeddings.shape[1]),
            "nnz": int(self.vectors.nnz),
            "centering": self.centering.to_dict(),
            "config": self.config.to_dict(),
            **(self.details or {}),
        }


#: Preset fields that do not change a text's embedding (the head only reads it; the rest is description).
_NOT_EMBEDDING = ("head", "note", "use", "family", "package", "backbone")


def lens_settings(lens: Lens) -> dict:
    """What determines a lens's embeddings, for cache keys: the model, pooling, prompt and adapters, not the head.

    Reading a corpus through another head (``--head lm``, a fitted head) reuses the cached embeddings.
    """
    if lens.preset is None:
        return {"name": lens.name}
    return {key: value for key, value in lens.preset.to_dict().items() if key not in _NOT_EMBEDDING}


def index_info(lens: Lens, config: DocumentConfig) -> IndexInfo:
    """The :class:`IndexInfo` of an index built through ``lens`` with ``config``."""
    return IndexInfo(
        model=lens.name,
        head=lens.head.name,
        tokenizer=tokenizer_fingerprint(lens.vocabulary.tokenizer),
        vocab_size=lens.head.vocab_size,
        config=config,
    )


def sparse_vectors(
    lens: Lens, embeddings: np.ndarray, texts: Sequence[str] | None, config: DocumentConfig
) -> tuple[sp.csr_matrix, Centering]:
    """Sparse document vectors from embeddings already computed (no forward pass).

    Args:
        lens: the lens whose head reads the embeddings.
        embeddings: ``(n, d)`` document embeddings.
        texts: the documents, needed for own tokens (``keep_own_tokens`` or a lexical index).
        config: the sparse settings.

    Returns:
        ``(vectors, centering)``: ``(n, |V|)`` CSR and the centering fitted on ``embeddings``.
    """
    encoded = read_documents(lens, embeddings, texts, config)
    return encoded.vectors, encoded.centering


def read_documents(
    lens: Lens, embeddings: np.ndarray, texts: Sequence[str] | None, config: DocumentConfig
) -> CorpusEncoding:
    """The :class:`CorpusEncoding` of documents whose embeddings are already computed."""
    if isinstance(config, LexicalIndexConfig):
        return _lexical_documents(lens, embeddings, texts, config)
    centering = Centering.fit(config.centering, embeddings)
    own = tokenize(lens.vocabulary.tokenizer, texts) if config.keep_own_tokens and texts is not None else None
    vectors = encode_documents(
        embeddings,
        lens.head,
        indexable=~lens.vocabulary.special,
        config=config,
        centering=centering,
        own_token_ids=own,
    )
    return CorpusEncoding(embeddings=embeddings, vectors=vectors, centering=centering, config=config)


def _lexical_documents(
    lens: Lens, embeddings: np.ndarray, texts: Sequence[str] | None, config: LexicalIndexConfig
) -> CorpusEncoding:
    if texts is None:
        raise ValueError("a lexical index needs the documents' texts")
    mapping = token_map(lens.vocabulary, config.lexical.normalize)
    terms = map_tokens(tokenize(lens.vocabulary.tokenizer, list(texts)), mapping)
    ids, head_name = expansion_tokens(lens, embeddings, texts, config.expansion)
    vectors = lexical_vectors(
        terms,
        vocab_size=lens.head.vocab_size,
        config=config.lexical,
        expansion=mapping[ids] if ids.size else None,
    )
    details = {"expansion_head": head_name, "expansion": expansion_stats(ids, terms, mapping)}
    return CorpusEncoding(
        embeddings=embeddings, vectors=vectors, centering=Centering(), config=config, token_map=mapping,
        details=details,
    )  # fmt: skip


def check_k(lens: Lens, config: DocumentConfig) -> None:
    """Refuse a ``K`` larger than the lens's indexable (non-special) tokens.

    Raises:
        InputError: naming ``K`` and how many tokens there are.
    """
    n = int((~lens.vocabulary.special).sum())
    if config.k > n:
        raise InputError(f"--doc-tokens {config.k} exceeds the {n} tokens {lens.name!r} can index; use at most {n}")


def encode_corpus(
    lens: Lens,
    texts: Sequence[str],
    config: DocumentConfig,
    *,
    cache: bool | str | Path = True,
    chunk_size: int = DEFAULT_CORPUS_CHUNK,
    show_progress: bool = False,
) -> CorpusEncoding:
    """Encode a corpus once: dense embeddings (cached, resumable) and their sparse vectors.

    Args:
        lens: embedder, head and vocabulary.
        texts: the documents.
        config: the sparse settings.
        cache: see :func:`keytokens.encoding.encode_corpus_embeddings`.
        chunk_size: documents per cached chunk.
        show_progress: show progress over chunks.

    Raises:
        InputError: ``config.k`` exceeds the tokens an index can hold (checked before any encoding).
    """
    check_k(lens, config)
    embeddings = encode_corpus_embeddings(
        lens.embedder,
        texts,
        role="document",
        cache=cache,
        settings=lens_settings(lens),
        chunk_size=chunk_size,
        show_progress=show_progress,
    )
    return read_documents(lens, embeddings, texts, config)


def build_index(lens: Lens, encoding: CorpusEncoding, doc_ids: Sequence[str]) -> SparseIndex:
    """The sparse index of an encoded corpus."""
    return SparseIndex.build(
        encoding.vectors,
        doc_ids,
        info=index_info(lens, encoding.config),
        centering=encoding.centering,
        token_map=encoding.token_map,
    )


__all__ = [
    "CorpusEncoding",
    "DocumentConfig",
    "build_index",
    "check_k",
    "encode_corpus",
    "index_info",
    "lens_settings",
    "read_documents",
    "sparse_vectors",
]
