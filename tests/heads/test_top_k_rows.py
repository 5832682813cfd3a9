import numpy as np
import pytest

from keytokens.heads.base import top_k_rows


def _full_sort(logits, k):
    cols = np.broadcast_to(np.arange(logits.shape[1]), logits.shape)
    order = np.lexsort((cols, -logits), axis=1)[:, :k]  # score desc, then column asc
    return order, np.take_along_axis(logits, order, axis=1)


@pytest.mark.parametrize("seed", range(40))
def test_equals_a_full_sort_ties_and_masks_included(seed):
    rng = np.random.default_rng(seed)
    n, width = int(rng.integers(1, 12)), int(rng.integers(1, 2500))
    k = int(rng.integers(1, min(width, 70) + 1))
    if seed % 2:  # few distinct values: many ties at the k-th place
        logits = rng.integers(-3, 3, size=(n, width)).astype(np.float32)
    else:
        logits = rng.standard_normal((n, width)).astype(np.float32)
    if seed % 4 == 0:  # masked tokens, as topk leaves them
        logits[:, rng.random(width) < 0.5] = -np.inf
    ids, scores = top_k_rows(logits, k)
    want_ids, want_scores = _full_sort(logits, k)
    assert ids.dtype == np.int64 and ids.shape == (n, k)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(scores, want_scores)


def test_ties_at_the_cut_go_to_the_smaller_column():
    logits = np.array([[1, 5, 5, 0, 5, 5, 2, 5]], dtype=np.float32)
    assert top_k_rows(logits, 3)[0].tolist() == [[1, 2, 4]]
    assert top_k_rows(logits, 8)[0].tolist() == [[1, 2, 4, 5, 7, 6, 0, 3]]


@pytest.mark.parametrize("bias", [False, True])
def test_masked_topk_projects_only_the_allowed_rows_and_equals_the_full_projection(bias):
    from keytokens.heads import LinearHead, topk

    rng = np.random.default_rng(3)
    # integer weights and embeddings: exact logits, many ties at the k-th place
    weight = rng.integers(-2, 3, size=(300, 8)).astype(np.float32)
    head = LinearHead(weight, rng.integers(-1, 2, size=300).astype(np.float32) if bias else None)
    emb = rng.integers(-2, 3, size=(20, 8)).astype(np.float32)
    mask = rng.random(300) < 0.6
    ids, scores = topk(head, emb, 7, mask=mask)
    logits = head.project(emb)
    logits[:, ~mask] = -np.inf
    want_ids, want_scores = _full_sort(logits, 7)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(scores, want_scores)
    assert mask[ids].all() and len(head._rows) == 1  # the masked rows were copied once and kept
    topk(head, emb[:3], 2, mask=mask)
    assert len(head._rows) == 1
