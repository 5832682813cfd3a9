import math

import numpy as np
import pytest
import scipy.sparse as sp

from keytokens.heads import LinearHead
from keytokens.sparse import (
    Centering,
    QueryConfig,
    SparseConfig,
    encode_documents,
    query_vectors,
    sparse_vectors,
)
from keytokens.sparse.queries import idf
from tests.retrieval.tinylens import VOCAB

A, B, PIE, JUICE, CLS = VOCAB["apple"], VOCAB["banana"], VOCAB["pie"], VOCAB["juice"], VOCAB["[CLS]"]


def _row(matrix: sp.csr_matrix, i: int = 0) -> dict[int, float]:
    row = matrix.getrow(i)
    return {int(t): float(w) for t, w in zip(row.indices, row.data, strict=True)}


def _encode(lens, texts, **config):
    return sparse_vectors(lens, lens.encode(texts), texts, SparseConfig(**config))[0]


def test_top_k_tokens_with_raw_weights(lens):
    assert _row(_encode(lens, ["apple apple pie"], k=1, weighting="raw")) == {A: 2.0}
    assert _row(_encode(lens, ["apple apple pie"], k=2, weighting="raw")) == {A: 2.0, PIE: 1.0}


def test_zero_weights_are_not_indexed(lens):
    # k = 3 asks for three tokens but only "apple" has a positive logit under ReLU
    assert _row(_encode(lens, ["apple"], k=3, weighting="relu")) == {A: 1.0}


def test_ties_at_k_go_to_the_smaller_token_id(lens):
    assert _row(_encode(lens, ["juice pie apple"], k=1, weighting="raw")) == {A: 1.0}


def test_softmax_weight_by_hand(lens):
    # logits over the 10 indexable words: apple 2, pie 1, eight zeros → e² / (e² + e + 8)
    row = _row(_encode(lens, ["apple apple pie"], k=1, weighting="softmax"))
    assert row.keys() == {A}
    assert row[A] == pytest.approx(math.exp(2) / (math.exp(2) + math.e + 8), rel=1e-6)


def test_log1p_relu_by_hand(lens):
    assert _row(_encode(lens, ["apple apple"], k=1, weighting="log1p-relu"))[A] == pytest.approx(math.log(3), rel=1e-6)


def test_special_tokens_never_enter(lens):
    weight = np.eye(len(VOCAB), dtype=np.float32)
    weight[CLS] = 10.0  # [CLS] would win every document
    head = LinearHead(weight=weight, name="greedy-cls")
    vectors = encode_documents(
        lens.encode(["banana"]), head, indexable=~lens.vocabulary.special, config=SparseConfig(k=1, weighting="raw")
    )
    assert _row(vectors) == {B: 1.0}


def test_own_tokens_kept(lens):
    texts = ["juice pie apple"]
    assert _row(_encode(lens, texts, k=1, weighting="raw", keep_own_tokens=True)) == {A: 1.0, PIE: 1.0, JUICE: 1.0}


def test_centering_is_applied_before_the_head(lens):
    texts = ["apple pie", "apple juice"]
    vectors, centering = sparse_vectors(
        lens, lens.encode(texts), texts, SparseConfig(k=1, weighting="raw", centering="mean")
    )
    # mean = apple 1, pie ½, juice ½ → first doc centred: pie ½, juice −½, apple 0
    assert isinstance(centering, Centering) and centering.name == "mean"
    assert _row(vectors, 0) == {PIE: 0.5}
    assert _row(vectors, 1) == {JUICE: 0.5}


def test_bad_configs(lens):
    with pytest.raises(ValueError, match="positive integer"):
        SparseConfig(k=0)
    with pytest.raises(KeyError, match="log1p-relu"):
        SparseConfig(weighting="bm25")
    with pytest.raises(KeyError, match="pc1"):
        SparseConfig(centering="whiten")
    with pytest.raises(ValueError, match="exceeds the 10 indexable"):
        _encode(lens, ["apple"], k=11)
    with pytest.raises(ValueError, match="own token ids"):
        encode_documents(
            lens.encode(["apple"]),
            lens.head,
            indexable=~lens.vocabulary.special,
            config=SparseConfig(k=1, keep_own_tokens=True),
        )


def test_query_vectors_distinct_indexable_tokens(lens):
    weights = np.arange(len(VOCAB), dtype=np.float32)
    ids = [np.array([A, A, PIE, CLS, 99]), np.array([], dtype=np.int64)]
    q = query_vectors(ids, token_weights=weights, indexable=~lens.vocabulary.special)
    assert _row(q, 0) == {A: float(A), PIE: float(PIE)}
    assert q.getrow(1).nnz == 0


def test_query_expansion_tokens_are_added(lens):
    ones = np.ones(len(VOCAB), dtype=np.float32)
    q = query_vectors(
        [np.array([A])], token_weights=ones, indexable=~lens.vocabulary.special, expansion_ids=np.array([[A, JUICE]])
    )
    assert _row(q) == {A: 1.0, JUICE: 1.0}


def test_idf_by_hand():
    # N = 4: df 2 → ln(1 + 2.5/2.5) = ln 2; df 1 → ln(1 + 3.5/1.5); df 0 → ln 10
    np.testing.assert_allclose(
        idf(np.array([2, 1, 0]), 4), [math.log(2), math.log(1 + 3.5 / 1.5), math.log(10)], rtol=1e-6
    )


def test_query_config_checks():
    with pytest.raises(KeyError, match="idf"):
        QueryConfig(weights="bm25")
    with pytest.raises(ValueError, match="non-negative"):
        QueryConfig(expansion=-1)
