"""The token lens: embeddings read through a vocabulary head as tokens."""

from keytokens.lens.aligned import TOKEN_FILTERS, AlignedTokens, aligned_tokens, check_token_filter, token_mask
from keytokens.lens.lens import Lens
from keytokens.lens.vocabulary import Vocabulary, readable, surface_form

__all__ = [
    "TOKEN_FILTERS",
    "AlignedTokens",
    "Lens",
    "Vocabulary",
    "aligned_tokens",
    "check_token_filter",
    "readable",
    "surface_form",
    "token_mask",
]
