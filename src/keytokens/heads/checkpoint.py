"""Load a vocabulary head alone from a checkpoint's weight files.

A 7B embedder's analysis needs its backbone's head, a ``|V| × d`` matrix of about 500 MB; loading
the whole second model for it would cost 14 GB. This module reads only the head's tensors from a
local folder or a hub repository (downloading only the shard that holds them).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keytokens.errors import InputError, ModelNotAvailableError, UnknownNameError
from keytokens.heads.base import LinearHead, Transform

logger = logging.getLogger(__name__)

SAFETENSORS_INDEX = "model.safetensors.index.json"
SAFETENSORS_FILE = "model.safetensors"
TORCH_INDEX = "pytorch_model.bin.index.json"
TORCH_FILE = "pytorch_model.bin"


@dataclass(frozen=True, slots=True)
class HeadLayout:
    """Where a kind of head keeps its tensors; each field lists candidate names, first wins.

    Attributes:
        decoder: names of the ``(|V|, d)`` decoder matrix (a tied input embedding last).
        bias: names of the ``(|V|,)`` decoder bias (optional).
        dense: prefixes of the MLM transform's dense layer (``.weight``/``.bias``), or empty.
        norm: prefixes of the transform's LayerNorm (``.weight``/``.bias`` or ``.gamma``/``.beta``).
    """

    decoder: tuple[str, ...]
    bias: tuple[str, ...] = ()
    dense: tuple[str, ...] = ()
    norm: tuple[str, ...] = ()


_EMBEDDINGS = (
    "model.embed_tokens.weight",  # Llama, Mistral, Qwen2/3
    "model.decoder.embed_tokens.weight",  # OPT (ForCausalLM)
    "decoder.embed_tokens.weight",  # OPT (bare)
    "transformer.wte.weight",  # GPT-2, GPT-Neo
    "wte.weight",
    "embed_tokens.weight",
    "bert.embeddings.word_embeddings.weight",
    "embeddings.word_embeddings.weight",
    "mpnet.embeddings.word_embeddings.weight",
)

#: One registry for head kinds; error messages list exactly these names.
HEAD_LAYOUTS: Mapping[str, HeadLayout] = {
    "lm": HeadLayout(decoder=("lm_head.weight", *_EMBEDDINGS), bias=("lm_head.bias",)),
    "embeddings": HeadLayout(decoder=_EMBEDDINGS),
    "mlm-bert": HeadLayout(
        decoder=("cls.predictions.decoder.weight", *_EMBEDDINGS),
        bias=("cls.predictions.bias", "cls.predictions.decoder.bias"),
        dense=("cls.predictions.transform.dense",),
        norm=("cls.predictions.transform.LayerNorm",),
    ),
    "mlm-mpnet": HeadLayout(
        decoder=("lm_head.decoder.weight", *_EMBEDDINGS),
        bias=("lm_head.bias", "lm_head.decoder.bias"),
        dense=("lm_head.dense",),
        norm=("lm_head.layer_norm",),
    ),
}


def head_layout(kind: str) -> HeadLayout:
    """Return the registered layout for ``kind``.

    Raises:
        UnknownNameError: naming the registered kinds.
    """
    try:
        return HEAD_LAYOUTS[kind]
    except KeyError:
        raise UnknownNameError(f"unknown head kind {kind!r}; expected one of {sorted(HEAD_LAYOUTS)}") from None


class _TensorSource:
    """Reads named tensors lazily from a folder's safetensors or torch files."""

    def __init__(self, source: str, *, revision: str | None = None) -> None:
        self.source = source
        self.revision = revision
        self._uncached: list[str] = []  # files the hub could not confirm offline
        self._weight_map, self._single = self._index()

    def _fetch(self, filename: str) -> Path | None:
        local = Path(self.source).expanduser()
        if local.is_dir():
            path = local / filename
            return path if path.exists() else None
        if self.source.startswith((".", "/", "~")):
            raise ModelNotAvailableError(f"checkpoint folder {self.source!r} does not exist")
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

        try:
            return Path(hf_hub_download(self.source, filename, revision=self.revision))
        except LocalEntryNotFoundError:  # offline and not cached; an EntryNotFoundError in hub >= 1.0
            self._uncached.append(filename)
            return None
        except EntryNotFoundError:
            return None
        except Exception as exc:  # RepositoryNotFoundError, HTTP errors, bad ids
            raise ModelNotAvailableError(f"cannot read {filename} from {self.source!r}: {exc}") from exc

    def _index(self) -> tuple[dict[str, str], str | None]:
        for index_name in (SAFETENSORS_INDEX, TORCH_INDEX):
            path = self._fetch(index_name)
            if path is not None:
                return json.loads(path.read_text())["weight_map"], None
        for single in (SAFETENSORS_FILE, TORCH_FILE):
            if self._fetch(single) is not None:
                return {}, single
        if self._uncached:
            raise self._not_cached()
        raise ModelNotAvailableError(
            f"no weight files ({SAFETENSORS_FILE}, {TORCH_FILE} or their indexes) in {self.source!r}"
        )

    def _not_cached(self) -> ModelNotAvailableError:
        return ModelNotAvailableError(
            f"checkpoint {self.source!r} is not in the local cache and the hub cannot be reached; "
            "download it where the hub is reachable, or pass a local folder path"
        )

    def _file_for(self, name: str) -> str | None:
        if self._single is not None:
            return self._single
        return self._weight_map.get(name)

    def names(self) -> set[str]:
        """All tensor names (reads the single file's header when there is no index)."""
        if self._single is None:
            return set(self._weight_map)
        path = self._fetch(self._single)
        if self._single.endswith(".safetensors"):
            from safetensors import safe_open

            with safe_open(str(path), framework="np") as f:
                return set(f.keys())
        return set(_torch_load(path))

    def get(self, name: str) -> np.ndarray:
        """Return tensor ``name`` as float32 numpy."""
        filename = self._file_for(name)
        if filename is None:
            raise KeyError(name)
        path = self._fetch(filename)
        if path is None:  # listed in the index, but the shard is missing or not cached
            if filename in self._uncached:
                raise self._not_cached()
            raise ModelNotAvailableError(f"weight file {filename!r} (for {name!r}) is missing from {self.source!r}")
        if filename.endswith(".safetensors"):
            return _read_safetensor(path, name)
        return _torch_load(path)[name].float().numpy()


def _read_safetensor(path: Path, name: str) -> np.ndarray:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            return np.asarray(f.get_tensor(name), dtype=np.float32)
    except (TypeError, ValueError):  # bfloat16 has no numpy dtype: read it through torch
        with safe_open(str(path), framework="pt") as f:
            return f.get_tensor(name).float().numpy()


def _torch_load(path: Path) -> dict:
    import torch

    return torch.load(str(path), map_location="cpu", weights_only=True)


def _first(names: Iterable[str], available: set[str]) -> str | None:
    return next((n for n in names if n in available), None)


def load_head(
    source: str,
    *,
    kind: str = "lm",
    revision: str | None = None,
    layer_norm_eps: float | None = None,
) -> LinearHead:
    """Load a vocabulary head alone from a checkpoint folder or hub id.

    Args:
        source: a local folder with ``*.safetensors`` (or ``pytorch_model.bin``) files, or a hub id.
        kind: a key of :data:`HEAD_LAYOUTS` (``lm``, ``embeddings``, ``mlm-bert``, ``mlm-mpnet``).
        revision: hub revision, when ``source`` is a hub id.
        layer_norm_eps: the MLM transform's epsilon; read from ``config.json`` when omitted.

    Returns:
        The head, as numpy arrays.

    Raises:
        ModelNotAvailableError: the checkpoint cannot be found or downloaded.
        InputError: the checkpoint holds none of the tensors this kind of head needs.
    """
    layout = head_layout(kind)
    reader = _TensorSource(source, revision=revision)
    available = reader.names()
    decoder_name = _first(layout.decoder, available)
    if decoder_name is None:
        raise InputError(f"checkpoint {source!r} has no {kind!r} head: none of {list(layout.decoder)} found")
    bias_name = _first(layout.bias, available)
    transform = None
    if layout.dense:
        transform = _load_transform(reader, layout, available, source, layer_norm_eps)
    logger.info("loaded %s head of %s from tensor %s", kind, source, decoder_name)
    return LinearHead(
        weight=reader.get(decoder_name),
        bias=reader.get(bias_name) if bias_name else None,
        transform=transform,
        name=f"{source}:{kind}",
        meta={"source": source, "kind": kind, "revision": revision, "tensor": decoder_name},
    )


def _load_transform(reader, layout, available, source, eps) -> Transform:
    dense = _first((f"{p}.weight" for p in layout.dense), available)
    norm = next((p for p in layout.norm if f"{p}.weight" in available or f"{p}.gamma" in available), None)
    if dense is None or norm is None:
        raise InputError(f"checkpoint {source!r} has no MLM transform (dense + LayerNorm) tensors")
    scale, shift = (".weight", ".bias") if f"{norm}.weight" in available else (".gamma", ".beta")
    if eps is None:
        eps = _config_value(reader, "layer_norm_eps", 1e-12)
    prefix = dense.removesuffix(".weight")
    return Transform(
        weight=reader.get(f"{prefix}.weight"),
        bias=reader.get(f"{prefix}.bias"),
        ln_weight=reader.get(norm + scale),
        ln_bias=reader.get(norm + shift),
        eps=float(eps),
    )


def _config_value(reader: _TensorSource, key: str, default: float) -> float:
    path = reader._fetch("config.json")
    if path is None:
        return default
    return float(json.loads(path.read_text()).get(key, default))
