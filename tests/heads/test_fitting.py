import logging

import numpy as np
import pytest
import scipy.sparse as sp

from keytokens.errors import InputError, ShapeError, UnknownNameError
from keytokens.heads import FitConfig
from keytokens.heads.fitting import fit_kl, fit_ridge, mean_kl


def test_ridge_by_hand_in_one_dimension():
    x = np.array([[1.0], [2.0]])
    y = sp.csr_matrix(np.array([[2.0], [4.0]]))
    # no centring: w = Σxy / (Σx² + λ) = (2 + 8) / (1 + 4 + 1)
    w, b = fit_ridge(x, y, FitConfig(l2=1.0, center=False))
    assert w[0, 0] == pytest.approx(10 / 6) and b[0] == 0.0
    # centring: x̄ = 1.5, ȳ = 3; w = Σ(x−x̄)(y−ȳ) / (Σ(x−x̄)² + λ) = 1 / (0.5 + 0.5); b = ȳ − w x̄
    w, b = fit_ridge(x, y, FitConfig(l2=0.5, center=True))
    assert w[0, 0] == pytest.approx(1.0) and b[0] == pytest.approx(1.5)


def test_ridge_recovers_a_known_linear_map():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    true_w, true_b = rng.normal(size=(7, 5)), rng.normal(size=7)
    y = sp.csr_matrix(x @ true_w.T + true_b)
    w, b = fit_ridge(x, y, FitConfig(l2=1e-9))
    assert w.shape == (7, 5) and w.dtype == np.float32 and b.dtype == np.float32
    np.testing.assert_allclose(w, true_w, atol=1e-5)
    np.testing.assert_allclose(b, true_b, atol=1e-5)


@pytest.mark.parametrize("center", [True, False])
def test_chunked_ridge_equals_unchunked_and_the_dense_formula(center):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 6))
    y = sp.random(50, 37, density=0.1, random_state=2, format="csr")
    config = FitConfig(l2=0.3, center=center)
    results = [fit_ridge(x, y, config, column_chunk=c) for c in (1, 5, 37, 1000)]
    for w, b in results[1:]:
        np.testing.assert_allclose(w, results[0][0], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(b, results[0][1], rtol=1e-6, atol=1e-7)
    dense = y.toarray()
    xm, ym = (x.mean(0), dense.mean(0)) if center else (np.zeros(6), np.zeros(37))
    expected = np.linalg.solve((x - xm).T @ (x - xm) + 0.3 * np.eye(6), (x - xm).T @ (dense - ym)).T
    np.testing.assert_allclose(results[0][0], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(results[0][1], ym - expected @ xm, rtol=1e-5, atol=1e-6)


def test_fewer_texts_than_dimensions(caplog):
    x = np.random.default_rng(0).normal(size=(3, 8))
    y = sp.csr_matrix(np.eye(3, 4))
    with pytest.raises(InputError, match=r"3 texts for 8 embedding dimensions.*l2 > 0"):
        fit_ridge(x, y, FitConfig(l2=0.0))
    with caplog.at_level(logging.WARNING, logger="keytokens.heads.fitting"):
        w, _ = fit_ridge(x, y, FitConfig(l2=0.5))
    assert np.isfinite(w).all() and "only 3 texts for 8 embedding dimensions" in caplog.text


def test_bad_inputs_are_named():
    y = sp.csr_matrix(np.eye(4))
    x = np.ones((4, 2))
    x[2, 1] = np.nan
    with pytest.raises(InputError, match=r"non-finite values in 1 rows \(first: row 2\)"):
        fit_ridge(x, y, FitConfig())
    with pytest.raises(ShapeError, match="4 embeddings but targets of shape"):
        fit_ridge(np.ones((4, 2)), sp.csr_matrix(np.eye(3)), FitConfig())
    with pytest.raises(ShapeError, match="floating point"):
        fit_ridge(np.ones((4, 2), dtype=np.int64), y, FitConfig())


def test_fit_config_is_validated_and_round_trips():
    with pytest.raises(UnknownNameError, match=r"expected one of \['kl', 'ridge'\]"):
        FitConfig(method="lasso")
    with pytest.raises(ValueError, match="l2"):
        FitConfig(l2=-1.0)
    config = FitConfig(method="kl", l2=0.2, center=False, epochs=3, lr=0.5, batch_size=8, seed=4)
    assert FitConfig.from_dict(config.to_dict()) == config


def test_kl_fit_lowers_the_kl():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4))
    logits = x @ rng.normal(size=(10, 4)).T
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    p[p < 0.02] = 0.0  # sparse targets, as the target builders make
    y = sp.csr_matrix(p / p.sum(axis=1, keepdims=True))
    prior = np.asarray(y.mean(axis=0)).ravel()
    before = mean_kl(np.zeros((10, 4)), np.log(prior + 1e-8), x, y)  # the fit's starting point
    w, b = fit_kl(x, y, FitConfig(method="kl", l2=0.0, epochs=20, lr=0.05, batch_size=32))
    after = mean_kl(w, b, x, y)
    assert w.shape == (10, 4) and w.dtype == np.float32
    assert after < 0.5 * before, (before, after)
