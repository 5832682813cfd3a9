"""Small hand-made stand-ins: a word-level tokenizer over a fixed vocabulary."""

from __future__ import annotations


class WordTokenizer:
    """Whitespace word-level tokenizer; id 0 is a special [CLS] added in front when asked."""

    def __init__(self, words: list[str]):
        self.words = words
        self.ids = {w: i for i, w in enumerate(words)}
        self.all_special_ids = [0]

    def __len__(self) -> int:
        return len(self.words)

    def convert_ids_to_tokens(self, ids):
        return [self.words[i] for i in ids]

    def batch_decode(self, batches, **_):
        return [" ".join(self.words[i] for i in ids) for ids in batches]

    def __call__(self, texts, add_special_tokens=True, **_):
        rows = [[self.ids[w] for w in text.split()] for text in texts]
        return {"input_ids": [([0] if add_special_tokens else []) + r for r in rows]}
