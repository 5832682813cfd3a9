"""Aligned tokens: the top tokens of ``E_g h`` for a text embedding ``h`` (PAPER.md §1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keytokens.errors import UnknownNameError
from keytokens.heads import DEFAULT_CHUNK_SIZE, VocabHead, topk
from keytokens.lens.vocabulary import Vocabulary
from keytokens.texts import as_texts

#: Which tokens may be returned: every token, all but special tokens, or content tokens only.
TOKEN_FILTERS = ("all", "no-special", "content")


@dataclass(frozen=True)
class AlignedTokens:
    """Top-``k`` aligned tokens of ``n`` texts.

    Attributes:
        token_ids: ``(n, k) int64`` vocabulary ids, best first.
        scores: ``(n, k) float32`` logits ``E_g h (+ b)`` of those ids.
        tokens: ``n`` tuples of ``k`` readable token strings.
        raw_tokens: ``n`` tuples of ``k`` tokenizer strings (``ĠEurope``).
        texts: the texts, when known.
    """

    token_ids: np.ndarray
    scores: np.ndarray
    tokens: tuple[tuple[str, ...], ...]
    raw_tokens: tuple[tuple[str, ...], ...]
    texts: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.token_ids.shape != self.scores.shape or self.token_ids.ndim != 2:
            raise ValueError(f"token_ids {self.token_ids.shape} and scores {self.scores.shape} must be equal (n, k)")
        if len(self.tokens) != self.token_ids.shape[0]:
            raise ValueError(f"{len(self.tokens)} token rows for {self.token_ids.shape[0]} id rows")

    def __len__(self) -> int:
        return int(self.token_ids.shape[0])

    def to_dict(self) -> dict:
        """JSON-ready form, one entry per text."""
        texts = self.texts or (None,) * len(self)
        return {
            "results": [
                {
                    "text": text,
                    "tokens": [
                        {"id": int(i), "token": t, "raw": r, "score": float(s)}
                        for i, t, r, s in zip(
                            self.token_ids[row], self.tokens[row], self.raw_tokens[row], self.scores[row], strict=False
                        )
                    ],
                }
                for row, text in enumerate(texts)
            ]
        }


def check_token_filter(token_filter: str) -> str:
    """Return ``token_filter`` if it is in :data:`TOKEN_FILTERS`.

    Raises:
        UnknownNameError: naming the accepted filters.
    """
    if token_filter not in TOKEN_FILTERS:
        raise UnknownNameError(f"unknown token filter {token_filter!r}; expected one of {list(TOKEN_FILTERS)}")
    return token_filter


def token_mask(vocabulary: Vocabulary, token_filter: str) -> np.ndarray | None:
    """The ``(|V|,) bool`` mask for a filter name in :data:`TOKEN_FILTERS` (``None`` = every token).

    Unused placeholders (``vocabulary.unused``) are masked under every filter, ``all`` included.
    """
    check_token_filter(token_filter)
    if token_filter == "all":
        return ~vocabulary.unused if vocabulary.unused.any() else None
    return vocabulary.content if token_filter == "content" else ~vocabulary.special


def aligned_tokens(
    embeddings: np.ndarray,
    head: VocabHead,
    vocabulary: Vocabulary,
    *,
    k: int = 10,
    token_filter: str = "all",
    texts: tuple[str, ...] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> AlignedTokens:
    """Top-``k`` tokens of ``head.project(embeddings)``, rendered with ``vocabulary``.

    Args:
        embeddings: ``(n, d)`` embeddings.
        head: vocabulary head with ``hidden_size == d``.
        vocabulary: the vocabulary of the head's token ids.
        k: tokens per text.
        token_filter: ``all`` (the paper), ``no-special`` or ``content``.
        texts: the texts, kept in the result for display.
        chunk_size: rows of logits held at once.

    Raises:
        ShapeError: embedding size differs from the head's hidden size.
        ValueError: ``vocabulary.size`` differs from ``head.vocab_size`` or ``k`` is out of range.
    """
    if vocabulary.size != head.vocab_size:
        raise ValueError(f"vocabulary has {vocabulary.size} tokens but the head has {head.vocab_size} rows")
    ids, scores = topk(head, embeddings, k, chunk_size=chunk_size, mask=token_mask(vocabulary, token_filter))
    return AlignedTokens(
        token_ids=ids,
        scores=scores,
        tokens=tuple(tuple(vocabulary.readable[i] for i in row) for row in ids),
        raw_tokens=tuple(tuple(vocabulary.raw[i] for i in row) for row in ids),
        texts=None if texts is None else tuple(as_texts(texts)),
    )
