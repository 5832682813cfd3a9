"""A hand-checkable vocabulary for target and fitted-head tests: whitespace words, ``[CLS]`` special."""

from __future__ import annotations

import pytest

from tests.fakes import WordTokenizer

#: id 0 is the special ``[CLS]``; ``the`` and ``a`` are stopwords; ``,`` is punctuation.
WORDS = ["[CLS]", "the", "apple", "banana", "pie", "red", "a", ","]


class FingerprintedWordTokenizer(WordTokenizer):
    """The word tokenizer with ``get_vocab`` and a name, so a head can record which vocabulary it indexes."""

    def __init__(self, words: list[str], name: str = "words"):
        super().__init__(words)
        self.name_or_path = name

    def get_vocab(self) -> dict[str, int]:
        return dict(self.ids)


@pytest.fixture
def vocabulary():
    from keytokens.lens import Vocabulary

    return Vocabulary.from_tokenizer(FingerprintedWordTokenizer(WORDS))


def word_id(word: str) -> int:
    return WORDS.index(word)
