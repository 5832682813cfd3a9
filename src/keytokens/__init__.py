"""keytokens: read text embeddings as the vocabulary tokens they align with (arXiv 2406.17378).

The names below are re-exported lazily: ``import keytokens`` loads each subpackage on first use, so the
command line starts without importing scipy, the evaluation code or the heads it does not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from keytokens._version import __version__
from keytokens.errors import (
    EmptyTextError,
    InputError,
    KeytokensError,
    MissingDependencyError,
    ModelNotAvailableError,
    ShapeError,
    UnknownNameError,
)

if TYPE_CHECKING:
    from keytokens.embedders import PRESETS, Embedder, HeadSpec, Preset, PromptSpec, get_preset
    from keytokens.evaluation import BeirDataset, EvaluationResult, Report, evaluate, load_beir
    from keytokens.heads import LinearHead, VocabHead, load_head, topk
    from keytokens.lens import AlignedTokens, Lens, Vocabulary, aligned_tokens
    from keytokens.metrics import DEFINITIONS, AlignmentScores, alignment_scores
    from keytokens.retrieval import (
        BM25Retriever,
        DenseIndex,
        DenseRetriever,
        HybridRetriever,
        Retriever,
        SearchResults,
        SparseRetriever,
    )
    from keytokens.sparse import QueryConfig, SparseConfig, SparseIndex, encode_corpus

#: Where each lazily re-exported name lives.
_LAZY = {
    "keytokens.embedders": ("PRESETS", "Embedder", "HeadSpec", "Preset", "PromptSpec", "get_preset"),
    "keytokens.evaluation": ("BeirDataset", "EvaluationResult", "Report", "evaluate", "load_beir"),
    "keytokens.heads": ("LinearHead", "VocabHead", "load_head", "topk"),
    "keytokens.lens": ("AlignedTokens", "Lens", "Vocabulary", "aligned_tokens"),
    "keytokens.metrics": ("DEFINITIONS", "AlignmentScores", "alignment_scores"),
    "keytokens.retrieval": (
        "BM25Retriever",
        "DenseIndex",
        "DenseRetriever",
        "HybridRetriever",
        "Retriever",
        "SearchResults",
        "SparseRetriever",
    ),
    "keytokens.sparse": ("QueryConfig", "SparseConfig", "SparseIndex", "encode_corpus"),
}
_MODULE_OF = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str):
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(_MODULE_OF[name]), name)
        globals()[name] = value  # once imported, a plain attribute
        return value
    raise AttributeError(f"module 'keytokens' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))


__all__ = [
    "DEFINITIONS",
    "PRESETS",
    "AlignedTokens",
    "AlignmentScores",
    "BM25Retriever",
    "BeirDataset",
    "DenseIndex",
    "DenseRetriever",
    "Embedder",
    "EmptyTextError",
    "EvaluationResult",
    "HeadSpec",
    "HybridRetriever",
    "InputError",
    "KeytokensError",
    "Lens",
    "LinearHead",
    "MissingDependencyError",
    "ModelNotAvailableError",
    "Preset",
    "PromptSpec",
    "QueryConfig",
    "Report",
    "Retriever",
    "SearchResults",
    "ShapeError",
    "SparseConfig",
    "SparseIndex",
    "SparseRetriever",
    "UnknownNameError",
    "VocabHead",
    "Vocabulary",
    "__version__",
    "aligned_tokens",
    "alignment_scores",
    "encode_corpus",
    "evaluate",
    "get_preset",
    "load_beir",
    "load_head",
    "topk",
]
