"""Query encoding: a query's own tokens, by the tokenizer alone, optionally plus aligned tokens.

PAPER.md §4: ``q ↦`` its own tokens (M = 0 needs only the tokenizer: inference-free queries),
optionally plus its top-M aligned tokens from one forward pass. A token's query weight is 1 or its
IDF in the index (:data:`QUERY_WEIGHTS`); score(q, d) = Σ over shared tokens of
query weight × document weight.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from keytokens.errors import ShapeError, UnknownNameError
from keytokens.sparse.tokenizer import tokenize
from keytokens.texts import as_texts


def one(df: np.ndarray, n_docs: int) -> np.ndarray:
    """Every query token weighs 1: the score is the sum of the matched document weights (PAPER.md §4)."""
    return np.ones(len(df), dtype=np.float32)


def idf(df: np.ndarray, n_docs: int) -> np.ndarray:
    """BM25's inverse document frequency ``log(1 + (N − df + 0.5) / (df + 0.5))`` (Robertson & Zaragoza 2009).

    Never negative, unlike Robertson–Spärck Jones IDF, so a very common token only counts little.
    """
    df = np.asarray(df, dtype=np.float64)
    return np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)


#: One registry for query token weights ``(df (|V|,), n_docs) → (|V|,) float32``.
QUERY_WEIGHTS: Mapping[str, Callable[[np.ndarray, int], np.ndarray]] = {"one": one, "idf": idf}


def get_query_weights(name: str) -> Callable[[np.ndarray, int], np.ndarray]:
    """Return the query weighting called ``name``.

    Raises:
        UnknownNameError: naming the registered query weightings.
    """
    try:
        return QUERY_WEIGHTS[name]
    except KeyError:
        raise UnknownNameError(f"unknown query weights {name!r}; expected one of {sorted(QUERY_WEIGHTS)}") from None


@dataclass(frozen=True, slots=True)
class QueryConfig:
    """How queries become sparse vectors.

    Attributes:
        weights: key of :data:`QUERY_WEIGHTS` (``one`` or ``idf``).
        expansion: ``M``, aligned tokens of the query's embedding added to its own tokens (0 = tokenizer only).
    """

    weights: str = "idf"
    expansion: int = 0

    def __post_init__(self) -> None:
        get_query_weights(self.weights)
        if not isinstance(self.expansion, int) or self.expansion < 0:
            raise ValueError(f"expansion must be a non-negative integer; got {self.expansion!r}")

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"weights": self.weights, "expansion": self.expansion}


INT32_MAX = 2**31 - 1  # (np.iinfo costs microseconds a call, which count per query)
#: Queries of at most this many tokens are deduplicated with a Python set (cheaper than ``np.unique`` below it).
SHORT_QUERY = 256


@dataclass(frozen=True, slots=True, eq=False)
class QueryBatch:
    """Query vectors in CSR layout, as the engines read them, without a scipy matrix around them.

    Searching one query costs about what scipy's constructor checks cost, so the search path of
    :class:`~keytokens.retrieval.SparseRetriever` passes this instead; :meth:`tocsr` gives the
    matrix (what :func:`query_vectors` returns).

    Attributes:
        indptr: ``(n + 1,) int32`` row starts.
        indices: ``(nnz,) int32`` sorted distinct token (or term) ids per row.
        data: ``(nnz,) float32`` weights.
        vocab_size: columns.
    """

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    vocab_size: int

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_queries, vocab_size)``."""
        return (len(self.indptr) - 1, self.vocab_size)

    def tocsr(self) -> sp.csr_matrix:
        """The ``(n_queries, vocab_size) float32`` CSR matrix (sharing the arrays)."""
        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape, copy=False)


def term_lookup(indexable: np.ndarray, token_map: np.ndarray | None = None) -> np.ndarray:
    """``(|V|,) int32``: each token id's column in the index, ``-1`` for a token a query never holds.

    Special tokens (``~indexable``) are dropped by token id, before a lexical index's ``token_map``
    merges tokens into terms.
    """
    columns = np.arange(len(indexable), dtype=np.int32) if token_map is None else np.asarray(token_map, np.int32)
    return np.where(np.asarray(indexable, dtype=bool), columns, np.int32(-1)).astype(np.int32)


def query_batch(
    token_ids: Sequence[np.ndarray],
    *,
    token_weights: np.ndarray,
    lookup: np.ndarray,
    expansion_ids: np.ndarray | None = None,
) -> QueryBatch:
    """A :class:`QueryBatch` of each query's distinct columns (``lookup`` of its ids), weighted by ``token_weights``.

    Args:
        token_ids: each query's own token ids.
        token_weights: ``(|V|,) float32`` weight of each column.
        lookup: ``(|V|,)`` token id → column, ``-1`` dropped (:func:`term_lookup`).
        expansion_ids: optional ``(n_queries, M)`` aligned token ids added to each query.

    Raises:
        ShapeError: the expansion rows do not match the queries.
    """
    vocab_size = len(lookup)
    if expansion_ids is not None and len(expansion_ids) != len(token_ids):
        raise ShapeError(f"{len(expansion_ids)} expansion rows for {len(token_ids)} queries")
    indptr, indices = [0], []
    for row, ids in enumerate(token_ids):
        ids = np.asarray(ids, dtype=np.int64)
        if expansion_ids is not None:
            ids = np.concatenate([ids, np.asarray(expansion_ids[row], dtype=np.int64)])
        ids = ids[(ids >= 0) & (ids < vocab_size)]
        columns = lookup[ids]
        if len(columns) <= SHORT_QUERY:  # a set costs less than np.unique's sort at this size
            columns = np.array(sorted(set(columns.tolist()) - {-1}), dtype=np.int64)
        else:
            columns = np.unique(columns[columns >= 0])
        indices.append(columns)
        indptr.append(indptr[-1] + len(columns))
    cols = indices[0] if len(indices) == 1 else np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64)
    index_dtype = np.int32 if max(vocab_size, len(cols)) < INT32_MAX else np.int64
    data = np.asarray(token_weights, dtype=np.float32)[cols]
    return QueryBatch(np.asarray(indptr, dtype=index_dtype), cols.astype(index_dtype, copy=False), data, vocab_size)


def query_vectors(
    token_ids: Sequence[np.ndarray],
    *,
    token_weights: np.ndarray,
    indexable: np.ndarray,
    expansion_ids: np.ndarray | None = None,
    token_map: np.ndarray | None = None,
) -> sp.csr_matrix:
    """Sparse query vectors: each query's distinct indexable tokens, weighted by ``token_weights``.

    Args:
        token_ids: each query's own token ids (the tokenizer's split, without special tokens).
        token_weights: ``(|V|,) float32`` weight of each token in a query (ones, or IDF from the index).
        indexable: ``(|V|,) bool``; tokens that can be in an index (special tokens are dropped).
        expansion_ids: optional ``(n_queries, M) int64`` aligned token ids added to each query.
        token_map: optional ``(|V|,)`` token id → term id of a lexical index (``-1``: dropped).

    Returns:
        ``(n_queries, |V|) float32`` CSR with sorted indices; a query with no indexable token is an empty row.

    Raises:
        ShapeError: the weights, mask or expansion rows do not match.
    """
    vocab_size = len(token_weights)
    if np.shape(indexable) != (vocab_size,):
        raise ShapeError(f"indexable mask has shape {np.shape(indexable)}; expected ({vocab_size},)")
    lookup = term_lookup(indexable, token_map)
    return query_batch(token_ids, token_weights=token_weights, lookup=lookup, expansion_ids=expansion_ids).tocsr()


def encode_queries(
    texts: Sequence[str],
    *,
    tokenizer,
    config: QueryConfig,
    token_weights: np.ndarray,
    indexable: np.ndarray,
    lens=None,
    centering=None,
    token_map: np.ndarray | None = None,
) -> sp.csr_matrix:
    """Query vectors as every sparse retriever makes them: own tokens, plus top-M aligned tokens when expanding.

    Args:
        texts: the queries.
        tokenizer: the index's tokenizer.
        config: query weights and expansion ``M``.
        token_weights: ``(|V|,)`` weight of each token (from the index's document frequencies).
        indexable: ``(|V|,) bool``; tokens that can be in an index.
        lens: runs the model for expansion (only read when ``config.expansion > 0``).
        centering: the index's centering, applied to the query embeddings before the head.
        token_map: the index's token id → term id map (lexical indexes).
    """
    lookup = term_lookup(indexable, token_map)
    batch = encode_query_batch(
        texts, tokenizer=tokenizer, config=config, token_weights=token_weights, lookup=lookup, lens=lens,
        centering=centering, mask=indexable,
    )  # fmt: skip
    return batch.tocsr()


def encode_query_batch(
    texts: Sequence[str],
    *,
    tokenizer,
    config: QueryConfig,
    token_weights: np.ndarray,
    lookup: np.ndarray,
    mask: np.ndarray,
    lens=None,
    centering=None,
) -> QueryBatch:
    """:func:`encode_queries` as a :class:`QueryBatch`, with the token → column ``lookup`` made once by the caller."""
    texts = as_texts(texts)
    expansion = None
    if config.expansion:
        from keytokens.heads import topk

        emb = lens.encode(texts, role="query")
        emb = centering.apply(emb) if centering is not None else emb
        expansion, _ = topk(lens.head, emb, config.expansion, mask=mask)
    return query_batch(tokenize(tokenizer, texts), token_weights=token_weights, lookup=lookup, expansion_ids=expansion)


__all__ = [
    "QUERY_WEIGHTS",
    "QueryBatch",
    "QueryConfig",
    "encode_queries",
    "encode_query_batch",
    "get_query_weights",
    "idf",
    "one",
    "query_batch",
    "query_vectors",
    "term_lookup",
]
