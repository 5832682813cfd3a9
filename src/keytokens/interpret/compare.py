"""Two texts side by side: their cosine similarity and the aligned tokens they share or do not share.

PAPER.md §5: an NLI-trained embedder reads "I do not like apple" with negation tokens, far from
"I like apple", while a retrieval-trained one keeps "apple" for both; the comparison shows both the
dense view (cosine) and the token view (shared and distinct aligned tokens).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keytokens.errors import ShapeError
from keytokens.lens import AlignedTokens


@dataclass(frozen=True, slots=True)
class ScoredToken:
    """One aligned token with its logit.

    Attributes:
        id: vocabulary id.
        token: readable form.
        score: logit ``(E_g h)_id``.
    """

    id: int
    token: str
    score: float

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"id": self.id, "token": self.token, "score": self.score}


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two texts compared as embeddings and as aligned tokens.

    Attributes:
        texts: the two texts.
        cosine: cosine similarity of their embeddings.
        tokens: each text's top-``k`` tokens, best first.
        shared: tokens (by id) in both top-``k`` lists, ordered by the sum of their two scores.
        only_first: tokens of the first text's list that the second lacks, best first.
        only_second: tokens of the second text's list that the first lacks, best first.
    """

    texts: tuple[str, str]
    cosine: float
    tokens: tuple[tuple[ScoredToken, ...], tuple[ScoredToken, ...]]
    shared: tuple[str, ...]
    only_first: tuple[str, ...]
    only_second: tuple[str, ...]

    @property
    def jaccard(self) -> float:
        """``|shared| / |union|`` of the two token lists (by id)."""
        union = len(self.shared) + len(self.only_first) + len(self.only_second)
        return len(self.shared) / union if union else 0.0

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "texts": list(self.texts),
            "cosine": self.cosine,
            "jaccard": self.jaccard,
            "tokens": [[t.to_dict() for t in row] for row in self.tokens],
            "shared": list(self.shared),
            "only_first": list(self.only_first),
            "only_second": list(self.only_second),
        }


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (0 when either is zero)."""
    a64, b64 = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    norm = float(np.linalg.norm(a64) * np.linalg.norm(b64))
    return float(a64 @ b64 / norm) if norm > 0 else 0.0


def compare(embeddings: np.ndarray, aligned: AlignedTokens) -> Comparison:
    """Compare two texts from their ``(2, d)`` embeddings and their aligned tokens.

    Args:
        embeddings: ``(2, d)`` embeddings of the two texts.
        aligned: the aligned tokens of the same two embeddings, with the texts.

    Raises:
        ShapeError: not exactly two embeddings, or aligned tokens of another number of texts.
    """
    if embeddings.ndim != 2 or embeddings.shape[0] != 2 or len(aligned) != 2:
        raise ShapeError(f"compare takes two texts; got embeddings {embeddings.shape} and {len(aligned)} token rows")
    rows = tuple(
        tuple(
            ScoredToken(int(i), t, float(s))
            for i, t, s in zip(aligned.token_ids[r], aligned.tokens[r], aligned.scores[r], strict=True)
        )
        for r in range(2)
    )
    first, second = ({t.id: t for t in row} for row in rows)
    shared = sorted(set(first) & set(second), key=lambda i: (-(first[i].score + second[i].score), i))
    texts = aligned.texts or ("", "")
    return Comparison(
        texts=(texts[0], texts[1]),
        cosine=cosine(embeddings[0], embeddings[1]),
        tokens=rows,  # type: ignore[arg-type]
        shared=tuple(first[i].token for i in shared),
        only_first=tuple(t.token for t in rows[0] if t.id not in second),
        only_second=tuple(t.token for t in rows[1] if t.id not in first),
    )


__all__ = ["Comparison", "ScoredToken", "compare", "cosine"]
