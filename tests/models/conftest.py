"""Fixtures: tiny models saved to folders once per session and loaded through keytokens' own loaders."""

from __future__ import annotations

import os

# Before anything imports huggingface_hub: never reach for the network, keep the output quiet.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.models import tiny


@pytest.fixture(autouse=True)
def _hub_offline(monkeypatch):
    """Offline even if huggingface_hub was imported before this conftest set the environment."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny matrices gain nothing from threads; on a busy machine OpenMP waits cost 1000x the product."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def bpe_tokenizer():
    return tiny.bpe_tokenizer()


@dataclass
class TinyCausal:
    """A tiny causal LM saved in ``folder``; ``model`` is the in-memory original, the reference."""

    arch: str
    folder: Path
    model: Any
    tokenizer: Any
    _loaded: dict = field(default_factory=dict)

    @property
    def tied(self) -> bool:
        return tiny.TIED[self.arch]

    def load(self, padding_side: str = "right", pooling: str = "last"):
        """``load_model(preset_for(folder, ...))``, cached per padding side and pooling."""
        from keytokens.embedders.loading import load_model, preset_for

        key = (padding_side, pooling)
        if key not in self._loaded:
            preset = preset_for(str(self.folder), pooling=pooling)
            self._loaded[key] = load_model(dataclasses.replace(preset, padding_side=padding_side))
        return self._loaded[key]

    def logits(self, ids) -> Any:
        """The reference model's ``(L, |V|)`` logits for one unpadded sequence of token ids."""
        import torch

        with torch.inference_mode():
            return self.model(input_ids=torch.as_tensor(ids)[None]).logits[0].numpy()

    def hidden(self, ids) -> Any:
        """The reference model's ``(L, d)`` final hidden states (after the final norm)."""
        import torch

        with torch.inference_mode():
            return self.model.base_model(input_ids=torch.as_tensor(ids)[None]).last_hidden_state[0].numpy()


@pytest.fixture(scope="session", params=tiny.CAUSAL_ARCHS)
def causal(request, tmp_path_factory, bpe_tokenizer) -> TinyCausal:
    """Each causal architecture, saved with ``save_pretrained`` (safetensors) and the BPE tokenizer."""
    arch = request.param
    folder = tmp_path_factory.mktemp(arch)
    model = tiny.causal_model(arch)
    model.save_pretrained(folder)
    bpe_tokenizer.save_pretrained(folder)
    return TinyCausal(arch, folder, model, bpe_tokenizer)


@pytest.fixture(scope="session")
def llama(tmp_path_factory, bpe_tokenizer) -> TinyCausal:
    """The Llama model alone, for tests that need one causal model, not each."""
    folder = tmp_path_factory.mktemp("llama-only")
    model = tiny.causal_model("llama")
    model.save_pretrained(folder)
    bpe_tokenizer.save_pretrained(folder)
    return TinyCausal("llama", folder, model, bpe_tokenizer)


@dataclass
class TinyEncoder:
    """A tiny encoder with an MLM head saved in ``folder``; ``model`` is the in-memory original."""

    name: str
    kind: str  # the head layout: mlm-bert or mlm-mpnet
    folder: Path
    model: Any
    tokenizer: Any


def _masked_lm(name: str):
    import torch
    import transformers as tf

    common = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}
    torch.manual_seed(1)
    if name == "bert":
        tokenizer = tiny.word_tokenizer(tiny.BERT_SPECIALS)
        config = tf.BertConfig(vocab_size=len(tokenizer), max_position_embeddings=64, layer_norm_eps=1e-6, **common)
        return tf.BertForMaskedLM(config).eval(), tokenizer
    tokenizer = tiny.word_tokenizer(tiny.MPNET_SPECIALS)
    config = tf.MPNetConfig(
        vocab_size=len(tokenizer), max_position_embeddings=66, pad_token_id=1, layer_norm_eps=1e-6, **common
    )
    return tf.MPNetForMaskedLM(config).eval(), tokenizer


@pytest.fixture(scope="session", params=["bert", "mpnet"])
def mlm(request, tmp_path_factory) -> TinyEncoder:
    """BertForMaskedLM and MPNetForMaskedLM, saved with their word-level tokenizers."""
    name = request.param
    model, tokenizer = _masked_lm(name)
    folder = tmp_path_factory.mktemp(name)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return TinyEncoder(name, f"mlm-{name}", folder, model, tokenizer)


@pytest.fixture(scope="session")
def dpr(tmp_path_factory):
    """A DPR question encoder and context encoder (shared tokenizer), saved to two folders."""
    import torch
    import transformers as tf

    tokenizer = tiny.word_tokenizer(tiny.BERT_SPECIALS)
    config = tf.DPRConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    out = {}
    for seed, cls in enumerate((tf.DPRQuestionEncoder, tf.DPRContextEncoder)):
        torch.manual_seed(seed)
        model = cls(config).eval()
        folder = tmp_path_factory.mktemp(cls.__name__)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        out[cls.__name__] = (folder, model)
    return out, tokenizer
