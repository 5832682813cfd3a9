import json

import numpy as np
import pytest
import scipy.sparse as sp

from keytokens.errors import InputError, ShapeError
from keytokens.retrieval import SparseRetriever
from keytokens.sparse import Centering, IndexInfo, QueryConfig, SparseConfig, SparseIndex
from keytokens.store import StoreError
from tests.retrieval.tinylens import VOCAB, tiny_lens

INFO = IndexInfo(model="hand", head="none", tokenizer="0" * 16, vocab_size=5, config=SparseConfig(k=2))
# d0 and d2 are identical: their ties must always come out d0 first.
X = sp.csr_matrix(np.array([[1, 0, 2, 0, 0], [0, 3, 0, 0, 1], [1, 0, 2, 0, 0]], dtype=np.float32))


def _index(matrix=X, ids=("d0", "d1", "d2"), info=INFO, **kwargs):
    return SparseIndex.build(matrix, list(ids), info=info, **kwargs)


def _q(*rows):
    return sp.csr_matrix(np.array(rows, dtype=np.float32))


def test_scores_by_hand():
    res = _index().search(_q([1, 0, 1, 0, 0], [0, 1, 0, 0, 2], [0, 0, 0, 1, 0]), k=10)
    assert res.hits(0) == [("d0", 3.0), ("d2", 3.0)]  # d1 shares nothing: not returned
    assert res.hits(1) == [("d1", 5.0)]
    assert res.hits(2) == []  # no document holds token 3


def test_ties_keep_document_order_under_truncation():
    index = _index(sp.csr_matrix(np.ones((6, 5), dtype=np.float32)), [f"d{i}" for i in range(6)])
    for _ in range(3):
        assert index.search(_q([0, 1, 0, 0, 0]), k=4).doc_ids[0] == ("d0", "d1", "d2", "d3")


def _brute_force(matrix: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    scores = matrix @ query
    hit = np.flatnonzero(scores)
    order = np.lexsort((hit, -scores[hit]))
    return hit[order][:k].tolist()


def test_search_equals_dense_brute_force():
    rng = np.random.default_rng(7)
    dense = rng.integers(1, 5, size=(300, 40)) * (rng.random((300, 40)) < 0.1)  # integer weights: exact sums
    queries = rng.integers(1, 3, size=(50, 40)) * (rng.random((50, 40)) < 0.1)
    info = IndexInfo("hand", "none", "0" * 16, 40, SparseConfig(k=4))
    ids = [f"doc{i}" for i in range(300)]
    res = SparseIndex.build(sp.csr_matrix(dense.astype(np.float32)), ids, info=info).search(
        sp.csr_matrix(queries.astype(np.float32)), k=15
    )
    for qi, q in enumerate(queries):
        expected = _brute_force(dense.astype(np.float64), q.astype(np.float64), 15)
        assert list(res.doc_ids[qi]) == [ids[i] for i in expected]
        np.testing.assert_allclose(res.scores[qi], (dense @ q)[expected])


def test_float_weights_match_brute_force_scores():
    rng = np.random.default_rng(3)
    dense = (rng.random((200, 30)) * (rng.random((200, 30)) < 0.2)).astype(np.float32)
    q = (rng.random(30) * (rng.random(30) < 0.3)).astype(np.float32)
    info = IndexInfo("hand", "none", "0" * 16, 30, SparseConfig(k=4))
    res = SparseIndex.build(sp.csr_matrix(dense), [str(i) for i in range(200)], info=info).search(_q(q), k=20)
    np.testing.assert_allclose(res.scores[0], np.sort(dense @ q)[::-1][:20], rtol=1e-5)


def _memory_mapped(arr) -> bool:
    while arr is not None:
        if isinstance(arr, np.memmap):
            return True
        arr = getattr(arr, "base", None)
    return False


def test_save_load_round_trip(tmp_path):
    centering = Centering("mean", np.array([0.5, 1.0], dtype=np.float32))
    index = _index(centering=centering)
    queries = _q([1, 0, 1, 0, 0], [0, 1, 0, 0, 2])
    index.save(tmp_path / "idx")
    loaded = SparseIndex.load(tmp_path / "idx")
    assert _memory_mapped(loaded.matrix.data) and _memory_mapped(loaded.matrix.indices)
    assert loaded.info == index.info
    np.testing.assert_array_equal(loaded.centering.vector, centering.vector)
    assert index.search(queries, k=3) == loaded.search(queries, k=3)


def test_add_equals_building_at_once():
    whole = _index()
    part = SparseIndex.build(X[:2], ["d0", "d1"], info=INFO).add(X[2:], ["d2"])
    q = _q([1, 1, 1, 0, 1])
    assert part.search(q, k=3) == whole.search(q, k=3)
    with pytest.raises(InputError, match="already in the index"):
        part.add(X[:1], ["d1"])


def test_explain_by_hand():
    exp = _index().explain(_q([1, 0, 1, 0, 0]), "d0")
    assert exp.token_ids.tolist() == [2, 0]  # largest contribution first
    assert exp.contributions.tolist() == [2.0, 1.0] and exp.score == 3.0
    assert exp.to_dict()["matches"][0] == {
        "id": 2,
        "token": None,
        "query_weight": 1.0,
        "doc_weight": 2.0,
        "contribution": 2.0,
    }
    assert _index().explain(_q([0, 0, 0, 1, 0]), "d1").token_ids.tolist() == []
    with pytest.raises(InputError, match="not in the index"):
        _index().explain(_q([1, 0, 0, 0, 0]), "nope")


def test_bad_inputs():
    with pytest.raises(InputError, match="empty corpus"):
        _index(sp.csr_matrix((0, 5), dtype=np.float32), [])
    with pytest.raises(InputError, match="'d0' occurs more than once"):
        _index(ids=("d0", "d1", "d0"))
    with pytest.raises(InputError, match="non-empty string"):
        _index(ids=("d0", "", "d2"))
    with pytest.raises(ShapeError, match=r"expected \(n, 5\)"):
        _index().search(sp.csr_matrix((1, 4), dtype=np.float32), k=1)
    with pytest.raises(ShapeError, match="scipy sparse"):
        _index().search(np.ones((1, 5)), k=1)
    with pytest.raises(ValueError, match="positive"):
        _index().search(_q([1, 0, 0, 0, 0]), k=0)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: (p / "meta.json").unlink(), "incomplete"),
        (lambda p: (p / "indices.npy").unlink(), "indices.npy is missing"),
        (lambda p: (p / "data.npy").write_bytes(b"garbage"), "damaged"),
        (lambda p: np.save(p / "indptr.npy", np.zeros(6, dtype=np.int32)), "damaged"),
    ],
)
def test_damaged_index_is_refused(tmp_path, damage, message):
    _index().save(tmp_path / "idx")
    damage(tmp_path / "idx")
    with pytest.raises(StoreError, match=message):
        SparseIndex.load(tmp_path / "idx")


def test_other_schema_version_is_refused(tmp_path):
    _index().save(tmp_path / "idx")
    meta = json.loads((tmp_path / "idx" / "meta.json").read_text())
    meta["schema_version"] = 99
    (tmp_path / "idx" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="schema version 99"):
        SparseIndex.load(tmp_path / "idx")


def test_query_tokenizer_must_match(tmp_path):
    from keytokens.sparse import build_index, encode_corpus

    lens = tiny_lens()
    texts = ["apple pie", "banana juice"]
    index = build_index(lens, encode_corpus(lens, texts, SparseConfig(k=2), cache=False), ["a", "b"])
    index.save(tmp_path / "idx", tokenizer=lens.vocabulary.tokenizer)
    retriever = SparseRetriever.load(tmp_path / "idx", query=QueryConfig(weights="one"))
    assert retriever.search(["Apple"], k=2).hits(0) == [("a", 1.0)]
    assert retriever.explain("apple pie", "a").tokens == ("apple", "pie")

    other = tiny_lens()
    other.vocabulary.tokenizer.add_tokens(["kiwi"])  # one more token: another vocabulary
    with pytest.raises(InputError, match="tokenizes differently"):
        SparseRetriever.from_lens(index, other)


def test_empty_and_unknown_queries(lens):
    from keytokens.errors import EmptyTextError
    from keytokens.sparse import build_index, encode_corpus

    index = build_index(lens, encode_corpus(lens, ["apple pie"], SparseConfig(k=2), cache=False), ["a"])
    retriever = SparseRetriever.from_lens(index, lens)
    assert retriever.search(["zzz qqq", "!!"], k=5).doc_ids == ((), ())
    with pytest.raises(EmptyTextError):
        retriever.search(["  "], k=5)
    with pytest.raises(InputError, match="give the lens"):
        SparseRetriever(index, lens.vocabulary.tokenizer, query=QueryConfig(expansion=2))


def test_idf_query_weights_by_hand(lens):
    from keytokens.sparse import build_index, encode_corpus

    texts = ["apple pie", "banana juice", "red apple tree", "cherry pie pie"]
    index = build_index(lens, encode_corpus(lens, texts, SparseConfig(k=3, weighting="raw"), cache=False), list("abcd"))
    res = SparseRetriever.from_lens(index, lens).search(["banana pie"], k=4)
    # idf(banana) = ln(1 + 3.5/1.5) = 1.203973, idf(pie) = ln 2; d: pie weight 2 → 1.386294
    assert res.doc_ids[0] == ("d", "b", "a")
    np.testing.assert_allclose(res.scores[0], [2 * np.log(2), np.log(1 + 3.5 / 1.5), np.log(2)], rtol=1e-6)
    assert VOCAB["pie"] in index.explain(SparseRetriever.from_lens(index, lens).encode(["pie"]), "d").token_ids


def test_index_without_tokenizer_needs_the_model(tmp_path):
    _index().save(tmp_path / "idx")
    with pytest.raises(InputError, match="has no saved tokenizer"):
        SparseRetriever.load(tmp_path / "idx")


def test_summary():
    index = _index()
    # the exact engine keeps tokens held by ≥ 1/4 of the documents as dense float32 rows: here the 4 held at all
    engine = {"name": "exact", "params": {}, "bytes": 4 * 3 * 4}
    assert index.to_dict() == {**INFO.to_dict(), "n_docs": 3, "nnz": 6, "bytes": index.nbytes, "engine": engine}
    assert index.document_frequency().tolist() == [2, 1, 2, 0, 1]


def test_saved_tokenizer_searches_without_torch(tmp_path, lens):
    import subprocess
    import sys

    from keytokens.sparse import build_index, encode_corpus, load_tokenizer, tokenizer_fingerprint

    index = build_index(
        lens, encode_corpus(lens, ["apple pie", "red tree"], SparseConfig(k=2), cache=False), ["a", "b"]
    )
    index.save(tmp_path / "idx", tokenizer=lens.vocabulary.tokenizer)
    saved = load_tokenizer(tmp_path / "idx")
    assert tokenizer_fingerprint(saved) == tokenizer_fingerprint(lens.vocabulary.tokenizer)
    assert saved.all_special_ids == lens.vocabulary.tokenizer.all_special_ids and len(saved) == len(VOCAB)
    script = (
        "import sys; from keytokens.retrieval import SparseRetriever; "
        f"r = SparseRetriever.load({str(tmp_path / 'idx')!r}); "
        "assert r.search(['Red apple'], k=2).doc_ids == (('a', 'b'),), r.search(['Red apple'], k=2); "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
