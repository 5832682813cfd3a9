"""A tiny, hand-checkable lens: a word-level tokenizer, bag-of-words embeddings and an identity head.

With the identity head a text's logits are its word counts, so its aligned tokens are its own
words: every expected number in these tests can be worked out by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keytokens.heads import LinearHead
from keytokens.lens import Lens, Vocabulary

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
WORDS = ["apple", "banana", "cherry", "date", "fruit", "red", "yellow", "tree", "pie", "juice"]
VOCAB = {w: i for i, w in enumerate(SPECIAL + WORDS)}  # apple = 4, banana = 5, ...


def tiny_tokenizer():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(vocab=dict(VOCAB), unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )


class BagOfWords:
    """Embeds a text as its word counts over the tiny vocabulary (unknown words ignored)."""

    def __init__(self, tokenizer, *, name: str = "bow") -> None:
        self.tokenizer = tokenizer
        self.name = name
        self.calls = 0

    @property
    def dim(self) -> int:
        return len(VOCAB)

    def encode(self, texts: Sequence[str], *, role="document", batch_size=None, show_progress=False) -> np.ndarray:
        from keytokens.embedders.base import check_texts

        self.calls += 1
        texts = check_texts(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, ids in enumerate(self.tokenizer(texts, add_special_tokens=False)["input_ids"]):
            for t in ids:
                if t >= len(SPECIAL):
                    out[i, t] += 1.0
        return out


def tiny_lens(*, name: str = "tiny") -> Lens:
    tok = tiny_tokenizer()
    head = LinearHead(weight=np.eye(len(VOCAB), dtype=np.float32), name="identity")
    return Lens(BagOfWords(tok, name=name), head, Vocabulary.from_tokenizer(tok), name=name)
