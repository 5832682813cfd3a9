"""The tokenizer an index was built with: its fingerprint, and a copy saved beside the index.

Token ids only mean something for one vocabulary, so an index records a fingerprint of its
tokenizer's vocabulary and refuses queries tokenized by another. The tokenizer is saved with the
index and read back with the ``tokenizers`` library alone (:class:`SavedTokenizer`): tokenizer-only
search then needs neither the model nor transformers (whose import pulls in torch, seconds).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from keytokens.errors import InputError
from keytokens.heads.targets import tokenizer_fingerprint  # one definition, shared with fitted heads
from keytokens.strings import is_valid_unicode, printable
from keytokens.texts import as_texts

TOKENIZER_DIR = "tokenizer"
_SPECIAL_FILE = "keytokens_special.json"
#: Characters given to the tokenizer in one call. A fast tokenizer keeps ids, offsets, type ids and
#: masks for every token of a call, so a whole 50 MB document would hold gigabytes; own tokens are
#: needed for the whole document, so long texts are tokenised in pieces of at most this many characters.
TOKENIZE_CHARS = 1 << 20


def special_mask(tokenizer, vocab_size: int) -> np.ndarray:
    """``(|V|,) bool``: special tokens, and head rows the tokenizer does not know."""
    mask = np.zeros(vocab_size, dtype=bool)
    mask[[i for i in tokenizer.all_special_ids if 0 <= i < vocab_size]] = True
    mask[len(tokenizer) :] = True
    return mask


def tokenize(tokenizer, texts: Sequence[str], *, max_chars: int = TOKENIZE_CHARS) -> list[np.ndarray]:
    """Each text's own token ids (no special tokens added, no truncation), in memory bounded by ``max_chars``.

    Texts are tokenised in batches of at most ``max_chars`` characters; a longer text is split at a
    whitespace (kept with the next piece, where pre-tokenizers split anyway) and its pieces' ids joined.
    """
    if len(texts) == 1 and len(texts[0]) <= max_chars:  # one query: no batching to plan
        return [np.asarray(_encode(tokenizer, [texts[0]])[0], dtype=np.int64)]
    parts: list[list[np.ndarray]] = [[] for _ in texts]
    batch: list[tuple[int, str]] = []
    size = 0
    for i, text in enumerate(texts):
        for piece in _pieces(text, max_chars):
            if batch and size + len(piece) > max_chars:
                _tokenize_batch(tokenizer, batch, parts)
                batch, size = [], 0
            batch.append((i, piece))
            size += len(piece)
    if batch:
        _tokenize_batch(tokenizer, batch, parts)
    return [p[0] if len(p) == 1 else np.concatenate(p) for p in parts]


def _encode(tokenizer, texts: list[str]) -> list[list[int]]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and backend.truncation is None and backend.padding is None:
        # a Hugging Face fast tokenizer calls this same Rust tokenizer; called directly it costs a third less,
        # and without the character offsets (tokenizers ≥ 0.21's encode_batch_fast) a tenth less again
        encode = getattr(backend, "encode_batch_fast", backend.encode_batch)
        return [e.ids for e in encode(texts, add_special_tokens=False)]
    return tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]


def _tokenize_batch(tokenizer, batch: list[tuple[int, str]], parts: list[list[np.ndarray]]) -> None:
    encoded = _encode(tokenizer, [piece for _, piece in batch])
    for (i, _), ids in zip(batch, encoded, strict=True):
        parts[i].append(np.asarray(ids, dtype=np.int64))


def _pieces(text: str, max_chars: int) -> list[str]:
    """``text`` in pieces of at most ``max_chars`` characters, cut before a whitespace where there is one."""
    pieces, start = [], 0
    while len(text) - start > max_chars:
        end = start + max_chars
        cut = max(text.rfind(c, start + 1, end) for c in " \n\t")
        cut = cut if cut > start + max_chars // 2 else end
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


class SavedTokenizer:
    """A fast tokenizer read from ``tokenizer.json`` with the ``tokenizers`` library.

    It offers the part of the Hugging Face tokenizer interface that query encoding uses.

    Args:
        backend: the ``tokenizers.Tokenizer``.
        special_ids: ids of the special tokens, as the original tokenizer reported them.
        name: where it came from.
    """

    def __init__(self, backend, special_ids: Sequence[int], *, name: str) -> None:
        backend.no_truncation()
        backend.no_padding()
        self.backend = backend
        self.all_special_ids = [int(i) for i in special_ids]
        self.name_or_path = name

    def __len__(self) -> int:
        return int(self.backend.get_vocab_size(with_added_tokens=True))

    @property
    def backend_tokenizer(self):
        """The ``tokenizers.Tokenizer`` (no truncation, no padding), as a Hugging Face fast tokenizer names it."""
        return self.backend

    def __call__(self, texts: Sequence[str], *, add_special_tokens: bool = True, truncation: bool = False) -> dict:
        """``{"input_ids": [...]}`` for a batch of texts (never truncated)."""
        encoded = self.backend.encode_batch(as_texts(texts), add_special_tokens=add_special_tokens)
        return {"input_ids": [e.ids for e in encoded]}

    def get_vocab(self) -> dict[str, int]:
        """Token → id, added tokens included."""
        return self.backend.get_vocab(with_added_tokens=True)

    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = False, **_: object) -> str:
        """The text of ``ids``."""
        return self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens)


def check_tokenizer_path(folder: str | Path) -> None:
    """Refuse a folder whose path is not valid UTF-8: the ``tokenizers`` library can neither write nor read there.

    Raises:
        InputError: naming the path, its bytes shown escaped.
    """
    if not is_valid_unicode(str(folder)):
        raise InputError(
            f"the index folder '{printable(str(folder))}' is not a UTF-8 path; the tokenizer saved with an "
            "index needs one: choose another name"
        )


def save_tokenizer(tokenizer, folder: Path) -> None:
    """Save ``tokenizer`` (a Hugging Face tokenizer) under ``folder/tokenizer``, with its special ids.

    Raises:
        InputError: ``folder`` is not a UTF-8 path.
    """
    check_tokenizer_path(folder)
    target = folder / TOKENIZER_DIR
    tokenizer.save_pretrained(str(target))
    special = {"special_ids": [int(i) for i in tokenizer.all_special_ids], "name": tokenizer.name_or_path}
    (target / _SPECIAL_FILE).write_text(json.dumps(special) + "\n")


def load_tokenizer(folder: str | Path):
    """Load the tokenizer saved beside an index: with ``tokenizers`` when it is a fast one (no torch).

    Raises:
        InputError: the index has no saved tokenizer, or it cannot be read.
    """
    path = Path(folder) / TOKENIZER_DIR
    if not path.is_dir():
        raise InputError(f"{str(folder)!r} has no saved tokenizer; search it through the model it was built with")
    try:
        if (path / "tokenizer.json").is_file() and (path / _SPECIAL_FILE).is_file():
            from tokenizers import Tokenizer

            special = json.loads((path / _SPECIAL_FILE).read_text())
            backend = Tokenizer.from_file(str(path / "tokenizer.json"))
            return SavedTokenizer(backend, special["special_ids"], name=str(special.get("name") or path))
        from transformers import AutoTokenizer  # a slow (Python) tokenizer: needs transformers

        return AutoTokenizer.from_pretrained(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception for a damaged file
        raise InputError(f"the tokenizer saved in {str(folder)!r} cannot be read: {exc}") from None


__all__ = [
    "TOKENIZER_DIR",
    "SavedTokenizer",
    "check_tokenizer_path",
    "load_tokenizer",
    "save_tokenizer",
    "special_mask",
    "tokenize",
    "tokenizer_fingerprint",
]
