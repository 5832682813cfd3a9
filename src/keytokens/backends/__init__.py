"""Engines beyond one process: Milvus as the index engine, Parquet shards encoded with Ray Data.

Nothing here imports pymilvus, pyarrow or ray until it is used (``pip install 'keytokens[milvus,ray]'``).
"""

from keytokens.backends.collection import CollectionInfo
from keytokens.backends.milvus import BackendUnavailableError, MilvusIndex
from keytokens.backends.milvus_retriever import MilvusRetriever
from keytokens.backends.positive import POSITIVE_TRANSFORMS

__all__ = ["POSITIVE_TRANSFORMS", "BackendUnavailableError", "CollectionInfo", "MilvusIndex", "MilvusRetriever"]
