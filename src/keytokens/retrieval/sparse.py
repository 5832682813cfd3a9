"""Sparse retrieval: queries through the tokenizer (and optionally the model) into a :class:`SparseIndex`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import scipy.sparse as sp

from keytokens.errors import InputError
from keytokens.lens import Lens
from keytokens.ranking import SearchResults
from keytokens.retrieval.base import check_search
from keytokens.sparse.index import Explanation, SparseIndex
from keytokens.sparse.queries import QueryBatch, QueryConfig, encode_query_batch, get_query_weights, term_lookup
from keytokens.sparse.tokenizer import load_tokenizer, special_mask, tokenizer_fingerprint


class SparseRetriever:
    """Searches a sparse index with queries encoded as their own tokens (PAPER.md §4).

    Args:
        index: the sparse index.
        tokenizer: the tokenizer the index was built with (checked by fingerprint).
        query: query weights (``one`` or ``idf`` from the index) and expansion ``M``.
        lens: the model, needed only for query expansion (``query.expansion > 0``).
        name: label for reports.
        engine: search the index with this engine (:data:`~keytokens.sparse.engines.ENGINES`), built now
            unless the index already has it; default: the index's own engine.
        engine_options: the engine's knobs (knob → value).

    Raises:
        InputError: the tokenizer or lens differs from the index's, or expansion is asked without a lens.
    """

    def __init__(
        self,
        index: SparseIndex,
        tokenizer,
        *,
        query: QueryConfig | None = None,
        lens: Lens | None = None,
        name: str = "sparse",
        engine: str | None = None,
        engine_options: dict | None = None,
    ) -> None:
        if engine is not None or engine_options:
            index = index.with_engine(engine or index.engine.name, engine_options)
        self.index = index
        self.tokenizer = tokenizer
        self.query = query or QueryConfig(weights=index.info.config.query_weights)
        self.lens = lens
        self.name = name
        label = lens.name if lens is not None else getattr(tokenizer, "name_or_path", "the query tokenizer")
        index.check_tokenizer(tokenizer_fingerprint(tokenizer), model=label)
        if self.query.expansion and lens is None:
            raise InputError(f"query expansion (M={self.query.expansion}) runs the model: give the lens")
        if lens is not None and lens.head.vocab_size != index.info.vocab_size:
            raise InputError(f"{lens.name!r} has {lens.head.vocab_size} tokens; the index has {index.info.vocab_size}")
        vocab_size = index.info.vocab_size
        self.indexable = ~special_mask(tokenizer, vocab_size)
        self.token_weights = get_query_weights(self.query.weights)(index.document_frequency(), index.n_docs)
        self._lookup = term_lookup(self.indexable, index.token_map)  # token id → index column, once

    @classmethod
    def from_lens(cls, index: SparseIndex, lens: Lens, *, query: QueryConfig | None = None, name: str = "sparse"):
        """A retriever whose queries go through ``lens``'s tokenizer (and model, when expanding)."""
        return cls(index, lens.vocabulary.tokenizer, query=query, lens=lens, name=name)

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        lens: Lens | None = None,
        query: QueryConfig | None = None,
        name: str = "sparse",
        engine: str | None = None,
        engine_options: dict | None = None,
    ) -> SparseRetriever:
        """Open a saved index with its saved engine; queries use its saved tokenizer, or ``lens``'s when given.

        Args:
            path: the index folder.
            lens: the model for query expansion (and its tokenizer).
            query: query weights and expansion.
            name: label for reports.
            engine: the engine expected (``exact`` always works; another than the saved one is refused).
            engine_options: search knobs of the saved engine (``heap_factor`` …).

        Raises:
            StoreError: the index is missing, incomplete, damaged or of another version, or its engine is
                another, built with other knobs, or damaged.
            InputError: no tokenizer is saved and no lens given, or the lens's tokenizer differs.
        """
        index = SparseIndex.load(path, engine=engine, engine_options=engine_options)
        if lens is not None:
            return cls.from_lens(index, lens, query=query, name=name)
        return cls(index, load_tokenizer(path), query=query, name=name)

    def encode(self, queries: Sequence[str]) -> sp.csr_matrix:
        """``(n_queries, |V|) float32`` query vectors."""
        return self._batch(queries).tocsr()

    def _batch(self, queries: Sequence[str]) -> QueryBatch:
        return encode_query_batch(
            queries,
            tokenizer=self.tokenizer,
            config=self.query,
            token_weights=self.token_weights,
            lookup=self._lookup,
            mask=self.indexable,
            lens=self.lens,
            centering=self.index.centering,
        )

    def search(self, queries: Sequence[str], *, k: int) -> SearchResults:
        """The ``k`` best documents of each query; a query sharing no token with the index gets none.

        Raises:
            EmptyTextError: a query is empty.
            ValueError: ``k`` is not positive.
        """
        return self.index.search(self._batch(check_search(queries, k)), k=k)

    def explain(self, query: str, doc_id: str) -> Explanation:
        """The tokens ``query`` shares with document ``doc_id`` and what each contributed."""
        return self.index.explain(self.encode(check_search([query], 1)), doc_id, vocabulary=self.tokenizer)


__all__ = ["SparseRetriever"]
