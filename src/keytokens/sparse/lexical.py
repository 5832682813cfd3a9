"""Lexical document vectors: a document's own tokens (plus expansion tokens) with BM25 impacts.

The model's tokenizer splits each document; tokens that differ only by case, a leading-space marker
or (optionally) an English suffix are merged into one term (:func:`token_map`), and each term's
weight in the document is its Lucene BM25 impact

    ``w(t, d) = idf(t) · tf(t, d) / (tf(t, d) + k1 (1 − b + b |d| / avgdl))``,
    ``idf(t) = log(1 + (N − df + 0.5) / (df + 0.5))``

(Robertson & Zaragoza 2009, in the form Lucene 8+ uses, without the constant (k1 + 1) factor; bm25s does the
arithmetic here).
Aligned tokens of the document's embedding (:mod:`keytokens.sparse.expansion`) are appended to its
tokens as pseudo-occurrences before the statistics are taken, so a key token the text does not
contain gets a weight on the same scale as the words it does contain (document expansion). A query
is its own tokens mapped the same way, each weighing 1: ``score(q, d) = Σ_{t ∈ q} w(t, d)`` is BM25.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from keytokens.errors import UnknownNameError
from keytokens.sparse.expansion import ExpansionConfig

logger = logging.getLogger(__name__)

#: How token strings are merged into terms; error messages list exactly these.
NORMALIZATIONS: Mapping[str, str] = {
    "none": "every token id is its own term",
    "surface": "case, width and leading-space/## markers ignored (Europe = Ġeurope)",
    "stem": "surface, then the English Snowball stemmer (infants = infant)",
}


@dataclass(frozen=True, slots=True)
class LexicalConfig:
    """How documents' own tokens are weighted.

    Attributes:
        k1: term-frequency saturation (``k1 ≥ 0``; 0 ignores repeats).
        b: length normalisation in ``[0, 1]`` (0: none).
        normalize: key of :data:`NORMALIZATIONS`.
        expansion_tf: pseudo-occurrences each expansion token adds to a document.
    """

    k1: float = 0.9
    b: float = 0.4
    normalize: str = "surface"
    expansion_tf: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.k1, bool) or not isinstance(self.k1, int | float) or not 0 <= self.k1 <= 100:
            raise ValueError(f"k1 must be a number in [0, 100]; got {self.k1!r}")
        if isinstance(self.b, bool) or not isinstance(self.b, int | float) or not 0 <= self.b <= 1:
            raise ValueError(f"b must be a number in [0, 1]; got {self.b!r}")
        if self.normalize not in NORMALIZATIONS:
            raise UnknownNameError(
                f"unknown normalization {self.normalize!r}; expected one of {sorted(NORMALIZATIONS)}"
            )
        if isinstance(self.expansion_tf, bool) or not isinstance(self.expansion_tf, int) or self.expansion_tf < 1:
            raise ValueError(f"expansion_tf must be a positive integer; got {self.expansion_tf!r}")

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"k1": self.k1, "b": self.b, "normalize": self.normalize, "expansion_tf": self.expansion_tf}

    @classmethod
    def from_dict(cls, data: Mapping) -> LexicalConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(
            k1=float(data["k1"]),
            b=float(data["b"]),
            normalize=str(data["normalize"]),
            expansion_tf=int(data.get("expansion_tf", 1)),
        )


@dataclass(frozen=True, slots=True)
class LexicalIndexConfig:
    """Documents as their own tokens with BM25 impacts, expanded by aligned tokens.

    Attributes:
        lexical: BM25 parameters and term normalisation.
        expansion: which aligned tokens are appended to each document (``head='none'``: none).
    """

    lexical: LexicalConfig = field(default_factory=LexicalConfig)
    expansion: ExpansionConfig = field(default_factory=ExpansionConfig)

    mode = "lexical"
    #: BM25 impacts hold the IDF already: each query term weighs 1
    query_weights = "one"

    @property
    def k(self) -> int:
        """Aligned tokens added per document."""
        return self.expansion.k

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"mode": self.mode, "lexical": self.lexical.to_dict(), "expansion": self.expansion.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping) -> LexicalIndexConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(LexicalConfig.from_dict(data["lexical"]), ExpansionConfig.from_dict(data["expansion"]))


def term_form(readable: str) -> str:
    """A token's term: case- and width-folded, leading-space markers gone, WordPiece's ``##`` kept.

    ``Europe``, `` europe`` (``Ġeurope``, ``▁europe``) → ``europe``; ``##ing`` stays apart from ``ing``
    (a word piece inside a word is not the word).
    """
    return unicodedata.normalize("NFKC", readable).strip().lower()


def token_map(vocabulary, normalize: str) -> np.ndarray:
    """``(|V|,) int32``: each token id's term id (the smallest token id of its group); ``-1`` for special tokens.

    Args:
        vocabulary: a :class:`keytokens.lens.Vocabulary` (surface forms and the special mask).
        normalize: key of :data:`NORMALIZATIONS`.

    Raises:
        UnknownNameError: an unknown normalization.
    """
    if normalize not in NORMALIZATIONS:
        raise UnknownNameError(f"unknown normalization {normalize!r}; expected one of {sorted(NORMALIZATIONS)}")
    size = vocabulary.size
    if normalize == "none":
        keys = np.arange(size)
    else:
        forms = [term_form(text) for text in vocabulary.readable]
        if normalize == "stem":
            import Stemmer

            stemmer = Stemmer.Stemmer("english")
            forms = [stemmer.stemWord(f) if f.isalpha() else f for f in forms]
        _, keys = np.unique(np.asarray(forms, dtype=object).astype(str), return_inverse=True)
    # the smallest token id of each group names the term
    first = np.full(int(keys.max()) + 1 if size else 0, size, dtype=np.int64)
    np.minimum.at(first, keys, np.arange(size))
    mapping = first[keys].astype(np.int32)
    mapping[np.asarray(vocabulary.special, dtype=bool)] = -1
    return mapping


def map_tokens(token_ids: Sequence[np.ndarray], mapping: np.ndarray) -> list[np.ndarray]:
    """Each text's token ids as term ids, special and unknown tokens dropped."""
    size = len(mapping)
    out = []
    for ids in token_ids:
        ids = np.asarray(ids, dtype=np.int64)
        ids = mapping[ids[(ids >= 0) & (ids < size)]]
        out.append(ids[ids >= 0].astype(np.int64))
    return out


def lexical_vectors(
    terms: Sequence[np.ndarray],
    *,
    vocab_size: int,
    config: LexicalConfig,
    expansion: np.ndarray | None = None,
) -> sp.csr_matrix:
    """BM25 impact vectors of documents given as term ids (own terms, plus expansion terms).

    Args:
        terms: each document's term ids (:func:`map_tokens`), one per occurrence.
        vocab_size: ``|V|``, the columns.
        config: ``k1``, ``b`` and the pseudo-occurrences of an expansion token.
        expansion: optional ``(n_docs, K) int64`` term ids appended to each document ``expansion_tf``
            times (``-1`` entries are skipped).

    Returns:
        ``(n_docs, |V|) float32`` CSR with sorted indices: BM25 impacts, idf included.

    Raises:
        ValueError: the expansion rows do not match the documents.
    """
    import bm25s

    if expansion is not None and len(expansion) != len(terms):
        raise ValueError(f"{len(expansion)} expansion rows for {len(terms)} documents")
    docs = []
    for i, own in enumerate(terms):
        own = np.asarray(own, dtype=np.int64)
        if expansion is not None:
            extra = np.asarray(expansion[i], dtype=np.int64)
            extra = extra[(extra >= 0) & (extra < vocab_size)]
            own = np.concatenate([own, np.repeat(extra, config.expansion_tf)])
        docs.append(own)
    used = np.unique(np.concatenate(docs)) if docs else np.zeros(0, dtype=np.int64)
    if len(used) == 0:
        return sp.csr_matrix((len(docs), vocab_size), dtype=np.float32)
    compact = [np.searchsorted(used, d).tolist() for d in docs]  # bm25s wants ids 0..n_terms-1
    model = bm25s.BM25(k1=config.k1, b=config.b, method="lucene")
    scores = model.build_index_from_ids(
        unique_token_ids=list(range(len(used))), corpus_token_ids=compact, show_progress=False
    )
    # bm25s returns (n_docs, n_terms) CSC; widen its columns back to the vocabulary's ids
    indptr = np.zeros(vocab_size + 1, dtype=np.int64)
    counts = np.diff(np.asarray(scores["indptr"], dtype=np.int64))
    np.add.at(indptr, used + 1, counts)
    np.cumsum(indptr, out=indptr)
    csc = sp.csc_matrix(
        (np.asarray(scores["data"], dtype=np.float32), np.asarray(scores["indices"], dtype=np.int64), indptr),
        shape=(len(docs), vocab_size),
    )
    matrix = csc.tocsr()
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


__all__ = ["NORMALIZATIONS", "LexicalConfig", "LexicalIndexConfig", "lexical_vectors", "map_tokens", "token_map"]
