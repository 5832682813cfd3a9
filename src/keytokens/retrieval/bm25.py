"""The lexical baseline: BM25 through bm25s, with English stopwords and the Snowball stemmer.

Defaults follow the issue's measured baseline: Lucene's BM25 with ``k1 = 0.9``, ``b = 0.4``
(Anserini's defaults), bm25s's English stopword list and PyStemmer's ``english`` stemmer.
Ranking goes through :func:`keytokens.ranking.top_k`, so ties break like every other retriever.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keytokens.errors import InputError
from keytokens.ranking import SearchResults, top_k
from keytokens.retrieval.base import check_search
from keytokens.texts import as_texts


class BM25Retriever:
    """BM25 over a corpus held in memory.

    Args:
        texts: the documents.
        doc_ids: their unique ids.
        k1: term-frequency saturation.
        b: length normalisation.
        method: bm25s's variant (``lucene``, ``robertson``, ``atire``, ``bm25l``, ``bm25+``).
        stopwords: bm25s stopword list name (``en``) or ``None``.
        stemmer: a PyStemmer language (``english``) or ``None``.
        name: label for reports.

    Raises:
        InputError: no documents, or ids that are missing, repeated or not one per text.
    """

    def __init__(
        self,
        texts: Sequence[str],
        doc_ids: Sequence[str],
        *,
        k1: float = 0.9,
        b: float = 0.4,
        method: str = "lucene",
        stopwords: str | None = "en",
        stemmer: str | None = "english",
        name: str = "bm25",
    ) -> None:
        import bm25s
        import Stemmer

        texts, ids = as_texts(texts), list(doc_ids)
        if not texts:
            raise InputError("cannot build an index of an empty corpus")
        if len(ids) != len(texts) or len(set(ids)) != len(ids):
            raise InputError(f"expected {len(texts)} unique document ids; got {len(ids)} ({len(set(ids))} unique)")
        self.doc_ids = np.asarray(ids, dtype=str)
        self.settings = {"k1": k1, "b": b, "method": method, "stopwords": stopwords, "stemmer": stemmer}
        self.name = name
        self._stopwords = stopwords
        self._stemmer = Stemmer.Stemmer(stemmer) if stemmer else None
        self._bm25 = bm25s.BM25(k1=k1, b=b, method=method)
        self._bm25.index(self._tokenize(texts), show_progress=False)

    def _tokenize(self, texts: list[str]) -> list[list[str]]:
        import bm25s

        return bm25s.tokenize(
            texts, stopwords=self._stopwords, stemmer=self._stemmer, return_ids=False, show_progress=False
        )

    def scores(self, query: str) -> np.ndarray:
        """``(n_docs,) float32`` BM25 scores of one query (zeros when it shares no term with the corpus)."""
        ids = self._bm25.get_tokens_ids(self._tokenize([query])[0])
        if not ids:
            return np.zeros(len(self.doc_ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)

    def search(self, queries: Sequence[str], *, k: int) -> SearchResults:
        """The ``k`` best documents of each query among those sharing a term with it."""
        positions, scores = [], []
        for query in check_search(queries, k):
            s = self.scores(query)
            matched = np.flatnonzero(s)
            pos, sc = top_k(s[matched], k, matched)
            positions.append(pos)
            scores.append(sc)
        return SearchResults.from_positions(positions, scores, self.doc_ids)

    def to_dict(self) -> dict:
        """JSON-ready settings."""
        return {"name": self.name, "n_docs": len(self.doc_ids), **self.settings}


__all__ = ["BM25Retriever"]
