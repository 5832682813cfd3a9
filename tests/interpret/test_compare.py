import numpy as np
import pytest

from keytokens.errors import ShapeError
from keytokens.interpret import compare, cosine
from keytokens.lens import AlignedTokens


def _aligned(ids, scores, names):
    return AlignedTokens(
        token_ids=np.asarray(ids, dtype=np.int64),
        scores=np.asarray(scores, dtype=np.float32),
        tokens=tuple(tuple(names[i] for i in row) for row in ids),
        raw_tokens=tuple(tuple(names[i] for i in row) for row in ids),
        texts=("I like apple", "I do not like apple"),
    )


NAMES = {0: "apple", 1: "like", 2: "not", 3: "fruit", 4: "no"}


def test_shared_and_distinct_tokens_by_hand():
    aligned = _aligned([[0, 1, 3], [2, 0, 4]], [[3.0, 2.0, 1.0], [4.0, 2.5, 1.0]], NAMES)
    c = compare(np.array([[1.0, 0.0], [1.0, 1.0]], dtype=np.float32), aligned)
    assert c.cosine == pytest.approx(1 / np.sqrt(2))
    assert c.shared == ("apple",)
    assert c.only_first == ("like", "fruit") and c.only_second == ("not", "no")
    assert c.jaccard == pytest.approx(1 / 5)
    assert c.texts == ("I like apple", "I do not like apple")
    d = c.to_dict()
    assert d["tokens"][1][0] == {"id": 2, "token": "not", "score": 4.0}
    assert d["jaccard"] == pytest.approx(0.2)


def test_shared_tokens_ordered_by_summed_score():
    aligned = _aligned([[0, 1], [1, 0]], [[1.0, 0.5], [3.0, 0.2]], NAMES)
    assert compare(np.eye(2, dtype=np.float32), aligned).shared == ("like", "apple")  # 3.5 > 1.2


def test_compare_needs_two_texts():
    aligned = _aligned([[0]], [[1.0]], NAMES)
    with pytest.raises(ShapeError, match="two texts"):
        compare(np.ones((1, 2), dtype=np.float32), aligned)


def test_cosine_of_a_zero_vector_is_zero():
    assert cosine(np.zeros(3), np.ones(3)) == 0.0
    assert cosine(np.array([1.0, 2.0]), np.array([2.0, 4.0])) == pytest.approx(1.0)
