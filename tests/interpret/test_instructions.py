import json

import numpy as np
import pytest

from keytokens.errors import InputError
from keytokens.interpret.instructions import (
    DEFAULT_FORMAT,
    Instruction,
    accepts_instructions,
    encode,
    instructable,
    instruction_analysis,
    instruction_effect,
    preset_instructions,
)
from keytokens.lens import AlignedTokens
from tests.retrieval.tinylens import tiny_lens
from tests.server.fakes import PRESETS, fake_lens


def test_parse():
    assert Instruction.parse("sentiment = Classify the sentiment.") == Instruction(
        "sentiment", "Classify the sentiment."
    )
    assert Instruction.parse("a=b=c").text == "b=c"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no equals", "NAME=TEXT"),
        ("=text", "must be non-empty"),
        ("two words=text", "must be non-empty letters"),
        ("name=  ", "is empty"),
        ("none=text", "names the no-instruction reading"),
    ],
)
def test_parse_refuses(spec, message):
    with pytest.raises(InputError, match=message):
        Instruction.parse(spec)


def test_instructable_gives_a_preset_without_instructions_a_separating_format():
    lens = fake_lens(PRESETS[0])
    adapted = instructable(lens)
    assert adapted.embedder.prompt.instruction_format == DEFAULT_FORMAT
    assert lens.embedder.prompt.instruction_format == "{instruction}"  # the original is untouched
    assert adapted.embedder.tokenizer is lens.embedder.tokenizer  # the model is shared, not copied
    own = fake_lens(PRESETS[1])
    assert instructable(own) is own  # a preset with instructions keeps its format
    assert instructable(lens, "Task: {instruction}\n").embedder.prompt.instruction_format == "Task: {instruction}\n"
    with pytest.raises(InputError, match="must contain"):
        instructable(lens, "no slot")


def test_a_lens_without_prompt_takes_no_instructions():
    lens = tiny_lens()
    assert not accepts_instructions(lens)
    with pytest.raises(InputError, match="does not take instructions"):
        instructable(lens)
    with pytest.raises(InputError, match="does not take instructions"):
        encode(lens, ["apple"], instruction="fruit")
    np.testing.assert_array_equal(encode(lens, ["apple"], instruction=""), lens.encode(["apple"]))


def test_encode_none_keeps_the_role_default_and_empty_drops_it():
    lens = fake_lens(PRESETS[1])  # query instruction "fruit "
    fruit = 8
    assert encode(lens, ["apple"], role="query")[0, fruit] == 1.0
    assert encode(lens, ["apple"], role="query", instruction="")[0, fruit] == 0.0
    assert encode(lens, ["apple"], role="document")[0, fruit] == 0.0
    assert preset_instructions(lens) == (Instruction("query", "fruit "),)


def _aligned(rows, vocab=("a", "b", "c", "d", "e")):
    ids = np.asarray(rows, dtype=np.int64)
    return AlignedTokens(
        ids,
        np.ones(ids.shape, dtype=np.float32),
        tuple(tuple(vocab[i] for i in r) for r in rows),
        tuple(tuple(vocab[i] for i in r) for r in rows),
    )


def test_effect_by_hand():
    base = _aligned([[0, 1, 2], [0, 1, 3]])
    under = _aligned([[0, 4, 2], [4, 3, 2]])
    effect = instruction_effect(Instruction("x", "y"), base, under)
    np.testing.assert_allclose(effect.overlap, [2 / 3, 1 / 3])
    assert effect.mean_overlap == pytest.approx(0.5)
    assert effect.gained == (("e", 2), ("c", 1))  # count, then token
    assert effect.lost == (("b", 2), ("a", 1))
    with pytest.raises(ValueError, match="cannot be compared"):
        instruction_effect(Instruction("x", "y"), base, _aligned([[0, 1]]))


def test_analysis_on_the_fake_lens():
    lens = fake_lens(PRESETS[0])
    texts = ["apple apple banana", "cherry cherry date"]
    report = instruction_analysis(
        lens, texts, [Instruction("juice", "juice juice juice"), Instruction("same", "apple")], k=2
    )
    juice, same = report.effects
    assert report.baseline == (("apple", "banana"), ("cherry", "date"))
    assert juice.tokens == (("juice", "apple"), ("juice", "cherry"))
    np.testing.assert_allclose(juice.overlap, [0.5, 0.5])
    assert juice.gained == (("juice", 2),) and juice.lost == (("banana", 1), ("date", 1))
    assert same.tokens[0] == ("apple", "banana")  # "apple apple apple banana"
    assert report.instruction_format == DEFAULT_FORMAT
    data = json.loads(json.dumps(report.to_dict()))
    assert data["instructions"][0]["overlap"] == pytest.approx(0.5)
    assert data["instructions"][0]["gained"] == [{"token": "juice", "count": 2}]


@pytest.mark.parametrize(
    ("texts", "instructions", "message"),
    [
        (["apple"], [], "at least one instruction"),
        ([], [Instruction("a", "b")], "at least one text"),
        (["apple"], [Instruction("a", "b"), Instruction("a", "c")], "unique"),
    ],
)
def test_analysis_refuses(texts, instructions, message):
    with pytest.raises(InputError, match=message):
        instruction_analysis(fake_lens(PRESETS[0]), texts, instructions)


def test_plot_and_markdown(tmp_path):
    from keytokens.interpret.report import instructions_markdown
    from keytokens.reports.interpret_plots import plot_instruction_effects
    from keytokens.reports.plots import save

    report = instruction_analysis(
        fake_lens(PRESETS[0]), ["apple apple banana", "cherry pie"], [Instruction("juice", "juice juice")], k=2
    )
    fig = plot_instruction_effects(report)
    assert len(fig.axes) == 2
    save(fig, tmp_path / "i.png")
    assert (tmp_path / "i.png").read_bytes()[:4] == b"\x89PNG"
    md = instructions_markdown(report, command="keytokens instructions", plot="i.png")
    assert "| juice | juice juice | 0.500 | `juice` (2) |" in md
    assert "![overlap and tokens per instruction](i.png)" in md
    assert "keep between 50% (juice) and 50% (juice)" in md
