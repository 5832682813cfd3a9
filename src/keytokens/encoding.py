"""Encoding a corpus in chunks, each cached on disk, so an interrupted run resumes where it stopped.

A corpus's embeddings are computed once per (model, settings, texts): chunks of ``chunk_size``
texts are encoded and each is saved as soon as it is done under the keytokens cache
(``KEYTOKENS_CACHE``, default ``~/.cache/keytokens``, outside any repository), in a folder named by
a hash of everything that determines the result. Running again reuses the chunks already there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keytokens._version import __version__
from keytokens.embedders.base import Embedder, Role, check_role, check_texts
from keytokens.embedders.offline import cache_dir
from keytokens.errors import Interrupted
from keytokens.progress import track

logger = logging.getLogger(__name__)

#: Texts encoded (and saved) per chunk: an interrupted run loses at most one chunk of work.
DEFAULT_CORPUS_CHUNK = 256


def encoding_key(embedder: Embedder, texts: Sequence[str], *, role: Role, settings: Mapping[str, Any]) -> str:
    """Hash of everything that fixes a corpus's embeddings: model, settings, role, library version, texts."""
    digest = hashlib.sha256()
    header = {
        "embedder": embedder.name,
        "dim": embedder.dim,
        "max_length": getattr(embedder, "max_length", None),
        "role": role,
        "settings": dict(settings),
        "keytokens": __version__,
        "n": len(texts),
    }
    digest.update(json.dumps(header, sort_keys=True, default=str).encode("utf-8"))
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:24]


def encode_corpus_embeddings(
    embedder: Embedder,
    texts: Sequence[str],
    *,
    role: Role = "document",
    cache: bool | str | Path = True,
    settings: Mapping[str, Any] | None = None,
    chunk_size: int = DEFAULT_CORPUS_CHUNK,
    show_progress: bool = False,
) -> np.ndarray:
    """``(n, d) float32`` embeddings of ``texts``, encoded chunk by chunk and cached.

    Args:
        embedder: the embedder.
        texts: the corpus texts, in order.
        role: ``document`` (or ``query``), selecting the embedder's prompts.
        cache: ``True`` for the keytokens cache folder, a folder of your own, or ``False`` for none.
        settings: anything else that changes the embeddings (the preset, a head override), for the cache key.
        chunk_size: texts per saved chunk.
        show_progress: show a progress bar over chunks.

    Raises:
        EmptyTextError: a text is empty.
        ValueError: ``chunk_size`` is not positive.
    """
    texts = check_texts(texts)
    check_role(role)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive; got {chunk_size}")
    folder = _cache_folder(embedder, texts, role, settings or {}, cache)
    starts = range(0, len(texts), chunk_size)
    chunks, reused = [], 0
    try:
        for start in track(starts, total=len(starts), description=f"encoding ({embedder.name})", enabled=show_progress):
            part = texts[start : start + chunk_size]
            file = None if folder is None else folder / f"chunk{chunk_size}-{start // chunk_size:06d}.npy"
            chunk = _read_chunk(file, len(part), embedder.dim)
            if chunk is None:
                chunk = np.asarray(embedder.encode(part, role=role), dtype=np.float32)
                _write_chunk(file, chunk)
            else:
                reused += 1
            chunks.append(chunk)
    except KeyboardInterrupt:
        if folder is None:
            raise Interrupted("no embeddings were cached (caching is off: a re-run starts over)") from None
        raise Interrupted(f"{len(chunks)} of {len(starts)} chunks of embeddings are cached in {folder}") from None
    if reused:
        logger.info("reused %d of %d cached chunks from %s", reused, len(chunks), folder)
    if not chunks:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.concatenate(chunks, axis=0)


def _cache_folder(
    embedder: Embedder, texts: list[str], role: Role, settings: Mapping[str, Any], cache: bool | str | Path
) -> Path | None:
    if cache is False:
        return None
    root = cache_dir() / "encodings" if cache is True else Path(cache)
    folder = root / encoding_key(embedder, texts, role=role, settings=settings)
    folder.mkdir(parents=True, exist_ok=True)
    info = folder / "info.json"
    if not info.exists():
        summary = {"embedder": embedder.name, "role": role, "n_texts": len(texts), "settings": dict(settings)}
        info.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    logger.info("embedding cache: %s", folder)
    return folder


def _read_chunk(file: Path | None, rows: int, dim: int) -> np.ndarray | None:
    if file is None or not file.exists():
        return None
    try:
        chunk = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        logger.warning("cached chunk %s is damaged; encoding it again", file)
        return None
    if chunk.shape != (rows, dim) or chunk.dtype != np.float32:
        logger.warning("cached chunk %s has shape %s; encoding it again", file, chunk.shape)
        return None
    if not np.isfinite(chunk).all():
        logger.warning("cached chunk %s holds NaN or infinite values; encoding it again", file)
        return None
    return chunk


def _write_chunk(file: Path | None, chunk: np.ndarray) -> None:
    if file is None:
        return
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, chunk, allow_pickle=False)
    os.replace(tmp, file)  # a chunk is either whole or absent


__all__ = ["DEFAULT_CORPUS_CHUNK", "encode_corpus_embeddings", "encoding_key"]
