"""Embedders from the sentence-transformers library (its modules decide pooling and norm)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from keytokens.embedders.base import Role, check_role, check_texts, report_truncation
from keytokens.embedders.prompts import PromptSpec
from keytokens.embedders.tokenize import prompt_texts
from keytokens.errors import InputError, require

logger = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """Wraps a ``SentenceTransformer``; per-role prompts are prepended to the text.

    Args:
        model: a loaded ``sentence_transformers.SentenceTransformer``.
        prompt: per-role instructions (E5 style ``query: `` prefixes go in ``instructions``).
        name: a label for reports.
        batch_size: texts per forward pass.
    """

    def __init__(self, model, *, prompt: PromptSpec | None = None, name: str = "model", batch_size: int = 64) -> None:
        self.model = model
        self.prompt = prompt or PromptSpec()
        self.name = name
        self.batch_size = batch_size
        self.last_truncated: tuple[int, ...] = ()

    @classmethod
    def load(cls, path: str, **kwargs) -> SentenceTransformerEmbedder:
        """Load a sentence-transformers model from a folder or hub id on the CPU."""
        st = require("sentence_transformers", "models")
        return cls(st.SentenceTransformer(path, device="cpu"), **kwargs)

    @property
    def dim(self) -> int:
        """Output size of the model."""
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    @property
    def tokenizer(self):
        """The model's tokenizer."""
        return self.model.tokenizer

    @property
    def transformer(self):
        """The underlying Hugging Face model (first module)."""
        return self.model[0].auto_model

    def layers_after_pooling(self) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """``(weight (out, in), bias)`` of the Dense layers after pooling, in order (EmbeddingGemma has two).

        Raises:
            InputError: a layer after pooling is neither a linear Dense layer nor a normalisation.
        """
        names = [type(m).__name__ for m in self.model]
        if "Pooling" not in names:
            return []
        layers = []
        for module in list(self.model)[names.index("Pooling") + 1 :]:
            kind = type(module).__name__
            if kind == "Normalize":
                continue
            activation = type(getattr(module, "activation_function", None)).__name__
            if kind != "Dense" or activation != "Identity":
                raise InputError(
                    f"{self.name}: module {kind} (activation {activation}) after pooling is not linear; "
                    "its embeddings cannot be read through the tied embeddings; fit a head instead"
                )
            bias = module.linear.bias
            layers.append((_numpy(module.linear.weight), None if bias is None else _numpy(bias)))
        return layers

    @property
    def max_length(self) -> int:
        """Tokens the model reads before it truncates."""
        return int(self.model.max_seq_length)

    def encode(
        self,
        texts: Sequence[str],
        *,
        role: Role = "document",
        batch_size: int | None = None,
        show_progress: bool = False,
        instruction: str | None = None,
    ) -> np.ndarray:
        """Return ``(n, d) float32`` embeddings, as the model's own modules compute them."""
        check_role(role)
        texts = check_texts(texts)
        if not texts:  # the tokenizer fails on an empty batch
            return np.zeros((0, self.dim), dtype=np.float32)
        formatted, _, self.last_truncated = prompt_texts(
            texts,
            prompt=self.prompt,
            tokenizer=self.tokenizer,
            max_length=self.max_length,
            role=role,
            instruction=instruction,
        )
        report_truncation(self.name, len(self.last_truncated), len(formatted), self.max_length)
        emb = self.model.encode(
            formatted,
            batch_size=batch_size or self.batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
        )
        return np.asarray(emb, dtype=np.float32).reshape(len(formatted), -1)


def _numpy(tensor) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()
