import numpy as np
import pytest

from keytokens.ranking import SearchResults, top_k


def test_ties_go_to_the_smaller_position():
    pos, sc = top_k(np.array([1.0, 3.0, 3.0, 2.0, 3.0]), 2)
    assert pos.tolist() == [1, 2] and sc.tolist() == [3.0, 3.0]
    pos, _ = top_k(np.array([1.0, 3.0, 3.0, 2.0, 3.0]), 4)
    assert pos.tolist() == [1, 2, 4, 3]


def test_custom_positions_break_ties():
    pos, sc = top_k(np.array([3.0, 3.0, 3.0, 1.0, 2.0]), 2, np.array([10, 5, 7, 1, 3]))
    assert pos.tolist() == [5, 7] and sc.tolist() == [3.0, 3.0]


def test_k_zero_and_k_beyond_n():
    assert top_k(np.array([1.0, 2.0]), 0)[0].tolist() == []
    assert top_k(np.array([1.0, 2.0]), 5)[0].tolist() == [1, 0]
    assert top_k(np.zeros(0, dtype=np.float32), 3)[0].tolist() == []


def test_matches_a_full_sort_with_many_ties():
    rng = np.random.default_rng(0)
    for _ in range(50):
        scores = rng.integers(0, 4, size=rng.integers(1, 60)).astype(np.float32)
        k = int(rng.integers(1, 70))
        expected = np.lexsort((np.arange(len(scores)), -scores))[:k]
        assert top_k(scores, k)[0].tolist() == expected.tolist()


def test_bad_arguments():
    with pytest.raises(ValueError, match="non-negative"):
        top_k(np.ones(3), -1)
    with pytest.raises(ValueError, match="same shape"):
        top_k(np.ones(3), 1, np.arange(2))


def test_search_results():
    res = SearchResults.from_positions(
        [np.array([2, 0]), np.array([], dtype=np.int64)], [[0.5, 0.25], []], ["a", "b", "c"]
    )
    assert res.hits(0) == [("c", 0.5), ("a", 0.25)] and res.hits(1) == []
    assert res.to_dict() == {"results": [[{"id": "c", "score": 0.5}, {"id": "a", "score": 0.25}], []]}
    with pytest.raises(ValueError, match="scores of shape"):
        SearchResults(doc_ids=(("a",),), scores=(np.zeros(2),))
