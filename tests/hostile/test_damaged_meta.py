"""A ``meta.json`` with a field of the wrong type: "… is damaged: …" in one line, from the CLI and the library."""

from __future__ import annotations

import json
import shutil

import pytest

from keytokens.cli import main
from keytokens.retrieval import DenseIndex
from keytokens.sparse import SparseIndex
from keytokens.store import StoreError

# (where, key, value): where is "top" for meta.json's own fields, "meta" for the index's settings
SPARSE_CASES = [
    ("meta", "vocab_size", "abc"),
    ("meta", "vocab_size", True),
    ("meta", "vocab_size", 1.5),
    ("meta", "config", []),
    ("meta", "config", {"k": "a", "weighting": "relu", "centering": "none", "keep_own_tokens": False}),
    ("meta", "n_docs", -1),
    ("meta", "n_docs", 1e300),
    ("meta", "n_docs", 10**30),
    ("meta", "n_docs", "4"),
    ("meta", "centering", 5),
    ("meta", "model", []),
    ("meta", "tokenizer", None),
    ("top", "arrays", []),
    ("top", "arrays", {"data": []}),
    ("top", "arrays", {"data": {"shape": ["x"], "dtype": "<f4"}}),
    ("top", "meta", []),
    ("top", "kind", []),
    ("top", "schema_version", [1]),
    ("top", "schema_version", "1"),
]
DENSE_CASES = [
    ("meta", "n_docs", -1),
    ("meta", "n_docs", 3),
    ("meta", "dim", "14"),
    ("meta", "model", {}),
    ("meta", "similarity", 5),
    ("top", "meta", "x"),
    ("top", "arrays", None),
]


def _damage(folder, tmp_path, where, key, value):
    bad = tmp_path / f"bad-{folder.name}"
    shutil.copytree(folder, bad)
    document = json.loads((bad / "meta.json").read_text())
    (document if where == "top" else document["meta"])[key] = value
    (bad / "meta.json").write_text(json.dumps(document))
    return bad


def _assert_damaged(capsys, bad):
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: '{bad}") and "is damaged: " in err, err


@pytest.mark.parametrize(("where", "key", "value"), SPARSE_CASES)
def test_sparse_index(where, key, value, indexes, tmp_path, capsys):
    bad = _damage(indexes[0], tmp_path, where, key, value)
    assert main(["search", str(bad), "apple"]) == 1
    _assert_damaged(capsys, bad)
    with pytest.raises(StoreError, match="is damaged"):
        SparseIndex.load(bad)


@pytest.mark.parametrize(("where", "key", "value"), DENSE_CASES)
def test_dense_index(where, key, value, indexes, tmp_path, capsys):
    bad = _damage(indexes[1], tmp_path, where, key, value)
    assert main(["search", str(bad), "apple"]) == 1
    _assert_damaged(capsys, bad)
    with pytest.raises(StoreError, match="is damaged"):
        DenseIndex.load(bad)


@pytest.mark.parametrize(("where", "key", "value"), SPARSE_CASES)
def test_explorer_refuses_to_serve_it_in_one_line(where, key, value, indexes, tmp_path, capsys, monkeypatch):
    uvicorn = pytest.importorskip("uvicorn", reason="the explorer needs the serve extra")
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: pytest.fail("the server started on a damaged index"))
    bad = _damage(indexes[0], tmp_path, where, key, value)
    assert main(["serve", "--model", "minilm", "--index", f"fruit={bad}"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "is damaged: " in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("where", "key", "value"), SPARSE_CASES)
def test_explorer_answers_a_4xx_when_the_index_is_damaged_while_served(where, key, value, indexes, tmp_path):
    pytest.importorskip("fastapi", reason="the explorer needs the serve extra")
    from fastapi.testclient import TestClient

    from keytokens.server import IndexCache
    from keytokens.server.app import create_app
    from tests.server.fakes import fake_explorer

    folder = tmp_path / "served"
    shutil.copytree(indexes[0], folder)
    explorer = fake_explorer(indexes=IndexCache({"fruit": folder}))
    bad = _damage(indexes[0], tmp_path, where, key, value)
    shutil.rmtree(folder)
    shutil.copytree(bad, folder)  # damaged after start-up, before the first search opens it
    with TestClient(create_app(explorer), raise_server_exceptions=False) as client:
        response = client.post("/api/search", json={"index": "fruit", "query": "apple"})
    assert 400 <= response.status_code < 500, response.text
    assert "is damaged" in response.json()["detail"]


@pytest.fixture
def fitted_head(tmp_path, loads):
    folder = tmp_path / "head"
    texts = tmp_path / "t.txt"
    texts.write_text("apple pie\nbanana juice\ncherry tree\ndate fruit\n" * 5)
    assert main(["fit-head", "--texts", str(texts), "--out", str(folder), "--json"]) == 0
    return folder


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("n_texts", "many"),
        ("n_texts", 1e300),
        ("fit", []),
        ("fit", {"method": "ridge", "l2": "0.1", "center": True, "epochs": 1, "lr": 0.1, "batch_size": 8, "seed": 0}),
        ("target", {"kind": 1, "drop_stopwords": False, "top_n": 8, "mix": 0.5, "temperature": 1.0}),
        ("seconds", "slow"),
        ("name", 5),
        ("embedder_model", ["x"]),
    ],
)
def test_fitted_head(key, value, fitted_head, tmp_path, capsys):
    from keytokens.heads import FittedHead

    bad = _damage(fitted_head, tmp_path, "meta", key, value)
    with pytest.raises(StoreError, match=f"is damaged: .*{key}|is damaged: field"):
        FittedHead.load(bad)


@pytest.mark.parametrize(
    ("key", "value"), [("n_docs", 1e300), ("n_docs", "2"), ("dim", True), ("index", []), ("lens", 3), ("corpus", None)]
)
def test_shard_manifest(key, value, tmp_path, loads, capsys):
    pytest.importorskip("pyarrow", reason="pyarrow is not installed: pip install 'keytokens[ray]'")
    from keytokens.backends.ray_encode import encode_to_shards
    from keytokens.sparse import SparseConfig
    from tests.retrieval.tinylens import tiny_lens

    shards = tmp_path / "shards"
    encode_to_shards(["d1", "d2"], ["apple", "pie"], shards, lens_factory=tiny_lens, config=SparseConfig(k=2))
    manifest = json.loads((shards / "manifest.json").read_text())
    manifest[key] = value
    (shards / "manifest.json").write_text(json.dumps(manifest))
    assert main(["index", "--from-shards", str(shards), "--out", str(tmp_path / "idx")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "manifest.json' is damaged: " in err and f"'{key}'" in err, err
