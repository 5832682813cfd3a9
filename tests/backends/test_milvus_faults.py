"""Milvus Lite faults: a collection half made by a killed process, a mistyped database path, log noise."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from keytokens.backends import MilvusIndex
from keytokens.backends.milvus import connect
from keytokens.backends.milvus_schema import META_SUFFIX
from keytokens.cli import main
from keytokens.errors import InputError
from keytokens.sparse import Centering
from tests.backends.conftest import REPO
from tests.backends.fixtures import random_corpus, random_info, random_queries

# Creates collection "docs" and is killed (SIGKILL) after the document collection exists, before its side record.
_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    import keytokens.backends.milvus as milvus
    from keytokens.backends.milvus_schema import META_SUFFIX, create_collections
    from tests.backends.fixtures import random_info

    def create_then_hang(client, name, info):
        create = client.create_collection
        def hanging(collection, **kwargs):
            if collection.endswith(META_SUFFIX):
                print("documents created", flush=True)
                time.sleep(600)
            return create(collection, **kwargs)
        client.create_collection = hanging
        create_collections(client, name, info)

    milvus.create_collections = create_then_hang
    milvus.MilvusIndex.create(sys.argv[1], "docs", random_info())
    """
)


def _kill_while_creating(uri: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, uri], stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert proc.stdout.readline().strip() == "documents created"
    finally:
        proc.kill()  # SIGKILL: no cleanup runs
        proc.wait(timeout=60)
        proc.stdout.close()


def _write(uri, **kwargs) -> MilvusIndex:
    index = MilvusIndex.create(uri, "docs", random_info(), **kwargs)
    ids, vectors, embeddings = random_corpus(30)
    index.write([(ids, vectors, embeddings)], centering=Centering())
    return MilvusIndex.open(uri, "docs")


@pytest.mark.parametrize(
    ("leftover", "force"),
    [(False, False), (True, True)],
    ids=["killed-between-the-two-collections-rerun", "killed-inside-the-side-collection-force"],
)
def test_a_collection_half_made_by_a_killed_process_is_recovered(milvus_uri, leftover, force):
    _kill_while_creating(milvus_uri)
    client = connect(milvus_uri)
    assert client.has_collection("docs") and not client.has_collection("docs" + META_SUFFIX)
    if leftover:  # killed after Milvus Lite made the side collection's folder, before its schema: "File exists"
        os.makedirs(os.path.join(milvus_uri, "collections", "docs" + META_SUFFIX))
    index = _write(milvus_uri, overwrite=force)
    assert index.n_docs == 30 and index.record["complete"] is True
    _, embeddings = random_queries(3)
    assert all(len(ids) == 10 for ids in index.search_dense(embeddings, k=10).doc_ids)


def test_an_interrupted_folder_blocks_nothing_even_for_a_new_name(milvus_uri):
    connect(milvus_uri).close()
    os.makedirs(os.path.join(milvus_uri, "collections", "docs"))  # killed inside Milvus Lite's create_collection
    assert _write(milvus_uri).n_docs == 30


def test_a_lone_side_record_is_recovered(milvus_uri):
    _write(milvus_uri)
    connect(milvus_uri).drop_collection("docs")  # killed between dropping the documents and the record
    assert _write(milvus_uri).n_docs == 30


def test_a_document_collection_with_rows_but_no_record_is_not_dropped_without_force(milvus_uri):
    _write(milvus_uri)
    connect(milvus_uri).drop_collection("docs" + META_SUFFIX)
    with pytest.raises(InputError, match="was not written by keytokens"):
        MilvusIndex.create(milvus_uri, "docs", random_info())
    assert connect(milvus_uri).has_collection("docs")  # its 30 rows are still there
    assert _write(milvus_uri, overwrite=True).n_docs == 30


def test_searching_a_database_that_does_not_exist_does_not_create_it(milvus, tmp_path, capsys):
    uri = str(tmp_path / "typo.db")
    with pytest.raises(InputError, match=r"no Milvus Lite database at '.*typo\.db'"):
        MilvusIndex.open(uri, "docs")
    assert main(["search", "docs", "apple", "--backend", "milvus", "--uri", uri]) == 1
    assert "no Milvus Lite database at" in capsys.readouterr().err
    assert not os.path.exists(uri)


def test_a_huge_k_returns_the_corpus(milvus_uri):
    index = _write(milvus_uri)
    queries, embeddings = random_queries(2)
    assert all(len(ids) <= 30 for ids in index.search_sparse(queries, k=10**9).doc_ids)
    assert all(len(ids) == 30 for ids in index.search_dense(embeddings, k=10**9).doc_ids)


def test_a_successful_index_prints_no_engine_errors(beir_dir, tmp_path, monkeypatch, cache_root, capsys, milvus):
    from keytokens.lens import Lens
    from tests.retrieval.tinylens import tiny_lens

    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *a, **kw: tiny_lens()))
    uri = str(tmp_path / "kt.db")
    assert (
        main(["index", str(beir_dir / "corpus.jsonl"), "--doc-tokens", "3", "--backend", "milvus", "--uri", uri]) == 0
    )
    assert main(["search", "keytokens", "apple", "--backend", "milvus", "--uri", uri]) == 0
    err = capsys.readouterr().err
    assert "ERROR" not in err and "Traceback" not in err and "not implemented" not in err, err


def test_writes_and_searches_refuse_bad_ids_and_non_finite_embeddings(milvus_uri):
    import numpy as np

    ids, vectors, embeddings = random_corpus(3)
    with pytest.raises(InputError, match="position 1: document id 'doc1\\\\x00' holds a control character"):
        index = MilvusIndex.create(milvus_uri, "docs", random_info())
        index.write([(["doc0", "doc1\x00", "doc2"], vectors, embeddings)], centering=Centering())
    embeddings[2, 0] = np.nan
    with pytest.raises(InputError, match="document embedding row 2 holds NaN"):
        index = MilvusIndex.create(milvus_uri, "docs", random_info())
        index.write([(ids, vectors, embeddings)], centering=Centering())
    assert not connect(milvus_uri).has_collection("docs")  # a refused first write leaves nothing
    _write(milvus_uri, overwrite=True)
    with pytest.raises(InputError, match="query embedding row 0 holds Inf"):
        MilvusIndex.open(milvus_uri, "docs").search_dense(np.full((1, 16), np.inf, dtype=np.float32), k=3)


def test_an_id_too_long_for_milvus_is_refused_before_encoding(
    beir_dir, tmp_path, monkeypatch, cache_root, capsys, milvus
):
    from keytokens.lens import Lens

    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *a, **kw: pytest.fail("a model was loaded")))
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "d1", "text": "apple"}\n{"_id": "%s", "text": "pie"}\n' % ("x" * 513))
    uri = str(tmp_path / "kt.db")
    assert main(["index", str(corpus), "--backend", "milvus", "--uri", uri]) == 1
    assert "position 1: document id is longer than Milvus's 512 characters" in capsys.readouterr().err
