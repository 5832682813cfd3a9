"""Sparse retrieval from aligned tokens (PAPER.md §4): encoding documents and queries, and the index."""

from keytokens.sparse.centering import CENTERINGS, Centering, get_centering
from keytokens.sparse.corpus import CorpusEncoding, build_index, encode_corpus, index_info, sparse_vectors
from keytokens.sparse.documents import SparseConfig, encode_documents
from keytokens.sparse.explain import Explanation
from keytokens.sparse.index import IndexInfo, SparseIndex
from keytokens.sparse.queries import QUERY_WEIGHTS, QueryConfig, get_query_weights, query_vectors
from keytokens.sparse.tokenizer import load_tokenizer, tokenizer_fingerprint
from keytokens.sparse.weighting import WEIGHTINGS, get_weighting

__all__ = [
    "CENTERINGS",
    "QUERY_WEIGHTS",
    "WEIGHTINGS",
    "Centering",
    "CorpusEncoding",
    "Explanation",
    "IndexInfo",
    "QueryConfig",
    "SparseConfig",
    "SparseIndex",
    "build_index",
    "encode_corpus",
    "encode_documents",
    "get_centering",
    "get_query_weights",
    "get_weighting",
    "index_info",
    "load_tokenizer",
    "query_vectors",
    "sparse_vectors",
    "tokenizer_fingerprint",
]
