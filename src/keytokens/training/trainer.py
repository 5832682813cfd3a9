"""Contrastive fine-tuning of a causal LM into an embedder (torch).

Symmetric InfoNCE with in-batch negatives (SimCSE, Gao et al. 2021), LoRA (peft) or full fine-tuning.
The input embeddings and the LM head stay frozen, so the backbone's head still reads the new
embeddings (PAPER.md §1). Optionally adds the Text2Token loss (PAPER.md §6): KL between the text's
content-token distribution and ``softmax(E_g h)``. Checkpoints every few steps; a re-run resumes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pickle
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from keytokens._version import __version__
from keytokens.embedders.loading import _from_pretrained, model_source, preset_for
from keytokens.embedders.pooling import get_pooling
from keytokens.embedders.prompts import PromptSpec
from keytokens.embedders.tokenize import pad_batch, tokenize
from keytokens.errors import InputError, require
from keytokens.progress import track
from keytokens.training.pairs import TextPair

logger = logging.getLogger(__name__)

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Settings of one training run (all recorded in ``train_meta.json``).

    Attributes:
        base: preset or path of the causal LM backbone.
        pooling: pooling of the new embedder.
        method: ``lora`` (small adapter) or ``full`` fine-tuning.
        steps: optimiser steps.
        batch_size: pairs per step (in-batch negatives: ``batch_size − 1`` per anchor).
        lr: AdamW learning rate (constant after a 10 % linear warm-up).
        temperature: InfoNCE temperature.
        max_length: tokens per text.
        lora_r: LoRA rank.
        lora_alpha: LoRA scaling.
        dropout: dropout during training (LoRA dropout and attention dropout); views differ only through it
            in unsupervised training.
        text2token_weight: weight of the Text2Token KL loss (0 = off).
        checkpoint_every: steps between checkpoints.
        seed: seed of data order and initialisation.
    """

    base: str = "smollm2"
    pooling: str = "mean"
    method: Literal["lora", "full"] = "lora"
    steps: int = 120
    batch_size: int = 32
    lr: float = 2e-4
    temperature: float = 0.05
    max_length: int = 48
    lora_r: int = 8
    lora_alpha: int = 16
    dropout: float = 0.0
    text2token_weight: float = 0.0
    checkpoint_every: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in ("lora", "full"):
            raise InputError(f"method must be 'lora' or 'full'; got {self.method!r}")
        get_pooling(self.pooling)  # an unknown pooling fails here, before the backbone loads
        for name in ("steps", "batch_size", "max_length", "checkpoint_every", "lora_r"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be positive; got {getattr(self, name)}")
        if self.batch_size < 2:
            raise InputError("batch_size must be at least 2 (in-batch negatives)")


@dataclass(frozen=True)
class TrainResult:
    """What a run produced.

    Attributes:
        out_dir: folder with ``adapter/`` (LoRA) or ``model/`` (full) and ``train_meta.json``.
        losses: loss per step, from the first step of this run's history (resumed steps included).
        seconds: wall time of this invocation.
        resumed_from: step the run resumed from (0 for a fresh run).
    """

    out_dir: Path
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    resumed_from: int = 0


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE: ``a_i`` should match ``b_i`` against every other ``b_j`` and vice versa."""
    sim = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / temperature  # (b, b)
    labels = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(sim, labels) + F.cross_entropy(sim.T, labels)) / 2


def text2token_loss(logits: torch.Tensor, targets: list[torch.Tensor]) -> torch.Tensor:
    """Mean KL(target ‖ softmax(logits)) with a uniform target over each text's content tokens."""
    logp = F.log_softmax(logits.float(), dim=-1)  # (b, |V|)
    losses = [-logp[i, ids].mean() - np.log(len(ids)) for i, ids in enumerate(targets) if len(ids)]
    return torch.stack(losses).mean() if losses else logits.sum() * 0.0


class _Run:
    """One training run: model, data order, optimiser and checkpoints."""

    def __init__(self, config: TrainConfig, pairs: list[TextPair], out_dir: Path) -> None:
        if len(pairs) < config.batch_size:
            raise InputError(f"{len(pairs)} pairs for a batch of {config.batch_size}; give more pairs")
        torch.manual_seed(config.seed)
        self.config, self.pairs, self.out_dir = config, pairs, out_dir
        preset = preset_for(config.base)
        if preset.kind != "causal":
            raise InputError(f"training needs a causal LM backbone; {config.base!r} is {preset.kind}")
        self.preset = preset
        self.model, self.tokenizer = _from_pretrained(preset, model_source(preset))
        self.model.get_input_embeddings().weight.requires_grad_(False)
        self.model.get_output_embeddings().weight.requires_grad_(False)
        self.head_weight = self.model.get_output_embeddings().weight.detach()
        if config.method == "lora":
            peft = require("peft", "models")
            lora = peft.LoraConfig(
                r=config.lora_r,
                lora_alpha=config.lora_alpha,
                lora_dropout=config.dropout,
                target_modules=list(LORA_TARGETS),
                bias="none",
            )
            self.model = peft.get_peft_model(self.model, lora)
        self._set_attention_dropout(config.dropout)
        self.base = self.model.get_base_model().base_model if config.method == "lora" else self.model.base_model
        self.pool = get_pooling(config.pooling)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
        warmup = max(1, config.steps // 10)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: min(1.0, (s + 1) / warmup))
        self.content = None
        if config.text2token_weight > 0:
            from keytokens.lens.vocabulary import Vocabulary

            self.content = Vocabulary.from_tokenizer(self.tokenizer, size=self.head_weight.shape[0]).content

    def _set_attention_dropout(self, p: float) -> None:
        for module in self.model.modules():
            if hasattr(module, "attention_dropout") and isinstance(module.attention_dropout, float):
                module.attention_dropout = p

    def batch(self, step: int) -> list[TextPair]:
        """The pairs of ``step``: a seeded permutation per epoch, so a resumed run sees the same data."""
        per_epoch = len(self.pairs) // self.config.batch_size
        epoch, offset = divmod(step, per_epoch)
        order = np.random.default_rng(self.config.seed + epoch).permutation(len(self.pairs))
        start = offset * self.config.batch_size
        return [self.pairs[i] for i in order[start : start + self.config.batch_size]]

    def embed(self, texts: list[str]) -> tuple[torch.Tensor, list[np.ndarray]]:
        prompt = PromptSpec()
        items = [
            tokenize(
                self.tokenizer,
                prompt.format(t, "document"),
                prompt=prompt,
                pooling=self.config.pooling,
                max_length=self.config.max_length,
            )
            for t in texts
        ]
        pad = self.tokenizer.pad_token_id or 0
        ids, attention, pool = (torch.from_numpy(a) for a in pad_batch(items, pad_id=pad, side="right"))
        hidden = self.base(input_ids=ids, attention_mask=attention).last_hidden_state
        return self.pool(hidden, pool), [t.input_ids for t in items]

    def step(self, step: int) -> float:
        self.model.train()
        pairs = self.batch(step)
        a, a_ids = self.embed([p.anchor for p in pairs])
        b, _ = self.embed([p.positive for p in pairs])
        loss = info_nce(a, b, self.config.temperature)
        if self.content is not None:
            targets = [torch.from_numpy(np.unique(ids[self.content[ids]])) for ids in a_ids]
            loss = loss + self.config.text2token_weight * text2token_loss(a @ self.head_weight.T, targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], 1.0)
        self.optimizer.step()
        self.scheduler.step()
        return float(loss.detach())

    # --- persistence -------------------------------------------------------------------------------
    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in self.model.named_parameters() if p.requires_grad}

    def save_checkpoint(self, step: int, losses: list[float]) -> None:
        """Write ``checkpoint/`` atomically: trainable weights, optimiser, scheduler, step, losses."""
        tmp = Path(tempfile.mkdtemp(prefix=".checkpoint-", dir=self.out_dir))
        torch.save(
            {
                "weights": self.trainable_state(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "step": step,
                "losses": losses,
                "config": dataclasses.asdict(self.config),
            },
            tmp / "state.pt",
        )
        target = self.out_dir / "checkpoint"
        old = self.out_dir / ".checkpoint-old"
        if target.exists():
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)

    def load_checkpoint(self) -> tuple[int, list[float]]:
        path = self.out_dir / "checkpoint" / "state.pt"
        if not path.exists():
            return 0, []
        try:  # tensors and plain values only: a pickled object in the run folder is refused, never run
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(
                f"{str(path)!r} is not a checkpoint keytokens wrote (it holds more than tensors and plain values, "
                f"or it is damaged: {reason}); delete it to start over"
            ) from None
        if state["config"] != dataclasses.asdict(self.config):
            raise InputError(
                f"{self.out_dir} holds a checkpoint of another configuration; use another --out or delete it"
            )
        params = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in state["weights"].items():
                params[name].copy_(value)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        return int(state["step"]), list(state["losses"])

    def save_final(self, losses: list[float], seconds: float, command: str | None) -> None:
        """Write the adapter (LoRA) or the model (full) and ``train_meta.json``, each atomically."""
        name = "adapter" if self.config.method == "lora" else "model"
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.out_dir))
        self.model.save_pretrained(tmp)
        if self.config.method == "full":
            self.tokenizer.save_pretrained(tmp)
        target = self.out_dir / name
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
        meta = {
            "keytokens_version": __version__,
            "config": dataclasses.asdict(self.config),
            "base_model": self.preset.model,
            "n_pairs": len(self.pairs),
            "losses": losses,
            "seconds": seconds,
            "command": command,
            "output": name,
        }
        fd, tmp_meta = tempfile.mkstemp(dir=self.out_dir, suffix=".json")
        with open(fd, "w") as f:
            json.dump(meta, f, indent=2)
        Path(tmp_meta).replace(self.out_dir / "train_meta.json")


def train(
    config: TrainConfig,
    pairs: list[TextPair],
    out_dir: str | Path,
    *,
    show_progress: bool = False,
    command: str | None = None,
) -> TrainResult:
    """Fine-tune ``config.base`` on ``pairs``; resumes from ``out_dir/checkpoint`` when present.

    Raises:
        InputError: bad settings, too few pairs, or a checkpoint of another configuration.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = _Run(config, pairs, out)
    start, losses = run.load_checkpoint()
    if start:
        logger.info("resuming from step %d", start)
    t0 = time.perf_counter()
    steps = range(start, config.steps)
    for step in track(steps, total=len(steps), description="training", enabled=show_progress, unit="steps"):
        losses.append(run.step(step))
        if (step + 1) % 10 == 0:
            logger.info("step %d/%d loss %.4f (%.1f s)", step + 1, config.steps, losses[-1], time.perf_counter() - t0)
        if (step + 1) % config.checkpoint_every == 0 and step + 1 < config.steps:
            run.save_checkpoint(step + 1, losses)
    seconds = time.perf_counter() - t0
    run.save_final(losses, seconds, command)
    shutil.rmtree(out / "checkpoint", ignore_errors=True)
    return TrainResult(out_dir=out, losses=losses, seconds=seconds, resumed_from=start)
