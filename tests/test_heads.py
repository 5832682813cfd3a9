import numpy as np
import pytest

from keytokens.errors import ShapeError
from keytokens.heads import LinearHead, Transform, topk


def _head(v=50, d=8, seed=0, bias=True):
    rng = np.random.default_rng(seed)
    return LinearHead(
        weight=rng.normal(size=(v, d)).astype(np.float32),
        bias=rng.normal(size=v).astype(np.float32) if bias else None,
    )


def test_project_is_weight_times_h_plus_bias_by_hand():
    head = LinearHead(weight=np.array([[1, 0], [0, 1], [1, 1]], np.float32), bias=np.array([0, 0, -1], np.float32))
    logits = head.project(np.array([[2.0, 3.0]], np.float32))
    np.testing.assert_allclose(logits, [[2.0, 3.0, 4.0]])


def test_topk_matches_full_sort_for_any_chunk_size():
    head = _head()
    emb = np.random.default_rng(1).normal(size=(37, 8)).astype(np.float32)
    full = head.project(emb)
    expected = np.argsort(-full, axis=1, kind="stable")[:, :5]
    for chunk in (1, 4, 37, 100):
        ids, scores = topk(head, emb, 5, chunk_size=chunk)
        np.testing.assert_array_equal(ids, expected)
        np.testing.assert_allclose(scores, np.take_along_axis(full, expected, axis=1), rtol=1e-6)


def test_topk_never_projects_more_than_a_chunk():
    seen = []

    class Spy(LinearHead):
        def project(self, embeddings):
            seen.append(len(embeddings))
            return LinearHead.project(self, embeddings)

    base = _head()
    spy = Spy(weight=base.weight, bias=base.bias)
    topk(spy, np.zeros((10, 8), np.float32), 3, chunk_size=4)
    assert seen == [4, 4, 2]


def test_topk_ties_break_by_smaller_id():
    head = LinearHead(weight=np.ones((6, 2), np.float32))
    ids, scores = topk(head, np.array([[1.0, 1.0]], np.float32), 6)
    np.testing.assert_array_equal(ids, [[0, 1, 2, 3, 4, 5]])
    assert np.all(scores == 2.0)


def test_topk_mask_excludes_tokens():
    head = LinearHead(weight=np.diag(np.arange(1, 5, dtype=np.float32)))
    mask = np.array([True, True, False, True])
    ids, _ = topk(head, np.ones((1, 4), np.float32), 2, mask=mask)
    np.testing.assert_array_equal(ids, [[3, 1]])


@pytest.mark.parametrize("k", [0, 51])
def test_topk_rejects_k_out_of_range(k):
    with pytest.raises(ValueError, match="k must be between 1 and 50"):
        topk(_head(), np.zeros((1, 8), np.float32), k)


def test_wrong_hidden_size_names_both_sizes():
    with pytest.raises(ShapeError, match=r"embedding size 7 .* hidden size 8"):
        _head().project(np.zeros((2, 7), np.float32))


def test_integer_embeddings_are_refused():
    with pytest.raises(ShapeError, match="floating point"):
        _head().project(np.zeros((2, 8), np.int64))


def test_bias_of_wrong_length_is_refused():
    with pytest.raises(ShapeError, match="bias"):
        LinearHead(weight=np.zeros((4, 2), np.float32), bias=np.zeros(3, np.float32))


def test_mlm_transform_matches_torch_bert_prediction_head():
    torch = pytest.importorskip("torch")
    from transformers import BertConfig
    from transformers.models.bert.modeling_bert import BertLMPredictionHead

    config = BertConfig(hidden_size=16, vocab_size=40, layer_norm_eps=1e-12)
    torch.manual_seed(0)
    ref = BertLMPredictionHead(config).eval()
    with torch.no_grad():
        ref.decoder.bias.normal_()
        ref.transform.LayerNorm.weight.normal_()
    arr = lambda t: t.detach().numpy()
    t = ref.transform
    head = LinearHead(
        weight=arr(ref.decoder.weight),
        bias=arr(ref.decoder.bias),
        transform=Transform(arr(t.dense.weight), arr(t.dense.bias), arr(t.LayerNorm.weight), arr(t.LayerNorm.bias)),
    )
    h = torch.randn(3, 16)
    with torch.no_grad():
        expected = ref(h).numpy()
    np.testing.assert_allclose(head.project(h.numpy()), expected, atol=1e-4)
