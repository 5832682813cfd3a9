"""Retrievers behind one protocol: sparse (aligned tokens), dense, hybrid and BM25."""

from keytokens.retrieval.base import Retriever, SearchResults
from keytokens.retrieval.bm25 import BM25Retriever
from keytokens.retrieval.dense import SIMILARITIES, DenseIndex, DenseRetriever
from keytokens.retrieval.hybrid import FUSIONS, HybridRetriever, fuse
from keytokens.retrieval.sparse import SparseRetriever

__all__ = [
    "FUSIONS",
    "SIMILARITIES",
    "BM25Retriever",
    "DenseIndex",
    "DenseRetriever",
    "HybridRetriever",
    "Retriever",
    "SearchResults",
    "SparseRetriever",
    "fuse",
]
