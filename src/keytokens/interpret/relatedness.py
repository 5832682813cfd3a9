"""Relatedness vs similarity: how embeddings and their aligned tokens track human word-pair judgements.

PAPER.md §5: "I like apple" and "I do not like apple" are related (both about liking apples) but not
similar (they say opposite things). Word-pair sets that separate the two make this measurable:
WordSim-353's similarity and relatedness splits (Agirre et al., 2009) and SimLex-999 (Hill et al.,
2015), which scores similarity only and rates related-but-dissimilar pairs low. For each pair we
compare the human score with (a) the cosine of the two words' embeddings and (b) the overlap of their
top-``k`` aligned tokens, by Spearman's rank correlation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keytokens.datasets import DATA_ENV, data_dir
from keytokens.errors import InputError, UnknownNameError
from keytokens.interpret.compare import Comparison, compare
from keytokens.lens import AlignedTokens, Lens, aligned_tokens

#: The negation contrast of PAPER.md §5.
CONTRAST = ("I like apple", "I do not like apple")


@dataclass(frozen=True, slots=True)
class WordSet:
    """A word-pair set in the shared data folder.

    Attributes:
        name: registry key.
        path: file under the data folder (``word1<TAB>word2<TAB>score`` with a header).
        judges: what the human scores rate: ``similarity`` or ``relatedness``.
        description: one line for reports.
    """

    name: str
    path: str
    judges: str
    description: str

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"name": self.name, "path": self.path, "judges": self.judges, "description": self.description}


#: Word-pair sets: the registry used for choices and error messages.
WORD_SETS: Mapping[str, WordSet] = {
    s.name: s
    for s in (
        WordSet("ws353-sim", "wordsim/EN-WS-353-SIM.tsv", "similarity", "WordSim-353, similarity split (203 pairs)"),
        WordSet("ws353-rel", "wordsim/EN-WS-353-REL.tsv", "relatedness", "WordSim-353, relatedness split (252 pairs)"),
        WordSet("simlex999", "wordsim/EN-SIMLEX-999.tsv", "similarity", "SimLex-999, similarity only (999 pairs)"),
    )
}


@dataclass(frozen=True, slots=True)
class WordPair:
    """One scored word pair."""

    word1: str
    word2: str
    score: float

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"word1": self.word1, "word2": self.word2, "score": self.score}


def get_word_set(name: str) -> WordSet:
    """The word-pair set called ``name``.

    Raises:
        UnknownNameError: naming every registered set.
    """
    try:
        return WORD_SETS[name]
    except KeyError:
        raise UnknownNameError(f"unknown word-pair set {name!r}; expected one of {sorted(WORD_SETS)}") from None


def read_word_pairs(path: str | Path) -> list[WordPair]:
    """Read a ``word1<TAB>word2<TAB>score`` file with a header line.

    Raises:
        InputError: missing file, bad encoding, no pairs, or a malformed line (its number named).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"word-pair file {str(path)!r} not found; set {DATA_ENV} to the shared data folder")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not valid UTF-8") from None
    pairs = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or (lineno == 1 and line.startswith("word1\t")):
            continue
        cols = line.split("\t")
        try:
            if len(cols) != 3 or not cols[0].strip() or not cols[1].strip():
                raise ValueError
            pairs.append(WordPair(cols[0].strip(), cols[1].strip(), float(cols[2])))
        except ValueError:
            raise InputError(f"{path}:{lineno}: expected 'word1<TAB>word2<TAB>score'") from None
    if not pairs:
        raise InputError(f"{path} holds no word pairs")
    return pairs


def load_word_set(name: str) -> list[WordPair]:
    """The pairs of a registered set, from :func:`keytokens.datasets.data_dir`."""
    return read_word_pairs(data_dir() / get_word_set(name).path)


def _surface_weights(aligned: AlignedTokens, surface: np.ndarray, row: int) -> dict[int, float]:
    """Surface form → weight for one row: a softmax over the row's ``k`` logits, summed per form."""
    scores = aligned.scores[row].astype(np.float64)
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    out: dict[int, float] = {}
    for token_id, p in zip(aligned.token_ids[row].tolist(), probs.tolist(), strict=True):
        form = int(surface[token_id])
        out[form] = out.get(form, 0.0) + p
    return out


def jaccard(a: Mapping[int, float], b: Mapping[int, float]) -> float:
    """``|A ∩ B| / |A ∪ B|`` of two token sets (the keys)."""
    union = len(a.keys() | b.keys())
    return len(a.keys() & b.keys()) / union if union else 0.0


def weighted_jaccard(a: Mapping[int, float], b: Mapping[int, float]) -> float:
    """``Σ min(a_t, b_t) / Σ max(a_t, b_t)`` over the tokens of either (Ioffe, 2010)."""
    keys = a.keys() | b.keys()
    top = sum(max(a.get(t, 0.0), b.get(t, 0.0)) for t in keys)
    return sum(min(a.get(t, 0.0), b.get(t, 0.0)) for t in keys) / top if top else 0.0


#: Overlap measures of two aligned-token sets, keyed by name.
OVERLAPS: Mapping[str, Callable[[Mapping[int, float], Mapping[int, float]], float]] = {
    "jaccard": jaccard,
    "weighted-jaccard": weighted_jaccard,
}


@dataclass(frozen=True, slots=True)
class Correlation:
    """Spearman's rank correlation of one measure with the human scores.

    Attributes:
        rho: Spearman's ρ, or ``nan`` when a measure is constant over the pairs.
        pvalue: two-sided p-value of ρ = 0.
    """

    rho: float
    pvalue: float

    def to_dict(self) -> dict:
        """JSON-ready form (``None`` for an undefined ρ)."""
        finite = np.isfinite(self.rho)
        return {"rho": float(self.rho) if finite else None, "pvalue": float(self.pvalue) if finite else None}


def spearman(x: Sequence[float], y: Sequence[float]) -> Correlation:
    """Spearman's ρ of ``x`` and ``y`` (``scipy.stats.spearmanr``); ``nan`` for a constant input."""
    from scipy.stats import spearmanr

    x_arr, y_arr = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x_arr) < 3 or np.ptp(x_arr) == 0 or np.ptp(y_arr) == 0:
        return Correlation(float("nan"), float("nan"))
    result = spearmanr(x_arr, y_arr)
    return Correlation(float(result.statistic), float(result.pvalue))


@dataclass(frozen=True, slots=True)
class WordSetScores:
    """One model on one word-pair set.

    Attributes:
        word_set: the set.
        n_pairs: pairs scored.
        correlations: measure (``cosine`` and each overlap) → its correlation with the human scores.
        zero_overlap: share of pairs whose aligned tokens share nothing (ties that cap the overlap's ρ).
    """

    word_set: WordSet
    n_pairs: int
    correlations: Mapping[str, Correlation]
    zero_overlap: float

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            **self.word_set.to_dict(),
            "n_pairs": self.n_pairs,
            "spearman": {m: c.to_dict() for m, c in self.correlations.items()},
            "zero_overlap": self.zero_overlap,
        }


def score_pairs(
    lens: Lens, pairs: Sequence[WordPair], *, k: int = 10, token_filter: str = "content"
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Cosine and aligned-token overlaps of each pair.

    Each distinct word is encoded once (as a document). Tokens are compared by surface form, so
    ``Apple`` and `` apple`` count as one token.

    Returns:
        ``(cosines, overlaps)``: ``(n_pairs,) float64`` and overlap name → ``(n_pairs,) float64``.
    """
    words = list(dict.fromkeys(w for p in pairs for w in (p.word1, p.word2)))
    row = {w: i for i, w in enumerate(words)}
    emb = lens.encode(words)
    norms = np.linalg.norm(emb.astype(np.float64), axis=1)
    unit = emb / np.where(norms > 0, norms, 1.0)[:, None]
    aligned = aligned_tokens(emb, lens.head, lens.vocabulary, k=k, token_filter=token_filter)
    weights = [_surface_weights(aligned, lens.vocabulary.surface, i) for i in range(len(words))]
    a = np.asarray([row[p.word1] for p in pairs])
    b = np.asarray([row[p.word2] for p in pairs])
    cosines = np.einsum("ij,ij->i", unit[a], unit[b]).astype(np.float64)
    overlaps = {
        name: np.asarray([f(weights[i], weights[j]) for i, j in zip(a, b, strict=True)]) for name, f in OVERLAPS.items()
    }
    return cosines, overlaps


def word_set_scores(
    lens: Lens, word_set: str, *, k: int = 10, token_filter: str = "content", pairs: Sequence[WordPair] | None = None
) -> WordSetScores:
    """Spearman's ρ of cosine and of each overlap with the human scores of one set.

    Args:
        lens: the lens.
        word_set: a key of :data:`WORD_SETS`.
        k: aligned tokens per word.
        token_filter: ``all``, ``no-special`` or ``content`` (default: words compared by meaningful tokens).
        pairs: the pairs, when already loaded (default: read from the data folder).
    """
    spec = get_word_set(word_set)
    pairs = list(pairs) if pairs is not None else load_word_set(word_set)
    cosines, overlaps = score_pairs(lens, pairs, k=k, token_filter=token_filter)
    human = [p.score for p in pairs]
    correlations = {"cosine": spearman(cosines, human)} | {m: spearman(v, human) for m, v in overlaps.items()}
    return WordSetScores(spec, len(pairs), correlations, float(np.mean(overlaps["jaccard"] == 0)))


def contrast(
    lens: Lens, texts: tuple[str, str] = CONTRAST, *, k: int = 10, token_filter: str = "no-special"
) -> Comparison:
    """The two texts of a contrast (``I like apple`` / ``I do not like apple``) compared through ``lens``.

    ``no-special`` by default: negation words are stopwords, which the ``content`` filter would hide.
    """
    emb = lens.encode(list(texts))
    return compare(emb, aligned_tokens(emb, lens.head, lens.vocabulary, k=k, token_filter=token_filter, texts=texts))


@dataclass(frozen=True, slots=True)
class ModelRelatedness:
    """One model's word-set scores and contrast.

    Attributes:
        model: the lens's name.
        scores: one entry per word-pair set.
        contrast: the negation contrast.
    """

    model: str
    scores: tuple[WordSetScores, ...]
    contrast: Comparison

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "model": self.model,
            "word_sets": [s.to_dict() for s in self.scores],
            "contrast": self.contrast.to_dict(),
        }


def relatedness(
    lens: Lens,
    word_sets: Sequence[str] = tuple(WORD_SETS),
    *,
    k: int = 10,
    token_filter: str = "content",
    contrast_texts: tuple[str, str] = CONTRAST,
    limit: int | None = None,
) -> ModelRelatedness:
    """Word-set correlations and the negation contrast of one model.

    Args:
        lens: the lens.
        word_sets: keys of :data:`WORD_SETS`.
        k: aligned tokens per word.
        token_filter: ``all``, ``no-special`` or ``content``.
        contrast_texts: the two texts of the negation contrast.
        limit: use the first ``limit`` pairs of each set (a quick look; ρ over fewer pairs is noisier).

    Raises:
        UnknownNameError: a word set is not registered.
        InputError: a word-set file is missing or malformed.
    """
    if limit is not None and limit < 3:
        raise InputError(f"limit must be at least 3 pairs (a rank correlation needs them); got {limit}")
    for name in word_sets:
        get_word_set(name)
    scores = tuple(
        word_set_scores(lens, name, k=k, token_filter=token_filter, pairs=load_word_set(name)[:limit])
        for name in word_sets
    )
    return ModelRelatedness(lens.name, scores, contrast(lens, contrast_texts, k=k))


__all__ = [
    "CONTRAST",
    "OVERLAPS",
    "WORD_SETS",
    "Correlation",
    "ModelRelatedness",
    "WordPair",
    "WordSet",
    "WordSetScores",
    "contrast",
    "get_word_set",
    "jaccard",
    "load_word_set",
    "read_word_pairs",
    "relatedness",
    "score_pairs",
    "spearman",
    "weighted_jaccard",
    "word_set_scores",
]
