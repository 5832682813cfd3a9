"""A huge document costs what the model reads: texts are cut before tokenising; own tokens in bounded pieces."""

from __future__ import annotations

import numpy as np

from keytokens.embedders.prompts import FormattedText, PromptSpec
from keytokens.embedders.sentence_transformers import SentenceTransformerEmbedder
from keytokens.embedders.tokenize import CHARS_PER_TOKEN, cut_text, tokenize
from keytokens.sparse import tokenizer as own
from tests.retrieval.tinylens import tiny_tokenizer

HUGE = "apple pie " * 500_000  # 5 MB, 1 M tokens


class Spy:
    """A tokenizer that records how many characters each call was given."""

    backend_tokenizer = None  # every call goes through __call__ (no fast path around the spy)

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.chars: list[int] = []

    def __call__(self, texts, **kwargs):
        batch = [texts] if isinstance(texts, str) else list(texts)
        self.chars.append(sum(map(len, batch)))
        return self.tokenizer(texts, **kwargs)

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)


def test_cut_text_keeps_a_bounded_head():
    assert cut_text("short text", 4) == "short text"
    cut = cut_text(HUGE, 256)
    assert len(cut) == 256 * CHARS_PER_TOKEN == 4096 and HUGE.startswith(cut)


def test_the_embedders_tokenizer_never_sees_more_than_the_bound():
    spy = Spy(tiny_tokenizer())
    item = FormattedText("cherry ", HUGE, " tree")
    result = tokenize(spy, item, prompt=PromptSpec(), pooling="mean", max_length=8)
    assert max(spy.chars) <= 8 * CHARS_PER_TOKEN + len("cherry  tree")
    assert result.truncated and len(result.input_ids) <= 8
    assert result.input_ids.tolist()[:2] == tiny_tokenizer()("cherry apple")["input_ids"][:2]  # the prompt is kept


def test_sentence_transformers_texts_are_cut_before_tokenising():
    spy = Spy(tiny_tokenizer())

    class Model:
        tokenizer = spy
        max_seq_length = 8

        def get_embedding_dimension(self):
            return 2

        def encode(self, texts, **kwargs):
            self.seen = [len(t) for t in texts]
            return np.zeros((len(texts), 2), dtype=np.float32)

    model = Model()
    embedder = SentenceTransformerEmbedder(model)
    assert embedder.encode([HUGE, "red apple"]).shape == (2, 2)
    assert max(spy.chars) <= 8 * CHARS_PER_TOKEN + len("red apple") and max(model.seen) <= 8 * CHARS_PER_TOKEN
    assert embedder.last_truncated == (0,)


def test_own_tokens_of_a_whole_huge_document_in_bounded_pieces():
    tok = tiny_tokenizer()
    spy = Spy(tok)
    texts = ["cherry", HUGE, "red tree juice"]
    ids = own.tokenize(spy, texts, max_chars=100_000)
    assert max(spy.chars) <= 100_000 and len(spy.chars) > 1
    assert [len(i) for i in ids] == [1, 1_000_000, 3]  # every token of the whole document, none lost
    assert ids[1][:4].tolist() == [4, 12, 4, 12] and ids[1][-1] == 12  # apple pie apple pie ... pie


def test_pieces_join_to_the_text_and_cut_at_whitespace():
    text = "cherry banana " * 50
    pieces = own._pieces(text, 64)
    assert "".join(pieces) == text and all(len(p) <= 64 for p in pieces)
    assert all(p.startswith(" ") for p in pieces[1:])  # the space goes with the next piece, words stay whole
    unsplit = tiny_tokenizer()([text], add_special_tokens=False)["input_ids"][0]
    assert own.tokenize(tiny_tokenizer(), [text], max_chars=64)[0].tolist() == unsplit
    assert own._pieces("x" * 10, 4) == ["xxxx", "xxxx", "xx"]  # no whitespace: a hard cut
