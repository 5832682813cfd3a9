"""The sparse index: documents' aligned-token weights as a scipy.sparse matrix, searched exactly.

The matrix ``X`` is ``(n_docs, |V|)`` in CSC form: column ``t`` is token ``t``'s posting list
(document positions ascending, with weights), so a query touches only its own tokens' postings.
``score(q, d) = Σ_t q_t X[d, t]`` (PAPER.md §4). Saved with :mod:`keytokens.store`: the CSC arrays,
the document ids and the fitted centering as ``.npy`` files, memory-mapped on load.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from keytokens import store
from keytokens.errors import InputError, ShapeError
from keytokens.ranking import SearchResults
from keytokens.sparse.centering import Centering
from keytokens.sparse.engines import Engine, ExactEngine, build_engine, configure, load_engine, save_engine
from keytokens.sparse.explain import Explanation, explain_match
from keytokens.sparse.info import IndexInfo, document_config, read_settings
from keytokens.sparse.queries import QueryBatch
from keytokens.sparse.tokenizer import save_tokenizer
from keytokens.strings import check_doc_id

KIND = "sparse-index"
#: Characters of each document kept for showing hits (its title and the start of its text).
SNIPPET_CHARS = 200
SCHEMA_VERSION = 1


class SparseIndex:
    """Documents as sparse token vectors, searched by exact sparse dot products.

    Args:
        matrix: ``(n_docs, |V|)`` document vectors (any scipy sparse format; kept as CSC).
        doc_ids: the ``n_docs`` unique document ids, in row order.
        info: what the index was built from.
        centering: the centering fitted on the corpus (queries expanded through the model use it too).
        token_map: ``(|V|,) int32`` token id → term id for lexical indexes (queries are mapped the same way).
        path: the folder it was loaded from, for messages.
        engine: what searches the matrix (:mod:`keytokens.sparse.engines`); exact by default.

    Raises:
        ShapeError: the matrix's columns differ from ``info.vocab_size`` or its rows from the ids.
        InputError: an id is empty, not a string, or repeated.
    """

    def __init__(
        self,
        matrix: sp.spmatrix | sp.sparray,
        doc_ids: Sequence[str] | np.ndarray,
        *,
        info: IndexInfo,
        centering: Centering | None = None,
        token_map: np.ndarray | None = None,
        path: Path | None = None,
        engine: Engine | None = None,
    ) -> None:
        csc = matrix if isinstance(matrix, sp.csc_matrix) else sp.csc_matrix(matrix, dtype=np.float32)
        if csc.shape[1] != info.vocab_size:
            raise ShapeError(f"matrix has {csc.shape[1]} token columns; the index's vocabulary has {info.vocab_size}")
        ids = doc_ids if isinstance(doc_ids, np.ndarray) else _check_ids(doc_ids)
        if len(ids) != csc.shape[0]:
            raise ShapeError(f"{len(ids)} document ids for {csc.shape[0]} matrix rows")
        self.matrix = csc
        self.doc_ids = ids
        self.info = info
        self.centering = centering or Centering()
        if token_map is not None and np.shape(token_map) != (info.vocab_size,):
            raise ShapeError(f"token map has shape {np.shape(token_map)}; expected ({info.vocab_size},)")
        self.token_map = token_map
        self.path = path
        self._snippets: tuple[np.ndarray, np.ndarray] | None = None  # (utf-8 bytes, (n + 1,) offsets)
        self._positions: dict[str, int] | None = None
        self.engine = engine if engine is not None else ExactEngine(csc)

    @classmethod
    def build(
        cls,
        vectors: sp.spmatrix | sp.sparray,
        doc_ids: Sequence[str],
        *,
        info: IndexInfo,
        centering: Centering | None = None,
        token_map: np.ndarray | None = None,
    ) -> SparseIndex:
        """Index ``(n_docs, |V|)`` document vectors (from :func:`~keytokens.sparse.documents.encode_documents`).

        Raises:
            InputError: no documents, or bad or repeated ids.
        """
        if vectors.shape[0] == 0:
            raise InputError("cannot build an index of an empty corpus")
        # a CSC input would be shared, then sorted in place and held by the index: copy it; other formats convert
        csc = sp.csc_matrix(vectors, dtype=np.float32, copy=getattr(vectors, "format", None) == "csc")
        csc.sum_duplicates()
        csc.sort_indices()
        return cls(_compact(csc), _check_ids(doc_ids), info=info, centering=centering, token_map=token_map)

    def with_snippets(self, texts: Sequence[str], *, chars: int = SNIPPET_CHARS) -> SparseIndex:
        """Keep the first ``chars`` characters of each document, shown beside search hits (saved with the index).

        Raises:
            ShapeError: not one text per document.
        """
        if len(texts) != self.n_docs:
            raise ShapeError(f"{len(texts)} texts for {self.n_docs} documents")
        parts = [" ".join(str(t)[: chars * 2].split())[:chars].encode("utf-8") for t in texts]
        offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in parts], out=offsets[1:])
        self._snippets = (np.frombuffer(b"".join(parts), dtype=np.uint8).copy(), offsets)
        return self

    def snippet(self, doc_id: str) -> str | None:
        """The start of document ``doc_id``'s text, or None when the index keeps no snippets."""
        if self._snippets is None:
            return None
        data, offsets = self._snippets
        pos = self.position(doc_id)
        return bytes(data[offsets[pos] : offsets[pos + 1]]).decode("utf-8", errors="replace")

    @property
    def n_docs(self) -> int:
        """Documents in the index."""
        return int(self.matrix.shape[0])

    @property
    def nnz(self) -> int:
        """Stored (document, token) weights."""
        return int(self.matrix.nnz)

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays that make the index (postings, weights, ids, centering)."""
        m = self.matrix
        extra = 0 if self.centering.vector is None else self.centering.vector.nbytes
        return int(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes + self.doc_ids.nbytes + extra)

    def document_frequency(self) -> np.ndarray:
        """``(|V|,) int64``: how many documents hold each token."""
        return np.diff(self.matrix.indptr).astype(np.int64)

    def position(self, doc_id: str) -> int:
        """Row of ``doc_id``.

        Raises:
            InputError: no such document.
        """
        if self._positions is None:
            self._positions = {str(d): i for i, d in enumerate(self.doc_ids)}
        try:
            return self._positions[doc_id]
        except KeyError:
            raise InputError(f"document {doc_id!r} is not in the index") from None

    def add(self, vectors: sp.spmatrix | sp.sparray, doc_ids: Sequence[str]) -> SparseIndex:
        """A new index with more documents appended (rebuilds the postings: add in batches).

        Raises:
            ShapeError: the vectors have another vocabulary size.
            InputError: an id is bad or already in the index.
        """
        if vectors.shape[1] != self.info.vocab_size:
            raise ShapeError(f"vectors have {vectors.shape[1]} token columns; the index has {self.info.vocab_size}")
        new_ids = _check_ids(doc_ids, allow_empty=True)
        taken = set(map(str, self.doc_ids)).intersection(new_ids)
        if taken:
            raise InputError(f"{len(taken)} document ids are already in the index, e.g. {sorted(taken)[0]!r}")
        stacked = sp.vstack([self.matrix, sp.csc_matrix(vectors, dtype=np.float32)], format="csc", dtype=np.float32)
        stacked.sum_duplicates()
        stacked.sort_indices()
        ids = np.concatenate([np.asarray(self.doc_ids, dtype=str), np.asarray(new_ids, dtype=str)])
        grown = SparseIndex(_compact(stacked), ids, info=self.info, centering=self.centering, token_map=self.token_map)
        return grown.with_engine(self.engine.name, self.engine.params.to_dict())

    def with_engine(self, name: str = "exact", options: dict | None = None) -> SparseIndex:
        """The same documents searched by engine ``name`` (built now, unless only its search knobs change).

        Args:
            name: a key of :data:`~keytokens.sparse.engines.ENGINES`.
            options: the engine's knobs (knob → value); defaults for the others.

        Raises:
            UnknownNameError: no such engine.
            ValueError: an unknown knob or a value out of range.
            MissingDependencyError: the engine's package is not installed.
        """
        engine = None
        if name == self.engine.name:
            try:
                engine = configure(self.engine, options or {})
            except ValueError:
                engine = None  # other build knobs: rebuilt below (bad knobs raise there)
        engine = engine or build_engine(name, self.matrix, options)
        index = SparseIndex(
            self.matrix, self.doc_ids, info=self.info, centering=self.centering, token_map=self.token_map,
            path=self.path, engine=engine,
        )  # fmt: skip
        index._snippets = self._snippets
        return index

    def search(self, queries: sp.spmatrix | sp.sparray | QueryBatch, *, k: int) -> SearchResults:
        """The ``k`` best documents of each query vector, by the index's engine (exact by default).

        Only documents sharing a token with the query (with a non-zero score) are returned, so a query
        with no known token gets an empty list. Ties: score descending, then document position.

        Args:
            queries: ``(n_queries, |V|)`` sparse query vectors (a scipy matrix or a :class:`QueryBatch`).
            k: documents per query.

        Raises:
            ShapeError: the queries have another vocabulary size.
            ValueError: ``k`` is not positive.
        """
        q = self._check_queries(queries)
        if k < 1:
            raise ValueError(f"k must be positive; got {k}")
        positions, scores = self.engine.search(q, k=k)
        return SearchResults.from_positions(positions, scores, self.doc_ids)

    def explain(self, query: sp.spmatrix | sp.sparray, doc_id: str, *, vocabulary=None) -> Explanation:
        """Which tokens a query and a document share, and what each contributed to the score.

        Args:
            query: ``(1, |V|)`` sparse query vector.
            doc_id: the document.
            vocabulary: a tokenizer (``decode``) used to render the token ids, optional.

        Raises:
            InputError: the document is not in the index.
            ShapeError: ``query`` is not one query vector of this vocabulary.
        """
        q = self._check_queries(query)
        q = q.tocsr() if isinstance(q, QueryBatch) else q
        if q.shape[0] != 1:
            raise ShapeError(f"explain takes one query vector; got {q.shape[0]}")
        return explain_match(self.matrix, q, self.position(doc_id), doc_id=doc_id, tokenizer=vocabulary)

    def check_tokenizer(self, fingerprint: str, *, model: str) -> None:
        """Refuse queries tokenized by another tokenizer than the index's.

        Raises:
            InputError: naming both models and fingerprints.
        """
        if fingerprint != self.info.tokenizer:
            where = f" at {str(self.path)!r}" if self.path else ""
            raise InputError(
                f"the index{where} was built with the tokenizer of {self.info.model!r} (fingerprint "
                f"{self.info.tokenizer}), but {model!r} tokenizes differently (fingerprint {fingerprint}); "
                f"search it with {self.info.model!r} or rebuild it"
            )

    def save(self, path: str | Path, *, tokenizer=None, overwrite: bool = False, transaction=None) -> Path:
        """Write the index atomically to the folder ``path`` (with ``tokenizer`` saved beside it when given).

        ``transaction`` (a :func:`keytokens.store.store_transaction`) commits it together with other stores.

        Raises:
            StoreError: ``path`` exists (and ``overwrite`` is false) or is not an index.
        """
        m = self.matrix
        arrays = {"data": m.data, "indices": m.indices, "indptr": m.indptr, "doc_ids": self.doc_ids}
        if self.centering.vector is not None:
            arrays["centering"] = self.centering.vector
        if self.token_map is not None:
            arrays["token_map"] = np.asarray(self.token_map, dtype=np.int32)
        if self._snippets is not None:
            arrays["snippet_bytes"], arrays["snippet_offsets"] = self._snippets
        meta = {**self.info.to_dict(), "n_docs": self.n_docs, "nnz": self.nnz, "centering": self.centering.name}
        meta["engine"] = {"name": self.engine.name, "params": self.engine.params.to_dict()}

        def extra(tmp: Path) -> None:
            if tokenizer is not None:
                save_tokenizer(tokenizer, tmp)
            save_engine(self.engine, tmp, self.matrix)

        return store.save(
            path, kind=KIND, schema_version=SCHEMA_VERSION, arrays=arrays, meta=meta, extra=extra, overwrite=overwrite,
            transaction=transaction,
        )  # fmt: skip

    @classmethod
    def load(
        cls, path: str | Path, *, mmap: bool = True, engine: str | None = None, engine_options: dict | None = None
    ) -> SparseIndex:
        """Open a saved index (memory-mapped by default) with the engine saved with it.

        Args:
            path: the index folder.
            mmap: memory-map the arrays.
            engine: the engine expected (``exact`` always works); default: the one saved.
            engine_options: search knobs to apply; build knobs must equal the saved ones.

        Raises:
            StoreError: the folder is missing, incomplete, damaged, of another kind or schema version, or
                its arrays disagree with each other; or its engine is another, built with other knobs,
                built from another matrix, or damaged.
        """
        stored = store.load(path, kind=KIND, schema_version=SCHEMA_VERSION, mmap=mmap)
        try:
            info, n_docs, centering_name = read_settings(stored.meta)
            a = stored.arrays
            centering = Centering(centering_name, a.get("centering"))
            _check_postings(a["data"], a["indices"], a["indptr"], n_docs, info.vocab_size)
            matrix = sp.csc_matrix((a["data"], a["indices"], a["indptr"]), shape=(n_docs, info.vocab_size), copy=False)
            token_map = a.get("token_map")
            if token_map is not None and (token_map.min(initial=0) < -1 or token_map.max(initial=0) >= info.vocab_size):
                raise ValueError("token_map points outside the vocabulary")
            snippets = None
            if "snippet_bytes" in a:
                offsets = a["snippet_offsets"]
                if (
                    offsets.shape != (n_docs + 1,)
                    or offsets[-1] != len(a["snippet_bytes"])
                    or np.any(np.diff(offsets) < 0)
                ):
                    raise ValueError("snippet offsets do not match the documents")
                snippets = (a["snippet_bytes"], offsets)
        except (KeyError, TypeError, ValueError) as exc:
            raise store.StoreError(f"{str(path)!r} is damaged: {exc}") from None
        searcher = load_engine(Path(path), matrix, name=engine, options=engine_options)
        index = cls(
            matrix, a["doc_ids"], info=info, centering=centering, token_map=token_map, path=Path(path), engine=searcher
        )
        index._snippets = snippets
        return index

    def _check_queries(self, queries) -> sp.csr_matrix | QueryBatch:
        batch = isinstance(queries, QueryBatch)  # made by query_batch: sorted distinct ids, float32
        if not batch and not sp.issparse(queries):
            raise ShapeError(f"query vectors must be a scipy sparse matrix; got {type(queries).__name__}")
        if len(queries.shape) != 2 or queries.shape[1] != self.info.vocab_size:
            raise ShapeError(f"query vectors have shape {queries.shape}; expected (n, {self.info.vocab_size})")
        ready = isinstance(queries, sp.csr_matrix) and queries.dtype == np.float32 and queries.has_canonical_format
        if batch or ready:
            return queries  # as query_batch / query_vectors make them: nothing to convert
        q = sp.csr_matrix(queries, dtype=np.float32)
        q.sum_duplicates()
        return q

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        engine = {"name": self.engine.name, "params": self.engine.params.to_dict(), "bytes": self.engine.nbytes}
        return {**self.info.to_dict(), "n_docs": self.n_docs, "nnz": self.nnz, "bytes": self.nbytes, "engine": engine}

    def __repr__(self) -> str:
        return f"SparseIndex(n_docs={self.n_docs}, nnz={self.nnz}, model={self.info.model!r}, k={self.info.config.k})"


def _check_ids(doc_ids: Sequence[str], *, allow_empty: bool = False) -> np.ndarray:
    if isinstance(doc_ids, str):
        raise InputError("doc_ids must be a sequence of strings, not one string")
    ids = list(doc_ids)
    for i, d in enumerate(ids):
        check_doc_id(d, f"position {i}")
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(d for d in ids if d in seen or seen.add(d))
        raise InputError(f"document ids must be unique; {dup!r} occurs more than once")
    if not ids and not allow_empty:
        raise InputError("no document ids given")
    return np.asarray(ids, dtype=str) if ids else np.zeros(0, dtype="<U1")


def _compact(csc: sp.csc_matrix) -> sp.csc_matrix:
    """Smallest index dtype: int32 postings when they fit (half the bytes of int64)."""
    dtype = np.int32 if max(csc.nnz, csc.shape[0]) < np.iinfo(np.int32).max else np.int64
    arrays = (csc.data.astype(np.float32, copy=False), csc.indices.astype(dtype, copy=False), csc.indptr.astype(dtype))
    return sp.csc_matrix(arrays, shape=csc.shape, copy=False)  # no third copy of the postings (GBs at 8.8M docs)


def _check_postings(data, indices, indptr, n_docs: int, vocab_size: int) -> None:
    """What is cheap to check at every load (one pass over the arrays): a damaged index is refused, not searched.

    Raises:
        ValueError: shapes that disagree, a non-monotonic ``indptr``, postings outside the documents or not
            strictly ascending within a token (zeroed or shuffled), or weights that are NaN or infinite.
    """
    if indptr.shape != (vocab_size + 1,) or data.shape != indices.shape or len(indices.shape) != 1:
        raise ValueError(f"postings of shapes {indptr.shape}, {data.shape}, {indices.shape} for {vocab_size} tokens")
    if indptr[0] != 0 or indptr[-1] != len(data):
        raise ValueError(f"indptr ends at {indptr[-1]} but {len(data)} weights are stored")
    if np.any(np.diff(indptr) < 0):
        raise ValueError("indptr is not monotonic")
    if len(indices) and (indices.min() < 0 or indices.max() >= n_docs):
        raise ValueError(f"postings point outside the {n_docs} documents")
    ascending = np.diff(indices) > 0  # (nnz - 1,): within a token's posting list, documents ascend
    starts = np.asarray(indptr[1:-1])
    ascending[starts[(starts > 0) & (starts < len(indices))] - 1] = True  # across tokens anything goes
    if not ascending.all():
        raise ValueError("a posting list is not in ascending document order (damaged postings)")
    if not np.isfinite(data).all():
        raise ValueError("weights hold NaN or infinite values")


__all__ = ["KIND", "SCHEMA_VERSION", "IndexInfo", "SparseIndex", "document_config", "read_settings"]
