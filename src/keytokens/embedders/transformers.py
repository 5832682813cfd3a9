"""Embedders built on a Hugging Face model (causal LMs and encoders), run with torch."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from keytokens.embedders.base import Role, check_role, check_texts, report_truncation
from keytokens.embedders.pooling import get_pooling
from keytokens.embedders.prompts import PromptSpec
from keytokens.embedders.tokenize import TokenizedText, pad_batch, tokenize
from keytokens.progress import track

logger = logging.getLogger(__name__)

#: Tokenizers report 1e30 when they know no limit; anything above this is not a real limit.
_NO_LIMIT = 1_000_000


def model_max_length(tokenizer, config, requested: int | None = None) -> int:
    """The longest input the model accepts: the smallest of the known limits."""
    limits = [requested] if requested else []
    if getattr(tokenizer, "model_max_length", None) and tokenizer.model_max_length < _NO_LIMIT:
        limits.append(int(tokenizer.model_max_length))
    for key in ("max_position_embeddings", "n_positions"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            limits.append(value)
            break
    return min(limits) if limits else 512


class TransformersEmbedder:
    """Pools the final hidden states of a Hugging Face model into one embedding per text.

    Args:
        model: the base module returning ``last_hidden_state`` (after the final norm).
        tokenizer: its (fast) tokenizer.
        pooling: a key of :data:`keytokens.embedders.pooling.POOLINGS`.
        prompt: template and per-role instructions.
        name: a label for reports.
        max_length: cap on input tokens; defaults to the model's own limit.
        batch_size: texts per forward pass.
        padding_side: ``left`` or ``right``; defaults to the tokenizer's.
    """

    def __init__(
        self,
        model,
        tokenizer,
        *,
        pooling: str,
        prompt: PromptSpec | None = None,
        name: str = "model",
        max_length: int | None = None,
        batch_size: int = 32,
        padding_side: str | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.pooling_name = pooling
        self._pool = get_pooling(pooling)
        self.prompt = prompt or PromptSpec()
        self.name = name
        self.max_length = model_max_length(tokenizer, model.config, max_length)
        self.batch_size = batch_size
        self.padding_side = padding_side or getattr(tokenizer, "padding_side", "right")
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (tokenizer.eos_token_id or 0)
        #: indices of the texts the last :meth:`encode` call truncated.
        self.last_truncated: tuple[int, ...] = ()

    @property
    def dim(self) -> int:
        """Size of the final hidden states (OPT projects them to ``word_embed_proj_dim``)."""
        config = self.model.config
        return int(getattr(config, "word_embed_proj_dim", None) or config.hidden_size)

    def tokenize(
        self, texts: Sequence[str], *, role: Role = "document", instruction: str | None = None
    ) -> list[TokenizedText]:
        """Tokenize prompted texts; see :func:`keytokens.embedders.tokenize.tokenize`."""
        check_role(role)
        return [
            tokenize(
                self.tokenizer,
                self.prompt.format(text, role, instruction),
                prompt=self.prompt,
                pooling=self.pooling_name,
                max_length=self.max_length,
            )
            for text in check_texts(texts)
        ]

    def encode(
        self,
        texts: Sequence[str],
        *,
        role: Role = "document",
        batch_size: int | None = None,
        show_progress: bool = False,
        instruction: str | None = None,
    ) -> np.ndarray:
        """Return ``(n, d) float32`` pooled embeddings.

        Args:
            texts: the texts (not empty, not whitespace only).
            role: ``query`` or ``document``; selects the prompt's instruction.
            batch_size: texts per forward pass (default: the embedder's).
            show_progress: show a progress bar.
            instruction: overrides the role's instruction.

        Raises:
            EmptyTextError: a text is empty.
            InputError: a prompt leaves no room for the text.
        """
        items = self.tokenize(texts, role=role, instruction=instruction)
        self.last_truncated = tuple(i for i, t in enumerate(items) if t.truncated)
        report_truncation(self.name, len(self.last_truncated), len(items), self.max_length)
        size = batch_size or self.batch_size
        order = np.argsort([-len(t.input_ids) for t in items], kind="stable")  # similar lengths together
        out = np.empty((len(items), self.dim), dtype=np.float32)
        batches = [order[i : i + size] for i in range(0, len(order), size)]
        sizes = [len(b) for b in batches]
        description = f"encoding ({self.name})"
        for batch in track(
            batches, total=len(batches), description=description, enabled=show_progress, unit="texts", sizes=sizes
        ):
            out[batch] = self._forward([items[i] for i in batch])
        return out

    @torch.inference_mode()
    def _forward(self, items: list[TokenizedText]) -> np.ndarray:
        ids, attention, pool = (
            torch.from_numpy(a) for a in pad_batch(items, pad_id=self.pad_id, side=self.padding_side)
        )
        kwargs = {}
        if self.padding_side == "left" and not _positions_from_padding(self.model):
            # positions must start at the first real token
            kwargs["position_ids"] = (attention.cumsum(dim=1) - 1).clamp(min=0)
        output = self.model(input_ids=ids, attention_mask=attention, **kwargs)
        hidden = output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]
        return self._pool(hidden.float(), pool).numpy()  # (b, d)


def _positions_from_padding(model) -> bool:
    """Whether the model numbers positions past its padding itself (RoBERTa, MPNet: from ``padding_idx + 1``)."""
    return hasattr(getattr(model, "embeddings", None), "padding_idx")
