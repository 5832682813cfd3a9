"""Tokenize prompted texts: truncate the text (never the prompt) and mark the tokens to pool."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from keytokens.embedders.prompts import FormattedText, PromptSpec
from keytokens.errors import InputError

logger = logging.getLogger(__name__)

#: Characters of a text kept per token the model reads, before the text is tokenised. Tokenising is
#: linear in the text (a 50 MB document took minutes and 7 GB) although the model reads only its first
#: ``max_length`` tokens, so the text is cut first to ``max_length × CHARS_PER_TOKEN`` characters.
#: English text averages 4–5 characters per token with WordPiece and byte-level BPE vocabularies;
#: 16 leaves room for 3–4 times that (long words, URLs, numbers), so the cut changes what the model
#: reads only for texts whose first ``max_length`` tokens average over 16 characters each (runs of
#: unknown words, long runs of whitespace).
CHARS_PER_TOKEN = 16


@dataclass(frozen=True, slots=True)
class TokenizedText:
    """One prompted text as token ids.

    Attributes:
        input_ids: ``(L,) int64`` token ids, special tokens included.
        pool_mask: ``(L,) int64``, 1 on the positions the pooling may use.
        truncated: whether the text was shortened to fit the model's max length.
    """

    input_ids: np.ndarray
    pool_mask: np.ndarray
    truncated: bool


def cut_text(text: str, max_length: int) -> str:
    """The head of ``text`` a model reading ``max_length`` tokens can use (see :data:`CHARS_PER_TOKEN`).

    Raises:
        ValueError: ``max_length`` is not positive.
    """
    if max_length < 1:
        raise ValueError(f"max_length must be positive; got {max_length}")
    limit = max_length * CHARS_PER_TOKEN
    return text if len(text) <= limit else text[:limit]


def prompt_texts(
    texts: Sequence[str], *, prompt: PromptSpec, tokenizer, max_length: int, role: str, instruction: str | None
) -> tuple[list[str], list[int], tuple[int, ...]]:
    """Texts cut to a bound of ``max_length`` and put in the prompt, as a sentence-transformers model reads them.

    Returns:
        ``(formatted, lengths, truncated)``: the prompted texts, their token counts (special tokens included)
        and the positions of the texts the model will not read whole.
    """
    cut = [cut_text(t, max_length) for t in texts]  # tokenising a huge text whole costs minutes and GBs
    formatted = [prompt.format(t, role, instruction).full for t in cut]
    lengths = [len(ids) for ids in tokenizer(formatted, add_special_tokens=True, verbose=False)["input_ids"]]
    truncated = tuple(i for i, n in enumerate(lengths) if n > max_length or len(cut[i]) < len(texts[i]))
    return formatted, lengths, truncated


def tokenize(
    tokenizer,
    item: FormattedText,
    *,
    prompt: PromptSpec,
    pooling: str,
    max_length: int,
) -> TokenizedText:
    """Tokenize ``item``; if too long, cut the text at a token boundary until it fits.

    Raises:
        InputError: the prompt alone leaves no room for the text, or ``mask`` pooling finds no
            mask token after the text.
    """
    cut = cut_text(item.text, max_length)
    truncated = len(cut) < len(item.text)
    item = FormattedText(item.prefix, cut, item.suffix)
    for _ in range(8):
        ids, offsets = _encode(tokenizer, item.full, prompt.append_eos)
        excess = len(ids) - max_length
        if excess <= 0:
            break
        truncated = True
        text_tokens = _text_token_indices(offsets, item)
        if len(text_tokens) <= excess:
            raise InputError(
                f"the prompt alone takes {len(ids) - len(text_tokens)} of the model's "
                f"{max_length} tokens; no room is left for the text"
            )
        cut = offsets[text_tokens[len(text_tokens) - excess]][0] - len(item.prefix)
        item = FormattedText(item.prefix, item.text[:cut], item.suffix)
    else:  # offsets that never settle: drop the excess text tokens by position
        ids, offsets = _encode(tokenizer, item.full, prompt.append_eos)
        drop = set(_text_token_indices(offsets, item)[-max(len(ids) - max_length, 0) or len(ids) :])
        ids = [t for i, t in enumerate(ids) if i not in drop]
        offsets = [o for i, o in enumerate(offsets) if i not in drop]
    return TokenizedText(
        input_ids=np.asarray(ids, dtype=np.int64),
        pool_mask=_pool_mask(tokenizer, ids, offsets, item, prompt, pooling),
        truncated=truncated,
    )


def _encode(tokenizer, text: str, append_eos: bool) -> tuple[list[int], list[tuple[int, int]]]:
    enc = tokenizer(text, add_special_tokens=True, return_offsets_mapping=True, truncation=False, verbose=False)
    ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
    if append_eos:
        if tokenizer.eos_token_id is None:
            raise InputError("this prompt appends EOS, but the tokenizer has no EOS token")
        if not ids or ids[-1] != tokenizer.eos_token_id:
            ids.append(tokenizer.eos_token_id)
            offsets.append((0, 0))
    return ids, offsets


def _text_token_indices(offsets: Sequence[tuple[int, int]], item: FormattedText) -> list[int]:
    start, end = len(item.prefix), len(item.prefix) + len(item.text)
    return [i for i, (s, e) in enumerate(offsets) if e > s and s >= start and s < end]


def _pool_mask(tokenizer, ids, offsets, item, prompt, pooling) -> np.ndarray:
    mask = np.ones(len(ids), dtype=np.int64)
    if pooling == "mask":
        after = len(item.prefix) + len(item.text)
        mask_id = tokenizer.mask_token_id
        hits = [i for i, (t, (s, _)) in enumerate(zip(ids, offsets, strict=True)) if t == mask_id and s >= after]
        if not hits:
            raise InputError("'mask' pooling needs a mask token in the template after {text}")
        mask[:] = 0
        mask[hits[0]] = 1
    elif prompt.pool_text_only:
        text_tokens = _text_token_indices(offsets, item)
        if text_tokens:
            mask[: text_tokens[0]] = 0
    return mask


def pad_batch(items: Sequence[TokenizedText], *, pad_id: int, side: str) -> tuple[np.ndarray, ...]:
    """Pad to ``(b, L)`` arrays ``input_ids, attention_mask, pool_mask`` on ``side``."""
    length = max(len(t.input_ids) for t in items)
    ids = np.full((len(items), length), pad_id, dtype=np.int64)
    attention = np.zeros((len(items), length), dtype=np.int64)
    pool = np.zeros((len(items), length), dtype=np.int64)
    for row, t in enumerate(items):
        n = len(t.input_ids)
        span = slice(length - n, length) if side == "left" else slice(0, n)
        ids[row, span], attention[row, span], pool[row, span] = t.input_ids, 1, t.pool_mask
    return ids, attention, pool
