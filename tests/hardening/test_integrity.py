"""Damaged indexes and caches: refused at load (cheap checks), by `keytokens verify` and by the server (checksums)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from keytokens.cli import main
from keytokens.encoding import encode_corpus_embeddings
from keytokens.lens import Lens
from keytokens.sparse import SparseIndex
from keytokens.store import StoreError
from tests.hardening.conftest import write_corpus
from tests.retrieval.tinylens import tiny_lens


@pytest.fixture
def index(tmp_path, monkeypatch):
    monkeypatch.setenv("KEYTOKENS_CACHE", str(tmp_path / "cache"))
    lens = tiny_lens()
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *a, **kw: lens))
    corpus = write_corpus(tmp_path / "corpus.jsonl", 12)
    out = tmp_path / "idx"
    assert (
        main(["index", str(corpus), "--out", str(out), "--doc-tokens", "3", "--dense-out", str(tmp_path / "dense")])
        == 0
    )
    return out


def _edit(path, change) -> None:
    """Change an array in place, keeping its .npy header (shape and dtype still match meta.json)."""
    arr = np.load(path, mmap_mode="r+")
    change(arr)
    arr.flush()
    del arr


def test_every_file_has_a_checksum(index):
    document = json.loads((index / "meta.json").read_text())
    assert set(document["arrays"]) == {
        "data",
        "indices",
        "indptr",
        "doc_ids",
        "token_map",
        "snippet_bytes",
        "snippet_offsets",
    }
    assert all(len(spec["blake2b"]) == 64 for spec in document["arrays"].values())
    assert "tokenizer/tokenizer.json" in document["files"]


def test_verify_passes_an_intact_index_and_names_the_damaged_file(index, tmp_path, capsys):
    assert main(["verify", str(index)]) == 0
    assert "files match their checksums" in capsys.readouterr().out
    assert main(["verify", str(tmp_path / "dense"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True

    _edit(index / "data.npy", lambda a: a.__setitem__(0, a[0] + 1.0))  # finite, passes every cheap check
    SparseIndex.load(index)  # a plain load does not read checksums
    assert main(["verify", str(index)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "data.npy: checksum differs" in err and len(err.strip().splitlines()) == 1

    (index / "tokenizer" / "tokenizer.json").write_text("{}")
    assert main(["verify", str(index), "--json"]) == 1
    damaged = json.loads(capsys.readouterr().out)["damaged"]
    assert damaged == ["data.npy: checksum differs", "tokenizer/tokenizer.json: checksum differs"]


def test_a_store_without_checksums_still_loads_and_verify_says_so(index, capsys):
    meta = index / "meta.json"
    document = json.loads(meta.read_text())
    for spec in document["arrays"].values():
        del spec["blake2b"]
    del document["files"]
    meta.write_text(json.dumps(document))
    assert SparseIndex.load(index).n_docs == 12
    assert main(["verify", str(index)]) == 0
    assert "no checksums recorded" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("array", "change", "message"),
    [
        ("data", lambda a: a.__setitem__(3, np.nan), "NaN or infinite"),
        ("data", lambda a: a.__setitem__(0, np.inf), "NaN or infinite"),
        ("indptr", lambda a: a.__setitem__(5, a[-1]), "not monotonic"),
        ("indices", lambda a: a.__setitem__(slice(None), 0), "not in ascending document order"),
        ("indices", lambda a: a.__setitem__(0, 10_000), "outside the 12 documents"),
    ],
    ids=["nan-weight", "inf-weight", "indptr", "zeroed-postings", "posting-out-of-range"],
)
def test_damaged_postings_are_refused_at_every_load(index, capsys, array, change, message):
    _edit(index / f"{array}.npy", change)
    with pytest.raises(StoreError, match=message):
        SparseIndex.load(index)
    assert main(["search", str(index), "cherry pie"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and message.split()[0] in err and "Traceback" not in err


def test_the_server_refuses_an_index_whose_checksums_differ(index):
    from keytokens.server.indexes import open_sparse_index

    assert open_sparse_index(index).search(["cherry"], k=1).hits(0)
    _edit(index / "data.npy", lambda a: a.__setitem__(0, a[0] * 2))
    with pytest.raises(StoreError, match=r"data\.npy: checksum differs"):
        open_sparse_index(index)


def test_a_damaged_cached_chunk_is_encoded_again_never_used(tmp_path, caplog):
    lens = tiny_lens()
    texts = ["apple pie", "cherry tree", "red banana"]
    first = encode_corpus_embeddings(lens.embedder, texts, cache=tmp_path, chunk_size=2)
    chunks = sorted(tmp_path.rglob("chunk2-*.npy"))
    assert len(chunks) == 2 and lens.embedder.calls == 2
    _edit(chunks[0], lambda a: a.__setitem__((0, 4), np.nan))
    np.save(chunks[1], np.zeros((5, 3), dtype=np.float32))  # wrong size
    with caplog.at_level(logging.WARNING, logger="keytokens.encoding"):
        again = encode_corpus_embeddings(lens.embedder, texts, cache=tmp_path, chunk_size=2)
    assert lens.embedder.calls == 4  # both chunks encoded again
    np.testing.assert_array_equal(again, first)
    assert "NaN or infinite" in caplog.text and "has shape (5, 3)" in caplog.text
    np.testing.assert_array_equal(np.load(chunks[0]), first[:2])  # and the cache repaired
