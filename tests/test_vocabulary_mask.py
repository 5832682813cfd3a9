"""Unused placeholders and control tokens never count as aligned tokens (Gemma's 262k vocabulary holds 6,242)."""

import numpy as np
import pytest

from keytokens.errors import ShapeError
from keytokens.heads import LinearHead
from keytokens.lens import Vocabulary, aligned_tokens
from keytokens.metrics import alignment_scores
from tests.fakes import WordTokenizer

# ids: 0 [CLS] (special) · 1 <unused0> · 2 <start_of_turn> (an added token flagged special) · 3 apple ·
# 4 banana · 5 [unused7] (BERT's spelling) · 6 fruit · 7 <start_of_image> (added, not flagged: a control
# token all the same) · 8 <strong> (markup: not content)
WORDS = [
    "[CLS]",
    "<unused0>",
    "<start_of_turn>",
    "apple",
    "banana",
    "[unused7]",
    "fruit",
    "<start_of_image>",
    "<strong>",
]


class AddedToken:
    def __init__(self, content: str, special: bool):
        self.content, self.special = content, special


class GemmaLikeTokenizer(WordTokenizer):
    """Flags ``<start_of_turn>`` special through ``added_tokens_decoder`` (not ``all_special_ids``), as Gemma's."""

    @property
    def added_tokens_decoder(self):
        return {
            1: AddedToken("<unused0>", False),
            2: AddedToken("<start_of_turn>", True),
            7: AddedToken("<start_of_image>", False),
        }


def _vocab(size=None):
    return Vocabulary.from_tokenizer(GemmaLikeTokenizer(WORDS), size=size)


def test_unused_placeholders_and_rows_beyond_the_tokenizer_are_marked_unused_and_special():
    vocab = _vocab(size=11)  # two head rows beyond the tokenizer
    assert vocab.unused.tolist() == [False, True, False, False, False, True, False, False, False, True, True]
    assert vocab.special.tolist() == [True, True, True, False, False, True, False, True, False, True, True]
    assert vocab.content.tolist() == [False, False, False, True, True, False, True, False, False, False, False]


def test_all_filter_never_returns_unused_tokens_but_keeps_special_ones():
    vocab = _vocab()
    head = LinearHead(weight=np.eye(9, dtype=np.float32))
    emb = np.array([[1, 9, 8, 3, 2, 7, 4, 0, 0]], np.float32)  # <unused0> and [unused7] score highest
    assert aligned_tokens(emb, head, vocab, k=3, token_filter="all").token_ids.tolist() == [[2, 6, 3]]
    assert aligned_tokens(emb, head, vocab, k=3, token_filter="no-special").token_ids.tolist() == [[6, 3, 4]]


def test_alignment_scores_skip_unused_tokens_in_every_definition():
    vocab = _vocab()
    head = LinearHead(weight=np.eye(9, dtype=np.float32))
    emb = np.array([[0, 9, 0, 5, 4, 8, 0, 0, 0]], np.float32)  # ranks <unused0> [unused7] apple banana …
    by_name = {s.definition: s for s in alignment_scores(emb, ["apple banana"], head, vocab, k=2)}
    # without the mask the two placeholders would fill the top 2 and Hit@2 would be 0
    assert all(s.hit == 1.0 for s in by_name.values())


def test_a_tokenizer_longer_than_the_head_is_cut_when_the_extra_tokens_are_special():
    tok = GemmaLikeTokenizer(WORDS)
    tok.all_special_ids = [0, 6, 8]  # like EmbeddingGemma's <image_soft_token> after the head's last row
    vocab = Vocabulary.from_tokenizer(tok, size=6)  # cuts fruit (6), <start_of_image> (7), <strong> (8)
    assert vocab.size == 6
    assert [ids.tolist() for ids in vocab.token_ids(["apple fruit"])] == [[3]]  # id 6 has no head row
    with pytest.raises(ShapeError, match="head has 5 rows"):
        Vocabulary.from_tokenizer(tok, size=5)  # id 5 is not special
