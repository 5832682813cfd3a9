"""keytokens: read text embeddings as the vocabulary tokens they align with (arXiv 2406.17378)."""

from keytokens._version import __version__
from keytokens.embedders import PRESETS, Embedder, HeadSpec, Preset, PromptSpec, get_preset
from keytokens.errors import (
    EmptyTextError,
    InputError,
    KeytokensError,
    MissingDependencyError,
    ModelNotAvailableError,
    ShapeError,
    UnknownNameError,
)
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
