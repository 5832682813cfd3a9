"""Training pairs: (anchor, positive) texts from STS-style TSVs, plain pair files or single sentences."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from keytokens.datasets import _lines
from keytokens.errors import InputError


@dataclass(frozen=True, slots=True)
class TextPair:
    """Two texts that should embed close together."""

    anchor: str
    positive: str


def read_pairs(path: str | Path, *, min_score: float = 4.0) -> list[TextPair]:
    """Read training pairs.

    An STS file (header ``score<TAB>sentence1<TAB>sentence2``) keeps pairs with ``score ≥ min_score``;
    any other file holds ``anchor<TAB>positive`` a line.

    Raises:
        InputError: an empty or unpaired line (its number named), a bad score, or no pairs at all.
    """
    pairs: list[TextPair] = []
    sts = False
    for lineno, line in _lines(path):
        if lineno == 1 and line.startswith("score\t"):
            sts = True
            continue
        cols = line.split("\t")
        if sts:
            pair = _sts_pair(path, lineno, cols, min_score)
        else:
            if len(cols) != 2:
                raise InputError(f"{path}:{lineno}: expected 'anchor<TAB>positive', got {len(cols)} column(s)")
            pair = TextPair(cols[0], cols[1])
        if pair is None:
            continue
        if not pair.anchor.strip() or not pair.positive.strip():
            raise InputError(f"{path}:{lineno}: empty text in a pair")
        pairs.append(pair)
    if not pairs:
        raise InputError(f"{path} holds no training pairs" + (f" with score >= {min_score}" if sts else ""))
    return pairs


def _sts_pair(path, lineno: int, cols: list[str], min_score: float) -> TextPair | None:
    if len(cols) != 3:
        raise InputError(f"{path}:{lineno}: expected 'score<TAB>sentence1<TAB>sentence2'")
    try:
        score = float(cols[0])
    except ValueError:
        raise InputError(f"{path}:{lineno}: score {cols[0]!r} is not a number") from None
    return TextPair(cols[1], cols[2]) if score >= min_score else None


def unsupervised_pairs(texts: list[str]) -> list[TextPair]:
    """Each sentence paired with itself: two dropout views make the positive (SimCSE)."""
    pairs = [TextPair(t, t) for t in texts if t.strip()]
    if not pairs:
        raise InputError("no non-empty sentences for unsupervised training")
    return pairs
