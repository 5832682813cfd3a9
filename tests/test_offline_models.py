"""The offline presets end to end: real packaged weights, real tokenizers (marked slow)."""

import numpy as np
import pytest

from keytokens.heads import topk
from keytokens.lens import aligned_tokens
from keytokens.metrics import alignment_scores

pytestmark = pytest.mark.slow


def test_minilm_reads_europe(minilm_lens):
    result = minilm_lens.aligned_tokens(["a europe for all"], k=5)
    assert result.tokens[0][0] == "europe"
    assert result.token_ids.shape == (1, 5) and result.token_ids.dtype == np.int64
    assert np.all(np.diff(result.scores[0]) <= 0)


def test_minilm_encode_returns_2d_float32_even_for_one_text(minilm_lens):
    emb = minilm_lens.encode(["one text"])
    assert emb.shape == (1, 384) and emb.dtype == np.float32


def test_smollm2_eol_aligns_with_key_tokens(smollm2_eol_lens):
    result = smollm2_eol_lens.aligned_tokens(["I like apple and banana"], k=10, token_filter="content")
    words = {t.lower() for t in result.tokens[0]}
    assert "apple" in words


def test_smollm2_head_is_tied_embeddings_of_width_576(smollm2_eol_lens):
    head = smollm2_eol_lens.head
    assert (head.vocab_size, head.hidden_size) == (49152, 576)
    assert (
        smollm2_eol_lens.vocabulary.readable[smollm2_eol_lens.vocabulary.tokenizer.convert_tokens_to_ids("ĠEurope")]
        == "Europe"
    )


def test_byte_level_markers_are_rendered(smollm2_eol_lens):
    vocab = smollm2_eol_lens.vocabulary
    raw = vocab.raw
    newline = raw.index("Ċ")
    assert vocab.readable[newline] == "\\n"
    assert not any("Ġ" in t for t in vocab.readable[:5000] if t != "Ġ")


def test_aligned_tokens_equal_brute_force_topk(minilm_lens):
    texts = ["YMCA in South Australia", "I like apple and banana"]
    emb = minilm_lens.encode(texts)
    logits = minilm_lens.head.project(emb)
    result = aligned_tokens(emb, minilm_lens.head, minilm_lens.vocabulary, k=7)
    np.testing.assert_array_equal(result.token_ids, np.argsort(-logits, axis=1, kind="stable")[:, :7])
    ids, _ = topk(minilm_lens.head, emb, 7, chunk_size=1)
    np.testing.assert_array_equal(ids, result.token_ids)


def test_long_text_is_truncated_and_reported(minilm_lens, caplog):
    long_text = "word " * 2000
    with caplog.at_level("WARNING"):
        minilm_lens.encode([long_text, "short"])
    assert minilm_lens.embedder.last_truncated == (0,)
    assert "truncated" in caplog.text


def test_prompteol_truncates_text_not_template(smollm2_eol_lens):
    embedder = smollm2_eol_lens.embedder
    items = embedder.tokenize(["word " * 20000])
    tail = embedder.tokenizer(' means in one word:"', add_special_tokens=False)["input_ids"]
    ids = items[0].input_ids.tolist()
    assert items[0].truncated and len(ids) == embedder.max_length
    assert ids[-len(tail) :] == tail


def test_alignment_scores_minilm_content_beats_zero(minilm_lens):
    texts = ["a europe for all", "YMCA in South Australia", "I like apple and banana"]
    scores = alignment_scores(minilm_lens.encode(texts), texts, minilm_lens.head, minilm_lens.vocabulary, k=10)
    by_name = {s.definition: s for s in scores}
    assert by_name["paper"].hit == 1.0
    assert by_name["content"].lar > 0
