import math

import numpy as np
import pytest
import scipy.sparse as sp

from keytokens.errors import InputError, UnknownNameError
from keytokens.heads import LinearHead, TargetSpec, build_targets, tokenizer_fingerprint
from tests.heads.conftest import WORDS, word_id

TEXTS = ["apple apple banana the", "banana pie the", "the red apple"]


def _row(matrix: sp.csr_matrix, i: int) -> dict[str, float]:
    row = matrix.getrow(i)
    return {WORDS[j]: float(v) for j, v in zip(row.indices, row.data, strict=True)}


def test_tf_counts_own_tokens_and_rows_sum_to_one(vocabulary):
    y = build_targets(TargetSpec(kind="tf"), TEXTS, vocabulary)
    assert isinstance(y, sp.csr_matrix) and y.shape == (3, len(WORDS)) and y.dtype == np.float32
    assert _row(y, 0) == pytest.approx({"the": 0.25, "apple": 0.5, "banana": 0.25})
    assert _row(y, 2) == pytest.approx({"the": 1 / 3, "apple": 1 / 3, "red": 1 / 3})
    np.testing.assert_allclose(np.asarray(y.sum(axis=1)).ravel(), 1.0, rtol=1e-6)


def test_tfidf_weighs_counts_by_bm25_idf_by_hand(vocabulary):
    # N = 3 texts; df: the 3, apple 2, banana 2, pie 1, red 1; idf = ln(1 + (N - df + .5) / (df + .5))
    idf_the, idf_two, idf_one = math.log(8 / 7), math.log(1.6), math.log(8 / 3)
    y = build_targets(TargetSpec(kind="tfidf"), TEXTS, vocabulary)
    total = 2 * idf_two + idf_two + idf_the
    expected = {"the": idf_the / total, "apple": 2 * idf_two / total, "banana": idf_two / total}
    assert _row(y, 0) == pytest.approx(expected, rel=1e-6)
    total = idf_two + idf_one + idf_the
    assert _row(y, 1) == pytest.approx(
        {"the": idf_the / total, "banana": idf_two / total, "pie": idf_one / total}, rel=1e-6
    )


def test_special_tokens_never_targets_and_stopwords_dropped_on_request(vocabulary):
    texts = ["[CLS] apple , a the", "the a ,"]
    y = build_targets(TargetSpec(kind="tf"), texts, vocabulary)
    assert "[CLS]" not in _row(y, 0)
    assert _row(y, 0) == pytest.approx({"the": 0.25, "apple": 0.25, "a": 0.25, ",": 0.25})
    content = build_targets(TargetSpec(kind="tf", drop_stopwords=True), texts, vocabulary)
    assert _row(content, 0) == {"apple": 1.0}
    assert content.getrow(1).nnz == 0  # nothing left: an all-zero row, not a division by zero


def _head():
    return LinearHead(weight=np.eye(len(WORDS), dtype=np.float32), name="identity")


def test_model_targets_are_the_top_n_softmax_renormalised(vocabulary):
    emb = np.zeros((1, len(WORDS)), np.float32)
    emb[0, [word_id("[CLS]"), word_id("apple"), word_id("banana"), word_id("pie")]] = [9.0, 3.0, 2.0, 1.0]
    spec = TargetSpec(kind="model", top_n=2)
    y = build_targets(spec, ["ignored"], vocabulary, embeddings=emb, head=_head())
    e3, e2 = math.exp(3), math.exp(2)  # [CLS] is special: never a target, however high its logit
    assert _row(y, 0) == pytest.approx({"apple": e3 / (e3 + e2), "banana": e2 / (e3 + e2)}, rel=1e-6)
    hot_spec = TargetSpec(kind="model", top_n=2, temperature=0.5)
    hot = build_targets(hot_spec, ["x"], vocabulary, embeddings=emb, head=_head())
    assert _row(hot, 0)["apple"] == pytest.approx(math.exp(6) / (math.exp(6) + math.exp(4)), rel=1e-6)


def test_mix_is_alpha_data_plus_one_minus_alpha_model(vocabulary):
    emb = np.zeros((1, len(WORDS)), np.float32)
    emb[0, word_id("pie")] = 50.0  # the model puts all its mass on "pie"
    spec = TargetSpec(kind="mix", top_n=1, mix=0.25)
    y = build_targets(spec, ["apple banana"], vocabulary, embeddings=emb, head=_head())
    assert _row(y, 0) == pytest.approx({"apple": 0.125, "banana": 0.125, "pie": 0.75}, rel=1e-6)


def test_bad_target_settings_are_refused(vocabulary):
    with pytest.raises(UnknownNameError, match=r"expected one of \['mix', 'model', 'tf', 'tfidf'\]"):
        TargetSpec(kind="bm25")
    with pytest.raises(ValueError, match="mix"):
        TargetSpec(mix=1.5)
    with pytest.raises(InputError, match="source head"):
        build_targets(TargetSpec(kind="model"), ["apple"], vocabulary, embeddings=np.zeros((1, 8), np.float32))
    with pytest.raises(InputError, match="2 embeddings for 1 texts"):
        build_targets(TargetSpec(), ["apple"], vocabulary, embeddings=np.zeros((2, 8), np.float32))


def test_target_spec_round_trips_through_its_dict():
    spec = TargetSpec(kind="mix", drop_stopwords=True, top_n=7, mix=0.3, temperature=2.0)
    assert TargetSpec.from_dict(spec.to_dict()) == spec


def test_fingerprint_is_shared_with_sparse_indexes(vocabulary):
    from keytokens.sparse import tokenizer_fingerprint as sparse_fingerprint

    assert sparse_fingerprint is tokenizer_fingerprint
    assert len(tokenizer_fingerprint(vocabulary.tokenizer)) == 16
