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
from keytokens.embedders.base import Embedder, Role, check_role, check_texts, report_truncation, truncation_reports_off
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


class CorpusEmbeddings:
    """A corpus's ``(n, d) float32`` embeddings, chunk by chunk: read from the cache, or encoded and saved.

    :func:`encode_corpus_embeddings` reads every chunk; ``keytokens encode`` reads a shard's rows with
    :meth:`rows`, so both fill and reuse the same cache. Truncated texts are counted over all chunks
    and reported once (:meth:`report_truncation`), not once per chunk.

    Args:
        embedder: the embedder.
        texts: the corpus texts, in order.
        role: ``document`` (or ``query``), selecting the embedder's prompts.
        cache: ``True`` for the keytokens cache folder, a folder of your own, or ``False`` for none.
        settings: anything else that changes the embeddings (the preset), for the cache key.
        chunk_size: texts per saved chunk.

    Raises:
        EmptyTextError: a text is empty.
        ValueError: ``chunk_size`` is not positive.
    """

    def __init__(
        self,
        embedder: Embedder,
        texts: str | Sequence[str],
        *,
        role: Role = "document",
        cache: bool | str | Path = True,
        settings: Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CORPUS_CHUNK,
    ) -> None:
        self.texts = check_texts(texts)
        self.role = check_role(role)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive; got {chunk_size}")
        self.embedder = embedder
        self.chunk_size = chunk_size
        self.folder = _cache_folder(embedder, self.texts, role, settings or {}, cache)
        self.reused = 0
        self.truncated = 0
        self._pending: dict[int, dict[int, np.ndarray]] = {}  # chunk → {first row: rows encoded for a range}

    @property
    def n_chunks(self) -> int:
        """Number of chunks."""
        return -(-len(self.texts) // self.chunk_size)

    def chunk_sizes(self) -> list[int]:
        """Texts in each chunk."""
        return [min(self.chunk_size, len(self.texts) - i * self.chunk_size) for i in range(self.n_chunks)]

    def chunk(self, i: int) -> np.ndarray:
        """``(rows, d) float32`` embeddings of chunk ``i``, from the cache or encoded (and saved)."""
        lo, hi = self._bounds(i)
        chunk = self._cached(i)
        if chunk is None:
            chunk = self._encode(lo, hi)
            _write_chunk(self._file(i), chunk)
        return chunk

    def rows(self, start: int, stop: int) -> np.ndarray:
        """``(stop - start, d) float32`` embeddings of texts ``start`` to ``stop``.

        A chunk the range covers whole is read or encoded whole; of a chunk it covers in part, the cached
        file is read, or only the range's texts are encoded (one embedder call per range, as a shard
        expects) and kept until the ranges asked cover the chunk, which is then saved.
        """
        pieces = [np.zeros((0, self.embedder.dim), dtype=np.float32)]
        for i in range(start // self.chunk_size, -(-stop // self.chunk_size)):
            c_lo, c_hi = self._bounds(i)
            lo, hi = max(start, c_lo), min(stop, c_hi)
            if (lo, hi) == (c_lo, c_hi):
                pieces.append(self.chunk(i))
            elif (cached := self._cached(i)) is not None:
                pieces.append(cached[lo - c_lo : hi - c_lo])
            else:
                pieces.append(self._encode(lo, hi))
                self._keep(i, lo, pieces[-1])
        return np.concatenate(pieces, axis=0)

    def _bounds(self, i: int) -> tuple[int, int]:
        return i * self.chunk_size, min((i + 1) * self.chunk_size, len(self.texts))

    def _file(self, i: int) -> Path | None:
        return None if self.folder is None else self.folder / f"chunk{self.chunk_size}-{i:06d}.npy"

    def _cached(self, i: int) -> np.ndarray | None:
        lo, hi = self._bounds(i)
        chunk = _read_chunk(self._file(i), hi - lo, self.embedder.dim)
        self.reused += chunk is not None
        return chunk

    def _encode(self, lo: int, hi: int) -> np.ndarray:
        with truncation_reports_off():
            rows = np.asarray(self.embedder.encode(self.texts[lo:hi], role=self.role), dtype=np.float32)
        self.truncated += len(getattr(self.embedder, "last_truncated", ()))
        return rows

    def _keep(self, i: int, lo: int, rows: np.ndarray) -> None:
        """Hold the rows of part of chunk ``i``; save the chunk once its parts cover it."""
        if self.folder is None:
            return
        parts = self._pending.setdefault(i, {})
        parts[lo] = rows
        c_lo, c_hi = self._bounds(i)
        at = c_lo
        for start in sorted(parts):  # the parts must tile the chunk exactly
            if start != at:
                return
            at += len(parts[start])
        if at == c_hi:
            _write_chunk(self._file(i), np.concatenate([parts[k] for k in sorted(parts)], axis=0))
            del self._pending[i]

    def report_truncation(self) -> None:
        """Log once how many texts the chunks encoded by this object were truncated."""
        report_truncation(
            self.embedder.name, self.truncated, len(self.texts), getattr(self.embedder, "max_length", None)
        )
        if self.reused:
            logger.info("reused %d of %d cached chunks from %s", self.reused, self.n_chunks, self.folder)


def encode_corpus_embeddings(
    embedder: Embedder,
    texts: str | Sequence[str],
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
        show_progress: show progress over the documents (a bar on a terminal, periodic lines otherwise).

    Raises:
        EmptyTextError: a text is empty.
        ValueError: ``chunk_size`` is not positive.
    """
    corpus = CorpusEmbeddings(embedder, texts, role=role, cache=cache, settings=settings, chunk_size=chunk_size)
    steps = track(
        range(corpus.n_chunks),
        total=corpus.n_chunks,
        description=f"encoding ({embedder.name})",
        enabled=show_progress,
        unit="documents",
        sizes=corpus.chunk_sizes(),
    )
    chunks = []
    try:
        for i in steps:
            chunks.append(corpus.chunk(i))
    except KeyboardInterrupt:
        if corpus.folder is None:
            raise Interrupted("no embeddings were cached (caching is off: a re-run starts over)") from None
        done = f"{len(chunks)} of {corpus.n_chunks} chunks of embeddings are cached in {corpus.folder}"
        raise Interrupted(done) from None
    corpus.report_truncation()
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


__all__ = ["DEFAULT_CORPUS_CHUNK", "CorpusEmbeddings", "encode_corpus_embeddings", "encoding_key"]
