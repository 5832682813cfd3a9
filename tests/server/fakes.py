"""A tiny lens that takes instructions, and a tiny sparse index: every expected token worked out by hand.

The embedder counts the words of the prompted text over the 10-word vocabulary of
``tests/retrieval/tinylens.py``; the head is the identity, so a text's aligned tokens are its own
words ranked by count, and an instruction's words join them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keytokens.embedders import Preset, PromptSpec
from keytokens.embedders.base import check_role, check_texts
from keytokens.heads import LinearHead
from keytokens.lens import Lens, Vocabulary
from keytokens.server import Explorer, IndexCache, ModelCache
from tests.retrieval.tinylens import SPECIAL, VOCAB, tiny_tokenizer

FRUIT_TEXTS = ("apple apple banana", "cherry cherry cherry date", "red apple tree", "yellow banana pie juice")


class InstructedBagOfWords:
    """Word counts of ``instruction + text`` (unknown words ignored); ``prompt`` as the real embedders."""

    def __init__(self, tokenizer, prompt: PromptSpec, *, name: str) -> None:
        self.tokenizer = tokenizer
        self.prompt = prompt
        self.name = name
        self.calls: list[tuple[tuple[str, ...], str, str | None]] = []

    @property
    def dim(self) -> int:
        return len(VOCAB)

    def encode(self, texts: Sequence[str], *, role="document", batch_size=None, show_progress=False, instruction=None):
        check_role(role)
        texts = check_texts(texts)
        self.calls.append((tuple(texts), role, instruction))
        full = [self.prompt.format(t, role, instruction).full for t in texts]
        out = np.zeros((len(full), self.dim), dtype=np.float32)
        for i, ids in enumerate(self.tokenizer(full, add_special_tokens=False)["input_ids"]):
            for t in ids:
                if t >= len(SPECIAL):
                    out[i, t] += 1.0
        return out


def fake_preset(name: str, *, family: str = "embedder", instructions: dict | None = None) -> Preset:
    prompt = PromptSpec(instructions=instructions or {})
    return Preset(name, f"fake/{name}", "encoder", "mean", prompt=prompt, family=family)  # type: ignore[arg-type]


def fake_lens(preset: Preset) -> Lens:
    tok = tiny_tokenizer()
    embedder = InstructedBagOfWords(tok, preset.prompt, name=preset.name)
    head = LinearHead(weight=np.eye(len(VOCAB), dtype=np.float32), name="identity")
    return Lens(embedder, head, Vocabulary.from_tokenizer(tok), name=preset.name, preset=preset)


PRESETS = (
    fake_preset("tiny"),
    fake_preset("tiny-instruct", instructions={"query": "fruit "}),
    fake_preset("tiny-backbone", family="backbone"),
)


def fake_explorer(*, indexes: IndexCache | None = None, instructions=(), loads: list | None = None) -> Explorer:
    def load(preset: Preset) -> Lens:
        if loads is not None:
            loads.append(preset.name)
        return fake_lens(preset)

    cache = ModelCache(PRESETS, load=load, reference_texts=FRUIT_TEXTS)
    return Explorer(cache, indexes or IndexCache({}), instructions=instructions)


def write_tiny_index(folder) -> None:
    """A sparse index of four fruit documents built through the fake lens, with its tokenizer."""
    from keytokens.sparse import SparseConfig, build_index, encode_corpus

    lens = fake_lens(PRESETS[0])
    texts = ["apple banana", "cherry pie", "apple pie juice", "red tree"]
    encoding = encode_corpus(lens, texts, SparseConfig(k=3, weighting="relu"), cache=False)
    build_index(lens, encoding, ["d-apple", "d-cherry", "d-pie", "d-tree"]).save(
        folder, tokenizer=lens.vocabulary.tokenizer
    )
