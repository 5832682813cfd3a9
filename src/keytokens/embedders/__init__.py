"""Embedders: text → ``(n, d) float32``.

Presets and prompts here are torch-free; the adapters that run models (``transformers``,
``sentence_transformers``, ``loading``) import torch themselves.
"""

from keytokens.embedders.base import ROLES, Embedder, Role, as_texts, check_texts
from keytokens.embedders.dual import DualEmbedder
from keytokens.embedders.precomputed import PrecomputedEmbedder, load_embeddings
from keytokens.embedders.presets import PRESETS, HeadSpec, Preset, get_preset
from keytokens.embedders.prompts import PROMPT_BERT, PROMPT_EOL, PromptSpec

__all__ = [
    "PRESETS",
    "PROMPT_BERT",
    "PROMPT_EOL",
    "ROLES",
    "DualEmbedder",
    "Embedder",
    "HeadSpec",
    "PrecomputedEmbedder",
    "Preset",
    "PromptSpec",
    "Role",
    "as_texts",
    "check_texts",
    "get_preset",
    "load_embeddings",
]
