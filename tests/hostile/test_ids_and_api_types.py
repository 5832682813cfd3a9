"""Document ids that would not survive storage, and JSON API values of the wrong type."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from keytokens.errors import InputError
from keytokens.evaluation.beir import read_corpus, read_queries
from keytokens.retrieval import DenseIndex
from keytokens.sparse import IndexInfo, SparseConfig, SparseIndex
from keytokens.strings import id_problem

BAD_IDS = [
    "d1\x00",
    "\x00",
    "d\x001",
    "d1\t",
    "d1\n",
    "\x1bd1",
    "d1\x7f",
    "d1\x85",
    "d1\x9f",
    " d1",
    "d1 ",
    "d1\u2028",
    "\ud800",
]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_corpus_line_with_such_an_id_is_refused_naming_the_line(bad, tmp_path):
    path = tmp_path / "corpus.jsonl"
    lines = [{"_id": "d1", "text": "apple"}, {"_id": bad, "text": "banana"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(InputError, match=r"corpus\.jsonl:2: document id"):
        read_corpus(path)


@pytest.mark.parametrize("bad", BAD_IDS)
def test_query_ids_too(bad, tmp_path):
    path = tmp_path / "queries.jsonl"
    path.write_text(json.dumps({"_id": bad, "text": "apple"}) + "\n")
    with pytest.raises(InputError, match=r"queries\.jsonl:1: query id"):
        read_queries(path)


@pytest.mark.parametrize("bad", BAD_IDS)
def test_indexes_refuse_them(bad):
    info = IndexInfo("m", "h", "t", 3, SparseConfig(k=1))
    with pytest.raises(InputError, match="position 1: document id"):
        SparseIndex.build(sp.identity(2, format="csr", dtype=np.float32)[:, [0, 1, 1]], ["d1", bad], info=info)
    with pytest.raises(InputError, match="position 1: document id"):
        DenseIndex.build(np.eye(2, dtype=np.float32), ["d1", bad], model="m")


def test_the_collapse_they_would_cause():
    """Why: numpy unicode arrays drop trailing NULs, so two ids would become one (and search return the wrong one)."""
    assert np.asarray(["d1", "d1\x00"], dtype=str).tolist() == ["d1", "d1"]


@pytest.mark.parametrize("good", ["d1", "doc 1", "Ωmega-ü", "a/b:c", "1"])
def test_ordinary_ids_pass(good):
    assert id_problem(good) is None


def test_a_text_with_a_lone_surrogate_in_the_corpus_is_refused(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"_id": "d1", "text": "apple \\ud800 pie"}\n')
    with pytest.raises(InputError, match=r"corpus\.jsonl:1: the text of 'd1' is not valid UTF-8"):
        read_corpus(path)


# --- the JSON API: values of the wrong JSON type are refused, not coerced ------------------------------------

TOKENS = {"preset": "tiny", "texts": ["apple"], "k": 1}
SEARCH = {"index": "fruit", "query": "apple"}


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("/api/tokens", {**TOKENS, "k": True}, "k"),
        ("/api/tokens", {**TOKENS, "k": 1.0}, "k"),
        ("/api/tokens", {**TOKENS, "k": "2"}, "k"),
        ("/api/tokens", {**TOKENS, "lam": True}, "lam"),
        ("/api/tokens", {**TOKENS, "lam": "0.5"}, "lam"),
        ("/api/tokens", {**TOKENS, "instruction": 3}, "instruction"),
        ("/api/compare", {**TOKENS, "texts": ["apple", "pie"], "k": False}, "k"),
        ("/api/search", {**SEARCH, "k": True}, "k"),
        ("/api/search", {**SEARCH, "k": 2.0}, "k"),
        ("/api/search", {**SEARCH, "explain": 1}, "explain"),
        ("/api/search", {**SEARCH, "explain": "false"}, "explain"),
    ],
)
def test_api_values_of_the_wrong_type_are_a_422(route, body, field):
    pytest.importorskip("fastapi", reason="the explorer needs the serve extra")
    import tempfile
    from pathlib import Path

    from fastapi.testclient import TestClient

    from keytokens.server import IndexCache
    from keytokens.server.app import create_app
    from tests.server.fakes import fake_explorer, write_tiny_index

    with tempfile.TemporaryDirectory() as tmp:
        write_tiny_index(Path(tmp) / "fruit")
        explorer = fake_explorer(indexes=IndexCache({"fruit": Path(tmp) / "fruit"}))
        with TestClient(create_app(explorer), raise_server_exceptions=False) as client:
            response = client.post(route, json=body)
            assert response.status_code == 422, response.text
            assert response.json()["detail"].startswith(f"{field}:")
            ok = {**body, field: {"k": 2, "lam": 0.0, "instruction": "", "explain": False}[field]}
            assert client.post(route, json=ok).status_code == 200


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/api/tokens", {**TOKENS, "texts": ["apple \ud800"]}),
        ("/api/compare", {**TOKENS, "texts": ["apple", "\udcff pie"]}),
        ("/api/search", {**SEARCH, "query": "apple \ud800"}),
    ],
)
def test_api_texts_that_are_not_valid_unicode_are_a_422(route, body, tmp_path):
    pytest.importorskip("fastapi", reason="the explorer needs the serve extra")
    from fastapi.testclient import TestClient

    from keytokens.server import IndexCache
    from keytokens.server.app import create_app
    from tests.server.fakes import fake_explorer, write_tiny_index

    write_tiny_index(tmp_path / "fruit")
    explorer = fake_explorer(indexes=IndexCache({"fruit": tmp_path / "fruit"}))
    with TestClient(create_app(explorer), raise_server_exceptions=False) as client:
        body = json.dumps(body)  # ASCII, with the lone surrogate as a \\ud800 escape: valid JSON
        response = client.post(route, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text  # pydantic refuses the string itself, naming the field
    assert response.json()["detail"].startswith(("texts.", "query:"))


def test_a_long_text_that_is_not_utf8_is_quoted_around_the_bad_byte_only():
    from keytokens.embedders import check_texts

    with pytest.raises(InputError) as info:
        check_texts(["ok", "a" * 100_000 + "\udcff" + "b" * 100_000])
    message = str(info.value)
    assert message.startswith("text 1 is not valid UTF-8 text: '…aaa") and "a\\xffb" in message
    assert len(message) < 150
