"""Random sparse and dense document vectors with a hand-made :class:`IndexInfo` (no model needed)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from keytokens.backends import CollectionInfo
from keytokens.sparse import IndexInfo, SparseConfig

VOCAB = 500
DIM = 16


def random_info(*, model: str = "rand", k: int = 8, weighting: str = "relu") -> CollectionInfo:
    config = SparseConfig(k=k, weighting=weighting)
    return CollectionInfo(IndexInfo(model=model, head="h", tokenizer="fp", vocab_size=VOCAB, config=config), dim=DIM)


def random_corpus(n: int, *, seed: int = 0, k: int = 8, negative: bool = False):
    """``n`` documents with ``k`` random tokens each and random weights: no two scores tie."""
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n), k)
    cols = np.concatenate([rng.choice(VOCAB, k, replace=False) for _ in range(n)])
    data = rng.uniform(0.05, 2.0, n * k).astype(np.float32)
    if negative:
        data[::3] *= -1
    vectors = sp.csr_matrix((data, (rows, cols)), shape=(n, VOCAB), dtype=np.float32)
    vectors.sort_indices()
    embeddings = rng.normal(size=(n, DIM)).astype(np.float32)
    return [f"doc{i}" for i in range(n)], vectors, embeddings


def random_queries(n: int, *, seed: int = 1, tokens: int = 4):
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n), tokens)
    cols = np.concatenate([rng.choice(VOCAB, tokens, replace=False) for _ in range(n)])
    data = rng.uniform(0.5, 3.0, n * tokens).astype(np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(n, VOCAB)), rng.normal(size=(n, DIM)).astype(np.float32)


def assert_same_ranking(got, expected, *, rtol: float = 1e-5) -> None:
    """Same scores (within float tolerance) and the same ids, except where neighbouring scores tie."""
    assert len(got) == len(expected)
    for q in range(len(expected)):
        g, e = got.hits(q), expected.hits(q)
        assert len(g) == len(e), (q, g, e)
        np.testing.assert_allclose([s for _, s in g], [s for _, s in e], rtol=rtol, atol=1e-6)
        scores = dict(e)
        for doc, score in g:
            assert doc in scores or np.isclose(score, e[-1][1], rtol=rtol), (q, doc)
            if doc in scores:
                assert np.isclose(score, scores[doc], rtol=rtol, atol=1e-6), (q, doc, score, scores[doc])
