"""Vocabulary heads: the map from an embedding to one logit per token (numpy only)."""

from keytokens.heads.base import DEFAULT_CHUNK_SIZE, LinearHead, Transform, VocabHead, topk
from keytokens.heads.checkpoint import HEAD_LAYOUTS, load_head

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "HEAD_LAYOUTS",
    "LinearHead",
    "Transform",
    "VocabHead",
    "load_head",
    "topk",
]
