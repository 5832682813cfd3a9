"""Poolings: how a sequence of hidden states becomes one embedding (torch).

Each pooling takes ``hidden: (b, L, d)`` and ``mask: (b, L)`` (1 on the tokens to pool over, which
may exclude padding, special tokens or instruction tokens) and returns ``(b, d)``. All of them are
correct for left and right padding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from keytokens.errors import UnknownNameError

Pooling = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def last_token(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """State of the last position where ``mask`` is 1 (PromptEOL, e5-mistral, Qwen3)."""
    positions = torch.arange(mask.shape[1], device=mask.device)
    last = (mask * positions).argmax(dim=1)  # (b,)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the states where ``mask`` is 1."""
    m = mask.unsqueeze(-1).to(hidden.dtype)  # (b, L, 1)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)


def weighted_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Position-weighted mean, weight ``i`` for the ``i``-th pooled token (SGPT, Muennighoff 2022)."""
    weights = (torch.cumsum(mask, dim=1) * mask).unsqueeze(-1).to(hidden.dtype)  # (b, L, 1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def first_token(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """State of the first position where ``mask`` is 1 ([CLS] with right padding, DPR)."""
    positions = torch.arange(mask.shape[1], 0, -1, device=mask.device)
    first = (mask * positions).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), first]


#: One registry: keys are the accepted names everywhere (presets, CLI, errors).
#: ``mask`` pooling (PromptBERT) reuses ``first_token`` on a mask that marks only [MASK].
POOLINGS: Mapping[str, Pooling] = {
    "last": last_token,
    "mean": mean,
    "weighted-mean": weighted_mean,
    "cls": first_token,
    "mask": first_token,
}


def get_pooling(name: str) -> Pooling:
    """Return the pooling registered as ``name``.

    Raises:
        UnknownNameError: naming the registered poolings.
    """
    try:
        return POOLINGS[name]
    except KeyError:
        raise UnknownNameError(f"unknown pooling {name!r}; expected one of {sorted(POOLINGS)}") from None
