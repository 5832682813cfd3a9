import numpy as np
import pytest

from keytokens.errors import InputError, ShapeError
from keytokens.heads import LinearHead
from keytokens.spectral import adjust, check_lambdas, contribution, principal_components, variation


def _embeddings(n=40, d=6, seed=0):
    rng = np.random.default_rng(seed)
    h = rng.normal(scale=0.1, size=(n, d))
    h[:, 0] += 5.0  # a dominant shared direction e_0, as in LLM embeddings
    return h.astype(np.float32)


def test_first_component_of_a_shared_offset_is_that_axis_with_positive_sign():
    spec = principal_components(_embeddings(), n_components=3)
    np.testing.assert_allclose(np.abs(spec.first), np.eye(6)[0], atol=0.05)
    assert spec.first[0] > 0  # sign: mean projection positive
    assert spec.explained[0] > 0.9
    np.testing.assert_allclose(np.linalg.norm(spec.components, axis=1), 1.0, rtol=1e-5)


def test_variation_recovers_a_shift_along_u1_by_hand():
    h = _embeddings()
    spec = principal_components(h)
    shifted = h - 3.0 * spec.first  # the embedder moves every text by -3 along u1
    var = variation(spec, h, shifted)
    assert var.v[0] == pytest.approx(-3.0, abs=1e-4)
    assert var.largest_other == pytest.approx(0.0, abs=1e-4)
    assert var.share[0] == pytest.approx(1.0, abs=1e-5)


def test_contribution_parts_sum_to_the_logits_and_bias_counts_once():
    h = _embeddings()
    rng = np.random.default_rng(1)
    head = LinearHead(weight=rng.normal(size=(9, 6)).astype(np.float32), bias=rng.normal(size=9).astype(np.float32))
    spec = principal_components(h)
    split = contribution(h[:4], spec, head)
    np.testing.assert_allclose(split.total, head.project(h[:4]), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(split.coefficient, h[:4] @ spec.first, rtol=1e-5)


def test_adjust_moves_along_u1():
    h = _embeddings()
    spec = principal_components(h)
    out = adjust(h, spec, -2.0)
    np.testing.assert_allclose(out - h, np.tile(-2.0 * spec.first, (len(h), 1)), atol=1e-5)


def test_too_few_texts_for_the_components():
    with pytest.raises(InputError, match="give at least 10 texts"):
        principal_components(_embeddings(n=4), n_components=10)


def test_backbone_and_embedder_of_different_sizes_are_refused():
    h = _embeddings()
    spec = principal_components(h)
    with pytest.raises(ShapeError, match=r"\(40, 6\) and embedder embeddings \(40, 5\)"):
        variation(spec, h, h[:, :5])


def test_sweep_without_finite_values_is_refused():
    with pytest.raises(InputError, match="at least one finite value"):
        check_lambdas([float("nan"), float("inf")])
    np.testing.assert_array_equal(check_lambdas([1.0, float("nan"), -2.0]), [1.0, -2.0])


def test_contribution_refuses_a_head_with_a_transform():
    from keytokens.heads import Transform

    d = 6
    t = Transform(np.eye(d, dtype=np.float32), np.zeros(d, np.float32), np.ones(d, np.float32), np.zeros(d, np.float32))
    head = LinearHead(weight=np.eye(d, dtype=np.float32), transform=t)
    with pytest.raises(InputError, match="linear head"):
        contribution(_embeddings(), principal_components(_embeddings()), head)
