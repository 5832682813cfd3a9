"""A tokenizer's vocabulary seen as words: legible token strings, special, content and surface forms.

Byte-level BPE marks a leading space with ``Ġ`` and a newline with ``Ċ``; SentencePiece uses ``▁``;
WordPiece marks continuations with ``##``. People want to read ``Europe``, so each token id gets a
*readable* form (decoded, stripped, control characters escaped) beside the tokenizer's raw string.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from keytokens.errors import ShapeError
from keytokens.texts import as_texts

#: Placeholder tokens that no text produces and no training updated (Gemma's ``<unused5029>``,
#: BERT's ``[unused12]``): they never count as aligned tokens, whatever the filter.
UNUSED_PATTERN = re.compile(r"<unused\d+>|\[unused\d+\]|<unused:\d+>")

#: Added tokens spelled as a bracketed name are control tokens even when the tokenizer does not flag
#: them special (Gemma 3's GGUF tokenizer: ``<start_of_image>``, ``[multimodal]``).
CONTROL_PATTERN = re.compile(r"<[A-Za-z_]+>|\[[A-Za-z_]+\]|<\|[^|<>]+\|>")
#: Markup tokens (``<strong>``, ``</td>``) carry no meaning of the text: never content.
_MARKUP = re.compile(r"</?[a-z][a-z0-9]*>")

_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", " ": "␣"}


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS  # NLTK's English list (179 words)

    return frozenset(STOPWORDS_EN_PLUS)


def readable(decoded: str) -> str:
    r"""Legible form of one decoded token: stripped, whitespace-only tokens escaped.

    >>> readable(" Europe"), readable("\\n"), readable(" ")
    ('Europe', '\\\\n', '␣')
    """
    stripped = decoded.strip()
    if stripped:
        return "".join(_ESCAPES.get(c, c) if c in "\n\t\r" else c for c in stripped)
    return "".join(_ESCAPES.get(c, c) for c in decoded) or "∅"


def surface_form(text: str) -> str:
    """Case-, width- and marker-insensitive form (``Europe``, `` europe`` → ``europe``)."""
    return unicodedata.normalize("NFKC", text).strip().lstrip("#").lower()


def _is_content(form: str, stop: frozenset[str]) -> bool:
    """A token can carry meaning: two or more letters or digits, not a stopword (``'s`` and ``e`` are not)."""
    return sum(c.isalnum() for c in form) >= 2 and form not in stop and not _MARKUP.fullmatch(form)


@dataclass(frozen=True)
class Vocabulary:
    """Per-token facts used to render and score aligned tokens.

    Attributes:
        tokenizer: the Hugging Face tokenizer (ids index the head's rows).
        raw: the tokenizer's own token strings, ``|V|`` of them.
        readable: legible strings, ``|V|`` of them.
        special: ``(|V|,) bool``, special and control tokens (the tokenizer's special ids and the
            added tokens it flags special), unused placeholders and head rows beyond the tokenizer.
        content: ``(|V|,) bool``, tokens with two or more letters or digits that are neither
            stopwords nor special.
        surface: ``(|V|,) int64``, an id shared by tokens of the same surface form.
        unused: ``(|V|,) bool``, placeholders (:data:`UNUSED_PATTERN`) and head rows beyond the
            tokenizer; a subset of ``special`` masked under every filter, ``all`` included.
    """

    tokenizer: object
    raw: tuple[str, ...]
    readable: tuple[str, ...]
    special: np.ndarray
    content: np.ndarray
    surface: np.ndarray
    unused: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.unused is None:
            object.__setattr__(self, "unused", np.zeros(len(self.raw), dtype=bool))

    @property
    def size(self) -> int:
        """``|V|`` (the head's rows, which may exceed the tokenizer's count)."""
        return len(self.raw)

    @classmethod
    def from_tokenizer(cls, tokenizer, *, size: int | None = None) -> Vocabulary:
        """Build the vocabulary of ``tokenizer``, padded (or cut) to ``size`` rows (a head's ``|V|``).

        A tokenizer may hold a few more tokens than the head has rows (EmbeddingGemma's tokenizer adds
        ``<image_soft_token>`` after its 262,144 rows); the vocabulary is then cut to the head, which is
        allowed only when every token cut off is special.

        Raises:
            ShapeError: ``size`` is smaller than the tokenizer's vocabulary and a token cut off is not special.
        """
        n_tok = len(tokenizer)
        size = n_tok if size is None else size
        special_ids = _special_ids(tokenizer)
        if size < n_tok:
            cut = [i for i in range(size, n_tok) if i not in special_ids]
            if cut:
                raise ShapeError(f"head has {size} rows but the tokenizer has {n_tok} tokens")
            n_tok = size
        ids = list(range(n_tok))
        raw = list(tokenizer.convert_ids_to_tokens(ids))
        decoded = tokenizer.batch_decode(
            [[i] for i in ids], skip_special_tokens=False, clean_up_tokenization_spaces=False
        )
        legible = [readable(d) for d in decoded] + [f"<unused:{i}>" for i in range(n_tok, size)]
        raw += [f"<unused:{i}>" for i in range(n_tok, size)]
        unused = np.array([bool(UNUSED_PATTERN.fullmatch(r)) for r in raw], dtype=bool)
        unused[n_tok:] = True
        special = unused.copy()
        special[[i for i in special_ids if i < size]] = True
        forms = [surface_form(d) for d in decoded] + [r for r in raw[n_tok:]]
        stop = _stopwords()
        content = np.array([not special[i] and _is_content(forms[i], stop) for i in range(size)])
        _, surface = np.unique(np.asarray(forms, dtype=object).astype(str), return_inverse=True)
        return cls(tokenizer, tuple(raw), tuple(legible), special, content, surface.astype(np.int64), unused)

    def token_ids(self, texts: str | Sequence[str], *, add_special_tokens: bool = False) -> list[np.ndarray]:
        """Each text's own token ids (``T_s`` of PAPER.md §2), as the tokenizer splits it (one string: one text)."""
        enc = self.tokenizer(as_texts(texts), add_special_tokens=add_special_tokens, truncation=False)
        ids = [np.asarray(row, dtype=np.int64) for row in enc["input_ids"]]
        return [row[row < self.size] for row in ids]  # tokens beyond the head (special ones) have no logit

    def render(self, ids: np.ndarray) -> list[str]:
        """Readable strings for an array of ids."""
        return [self.readable[int(i)] for i in np.asarray(ids).ravel()]


def _special_ids(tokenizer) -> set[int]:
    """Special ids, added tokens flagged special, and added control tokens (:data:`CONTROL_PATTERN`)."""
    ids = set(tokenizer.all_special_ids)
    decoder = getattr(tokenizer, "added_tokens_decoder", None) or {}
    for i, token in decoder.items():
        if getattr(token, "special", False) or CONTROL_PATTERN.fullmatch(str(getattr(token, "content", token))):
            ids.add(int(i))
    return ids
