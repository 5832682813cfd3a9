"""`keytokens index` refuses a bad destination before it reads the corpus or loads the model."""

from __future__ import annotations

import pytest

from keytokens.cli import main
from keytokens.lens import Lens
from keytokens.retrieval import DenseIndex
from keytokens.sparse import SparseIndex
from tests.hardening.conftest import write_corpus
from tests.retrieval.tinylens import tiny_lens


@pytest.fixture
def lens(tmp_path, monkeypatch):
    monkeypatch.setenv("KEYTOKENS_CACHE", str(tmp_path / "cache"))
    tiny = tiny_lens()
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *a, **kw: tiny))
    return tiny


@pytest.fixture
def pair(tmp_path, lens):
    corpus = write_corpus(tmp_path / "corpus.jsonl", 8)
    args = [
        "index",
        str(corpus),
        "--doc-tokens",
        "2",
        "--out",
        str(tmp_path / "idx"),
        "--dense-out",
        str(tmp_path / "d"),
    ]
    assert main(args) == 0
    lens.embedder.calls = 0
    return tmp_path / "idx", tmp_path / "d"


def test_a_bad_dense_out_with_force_keeps_the_old_pair_and_runs_nothing(tmp_path, lens, pair, capsys):
    (tmp_path / "file").write_text("not a folder")
    corpus = write_corpus(tmp_path / "new.jsonl", 5)
    args = [
        "index",
        str(corpus),
        "--doc-tokens",
        "2",
        "--out",
        str(pair[0]),
        "--dense-out",
        str(tmp_path / "file" / "d"),
    ]
    assert main([*args, "--force"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "is a file, not a folder" in err and len(err.strip().splitlines()) == 1
    assert lens.embedder.calls == 0  # refused before any encoding
    assert SparseIndex.load(pair[0]).n_docs == 8 and DenseIndex.load(pair[1]).n_docs == 8


def test_out_under_a_regular_file_is_one_line(tmp_path, lens, capsys):
    (tmp_path / "file").write_text("x")
    corpus = write_corpus(tmp_path / "corpus.jsonl", 3)
    assert main(["index", str(corpus), "--doc-tokens", "2", "--out", str(tmp_path / "file" / "idx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "is a file, not a folder" in err and "Traceback" not in err
    assert lens.embedder.calls == 0


def test_a_forced_rebuild_replaces_both_and_leaves_nothing_beside(tmp_path, lens, pair):
    corpus = write_corpus(tmp_path / "new.jsonl", 5)
    assert (
        main(["index", str(corpus), "--doc-tokens", "2", "--out", str(pair[0]), "--dense-out", str(pair[1]), "--force"])
        == 0
    )
    assert SparseIndex.load(pair[0]).n_docs == 5 and DenseIndex.load(pair[1]).n_docs == 5
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == ["corpus.jsonl", "d", "idx", "new.jsonl"]


def test_the_same_folder_for_both_indexes_is_a_usage_error(tmp_path, lens):
    corpus = write_corpus(tmp_path / "corpus.jsonl", 3)
    same = str(tmp_path / "x")
    assert main(["index", str(corpus), "--doc-tokens", "2", "--out", same, "--dense-out", same]) == 2
    assert lens.embedder.calls == 0
