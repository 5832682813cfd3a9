"""Which presets can load right now without the hub (packaged weights or the local HF cache)."""

from __future__ import annotations

from pathlib import Path

from keytokens.embedders.gemma import get_checkpoint
from keytokens.embedders.offline import is_installed
from keytokens.embedders.presets import Preset


def in_local_cache(repo_or_path: str) -> bool:
    """Whether a folder exists or the hub cache holds ``config.json`` of ``repo_or_path``."""
    if Path(repo_or_path).expanduser().is_dir():
        return True
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        return False
    try:
        found = try_to_load_from_cache(repo_or_path, "config.json")
    except Exception:  # an id the hub library rejects is simply not cached
        return False
    return isinstance(found, str)


def available_offline(preset: Preset) -> bool:
    """Whether the preset's model, second model and head source can all load offline."""
    if preset.package and is_installed(preset.package):
        return True
    if preset.checkpoint and get_checkpoint(preset.checkpoint).is_ready():
        return True
    needed = [preset.model, *preset.adapters]
    if preset.document_model:
        needed.append(preset.document_model)
    if preset.head.source:
        needed.append(preset.head.source)
    return all(in_local_cache(n) for n in needed)
