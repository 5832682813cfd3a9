"""Evaluation texts: the shared data folder, STS sentence sets and user text files.

The data live outside the repository, in ``KEYTOKENS_DATA`` (default ``../shared/data``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from keytokens.errors import InputError, UnknownNameError

DATA_ENV = "KEYTOKENS_DATA"
DEFAULT_DATA = Path("..") / "shared" / "data"


def data_dir() -> Path:
    """The shared data folder: ``$KEYTOKENS_DATA``, else ``../shared/data``."""
    return Path(os.environ.get(DATA_ENV, DEFAULT_DATA)).expanduser()


@dataclass(frozen=True, slots=True)
class StsPair:
    """One scored sentence pair."""

    score: float
    sentence1: str
    sentence2: str


def read_sts(path: str | Path) -> list[StsPair]:
    """Read a ``score<TAB>sentence1<TAB>sentence2`` file with a header line.

    Raises:
        InputError: missing file, bad encoding, or a malformed line (its number named).
    """
    pairs = []
    for lineno, line in _lines(path):
        if lineno == 1 and line.startswith("score\t"):
            continue
        cols = line.split("\t")
        try:
            pairs.append(StsPair(float(cols[0]), cols[1], cols[2]))
        except (ValueError, IndexError):
            raise InputError(f"{path}:{lineno}: expected 'score<TAB>sentence1<TAB>sentence2'") from None
    return pairs


def _unique_sentences(pairs: list[StsPair], *, min_score: float | None = None) -> list[str]:
    seen: dict[str, None] = {}
    for p in pairs:
        if min_score is None or p.score > min_score:
            seen.setdefault(p.sentence1, None)
            seen.setdefault(p.sentence2, None)
    return list(seen)


def _sts(rel: str, min_score: float | None = None) -> Callable[[], list[str]]:
    def load() -> list[str]:
        path = data_dir() / rel
        if not path.exists():
            raise InputError(f"dataset file {str(path)!r} not found; set {DATA_ENV} to the shared data folder")
        return _unique_sentences(read_sts(path), min_score=min_score)

    return load


#: Named sentence sets: each loader returns unique sentences in first-seen order.
SENTENCE_SETS: Mapping[str, Callable[[], list[str]]] = {
    "sts-b": _sts("sts/stsb/test.tsv"),
    "sts-b-dev": _sts("sts/stsb/dev.tsv"),
    "sts12-smtnews": _sts("sts/sts12/subsets/surprise.SMTnews.tsv", min_score=4.0),
    "sts12": _sts("sts/sts12/test.tsv"),
    "sickr": _sts("sts/sickr/test.tsv"),
}


def load_texts(name_or_path: str, *, limit: int | None = None) -> list[str]:
    """Sentences of a named set (:data:`SENTENCE_SETS`) or of a file.

    Files: ``.txt`` (a text a line), ``.jsonl`` (a ``text`` field, with ``title`` prepended when
    present), ``.tsv`` (STS format: both sentences of every pair).

    Raises:
        UnknownNameError: neither a named set nor an existing file.
        InputError: a malformed file, naming the line.
    """
    if name_or_path in SENTENCE_SETS:
        texts = SENTENCE_SETS[name_or_path]()
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise UnknownNameError(
                f"{name_or_path!r} is neither a file nor a named set; expected a path or one of {sorted(SENTENCE_SETS)}"
            )
        texts = _read_file(path)
    if not texts:
        raise InputError(f"{name_or_path!r} holds no texts")
    return texts[:limit] if limit else texts


def _read_file(path: Path) -> list[str]:
    if path.suffix == ".tsv":
        return _unique_sentences(read_sts(path))
    if path.suffix == ".jsonl":
        return [_jsonl_text(path, lineno, line) for lineno, line in _lines(path) if line.strip()]
    return [line for _, line in _lines(path) if line.strip()]


def _jsonl_text(path: Path, lineno: int, line: str) -> str:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise InputError(f"{path}:{lineno}: expected an object with a string 'text' field")
    title = obj.get("title")
    return f"{title}. {obj['text']}" if isinstance(title, str) and title.strip() else obj["text"]


def _lines(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise InputError(f"file {str(path)!r} does not exist")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                yield lineno, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise InputError(f"{path}:{lineno}: not valid UTF-8") from None


__all__ = ["DATA_ENV", "SENTENCE_SETS", "StsPair", "data_dir", "load_texts", "read_sts"]
