import math

import numpy as np
import pytest

from keytokens.errors import ShapeError, UnknownNameError
from keytokens.sparse import WEIGHTINGS, Centering, get_weighting

ROW = np.array([[2.0, -1.0, 0.0, math.log(3.0)]], dtype=np.float32)


def test_weightings_by_hand():
    np.testing.assert_allclose(get_weighting("raw")(ROW), ROW)
    np.testing.assert_allclose(get_weighting("relu")(ROW), [[2.0, 0.0, 0.0, math.log(3.0)]])
    np.testing.assert_allclose(
        get_weighting("log1p-relu")(ROW), [[math.log(3.0), 0.0, 0.0, math.log(1 + math.log(3.0))]], rtol=1e-6
    )
    # exp = [e², e⁻¹, 1, 3], sum = 11.756935
    np.testing.assert_allclose(get_weighting("softmax")(ROW)[0, 3], 3 / 11.756935, rtol=1e-6)


def test_softmax_ignores_masked_tokens():
    np.testing.assert_allclose(get_weighting("softmax")(np.array([[0.0, -np.inf, 0.0]])), [[0.5, 0.0, 0.5]])


def test_unknown_weighting_lists_the_registry():
    with pytest.raises(UnknownNameError, match=str(sorted(WEIGHTINGS)).replace("[", r"\[").replace("]", r"\]")):
        get_weighting("tfidf")


def test_first_direction_of_uncentred_embeddings():
    # HᵀH = [[18, 0], [0, 1]]: u₁ = e₁, so the first coordinate is removed.
    h = np.array([[3.0, 0.0], [0.0, 1.0], [-3.0, 0.0]], dtype=np.float32)
    c = Centering.fit("pc1", h)
    np.testing.assert_allclose(c.vector, [1.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(c.apply(np.array([[1.0, 2.0]])), [[0.0, 2.0]], atol=1e-6)


def test_first_direction_sign_is_fixed():
    h = np.array([[0.0, -2.0], [0.0, -1.0]], dtype=np.float32)
    assert Centering.fit("pc1", h).vector[1] > 0


def test_mean_removal():
    h = np.array([[3.0, 0.0], [0.0, 1.0], [3.0, 0.0]], dtype=np.float32)
    c = Centering.fit("mean", h)
    np.testing.assert_allclose(c.vector, [2.0, 1 / 3], rtol=1e-6)
    np.testing.assert_allclose(c.apply(np.array([[1.0, 2.0]])), [[-1.0, 5 / 3]], rtol=1e-6)


def test_none_is_identity_and_bad_inputs():
    assert Centering.fit("none", np.ones((2, 3))).vector is None
    with pytest.raises(UnknownNameError, match="pc1"):
        Centering.fit("pca", np.ones((2, 3)))
    with pytest.raises(ShapeError, match="non-empty"):
        Centering.fit("mean", np.zeros((0, 3)))
    with pytest.raises(ShapeError, match="do not fit"):
        Centering.fit("mean", np.ones((2, 3))).apply(np.ones((1, 4)))
    with pytest.raises(ValueError, match="needs"):
        Centering("mean")
