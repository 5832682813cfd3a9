"""Seismic: approximate top-k over learned sparse vectors (``pip install 'keytokens[engines]'``).

Seismic (Bruch, Nardini, Rulli & Venturini, SIGIR 2024, "Efficient Inverted Indexes for Approximate
Retrieval over Learned Sparse Representations") keeps each token's highest-weighted postings
(``n_postings`` per token on average, globally), clusters every posting list into blocks and stores a
summary vector per block (the coordinate-wise maxima keeping ``summary_energy`` of the mass). A query
visits its ``query_cut`` heaviest tokens and skips a block whose summary score is below ``heap_factor``
× the current k-th best score, then scores the survivors exactly on a forward index whose weights are
float16 (the quantisation: 2 bytes a weight, 2 a token id). Lower ``heap_factor`` visits more blocks:
slower, closer to exact.

Documents are added by row position (Seismic's component ids are the token ids), so results map back
to rows without a lookup table.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from keytokens.errors import InputError, require
from keytokens.sparse.engines.base import SEARCH, check_range
from keytokens.store import StoreError

#: Seismic's standard index stores token ids as uint16; larger vocabularies use its LV variant.
U16_VOCAB = 1 << 16
FILE = "seismic"
SUFFIX = ".index.seismic"
#: Forward-index layouts: float16 weights with uint16 token ids, or DotVByte-compressed token ids.
COMPRESSIONS = ("none", "dotvbyte")
#: Documents handed to Seismic at once while building (bounds the temporary copies: 9 GB at 8.8M × 64 tokens whole).
BUILD_CHUNK = 500_000


@dataclass(frozen=True, slots=True)
class SeismicParams:
    """Seismic's knobs (names as in its API).

    Defaults: Seismic's own, but twice the blocks (``centroid_fraction`` 0.2) and summaries keeping
    more mass (``summary_energy`` 0.6): on 1M synthetic documents (``bench/engines.py``, results in
    ``bench/results/engines-sweep-1m.md``) that build reaches a top-10 overlap of 0.993 at
    ``heap_factor`` 0.8 where Seismic's defaults (0.1, 0.4) reach 0.969, for 15 % more build time.
    ``query_cut`` stays 0 (every query token): a lexical index's tokenizer-only queries weigh every token
    1, so a cut would drop tokens arbitrarily.

    Attributes:
        n_postings: postings kept per token on average over the vocabulary (global pruning); build.
        max_fraction: a token keeps at most ``n_postings × max_fraction`` postings; build.
        centroid_fraction: blocks per posting list, as a fraction of its length; build.
        min_cluster_size: fewest postings in a block; build.
        summary_energy: share of a block's weight mass its summary keeps, in (0, 1]; build.
        doc_cut: document tokens used to cluster postings; build.
        compression: forward index layout, one of :data:`COMPRESSIONS` (``dotvbyte`` compresses the
            token ids; vocabularies of at most 65,536 tokens); build.
        query_cut: the query's heaviest tokens visited, 0 for all; search.
        heap_factor: a block is skipped when its summary score is below ``heap_factor`` × the k-th
            best score so far, in (0, 1]; 1 prunes most; search.
    """

    n_postings: int = 3500
    max_fraction: float = 1.5
    centroid_fraction: float = 0.2
    min_cluster_size: int = 2
    summary_energy: float = 0.6
    doc_cut: int = 15
    compression: str = "none"
    query_cut: int = field(default=0, metadata=SEARCH)
    heap_factor: float = field(default=0.8, metadata=SEARCH)

    def __post_init__(self) -> None:
        check_range("n_postings", self.n_postings, low=1, integer=True)
        check_range("max_fraction", self.max_fraction, low=1.0)
        check_range("centroid_fraction", self.centroid_fraction, low=0.0, high=1.0, low_open=True)
        check_range("min_cluster_size", self.min_cluster_size, low=1, integer=True)
        check_range("summary_energy", self.summary_energy, low=0.0, high=1.0, low_open=True)
        check_range("doc_cut", self.doc_cut, low=1, integer=True)
        if self.compression not in COMPRESSIONS:
            raise InputError(f"compression must be one of {list(COMPRESSIONS)}; got {self.compression!r}")
        check_range("query_cut", self.query_cut, low=0, integer=True)
        check_range("heap_factor", self.heap_factor, low=0.0, high=1.0, low_open=True)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "n_postings": self.n_postings,
            "max_fraction": self.max_fraction,
            "centroid_fraction": self.centroid_fraction,
            "min_cluster_size": self.min_cluster_size,
            "summary_energy": self.summary_energy,
            "doc_cut": self.doc_cut,
            "compression": self.compression,
            "query_cut": self.query_cut,
            "heap_factor": self.heap_factor,
        }


class SeismicEngine:
    """A Seismic index over the rows of the sparse index's matrix.

    Args:
        index: the built or loaded ``seismic.SeismicIndex`` (``SeismicIndexLV`` above 65,536 tokens).
        params: the knobs it was built with (search knobs may differ).
        nbytes: size of its saved file (0 until saved or loaded).
    """

    name: ClassVar[str] = "seismic"

    def __init__(self, index, params: SeismicParams, *, nbytes: int = 0) -> None:
        self.index = index
        self.params = params
        self.nbytes = nbytes
        self._string = _seismic().get_seismic_string()

    @classmethod
    def build(cls, matrix: sp.csc_matrix, params: SeismicParams | None = None) -> SeismicEngine:
        """Build from the ``(n_docs, |V|)`` matrix (rows with no token are left out: they never match).

        Raises:
            MissingDependencyError: ``pyseismic-lsr`` is not installed (extra ``engines``).
            InputError: ``dotvbyte`` asked for a vocabulary above 65,536 tokens.
        """
        params = params or SeismicParams()
        seismic = _seismic()
        large = matrix.shape[1] > U16_VOCAB
        if large and params.compression == "dotvbyte":
            raise InputError(f"Seismic's dotvbyte compression takes at most {U16_VOCAB} tokens; got {matrix.shape[1]}")
        dataset = (seismic.SeismicDatasetLV if large else seismic.SeismicDataset)(dim=int(matrix.shape[1]))
        for start in range(0, matrix.shape[0], BUILD_CHUNK):  # in slices: the copies stay a slice's size
            rows = sp.csr_matrix(matrix[start : start + BUILD_CHUNK])  # sorted token ids per row, as Seismic needs
            rows.sort_indices()
            ids = np.arange(start, start + rows.shape[0]).astype(str).tolist()
            indptr = rows.indptr.astype(np.int64)
            dataset.add_documents_by_id(ids, rows.indices.astype(np.int64), rows.data.astype(np.float32), indptr)
            del rows, ids, indptr
        kind = _index_class(seismic, params, large=large)
        knobs = {k: v for k, v in params.to_dict().items() if k not in ("query_cut", "heap_factor", "compression")}
        with _quiet():
            index = kind.build_from_dataset(dataset, **knobs)
        return cls(index, params)

    @classmethod
    def load(cls, folder: Path, matrix: sp.csc_matrix, params: SeismicParams) -> SeismicEngine:
        """Open the file :meth:`save` wrote.

        Raises:
            StoreError: the file is missing or Seismic cannot read it.
        """
        seismic = _seismic()
        path = Path(folder) / (FILE + SUFFIX)
        kind = _index_class(seismic, params, large=matrix.shape[1] > U16_VOCAB)
        try:
            with _quiet():
                index = kind.load(str(path))
        except OSError as exc:
            raise StoreError(f"{str(path)!r} is damaged or missing: {exc}") from None
        return cls(index, params, nbytes=path.stat().st_size)

    def save(self, folder: Path) -> dict[str, Path]:
        """Write ``seismic.index.seismic`` into ``folder``."""
        with _quiet():
            self.index.save(str(Path(folder) / FILE))
        path = Path(folder) / (FILE + SUFFIX)
        self.nbytes = path.stat().st_size
        return {path.name: path}

    def with_params(self, params: SeismicParams) -> SeismicEngine:
        """The same index searched with ``params``'s search knobs."""
        return SeismicEngine(self.index, params, nbytes=self.nbytes)

    def search(self, queries: sp.csr_matrix, *, k: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Approximate top-k of each query (batches run on Seismic's threads).

        Returns:
            Per query, ``(m,) int64`` positions and ``(m,) float32`` scores, best first, ties by position.
        """
        tokens = [queries.indices[lo:hi].astype(self._string) for lo, hi in _spans(queries.indptr)]
        weights = [queries.data[lo:hi].astype(np.float32, copy=False) for lo, hi in _spans(queries.indptr)]
        cut = self.params.query_cut or max(1, max((len(t) for t in tokens), default=1))
        knobs = {"k": k, "query_cut": cut, "heap_factor": self.params.heap_factor}
        if len(tokens) == 1:
            found = [self.index.search("0", tokens[0], weights[0], **knobs)]
        else:
            names = np.arange(len(tokens)).astype(self._string)
            # Seismic's threads may return the queries in any order: each hit names its query, so put them back
            by_query = {
                str(hits[0][0]): hits for hits in self.index.batch_search(names, tokens, weights, **knobs) if hits
            }
            found = [by_query.get(str(name), []) for name in names]
        positions, scores = [], []
        for hits in found:
            pos = np.fromiter((int(h[2]) for h in hits), dtype=np.int64, count=len(hits))
            sc = np.fromiter((h[1] for h in hits), dtype=np.float32, count=len(hits))
            order = np.lexsort((pos, -sc))
            positions.append(pos[order])
            scores.append(sc[order])
        return positions, scores


def _index_class(seismic, params: SeismicParams, *, large: bool):
    if params.compression == "dotvbyte":
        return seismic.SeismicIndexDotVByte
    return seismic.SeismicIndexLV if large else seismic.SeismicIndex


def _spans(indptr: np.ndarray):
    return zip(indptr[:-1].tolist(), indptr[1:].tolist(), strict=True)


def _seismic():
    return require("seismic", "engines")


@contextlib.contextmanager
def _quiet():
    """Silence what Seismic's Rust code prints to the process's stdout (the library never prints)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


__all__ = ["SeismicEngine", "SeismicParams"]
