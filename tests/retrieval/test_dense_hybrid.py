import numpy as np
import pytest

from keytokens.errors import InputError, ShapeError, UnknownNameError
from keytokens.ranking import SearchResults
from keytokens.retrieval import FUSIONS, DenseIndex, DenseRetriever, HybridRetriever, Retriever, fuse
from keytokens.store import StoreError

E = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
IDS = ["a", "b", "c", "d"]


def test_dense_scores_and_ties_by_hand():
    index = DenseIndex.build(E, IDS, model="hand")
    for chunk in (1, 3, 100):
        res = index.search(np.array([[1.0, 0.0]]), k=3, chunk_size=chunk)
        assert res.hits(0) == [("a", 1.0), ("c", 1.0), ("d", 0.5)]


def test_dense_equals_brute_force_for_any_chunking():
    rng = np.random.default_rng(1)
    docs = rng.standard_normal((500, 16)).astype(np.float32)
    queries = rng.standard_normal((20, 16)).astype(np.float32)
    index = DenseIndex.build(docs, [str(i) for i in range(500)], model="rand")
    full = queries @ docs.T
    for chunk in (7, 64, 10_000):
        res = index.search(queries, k=10, chunk_size=chunk)
        for qi in range(20):
            expected = np.argsort(-full[qi], kind="stable")[:10]
            assert res.doc_ids[qi] == tuple(str(i) for i in expected)
            np.testing.assert_allclose(res.scores[qi], full[qi, expected], rtol=1e-5)


def test_cosine_normalises_both_sides():
    index = DenseIndex.build(np.array([[3.0, 0.0], [1.0, 1.0]]), ["x", "y"], model="hand", similarity="cosine")
    res = index.search(np.array([[0.0, 5.0]]), k=2)
    assert res.doc_ids[0] == ("y", "x")
    np.testing.assert_allclose(res.scores[0], [np.sqrt(0.5), 0.0], atol=1e-6)


def test_dense_round_trip_and_refusals(tmp_path):
    index = DenseIndex.build(E, IDS, model="hand")
    index.save(tmp_path / "dense")
    loaded = DenseIndex.load(tmp_path / "dense")
    assert isinstance(loaded.embeddings, np.memmap)
    q = np.array([[0.2, 0.9]])
    assert loaded.search(q, k=4) == index.search(q, k=4)
    with pytest.raises(StoreError, match="holds a dense-index, not a sparse-index"):
        from keytokens.sparse import SparseIndex

        SparseIndex.load(tmp_path / "dense")


def test_dense_bad_inputs():
    with pytest.raises(InputError, match="empty corpus"):
        DenseIndex.build(np.zeros((0, 2)), [], model="m")
    with pytest.raises(InputError, match="unique"):
        DenseIndex.build(E, ["a", "a", "b", "c"], model="m")
    with pytest.raises(ShapeError, match=r"expected \(n, 2\)"):
        DenseIndex.build(E, IDS, model="m").search(np.ones((1, 3)), k=1)
    with pytest.raises(UnknownNameError, match="cosine"):
        DenseIndex.build(E, IDS, model="m", similarity="l2")
    with pytest.raises(InputError, match="already in the index"):
        DenseIndex.build(E, IDS, model="m").add(E[:1], ["a"])


def test_dense_add():
    index = DenseIndex.build(E[:2], IDS[:2], model="m").add(E[2:], IDS[2:])
    assert index.search(np.array([[1.0, 0.0]]), k=2).doc_ids[0] == ("a", "c")


def test_dense_retriever_encodes_queries(lens):
    emb = lens.encode(["apple pie", "banana"])
    retriever = DenseRetriever(DenseIndex.build(emb, ["p", "b"], model=lens.name), lens.embedder)
    assert isinstance(retriever, Retriever)
    assert retriever.search(["banana split"], k=1).doc_ids == (("b",),)


def test_rrf_by_hand():
    # a: 1/61 + 1/62 = 0.032522; c: 1/63 + 1/61 = 0.032266; b: 1/62
    ids, scores = fuse(
        [(("a", "b", "c"), np.array([3.0, 2, 1])), (("c", "a"), np.array([9.0, 1]))], fusion="rrf", weights=[1, 1], k=3
    )
    assert ids == ("a", "c", "b")
    np.testing.assert_allclose(scores, [1 / 61 + 1 / 62, 1 / 63 + 1 / 61, 1 / 62], rtol=1e-6)


def test_interpolation_by_hand():
    # list 1 normalised: a 1, b 0.5, c 0; list 2: c 1, a 0 → a 0.5, c 0.5 (tie: a seen first), b 0.25
    lists = [(("a", "b", "c"), np.array([3.0, 2.0, 1.0])), (("c", "a"), np.array([10.0, 0.0]))]
    ids, scores = fuse(lists, fusion="interpolation", weights=[0.5, 0.5], k=3)
    assert ids == ("a", "c", "b")
    np.testing.assert_allclose(scores, [0.5, 0.5, 0.25])


def test_interpolation_constant_list_and_empty_list():
    ids, scores = fuse(
        [(("x", "y"), np.array([2.0, 2.0])), ((), np.zeros(0))], fusion="interpolation", weights=[1, 1], k=5
    )
    assert ids == ("x", "y") and scores.tolist() == [1.0, 1.0]


class _Fixed:
    def __init__(self, name, ranking):
        self.name, self.ranking = name, ranking

    def search(self, queries, *, k):
        ids = tuple(self.ranking[:k])
        return SearchResults(
            doc_ids=(ids,) * len(queries), scores=(np.arange(len(ids), 0, -1, dtype=np.float32),) * len(queries)
        )


def test_hybrid_retriever():
    hybrid = HybridRetriever([_Fixed("s", ["a", "b", "c"]), _Fixed("d", ["c", "a"])], fusion="rrf", depth=10)
    res = hybrid.search(["q1", "q2"], k=2)
    assert res.doc_ids == (("a", "c"), ("a", "c"))
    with pytest.raises(UnknownNameError, match=str(sorted(FUSIONS)).replace("[", r"\[").replace("]", r"\]")):
        HybridRetriever([_Fixed("s", [])], fusion="max")
    with pytest.raises(InputError, match="2 weights for 1"):
        HybridRetriever([_Fixed("s", [])], weights=[1, 2])
