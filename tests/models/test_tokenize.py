"""Prompts and tokenization: truncation cuts the text (never the template), EOS, instruction masks."""

import logging

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from keytokens.embedders import PROMPT_EOL, PromptSpec  # noqa: E402
from keytokens.embedders.prompts import FormattedText  # noqa: E402
from keytokens.embedders.tokenize import TokenizedText, pad_batch  # noqa: E402
from keytokens.embedders.transformers import TransformersEmbedder  # noqa: E402
from keytokens.errors import EmptyTextError, InputError  # noqa: E402
from tests.models import tiny  # noqa: E402

LONG = "A text is worth several tokens, and the key tokens carry its meaning. " * 3
SHORT = "the lazy dog"
HEAD, TAIL = PROMPT_EOL.split("{text}")
GRIT = PromptSpec(
    template="<|embed|>\n{text}",
    instruction_format="<|user|>\n{instruction}\n",
    instructions={"query": "Given a web search query"},
    pool_text_only=True,
)
E5 = PromptSpec(instruction_format="Instruct: {instruction}\nQuery: ", instructions={"query": "find the documents"})
ATOL = 1e-4


def _embedder(llama, prompt, pooling="last", max_length=None):
    return TransformersEmbedder(
        llama.model.base_model, llama.tokenizer, pooling=pooling, prompt=prompt, max_length=max_length
    )


def _n_tokens(tokenizer, text):
    return len(tokenizer(text)["input_ids"])


def test_prompteol_truncation_keeps_the_whole_template_and_a_prefix_of_the_text(llama, caplog):
    tok = llama.tokenizer
    max_length = _n_tokens(tok, PROMPT_EOL.format(text="")) + 20
    embedder = _embedder(llama, PromptSpec(template=PROMPT_EOL), max_length=max_length)
    assert embedder.max_length == max_length
    short, long = embedder.tokenize([SHORT, LONG])
    assert not short.truncated and long.truncated
    assert len(long.input_ids) <= max_length
    decoded = tok.decode(long.input_ids, skip_special_tokens=True)
    assert decoded.startswith(HEAD) and decoded.endswith(TAIL)
    kept = decoded[len(HEAD) : -len(TAIL)]
    assert 0 < len(kept) < len(LONG) and LONG.startswith(kept)
    # the template tail's tokens are those of the untruncated prompt's tail
    full = tok(PROMPT_EOL.format(text=LONG), return_offsets_mapping=True)
    tail_start = len(HEAD) + len(LONG)
    tail_ids = [i for i, (s, _) in zip(full["input_ids"], full["offset_mapping"], strict=True) if s >= tail_start]
    assert len(tail_ids) >= 3
    assert list(long.input_ids[-len(tail_ids) :]) == tail_ids
    assert long.input_ids[0] == tiny.BOS

    with caplog.at_level(logging.WARNING, logger="keytokens.embedders.transformers"):
        emb = embedder.encode([SHORT, LONG])
    assert embedder.last_truncated == (1,)
    assert "1 of 2 texts" in caplog.text and "truncated" in caplog.text
    np.testing.assert_allclose(emb[1], llama.hidden(long.input_ids)[-1], atol=ATOL)
    embedder.encode([SHORT])
    assert embedder.last_truncated == ()


def test_a_prompt_that_leaves_no_room_for_the_text_is_an_input_error(llama):
    template_only = _n_tokens(llama.tokenizer, PROMPT_EOL.format(text=""))
    with pytest.raises(InputError, match=f"prompt alone takes {template_only} of the model's {template_only} tokens"):
        _embedder(llama, PromptSpec(template=PROMPT_EOL), max_length=template_only).encode([SHORT])
    (item,) = _embedder(llama, PromptSpec(template=PROMPT_EOL), max_length=template_only + 1).tokenize([SHORT])
    assert item.truncated and len(item.input_ids) == template_only + 1


def test_append_eos_adds_the_eos_token_once_and_pools_it(llama):
    embedder = _embedder(llama, PromptSpec(append_eos=True))
    (item,) = embedder.tokenize([SHORT])
    ids = llama.tokenizer(SHORT)["input_ids"]
    assert list(item.input_ids) == [*ids, tiny.EOS]
    assert item.pool_mask.tolist() == [1] * (len(ids) + 1)
    np.testing.assert_allclose(embedder.encode([SHORT])[0], llama.hidden(item.input_ids)[-1], atol=ATOL)


def test_append_eos_survives_truncation(llama):
    max_length = 6
    (item,) = _embedder(llama, PromptSpec(append_eos=True), max_length=max_length).tokenize([LONG])
    assert item.truncated and len(item.input_ids) <= max_length
    assert item.input_ids[-1] == tiny.EOS and item.input_ids[0] == tiny.BOS
    assert LONG.startswith(llama.tokenizer.decode(item.input_ids, skip_special_tokens=True))


@pytest.mark.parametrize("role", ["query", "document"])
def test_pool_text_only_masks_the_instruction_and_template_head(llama, role):
    embedder = _embedder(llama, GRIT, pooling="mean")
    (item,) = embedder.tokenize([SHORT], role=role)
    prefix = GRIT.format(SHORT, role).prefix
    assert ("Given a web search query" in prefix) == (role == "query")
    n_prefix = _n_tokens(llama.tokenizer, prefix)  # BOS and every prefix token
    assert item.pool_mask.tolist() == [0] * n_prefix + [1] * (len(item.input_ids) - n_prefix)
    assert llama.tokenizer.decode(item.input_ids[item.pool_mask == 1]) == SHORT
    states = llama.hidden(item.input_ids)
    np.testing.assert_allclose(embedder.encode([SHORT], role=role)[0], states[n_prefix:].mean(axis=0), atol=ATOL)


def test_query_and_document_roles_get_their_own_instructions(llama):
    embedder = _embedder(llama, E5)
    (query,) = embedder.tokenize([SHORT], role="query")
    (document,) = embedder.tokenize([SHORT], role="document")
    (other,) = embedder.tokenize([SHORT], role="query", instruction="rank the passages")
    decode = llama.tokenizer.decode
    assert decode(query.input_ids, skip_special_tokens=True) == f"Instruct: find the documents\nQuery: {SHORT}"
    assert decode(document.input_ids, skip_special_tokens=True) == SHORT
    assert decode(other.input_ids, skip_special_tokens=True) == f"Instruct: rank the passages\nQuery: {SHORT}"
    q, d = embedder.encode([SHORT], role="query"), embedder.encode([SHORT], role="document")
    assert np.abs(q - d).max() > 100 * ATOL


def test_both_roles_can_have_instructions():
    prompt = PromptSpec(instructions={"query": "query: ", "document": "passage: "})
    assert prompt.format("x", "query").full == "query: x"
    assert prompt.format("x", "document").full == "passage: x"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_or_whitespace_texts_are_refused_by_position(llama, text):
    with pytest.raises(EmptyTextError, match="text 1 is empty"):
        _embedder(llama, PromptSpec()).encode([SHORT, text])


def test_a_bare_string_is_one_text_and_an_unknown_role_is_an_input_error(llama):
    embedder = _embedder(llama, PromptSpec())
    one = embedder.encode(SHORT)
    assert one.shape == (1, embedder.dim)
    assert np.array_equal(one, embedder.encode([SHORT]))
    with pytest.raises(InputError, match="text 1 is int"):
        embedder.encode([SHORT, 3])
    with pytest.raises(InputError, match=r"unknown role 'passage'.*'query', 'document'"):
        embedder.encode([SHORT], role="passage")


def test_pad_batch_by_hand():
    items = [
        TokenizedText(np.array([5, 6, 7]), np.array([0, 1, 1]), False),
        TokenizedText(np.array([8]), np.array([1]), False),
    ]
    ids, attention, pool = pad_batch(items, pad_id=0, side="right")
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert attention.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert pool.tolist() == [[0, 1, 1], [1, 0, 0]]
    ids, attention, pool = pad_batch(items, pad_id=9, side="left")
    assert ids.tolist() == [[5, 6, 7], [9, 9, 8]]
    assert attention.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert pool.tolist() == [[0, 1, 1], [0, 0, 1]]


def test_prompt_spec_splits_prefix_text_and_suffix():
    item = PromptSpec(template=PROMPT_EOL, instructions={"query": "Q"}, instruction_format="<{instruction}> ").format(
        "hi", "query"
    )
    assert item == FormattedText(prefix='<Q> This sentence : "', text="hi", suffix='" means in one word:"')
    assert item.full == '<Q> This sentence : "hi" means in one word:"'


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"template": "no slot"}, "exactly once"),
        ({"template": "{text} {text}"}, "exactly once"),
        ({"instructions": {"query": "q"}, "instruction_format": "no slot"}, "instruction_format"),
        ({"instructions": {"passage": "p"}}, "unknown role"),
    ],
)
def test_prompt_spec_refuses_malformed_settings(kwargs, message):
    with pytest.raises(InputError, match=message):
        PromptSpec(**kwargs)
