"""Retrievers over a Milvus collection: sparse, dense, or hybrid fused by Milvus's own rankers.

Queries are encoded exactly as :class:`~keytokens.retrieval.SparseRetriever` and
:class:`~keytokens.retrieval.DenseRetriever` encode them (IDF from the collection's recorded document
frequencies), so on the same corpus a Milvus sparse search returns the embedded index's ranking.
"""

from __future__ import annotations

from collections.abc import Sequence

import scipy.sparse as sp

from keytokens.backends.milvus import RANKERS, MilvusIndex
from keytokens.errors import InputError, UnknownNameError
from keytokens.lens import Lens
from keytokens.ranking import SearchResults
from keytokens.retrieval.base import check_search
from keytokens.sparse.queries import QueryConfig, encode_queries, get_query_weights
from keytokens.sparse.tokenizer import special_mask, tokenizer_fingerprint

#: One registry for what a Milvus retriever searches.
MODES = ("sparse", "dense", "hybrid")
#: The evaluation's fusion names mapped onto Milvus's rankers (Milvus normalises weighted scores itself).
FUSION_RANKERS = {"rrf": "rrf", "interpolation": "weighted", "weighted": "weighted"}


class MilvusRetriever:
    """Searches a :class:`MilvusIndex` with queries encoded through ``lens``.

    Args:
        index: an opened collection.
        lens: the lens the collection was built with (its tokenizer is checked by fingerprint).
        mode: ``sparse``, ``dense`` or ``hybrid``.
        query: sparse query weights and expansion ``M``.
        ranker: for ``hybrid``: ``rrf`` or ``weighted`` (also accepts the fusion name ``interpolation``).
        weights: ``(sparse, dense)`` weights of the ``weighted`` ranker.
        rrf_k: the constant of the ``rrf`` ranker.
        depth: candidates taken from each search before fusing.
        name: label for reports.

    Raises:
        UnknownNameError: an unknown mode or ranker.
        InputError: the lens tokenizes or embeds differently from the collection.
    """

    def __init__(
        self,
        index: MilvusIndex,
        lens: Lens,
        *,
        mode: str = "sparse",
        query: QueryConfig | None = None,
        ranker: str = "rrf",
        weights: Sequence[float] = (0.5, 0.5),
        rrf_k: int = 60,
        depth: int = 100,
        name: str | None = None,
    ) -> None:
        if mode not in MODES:
            raise UnknownNameError(f"unknown mode {mode!r}; expected one of {list(MODES)}")
        if ranker not in FUSION_RANKERS:
            raise UnknownNameError(f"unknown ranker {ranker!r}; expected one of {sorted(FUSION_RANKERS)}")
        info = index.info.index
        fingerprint = tokenizer_fingerprint(lens.vocabulary.tokenizer)
        if fingerprint != info.tokenizer or lens.head.vocab_size != info.vocab_size:
            raise InputError(
                f"{index.where} was built with {info.model!r} (tokenizer {info.tokenizer}, {info.vocab_size} tokens); "
                f"{lens.name!r} has tokenizer {fingerprint} and {lens.head.vocab_size} tokens"
            )
        if lens.embedder.dim != index.info.dim:
            raise InputError(f"{index.where} holds {index.info.dim}-d vectors; {lens.name!r} gives {lens.embedder.dim}")
        self.index = index
        self.lens = lens
        self.mode = mode
        self.query = query or QueryConfig()
        self.ranker = FUSION_RANKERS[ranker]
        self.weights = tuple(float(w) for w in weights)
        self.rrf_k = rrf_k
        self.depth = depth
        self.name = name or f"milvus-{mode}"
        tokenizer = lens.vocabulary.tokenizer
        self.indexable = ~special_mask(tokenizer, info.vocab_size)
        df = index.document_frequency()
        self.token_weights = get_query_weights(self.query.weights)(df, max(int(index.record.get("n_docs", 0)), 1))
        self.token_map = None
        if getattr(info.config, "mode", "aligned") == "lexical":
            from keytokens.sparse.lexical import token_map

            # a lexical collection's terms are a function of the vocabulary: rebuilt, not stored
            self.token_map = token_map(lens.vocabulary, info.config.lexical.normalize)

    def encode_sparse(self, queries: Sequence[str]) -> sp.csr_matrix:
        """``(n_queries, |V|) float32`` query vectors, as :meth:`SparseRetriever.encode` makes them."""
        return encode_queries(
            queries,
            tokenizer=self.lens.vocabulary.tokenizer,
            config=self.query,
            token_weights=self.token_weights,
            indexable=self.indexable,
            lens=self.lens,
            centering=self.index.centering,
            token_map=self.token_map,
        )

    def search(self, queries: Sequence[str], *, k: int) -> SearchResults:
        """The ``k`` best documents of each query.

        Raises:
            EmptyTextError: a query is empty.
            ValueError: ``k`` is not positive.
        """
        texts = check_search(queries, k)
        if self.mode == "sparse":
            return self.index.search_sparse(self.encode_sparse(texts), k=k)
        dense = self.lens.encode(texts, role="query")
        if self.mode == "dense":
            return self.index.search_dense(dense, k=k)
        return self.index.search_hybrid(
            self.encode_sparse(texts),
            dense,
            k=k,
            ranker=self.ranker,
            weights=self.weights,
            rrf_k=self.rrf_k,
            depth=self.depth,
        )

    def to_dict(self) -> dict:
        """Settings, for reports."""
        out = {"backend": "milvus", "uri": self.index.uri, "collection": self.index.name, "mode": self.mode}
        if self.mode != "dense":
            out["query"] = self.query.to_dict()
        if self.mode == "hybrid":
            out.update(ranker=self.ranker, weights=list(self.weights), rrf_k=self.rrf_k, depth=self.depth)
        return out


__all__ = ["FUSION_RANKERS", "MODES", "RANKERS", "MilvusRetriever"]
