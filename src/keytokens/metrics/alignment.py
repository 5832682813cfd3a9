"""Alignment metrics Hit@k, LAR and GAR (PAPER.md §2), in several named definitions.

``T_s`` is the set of a text's own token ids; the aligned tokens are the top of ``E_g h``.

- Hit@k = mean over texts of 1[top-k aligned ∩ T_s ≠ ∅].
- LAR (local alignment rate) = mean over texts of |top-m aligned ∩ T_s| / |T_s|.
- GAR (global alignment rate) = |∪ matched tokens| / |∪ T_s|.

The definitions differ in what ``T_s`` holds and in ``m``: see :data:`DEFINITIONS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from keytokens.errors import UnknownNameError
from keytokens.heads import VocabHead, topk
from keytokens.lens.aligned import token_mask
from keytokens.lens.vocabulary import Vocabulary
from keytokens.texts import as_texts


@dataclass(frozen=True, slots=True)
class Definition:
    """One way to compute the metrics.

    Attributes:
        name: registry key.
        description: one plain sentence for reports.
        special_tokens: ``T_s`` includes the special tokens the tokenizer adds (BOS, [CLS] …).
        content_only: special tokens, punctuation and stopwords dropped from both ``T_s`` and the
            aligned ranking.
        surface: tokens compared by surface form (``Europe`` = ``Ġeurope``), not by id.
        capped: LAR and GAR use the top-k aligned tokens instead of the top-|T_s|.
    """

    name: str
    description: str
    special_tokens: bool = False
    content_only: bool = False
    surface: bool = False
    capped: bool = False


DEFINITIONS: Mapping[str, Definition] = {
    d.name: d
    for d in (
        Definition("paper", "the paper's: T_s = the text's tokens; LAR over the top-|T_s| aligned tokens"),
        Definition(
            "authors-code",
            "the authors' code: T_s counts special tokens; LAR over the top-k only",
            special_tokens=True,
            capped=True,
        ),
        Definition(
            "content",
            "content tokens only: special tokens, punctuation and stopwords dropped from both sides; top-|T_s|",
            content_only=True,
        ),
        Definition(
            "content-surface",
            "content tokens compared by lower-cased surface form (Europe = ' europe')",
            content_only=True,
            surface=True,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class AlignmentScores:
    """Hit@k, LAR and GAR of one model on one dataset under one definition.

    Attributes:
        definition: key of :data:`DEFINITIONS`.
        k: the ``k`` of Hit@k (and of LAR/GAR when capped).
        hit: Hit@k in [0, 1].
        lar: local alignment rate in [0, 1].
        gar: global alignment rate in [0, 1].
        n_texts: texts scored.
        n_skipped: texts left out because their ``T_s`` was empty under this definition.
    """

    definition: str
    k: int
    hit: float
    lar: float
    gar: float
    n_texts: int
    n_skipped: int = 0

    def __post_init__(self) -> None:
        for name in ("hit", "lar", "gar"):
            value = getattr(self, name)
            if not (0.0 <= value <= 1.0 or np.isnan(value)):
                raise ValueError(f"{name} must lie in [0, 1]; got {value}")

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "definition": self.definition,
            "k": self.k,
            f"hit@{self.k}": self.hit,
            "lar": self.lar,
            "gar": self.gar,
            "n_texts": self.n_texts,
            "n_skipped": self.n_skipped,
            "description": DEFINITIONS[self.definition].description,
        }


def get_definition(name: str) -> Definition:
    """The definition called ``name``.

    Raises:
        UnknownNameError: naming the registered definitions.
    """
    try:
        return DEFINITIONS[name]
    except KeyError:
        raise UnknownNameError(f"unknown metric definition {name!r}; expected one of {list(DEFINITIONS)}") from None


def score_rankings(
    text_tokens: Sequence[np.ndarray],
    rankings: np.ndarray,
    *,
    k: int,
    capped: bool,
    definition: str = "paper",
    n_skipped: int = 0,
) -> AlignmentScores:
    """Hit@k, LAR and GAR from each text's token set and its aligned ranking.

    Args:
        text_tokens: per text, the ids (or surface ids) of ``T_s``; each non-empty.
        rankings: ``(n, m)`` aligned ids, best first, with ``m ≥ max(k, max |T_s|)`` unless capped.
        k: the Hit@k cut-off.
        capped: LAR/GAR over the top-k instead of the top-|T_s|.
        definition: the name recorded in the result.
        n_skipped: texts the caller left out (recorded in the result).
    """
    hits, local, matched_all, union = [], [], set(), set()
    for own, ranked in zip(text_tokens, rankings, strict=False):
        own_set = set(own.tolist())
        hits.append(bool(own_set.intersection(ranked[:k].tolist())))
        matched = own_set.intersection(ranked[: k if capped else len(own_set)].tolist())
        local.append(len(matched) / len(own_set))
        matched_all |= matched
        union |= own_set
    n = len(hits)
    return AlignmentScores(
        definition,
        k,
        float(np.mean(hits)) if n else float("nan"),
        float(np.mean(local)) if n else float("nan"),
        len(matched_all) / len(union) if union else float("nan"),
        n,
        n_skipped,
    )


def alignment_scores(
    embeddings: np.ndarray,
    texts: str | Sequence[str],
    head: VocabHead,
    vocabulary: Vocabulary,
    *,
    k: int = 10,
    definitions: Sequence[str] = tuple(DEFINITIONS),
) -> list[AlignmentScores]:
    """Score how well ``embeddings`` of ``texts`` align with the texts' own tokens.

    Args:
        embeddings: ``(n, d)`` embeddings of ``texts``.
        texts: the texts (their tokens form ``T_s``).
        head: the vocabulary head.
        vocabulary: the head's vocabulary (tokenizer, special and content masks, surface forms).
        k: the ``k`` of Hit@k.
        definitions: keys of :data:`DEFINITIONS`.

    Returns:
        One :class:`AlignmentScores` per definition, in the order asked.
    """
    texts = as_texts(texts)
    if len(texts) != len(embeddings):
        raise ValueError(f"{len(texts)} texts for {len(embeddings)} embeddings")
    defs = [get_definition(d) for d in definitions]
    plain = vocabulary.token_ids(texts, add_special_tokens=False)
    with_special = (
        vocabulary.token_ids(texts, add_special_tokens=True) if any(d.special_tokens for d in defs) else plain
    )
    longest = max(max((len(set(t.tolist())) for t in with_special), default=1), k)
    all_ranked, _ = topk(head, embeddings, min(longest, head.vocab_size), mask=token_mask(vocabulary, "all"))
    content_ranked = None
    if any(d.content_only for d in defs):
        depth = min(4 * longest, int(vocabulary.content.sum()))  # surface forms collapse near-duplicates
        content_ranked, _ = topk(head, embeddings, depth, mask=vocabulary.content)
    return [_score(d, k, plain, with_special, all_ranked, content_ranked, vocabulary) for d in defs]


def _score(d: Definition, k, plain, with_special, all_ranked, content_ranked, vocabulary) -> AlignmentScores:
    if not d.content_only:
        own = with_special if d.special_tokens else plain
        return score_rankings(own, all_ranked, k=k, capped=d.capped, definition=d.name)
    keep, own, ranked = [], [], []
    for i, ids in enumerate(plain):
        content_ids = ids[vocabulary.content[ids]]
        if len(content_ids) == 0:
            continue
        keep.append(i)
        if d.surface:
            own.append(np.unique(vocabulary.surface[content_ids]))
            ranked.append(_dedupe(vocabulary.surface[content_ranked[i]]))
        else:
            own.append(np.unique(content_ids))
            ranked.append(content_ranked[i])
    width = max((len(r) for r in ranked), default=0)
    padded = np.full((len(ranked), width), -1, dtype=np.int64)
    for row, r in enumerate(ranked):
        padded[row, : len(r)] = r
    return score_rankings(own, padded, k=k, capped=d.capped, definition=d.name, n_skipped=len(plain) - len(keep))


def _dedupe(ids: np.ndarray) -> np.ndarray:
    """Keep the first occurrence of each id, in order."""
    _, first = np.unique(ids, return_index=True)
    return ids[np.sort(first)]
