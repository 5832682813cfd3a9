"""Dense retrieval: exact inner products between query and document embeddings, chunked over documents."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from keytokens import store
from keytokens.embedders.base import Embedder
from keytokens.errors import InputError, ShapeError, UnknownNameError
from keytokens.heads.base import check_finite
from keytokens.jsonfields import get_int, get_str
from keytokens.ranking import SearchResults, top_k
from keytokens.retrieval.base import check_search
from keytokens.strings import check_doc_id

KIND = "dense-index"
SCHEMA_VERSION = 1
#: Documents scored at once; bounds memory to ``n_queries × chunk`` float32 scores.
DEFAULT_DOC_CHUNK = 65_536


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, np.finfo(np.float32).tiny)


#: One registry for similarities: how embeddings are prepared before the inner product.
SIMILARITIES: Mapping[str, Callable[[np.ndarray], np.ndarray]] = {"dot": _identity, "cosine": _unit}


def get_similarity(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """Return the similarity called ``name``.

    Raises:
        UnknownNameError: naming the registered similarities.
    """
    try:
        return SIMILARITIES[name]
    except KeyError:
        raise UnknownNameError(f"unknown similarity {name!r}; expected one of {sorted(SIMILARITIES)}") from None


class DenseIndex:
    """Document embeddings searched by exact inner product (``cosine`` normalises both sides first).

    Args:
        embeddings: ``(n_docs, d) float32`` document embeddings (already normalised for ``cosine``).
        doc_ids: the ``n_docs`` document ids.
        model: the embedder that made them.
        similarity: key of :data:`SIMILARITIES`.
        path: the folder it was loaded from.
    """

    def __init__(
        self,
        embeddings: np.ndarray,
        doc_ids: Sequence[str] | np.ndarray,
        *,
        model: str,
        similarity: str = "dot",
        path: Path | None = None,
    ) -> None:
        get_similarity(similarity)
        if embeddings.ndim != 2 or len(embeddings) != len(doc_ids):
            raise ShapeError(f"embeddings {embeddings.shape} must be (n, d) with one row per id ({len(doc_ids)})")
        self.embeddings = embeddings
        self.doc_ids = doc_ids if isinstance(doc_ids, np.ndarray) else np.asarray(list(doc_ids), dtype=str)
        self.model = model
        self.similarity = similarity
        self.path = path

    @classmethod
    def build(
        cls, embeddings: np.ndarray, doc_ids: Sequence[str], *, model: str, similarity: str = "dot"
    ) -> DenseIndex:
        """Index ``(n_docs, d)`` embeddings under ``doc_ids``.

        Raises:
            InputError: no documents, or empty or repeated ids.
            ShapeError: the embeddings are not ``(n_docs, d)`` floats.
        """
        emb = np.asarray(embeddings)
        if emb.ndim != 2 or not np.issubdtype(emb.dtype, np.floating):
            raise ShapeError(f"embeddings must be (n, d) floats; got shape {emb.shape} dtype {emb.dtype}")
        ids = list(doc_ids)
        if not ids:
            raise InputError("cannot build an index of an empty corpus")
        for i, d in enumerate(ids):
            check_doc_id(d, f"position {i}")
        check_finite(emb, what="document embedding")
        if len(set(ids)) != len(ids):
            raise InputError("document ids must be unique")
        prepared = get_similarity(similarity)(emb.astype(np.float32))
        return cls(np.ascontiguousarray(prepared, dtype=np.float32), ids, model=model, similarity=similarity)

    @property
    def n_docs(self) -> int:
        """Documents in the index."""
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        """Embedding size ``d``."""
        return int(self.embeddings.shape[1])

    @property
    def nbytes(self) -> int:
        """Bytes of the embeddings and ids."""
        return int(self.embeddings.nbytes + self.doc_ids.nbytes)

    def add(self, embeddings: np.ndarray, doc_ids: Sequence[str]) -> DenseIndex:
        """A new index with more documents appended.

        Raises:
            InputError: an id is already in the index or repeated.
        """
        new = DenseIndex.build(embeddings, doc_ids, model=self.model, similarity=self.similarity)
        if new.dim != self.dim:
            raise ShapeError(f"embeddings have {new.dim} dimensions; the index has {self.dim}")
        taken = set(map(str, self.doc_ids)).intersection(map(str, new.doc_ids))
        if taken:
            raise InputError(f"{len(taken)} document ids are already in the index, e.g. {sorted(taken)[0]!r}")
        return DenseIndex(
            np.concatenate([self.embeddings, new.embeddings]),
            np.concatenate([np.asarray(self.doc_ids, dtype=str), new.doc_ids]),
            model=self.model,
            similarity=self.similarity,
        )

    def search(self, query_embeddings: np.ndarray, *, k: int, chunk_size: int = DEFAULT_DOC_CHUNK) -> SearchResults:
        """The ``k`` best documents of each query embedding; ties go to the earlier document.

        Args:
            query_embeddings: ``(n_queries, d)`` embeddings (normalised here for ``cosine``).
            k: documents per query.
            chunk_size: documents scored at once.

        Raises:
            ShapeError: the query embeddings have another size.
            ValueError: ``k`` or ``chunk_size`` is not positive.
        """
        q = np.asarray(query_embeddings, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ShapeError(f"query embeddings have shape {q.shape}; expected (n, {self.dim})")
        if k < 1 or chunk_size < 1:
            raise ValueError(f"k and chunk_size must be positive; got {k} and {chunk_size}")
        check_finite(q, what="query embedding")
        q = get_similarity(self.similarity)(q)
        best_pos = [np.zeros(0, dtype=np.int64) for _ in range(len(q))]
        best_sc = [np.zeros(0, dtype=np.float32) for _ in range(len(q))]
        for start in range(0, self.n_docs, chunk_size):
            block = np.asarray(self.embeddings[start : start + chunk_size], dtype=np.float32)
            scores = q @ block.T  # (n_queries, chunk)
            for i, row in enumerate(scores):
                pos, sc = top_k(row, k, np.arange(start, start + len(block), dtype=np.int64))
                best_pos[i], best_sc[i] = top_k(np.concatenate([best_sc[i], sc]), k, np.concatenate([best_pos[i], pos]))
        return SearchResults.from_positions(best_pos, best_sc, self.doc_ids)

    def save(self, path: str | Path, *, overwrite: bool = False, transaction=None) -> Path:
        """Write the index atomically to the folder ``path`` (with ``transaction``: together with other stores)."""
        return store.save(
            path,
            kind=KIND,
            schema_version=SCHEMA_VERSION,
            arrays={"embeddings": np.asarray(self.embeddings), "doc_ids": self.doc_ids},
            meta={"model": self.model, "similarity": self.similarity, "n_docs": self.n_docs, "dim": self.dim},
            overwrite=overwrite,
            transaction=transaction,
        )

    @classmethod
    def load(cls, path: str | Path, *, mmap: bool = True) -> DenseIndex:
        """Open a saved index (memory-mapped by default).

        Raises:
            StoreError: the folder is missing, incomplete, damaged, or of another kind or version.
        """
        stored = store.load(path, kind=KIND, schema_version=SCHEMA_VERSION, mmap=mmap)
        try:
            embeddings, doc_ids = stored.arrays["embeddings"], stored.arrays["doc_ids"]
            n_docs, dim = get_int(stored.meta, "n_docs", minimum=1), get_int(stored.meta, "dim", minimum=1)
            if embeddings.shape != (n_docs, dim):
                raise ShapeError(f"embeddings of shape {embeddings.shape}, but meta.json says ({n_docs}, {dim})")
            return cls(
                embeddings,
                doc_ids,
                model=get_str(stored.meta, "model", allow_empty=False),
                similarity=get_str(stored.meta, "similarity"),
                path=Path(path),
            )
        except (KeyError, ValueError) as exc:
            raise store.StoreError(f"{str(path)!r} is damaged: {exc}") from None

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {"model": self.model, "similarity": self.similarity, "n_docs": self.n_docs, "dim": self.dim}


class DenseRetriever:
    """Embeds queries (``role="query"``) and searches a :class:`DenseIndex`.

    Args:
        index: the dense index.
        embedder: the embedder that built it.
        name: label for reports.
    """

    def __init__(self, index: DenseIndex, embedder: Embedder, *, name: str = "dense") -> None:
        if embedder.dim != index.dim:
            raise ShapeError(f"embedder {embedder.name!r} has {embedder.dim} dimensions; the index has {index.dim}")
        self.index = index
        self.embedder = embedder
        self.name = name

    def search(self, queries: Sequence[str], *, k: int) -> SearchResults:
        """The ``k`` best documents of each query by exact inner product."""
        texts = check_search(queries, k)
        return self.index.search(self.embedder.encode(texts, role="query"), k=k)


__all__ = ["DEFAULT_DOC_CHUNK", "SIMILARITIES", "DenseIndex", "DenseRetriever", "get_similarity"]
