"""The exact engine against a dense reference: hot tokens (dense rows) and cold ones (postings) alike."""

import numpy as np
import pytest
import scipy.sparse as sp

from keytokens.ranking import top_k
from keytokens.sparse.engines import ExactEngine
from keytokens.sparse.engines.exact import HOT_SHARE


def _matrix(n_docs, vocab, seed, *, integer=False):
    """Token ``t`` is held by a share of the documents falling with ``t``: the first ones are hot."""
    rng = np.random.default_rng(seed)
    share = np.linspace(0.9, 0.01, vocab)
    held = rng.random((n_docs, vocab)) < share
    weights = rng.integers(1, 4, size=held.shape) if integer else rng.uniform(0.1, 3.0, size=held.shape)
    return sp.csc_matrix((weights * held).astype(np.float32))


def _expected(dense: np.ndarray, query: np.ndarray, k: int) -> tuple[list[int], np.ndarray]:
    scores = dense.astype(np.float64) @ query.astype(np.float64)
    order = np.lexsort((np.arange(len(scores)), -scores))
    order = [int(i) for i in order if scores[i] != 0][:k]
    return order, scores[order]


@pytest.mark.parametrize("integer", [False, True])  # integer weights: many tied scores
def test_matches_the_dense_product(integer):
    matrix = _matrix(300, 40, seed=3, integer=integer)
    engine = ExactEngine(matrix)
    df = np.diff(matrix.indptr)
    assert set(engine.hot_tokens.tolist()) == set(np.flatnonzero(df >= HOT_SHARE * 300).tolist())
    assert 0 < len(engine.hot_tokens) < 40  # both paths are exercised
    rng = np.random.default_rng(4)
    dense = matrix.toarray()
    queries = (rng.random((60, 40)) < 0.15) * rng.integers(1, 3, size=(60, 40))
    queries[0] = 0
    queries[0, 39] = 1  # only the rarest token
    queries[1] = 0
    queries[1, :3] = 1  # only hot tokens
    csr = sp.csr_matrix(queries.astype(np.float32))
    for k in (1, 10, 400):
        positions, scores = engine.search(csr, k=k)
        for i in range(60):
            order, expected = _expected(dense, queries[i].astype(np.float32), k)
            assert positions[i].tolist() == order
            np.testing.assert_allclose(scores[i], expected, rtol=1e-6)
            assert scores[i].dtype == np.float32 and positions[i].dtype == np.int64


def test_an_empty_query_and_documents_sharing_nothing():
    matrix = sp.csc_matrix(np.array([[1, 0, 0], [0, 2, 0], [0, 0, 0]], dtype=np.float32))
    engine = ExactEngine(matrix)
    positions, scores = engine.search(sp.csr_matrix(np.array([[0, 0, 0], [0, 1, 0]], dtype=np.float32)), k=5)
    assert positions[0].tolist() == [] and scores[0].tolist() == []
    assert positions[1].tolist() == [1] and scores[1].tolist() == [2.0]


def test_hot_rows_hold_the_hot_tokens_weights():
    matrix = _matrix(200, 30, seed=5)
    engine = ExactEngine(matrix)
    dense = matrix.toarray()
    for row, token in enumerate(engine.hot_tokens.tolist()):
        np.testing.assert_array_equal(engine.hot_rows[row], dense[:, token])
    assert engine.nbytes == engine.hot_rows.nbytes == len(engine.hot_tokens) * 200 * 4


def test_top_k_matched_only_drops_zero_scores_whatever_the_share_of_zeros():
    rng = np.random.default_rng(0)
    for zeros in (0.0, 0.3, 0.9, 1.0):
        for _ in range(30):
            scores = rng.integers(1, 4, size=50).astype(np.float32)
            scores[rng.random(50) < zeros] = 0
            k = int(rng.integers(1, 60))
            expected = [int(i) for i in np.lexsort((np.arange(50), -scores)) if scores[i] != 0][:k]
            pos, sc = top_k(scores, k, matched_only=True)
            assert pos.tolist() == expected and sc.tolist() == scores[expected].tolist()


def test_top_k_with_positions_and_ties_across_the_partition():
    scores = np.array([2.0, 5.0, 2.0, 2.0, 5.0, 2.0], dtype=np.float32)
    positions = np.array([9, 8, 1, 7, 3, 0])
    pos, sc = top_k(scores, 3, positions)
    assert pos.tolist() == [3, 8, 0] and sc.tolist() == [5.0, 5.0, 2.0]


def test_tokens_without_postings_next_to_hot_tokens():
    matrix = sp.csc_matrix(np.array([[1, 0, 0], [1, 0, 0], [1, 0, 2]], dtype=np.float32))
    engine = ExactEngine(matrix)
    assert engine.hot_tokens.tolist() == [0, 2]  # token 1 is held by no document
    positions, scores = engine.search(sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 0]], dtype=np.float32)), k=2)
    assert positions[0].tolist() == [0, 1] and scores[0].tolist() == [1.0, 1.0]
    assert positions[1].tolist() == [] and scores[1].tolist() == []


def test_query_batch_searches_like_its_csr_and_checks_the_vocabulary():
    from keytokens.errors import ShapeError
    from keytokens.sparse import IndexInfo, SparseConfig, SparseIndex
    from keytokens.sparse.queries import query_batch, term_lookup

    matrix = _matrix(50, 12, seed=8)
    index = SparseIndex.build(
        matrix, [f"d{i}" for i in range(50)], info=IndexInfo("m", "none", "0" * 16, 12, SparseConfig(k=4))
    )
    indexable = np.ones(12, dtype=bool)
    indexable[0] = False  # a special token: dropped by token id
    token_map = np.array([-1, 1, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11], dtype=np.int32)  # tokens 1 and 2 are one term
    lookup = term_lookup(indexable, token_map)
    assert lookup.tolist() == [-1, 1, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    weights = np.linspace(1, 2, 12).astype(np.float32)
    ids = [np.array([0, 2, 1, 7, 7, 99, -3]), np.array([], dtype=np.int64), np.arange(12).repeat(30)]
    batch = query_batch(ids, token_weights=weights, lookup=lookup)
    assert batch.shape == (3, 12)
    assert batch.indices[batch.indptr[0] : batch.indptr[1]].tolist() == [1, 7]  # out-of-range ids dropped
    assert index.search(batch, k=5) == index.search(batch.tocsr(), k=5)
    with pytest.raises(ShapeError, match="expected"):
        SparseIndex.build(matrix[:, :10], [f"d{i}" for i in range(50)],
                          info=IndexInfo("m", "none", "0" * 16, 10, SparseConfig(k=4))).search(batch, k=3)  # fmt: skip


def test_building_from_a_csc_matrix_neither_changes_it_nor_shares_it():
    from keytokens.sparse import IndexInfo, SparseConfig, SparseIndex

    # unsorted indices with a duplicate: building sorts and sums its own copy
    matrix = sp.csc_matrix(
        (np.array([1.0, 2.0, 3.0], dtype=np.float32), np.array([2, 0, 2]), np.array([0, 3, 3])), shape=(3, 2)
    )
    before = (matrix.data.copy(), matrix.indices.copy())
    index = SparseIndex.build(matrix, ["a", "b", "c"], info=IndexInfo("m", "none", "0" * 16, 2, SparseConfig(k=1)))
    assert np.array_equal(matrix.data, before[0]) and np.array_equal(matrix.indices, before[1])
    matrix.data[:] = 100
    assert index.search(sp.csr_matrix(np.array([[1, 0]], dtype=np.float32)), k=3).hits(0) == [("c", 4.0), ("a", 2.0)]
