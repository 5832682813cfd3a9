"""Simple sentence-transformers models run with transformers alone (no sentence-transformers import).

Importing sentence-transformers pulls scikit-learn, pandas and scipy.stats, several seconds before a
command can do anything. Most sentence-transformers models on disk are three modules: a Transformer, a
mean or CLS Pooling and (optionally) a Normalize. Those are computed here exactly as that library does
(mean over the attention mask, then L2 norm); any other module list returns ``None`` from
:func:`load_plain` and the model loads through sentence-transformers as before.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from keytokens.embedders.base import Role, check_role, check_texts, report_truncation
from keytokens.embedders.prompts import PromptSpec
from keytokens.embedders.tokenize import prompt_texts
from keytokens.progress import track

_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"


def plain_modules(folder: str | Path) -> tuple[str, bool, int] | None:
    """``(pooling, normalize, max_length)`` of a folder whose modules this file can run, else ``None``.

    Pooling is ``mean`` or ``cls``; a folder that is not local, has other modules, or other pooling
    options (max, weighted, prompt exclusion) is left to sentence-transformers.
    """
    folder = Path(folder)
    try:
        modules = json.loads((folder / "modules.json").read_text())
        types = [m["type"] for m in modules]
        if types not in ([_TRANSFORMER, _POOLING], [_TRANSFORMER, _POOLING, _NORMALIZE]) or modules[0]["path"]:
            return None
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text())
        config = json.loads((folder / "sentence_bert_config.json").read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
    if config.get("do_lower_case") or modes not in ({"pooling_mode_mean_tokens"}, {"pooling_mode_cls_token"}):
        return None
    if pooling.get("include_prompt") is False:
        return None
    mode = "mean" if modes == {"pooling_mode_mean_tokens"} else "cls"
    return mode, len(types) == 3, int(config.get("max_seq_length") or 512)


class PlainSentenceTransformer:
    """A Transformer + Pooling (+ Normalize) sentence-transformers model, run with transformers.

    Args:
        model: the Hugging Face encoder (``AutoModel``).
        tokenizer: its tokenizer.
        pooling: ``mean`` (over the attention mask) or ``cls``.
        normalize: L2-normalise the pooled vector.
        max_length: tokens read before truncation (``max_seq_length``).
        prompt: per-role instructions, prepended to the text.
        name: a label for reports.
        batch_size: texts per forward pass.
    """

    def __init__(
        self,
        model,
        tokenizer,
        *,
        pooling: str,
        normalize: bool,
        max_length: int,
        prompt: PromptSpec | None = None,
        name: str = "model",
        batch_size: int = 64,
    ) -> None:
        self.transformer = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.normalize = normalize
        self.max_length = min(max_length, getattr(tokenizer, "model_max_length", max_length) or max_length)
        self.prompt = prompt or PromptSpec()
        self.name = name
        self.batch_size = batch_size
        self.last_truncated: tuple[int, ...] = ()

    @property
    def dim(self) -> int:
        """Output size of the model."""
        return int(self.transformer.config.hidden_size)

    def encode(
        self,
        texts: str | Sequence[str],
        *,
        role: Role = "document",
        batch_size: int | None = None,
        show_progress: bool = False,
        instruction: str | None = None,
    ) -> np.ndarray:
        """Return ``(n, d) float32`` embeddings, as sentence-transformers computes them."""
        import torch

        check_role(role)
        texts = check_texts(texts)
        if not texts:  # the tokenizer fails on an empty batch
            return np.zeros((0, self.dim), dtype=np.float32)
        formatted, lengths, self.last_truncated = prompt_texts(
            texts,
            prompt=self.prompt,
            tokenizer=self.tokenizer,
            max_length=self.max_length,
            role=role,
            instruction=instruction,
        )
        report_truncation(self.name, len(self.last_truncated), len(formatted), self.max_length)
        size = batch_size or self.batch_size
        order = np.argsort([-n for n in lengths], kind="stable")  # similar lengths together, as the library does
        out = np.empty((len(formatted), self.dim), dtype=np.float32)
        batches = [order[i : i + size] for i in range(0, len(order), size)]
        with torch.inference_mode():
            sizes = [len(b) for b in batches]
            description = f"encoding ({self.name})"
            for batch in track(
                batches, total=len(batches), description=description, enabled=show_progress, unit="texts", sizes=sizes
            ):
                out[batch] = self._forward([formatted[i] for i in batch])
        return out

    def _forward(self, texts: list[str]) -> np.ndarray:
        import torch

        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        hidden = self.transformer(**enc).last_hidden_state  # (b, t, d)
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (b, t, 1)
            pooled = (hidden * mask).sum(1) / torch.clamp(mask.sum(1), min=1e-9)
        if self.normalize:
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.float().numpy()


def load_plain(
    folder: str, *, prompt: PromptSpec | None, name: str, batch_size: int
) -> PlainSentenceTransformer | None:
    """The model in ``folder`` run without sentence-transformers, or ``None`` when its modules need that library."""
    modules = plain_modules(folder)
    if modules is None:
        return None
    import torch
    from transformers import AutoModel, AutoTokenizer

    pooling, normalize, max_length = modules
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, dtype=torch.float32).eval()
    return PlainSentenceTransformer(
        model,
        tokenizer,
        pooling=pooling,
        normalize=normalize,
        max_length=max_length,
        prompt=prompt,
        name=name,
        batch_size=batch_size,
    )
