import json

import numpy as np
import pytest
import scipy.sparse as sp

from keytokens.errors import InputError
from keytokens.sparse import IndexInfo, SparseConfig, SparseIndex
from keytokens.sparse.engines import (
    ExactEngine,
    SeismicParams,
    build_engine,
    configure,
    engine_params,
    stored_engine,
)
from keytokens.store import StoreError

seismic = pytest.importorskip("seismic", reason="the engines extra (pyseismic-lsr) is not installed")

V = 60
# Seismic without pruning: every posting kept, every block visited (heap_factor tiny). Integer weights
# below 2048 are exact in its float16 forward index, so every score it returns is the exact score.
NO_PRUNING = {"n_postings": 100_000, "heap_factor": 1e-6}


def _matrix(n_docs=400, seed=0, vocab=V):
    rng = np.random.default_rng(seed)
    dense = rng.integers(1, 9, size=(n_docs, vocab)) * (rng.random((n_docs, vocab)) < 0.08)
    return sp.csr_matrix(dense.astype(np.float32))


def _queries(n=40, seed=1, vocab=V):
    rng = np.random.default_rng(seed)
    dense = rng.integers(1, 4, size=(n, vocab)) * (rng.random((n, vocab)) < 0.1)
    return sp.csr_matrix(dense.astype(np.float32))


def _index(matrix=None, vocab=V):
    matrix = _matrix(vocab=vocab) if matrix is None else matrix
    info = IndexInfo("hand", "none", "0" * 16, vocab, SparseConfig(k=4))
    return SparseIndex.build(matrix, [f"d{i}" for i in range(matrix.shape[0])], info=info)


def test_seismic_returns_exact_scores_and_nearly_the_exact_top_k():
    exact = _index()
    fast = exact.with_engine("seismic", NO_PRUNING)
    queries = _queries()
    want, got = exact.search(queries, k=10), fast.search(queries, k=10)
    assert fast.engine.name == "seismic" and isinstance(exact.engine, ExactEngine)
    dense = exact.matrix.toarray()
    overlap = []
    for qi in range(queries.shape[0]):
        rows = [int(d[1:]) for d in got.doc_ids[qi]]
        np.testing.assert_array_equal(got.scores[qi], (dense[rows] @ queries[qi].toarray().ravel()))
        assert np.all(np.diff(got.scores[qi]) <= 0)
        overlap.append(len(set(got.doc_ids[qi]) & set(want.doc_ids[qi])) / len(want.doc_ids[qi]))
    # Seismic can drop a document tied with another even unpruned (1 of these 40 queries, at k=10)
    assert np.mean(overlap) >= 0.99 and sum(o < 1 for o in overlap) <= 1


def test_one_query_and_a_batch_agree():
    fast = _index().with_engine("seismic", NO_PRUNING)
    queries = _queries(n=5)
    batch = fast.search(queries, k=5)
    for qi in range(5):
        assert fast.search(queries[qi], k=5).doc_ids[0] == batch.doc_ids[qi]


def test_a_query_sharing_no_token_gets_nothing():
    matrix = _matrix().toarray()
    matrix[:, 7] = 0
    matrix = sp.csr_matrix(matrix)
    fast = _index(matrix).with_engine("seismic")
    q = sp.csr_matrix(([2.0], ([0], [7])), shape=(1, V), dtype=np.float32)
    assert fast.search(q, k=3).doc_ids == ((),)
    assert fast.search(sp.csr_matrix((1, V), dtype=np.float32), k=3).doc_ids == ((),)


def test_round_trip_keeps_engine_knobs_and_results(tmp_path):
    fast = _index().with_engine("seismic", {**NO_PRUNING, "query_cut": 5})
    fast.save(tmp_path / "idx")
    assert stored_engine(tmp_path / "idx") == "seismic"
    loaded = SparseIndex.load(tmp_path / "idx")
    assert loaded.engine.params == fast.engine.params
    assert loaded.search(_queries(), k=10) == fast.search(_queries(), k=10)
    record = loaded.to_dict()["engine"]
    assert record["name"] == "seismic" and record["params"]["query_cut"] == 5 and record["bytes"] > 0
    meta = json.loads((tmp_path / "idx" / "engine" / "meta.json").read_text())["meta"]
    assert meta["package"]["name"] == "pyseismic-lsr" and meta["package"]["version"]
    assert meta["files"]["seismic.index.seismic"]["bytes"] == record["bytes"]
    # the exact engine always works on a saved index, and is what an index without engine/ gets
    assert SparseIndex.load(tmp_path / "idx", engine="exact").search(_queries(), k=10) == _index().search(
        _queries(), k=10
    )


def test_search_knobs_change_on_load_build_knobs_are_refused(tmp_path):
    _index().with_engine("seismic").save(tmp_path / "idx")
    loaded = SparseIndex.load(tmp_path / "idx", engine_options={"heap_factor": 0.5})
    assert loaded.engine.params.heap_factor == 0.5
    with pytest.raises(StoreError, match=r"was built with .*n_postings.*rebuild"):
        SparseIndex.load(tmp_path / "idx", engine_options={"n_postings": 10})


def test_another_engine_than_the_saved_one_is_refused(tmp_path):
    _index().save(tmp_path / "idx")
    assert stored_engine(tmp_path / "idx") == "exact"
    with pytest.raises(StoreError, match="built with the exact engine, not seismic"):
        SparseIndex.load(tmp_path / "idx", engine="seismic")


def test_damaged_or_foreign_engine_files_are_refused(tmp_path):
    _index().with_engine("seismic").save(tmp_path / "a")
    file = tmp_path / "a" / "engine" / "seismic.index.seismic"
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged"):
        SparseIndex.load(tmp_path / "a")
    file.unlink()
    with pytest.raises(StoreError, match=r"seismic\.index\.seismic is missing"):
        SparseIndex.load(tmp_path / "a")

    # an engine folder copied beside another matrix
    _index().with_engine("seismic").save(tmp_path / "b")
    _index(_matrix(seed=5)).save(tmp_path / "c")
    (tmp_path / "b" / "engine").rename(tmp_path / "c" / "engine")
    with pytest.raises(StoreError, match="built from another matrix"):
        SparseIndex.load(tmp_path / "c")


def test_configure_changes_search_knobs_only():
    engine = build_engine("seismic", _index().matrix)
    assert configure(engine, {"heap_factor": 0.3}).params == SeismicParams(heap_factor=0.3)
    assert configure(engine, {"heap_factor": 0.3}).index is engine.index  # not rebuilt
    with pytest.raises(InputError, match=r"\['summary_energy'\] change how the seismic engine is built"):
        configure(engine, {"summary_energy": 0.9})


def test_more_documents_keep_the_engine():
    fast = _index().with_engine("seismic", NO_PRUNING)
    grown = fast.add(_matrix(n_docs=10, seed=9), [f"new{i}" for i in range(10)])
    assert grown.engine.name == "seismic" and grown.engine.params == fast.engine.params
    ids = [f"d{i}" for i in range(400)] + [f"new{i}" for i in range(10)]
    fresh = SparseIndex.build(sp.vstack([_matrix(), _matrix(10, 9)]), ids, info=fast.info).with_engine(
        "seismic", NO_PRUNING
    )
    assert grown.search(_queries(), k=10) == fresh.search(_queries(), k=10)


def test_large_vocabulary_uses_seismic_lv():
    vocab = 70_000  # beyond Seismic's uint16 token ids
    matrix = sp.csr_matrix(([1.0, 2.0, 3.0], ([0, 0, 1], [5, 69_999, 69_999])), shape=(2, vocab), dtype=np.float32)
    fast = _index(matrix, vocab=vocab).with_engine("seismic", NO_PRUNING)
    q = sp.csr_matrix(([1.0], ([0], [69_999])), shape=(1, vocab), dtype=np.float32)
    assert fast.search(q, k=2).hits(0) == [("d1", 3.0), ("d0", 2.0)]


def test_the_library_prints_nothing(tmp_path, capfd):
    fast = _index().with_engine("seismic")
    fast.save(tmp_path / "idx")
    SparseIndex.load(tmp_path / "idx")
    assert capfd.readouterr().out == ""


@pytest.fixture
def fake_model(monkeypatch, cache_root):
    from keytokens.lens import Lens
    from tests.retrieval.tinylens import tiny_lens

    lens = tiny_lens()
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *args, **kwargs: lens))
    return lens


def test_retriever_engine_option(beir_dir, tmp_path, fake_model):
    from keytokens.evaluation.beir import read_corpus
    from keytokens.retrieval import SparseRetriever
    from keytokens.sparse import build_index, encode_corpus

    ids, texts = read_corpus(beir_dir / "corpus.jsonl")
    index = build_index(fake_model, encode_corpus(fake_model, texts, SparseConfig(k=3), cache=False), ids)
    exact = SparseRetriever.from_lens(index, fake_model)
    fast = SparseRetriever(index, fake_model.vocabulary.tokenizer, engine="seismic", engine_options=NO_PRUNING)
    assert fast.index.engine.name == "seismic" and exact.index.engine.name == "exact"
    assert fast.search(["cherry pie", "apple"], k=2) == exact.search(["cherry pie", "apple"], k=2)
    fast.index.save(tmp_path / "idx", tokenizer=fake_model.vocabulary.tokenizer)
    loaded = SparseRetriever.load(tmp_path / "idx", engine_options={"heap_factor": 0.5})
    assert loaded.index.engine.params.heap_factor == 0.5
    with pytest.raises(StoreError, match="rebuild the index with those options"):
        SparseRetriever.load(tmp_path / "idx", engine="seismic", engine_options={"doc_cut": 3})


def test_cli_index_and_search_with_seismic(beir_dir, tmp_path, fake_model, capsys):
    from keytokens.cli import main

    idx, corpus = tmp_path / "idx", str(beir_dir / "corpus.jsonl")
    args = ["index", corpus, "--doc-tokens", "3", "--out", str(idx), "--engine", "seismic", "--json"]
    assert main([*args, "--engine-option", "n_postings=100000", "--engine-option", "heap_factor=0.01"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["engine"]["name"] == "seismic" and summary["engine"]["params"]["heap_factor"] == 0.01
    assert summary["engine"]["bytes"] > 0
    assert main(["search", str(idx), "cherry pie", "-k", "2", "--json", "--engine-option", "heap_factor=0.5"]) == 0
    assert [h["id"] for h in json.loads(capsys.readouterr().out)["queries"][0]["hits"]] == ["d3", "d1"]
    assert main(["index", corpus, "--doc-tokens", "3", "--out", str(tmp_path / "table"), "--engine", "seismic"]) == 0
    assert "engine seismic (" in capsys.readouterr().out

    for bad, message in [
        (["search", str(idx), "pie", "--engine-option", "n_postings=5"], "rebuild the index with those options"),
        (["search", str(idx), "pie", "--engine-option", "heap_factor=2"], "heap_factor must be in (0.0, 1.0]"),
        (["index", corpus, "--out", str(tmp_path / "b"), "--engine", "pisa"], "unknown engine 'pisa'"),
        (["index", corpus, "--out", str(tmp_path / "c"), "--engine-option", "x=1"], "unknown exact engine option"),
    ]:
        assert main(bad) == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_dotvbyte_compression_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    matrix = sp.random(3000, V, density=0.08, format="csr", dtype=np.float32, random_state=1)
    matrix.data = rng.uniform(0.1, 3, matrix.nnz).astype(np.float32)  # few ties: overlap measures recall
    exact = _index(matrix)
    small = exact.with_engine("seismic", {**NO_PRUNING, "compression": "dotvbyte"})
    small.save(tmp_path / "idx")
    loaded = SparseIndex.load(tmp_path / "idx")
    assert loaded.engine.params.compression == "dotvbyte"
    assert loaded.search(_queries(), k=10) == small.search(_queries(), k=10)
    got, want = small.search(_queries(), k=10).doc_ids, exact.search(_queries(), k=10).doc_ids
    assert np.mean([len(set(a) & set(b)) / max(1, len(b)) for a, b in zip(got, want, strict=True)]) > 0.95
    with pytest.raises(InputError, match="compression must be one of"):
        engine_params("seismic", {"compression": "zstd"})
    vocab = 70_000
    big = sp.csr_matrix(([1.0], ([0], [69_999])), shape=(1, vocab), dtype=np.float32)
    with pytest.raises(InputError, match="dotvbyte compression takes at most 65536 tokens"):
        _index(big, vocab=vocab).with_engine("seismic", {"compression": "dotvbyte"})
