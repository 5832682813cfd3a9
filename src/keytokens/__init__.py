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
from keytokens.heads import LinearHead, VocabHead, load_head, topk
from keytokens.lens import AlignedTokens, Lens, Vocabulary, aligned_tokens
from keytokens.metrics import DEFINITIONS, AlignmentScores, alignment_scores

__all__ = [
    "DEFINITIONS",
    "PRESETS",
    "AlignedTokens",
    "AlignmentScores",
    "Embedder",
    "EmptyTextError",
    "HeadSpec",
    "InputError",
    "KeytokensError",
    "Lens",
    "LinearHead",
    "MissingDependencyError",
    "ModelNotAvailableError",
    "Preset",
    "PromptSpec",
    "ShapeError",
    "UnknownNameError",
    "VocabHead",
    "Vocabulary",
    "__version__",
    "aligned_tokens",
    "alignment_scores",
    "get_preset",
    "load_head",
    "topk",
]
