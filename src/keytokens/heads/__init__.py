"""Vocabulary heads: the map from an embedding to one logit per token (numpy only)."""

from keytokens.heads.base import DEFAULT_CHUNK_SIZE, LinearHead, Transform, VocabHead, topk
from keytokens.heads.checkpoint import HEAD_LAYOUTS, load_head
from keytokens.heads.fitted import FitInfo, FittedHead, fit_head, is_fitted_head
from keytokens.heads.fitting import FITS, FitConfig
from keytokens.heads.targets import TARGETS, TargetSpec, build_targets, tokenizer_fingerprint

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "FITS",
    "HEAD_LAYOUTS",
    "TARGETS",
    "FitConfig",
    "FitInfo",
    "FittedHead",
    "LinearHead",
    "TargetSpec",
    "Transform",
    "VocabHead",
    "build_targets",
    "fit_head",
    "is_fitted_head",
    "load_head",
    "tokenizer_fingerprint",
    "topk",
]
