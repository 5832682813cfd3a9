import json

import numpy as np
import pytest

from keytokens.backends import BackendUnavailableError, MilvusIndex, MilvusRetriever
from keytokens.backends.positive import default_positive, get_positive
from keytokens.errors import InputError
from keytokens.retrieval import DenseIndex, Retriever, SparseRetriever
from keytokens.sparse import Centering, SparseConfig, SparseIndex, build_index, encode_corpus
from tests.backends.fixtures import assert_same_ranking, random_corpus, random_info, random_queries
from tests.retrieval.tinybeir import CORPUS

QUERIES = ["apple tree", "yellow banana", "cherry pie", "zzz"]


def _write(uri, info, ids, vectors, embeddings, **kwargs):
    index = MilvusIndex.create(uri, "docs", info, **kwargs)
    index.write([(ids, vectors, embeddings)], centering=Centering())
    return MilvusIndex.open(uri, "docs")


def test_sparse_and_dense_top10_equal_the_embedded_indexes(milvus_uri):
    info = random_info()
    ids, vectors, embeddings = random_corpus(400)
    index = _write(milvus_uri, info, ids, vectors, embeddings)
    queries, query_emb = random_queries(40)
    embedded = SparseIndex.build(vectors, ids, info=info.index)
    assert_same_ranking(index.search_sparse(queries, k=10), embedded.search(queries, k=10))
    dense = DenseIndex.build(embeddings, ids, model="rand")
    assert_same_ranking(index.search_dense(query_emb, k=10), dense.search(query_emb, k=10))
    assert np.array_equal(index.document_frequency(), embedded.document_frequency())


def test_retriever_matches_sparse_retriever_and_hybrid_is_sane(milvus_uri, lens):
    ids, texts = [d["_id"] for d in CORPUS], [d["text"] for d in CORPUS]
    encoding = encode_corpus(lens, texts, SparseConfig(k=3), cache=False)
    from keytokens.cli.scale import write_milvus

    index = write_milvus(milvus_uri, "docs", lens=lens, encoding=encoding, doc_ids=ids)
    expected = SparseRetriever.from_lens(build_index(lens, encoding, ids), lens).search(QUERIES, k=3)
    assert isinstance(MilvusRetriever(index, lens), Retriever)
    assert_same_ranking(MilvusRetriever(index, lens).search(QUERIES, k=3), expected)
    assert MilvusRetriever(index, lens).search(["zzz"], k=3).doc_ids == ((),)  # no known token: no document
    for ranker in ("rrf", "weighted"):
        hybrid = MilvusRetriever(index, lens, mode="hybrid", ranker=ranker).search(QUERIES, k=3)
        assert [hybrid.doc_ids[i][0] for i in range(3)] == ["d1", "d2", "d3"]
        assert all(np.all(np.diff(s) <= 1e-7) for s in hybrid.scores)
        assert len(hybrid.doc_ids[3]) == 3  # a query without tokens still gets its dense neighbours
    rrf = MilvusRetriever(index, lens, mode="hybrid").search(["apple tree"], k=1).scores[0][0]
    assert rrf == pytest.approx(2 / 61)  # first in both lists: 1/(60+1) twice


def test_reindexing_is_idempotent(milvus_uri):
    info = random_info()
    ids, vectors, embeddings = random_corpus(120)
    queries, _ = random_queries(10)
    first = _write(milvus_uri, info, ids, vectors, embeddings).search_sparse(queries, k=10)
    again = _write(milvus_uri, info, ids[:60], vectors[:60], embeddings[:60])  # a re-run of part of the corpus
    assert again.n_docs == 120 and again.record["n_docs"] == 120
    assert again.search_sparse(queries, k=10) == first
    assert np.array_equal(
        again.document_frequency(), SparseIndex.build(vectors, ids, info=info.index).document_frequency()
    )


def test_foreign_collection_is_refused_naming_the_difference(milvus_uri):
    ids, vectors, embeddings = random_corpus(20)
    _write(milvus_uri, random_info(), ids, vectors, embeddings)
    with pytest.raises(InputError, match=r"config\.k 8 vs 4"):
        MilvusIndex.create(milvus_uri, "docs", random_info(k=4))
    with pytest.raises(InputError, match=r"model 'rand' vs 'other'"):
        MilvusIndex.create(milvus_uri, "docs", random_info(model="other"))
    replaced = MilvusIndex.create(milvus_uri, "docs", random_info(k=4), overwrite=True)
    assert replaced.n_docs == 0


def test_unreachable_uri_is_a_clear_error(milvus, tmp_path):
    with pytest.raises(BackendUnavailableError, match=r"cannot reach Milvus at 'http://127\.0\.0\.1:1'"):
        MilvusIndex.create("http://127.0.0.1:1", "docs", random_info())
    with pytest.raises(BackendUnavailableError, match="folder does not exist"):
        MilvusIndex.create(str(tmp_path / "missing" / "kt.db"), "docs", random_info())
    assert not (tmp_path / "missing").exists()
    with pytest.raises(InputError, match=r"must end in \.db"):
        MilvusIndex.create(str(tmp_path / "kt.sqlite"), "docs", random_info())


def test_failed_write_leaves_nothing_or_an_incomplete_collection(milvus_uri):
    ids, vectors, embeddings = random_corpus(50)

    def batches():
        yield ids[:25], vectors[:25], embeddings[:25]
        raise OSError("disk gone")

    new = MilvusIndex.create(milvus_uri, "docs", random_info())
    with pytest.raises(BackendUnavailableError, match="disk gone"):
        new.write(batches(), centering=Centering())
    assert not new.client.has_collection("docs")  # created by the failed run: removed
    _write(milvus_uri, random_info(), ids, vectors, embeddings)
    with pytest.raises(BackendUnavailableError):
        MilvusIndex.create(milvus_uri, "docs", random_info()).write(batches(), centering=Centering())
    with pytest.raises(InputError, match="incomplete"):
        MilvusIndex.open(milvus_uri, "docs")


def test_negative_weights_are_clipped_and_recorded(milvus_uri):
    ids, vectors, embeddings = random_corpus(30, negative=True)
    info = random_info(weighting="raw")
    assert default_positive("raw") == "clip" and default_positive("relu") == "none"
    with pytest.raises(InputError, match="negative"):
        get_positive("none")(vectors)
    from dataclasses import replace

    index = _write(milvus_uri, replace(info, positive="clip"), ids, vectors, embeddings)
    assert index.info.positive == "clip" and index.record["info"]["positive"] == "clip"
    queries, _ = random_queries(5)
    clipped = get_positive("clip")(vectors)
    assert_same_ranking(
        index.search_sparse(queries, k=5), SparseIndex.build(clipped, ids, info=info.index).search(queries, k=5)
    )


def test_cli_index_and_eval_on_milvus(beir_dir, tmp_path, monkeypatch, cache_root, capsys, milvus):
    from keytokens.cli import main
    from keytokens.lens import Lens
    from tests.retrieval.tinylens import tiny_lens

    tiny = tiny_lens()
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *a, **kw: tiny))
    uri = str(tmp_path / "kt.db")
    corpus = str(beir_dir / "corpus.jsonl")
    assert main(["index", corpus, "--doc-tokens", "3", "--backend", "milvus", "--uri", uri, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_docs"] == 4
    assert main(["index", corpus, "--doc-tokens", "2", "--backend", "milvus", "--uri", uri]) == 1
    assert "3 vs 2" in capsys.readouterr().err

    def metrics(*extra):
        args = ["eval", str(beir_dir), "--doc-tokens", "3", "--systems", "sparse,dense,hybrid,bm25", "--json", *extra]
        assert main(args) == 0
        return {r["system"]: r["metrics"] for r in json.loads(capsys.readouterr().out)["results"]}

    embedded = metrics()
    on_milvus = metrics("--backend", "milvus", "--uri", uri)
    assert on_milvus["sparse"] == pytest.approx(embedded["sparse"])
    assert on_milvus["dense"] == pytest.approx(embedded["dense"])
    assert on_milvus["bm25"] == embedded["bm25"]
    assert on_milvus["hybrid"]["ndcg@10"] > 0.5

    assert main(["index", corpus, "--backend", "milvus", "--uri", "http://127.0.0.1:1"]) == 1
    message = capsys.readouterr().err.strip()
    assert message.startswith("error: cannot reach Milvus") and len(message.splitlines()) == 1


def test_cli_search_on_milvus_equals_embedded_search(beir_dir, tmp_path, monkeypatch, cache_root, capsys, milvus):
    from keytokens.cli import main
    from keytokens.lens import Lens
    from tests.retrieval.tinylens import tiny_lens

    tiny = tiny_lens()
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *a, **kw: tiny))
    uri, folder = str(tmp_path / "kt.db"), str(tmp_path / "idx")
    corpus = str(beir_dir / "corpus.jsonl")
    assert (
        main(["index", corpus, "--doc-tokens", "3", "--backend", "milvus", "--uri", uri, "--collection", "docs"]) == 0
    )
    assert main(["index", corpus, "--doc-tokens", "3", "--out", folder]) == 0
    capsys.readouterr()

    def hits(*args):
        assert main(["search", *args, "--json"]) == 0
        return [[(h["id"], h["score"]) for h in q["hits"]] for q in json.loads(capsys.readouterr().out)["queries"]]

    on_milvus = hits("docs", *QUERIES, "--backend", "milvus", "--uri", uri)
    embedded = hits(folder, *QUERIES)
    assert [[d for d, _ in q] for q in on_milvus] == [[d for d, _ in q] for q in embedded]
    for got, want in zip(on_milvus, embedded, strict=True):
        assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5)
    assert on_milvus[-1] == []  # "zzz": no known token, an empty result
    assert len(hits("docs", "apple tree", "--backend", "milvus", "--uri", uri, "--mode", "hybrid")[0]) > 0

    assert main(["search", "nope", "apple", "--backend", "milvus", "--uri", uri]) == 1
    assert "nope" in capsys.readouterr().err
    assert main(["search", "docs", "apple", "--backend", "milvus", "--uri", uri, "--explain"]) == 2
    assert main(["search", "docs", "apple", "--backend", "milvus", "--uri", uri, "--mode", "x"]) == 2


@pytest.mark.slow
@pytest.mark.data
def test_scifact_top10_equals_embedded(shared_data, minilm_lens, tmp_path):
    from keytokens.cli.scale import write_milvus
    from keytokens.evaluation import load_beir

    dataset = load_beir(shared_data / "scifact", split="test")
    encoding = encode_corpus(minilm_lens, dataset.doc_texts, SparseConfig(k=64))
    index = write_milvus(
        str(tmp_path / "kt.db"), "scifact", lens=minilm_lens, encoding=encoding, doc_ids=list(dataset.doc_ids)
    )
    embedded = SparseRetriever.from_lens(build_index(minilm_lens, encoding, dataset.doc_ids), minilm_lens)
    queries = list(dataset.query_texts)
    assert_same_ranking(
        MilvusRetriever(index, minilm_lens).search(queries, k=10), embedded.search(queries, k=10), rtol=1e-4
    )
