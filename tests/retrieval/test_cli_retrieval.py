import json

import pytest

from keytokens.cli import main
from keytokens.lens import Lens
from tests.retrieval.tinylens import tiny_lens


@pytest.fixture
def fake_model(monkeypatch, cache_root):
    """Every ``Lens.load`` in the CLI returns the tiny lens (or the one set in ``state``)."""
    state = {"lens": tiny_lens()}
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *args, **kwargs: state["lens"]))
    return state


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_index_search_explain(beir_dir, tmp_path, fake_model, capsys):
    idx = tmp_path / "idx"
    paper = ["-r", "paper", "--doc-tokens", "3", "--weighting", "relu", "--centering", "none"]
    assert main(["index", str(beir_dir / "corpus.jsonl"), "-m", "tiny", *paper, "--out", str(idx), "--json"]) == 0
    summary = _json(capsys)
    assert summary["n_docs"] == 4 and summary["config"]["k"] == 3 and (idx / "tokenizer").is_dir()

    assert main(["search", str(idx), "cherry pie", "-k", "2", "--explain", "--json"]) == 0
    hits = _json(capsys)["queries"][0]["hits"]
    assert [h["id"] for h in hits] == ["d3", "d1"]
    assert {m["token"] for m in hits[0]["explanation"]} == {"cherry", "pie"}

    assert main(["search", str(idx), "zzz"]) == 0  # no known token: empty result, not an error
    assert "no document shares a token" in capsys.readouterr().err


def test_dense_index_and_search(beir_dir, tmp_path, fake_model, capsys):
    args = ["index", str(beir_dir / "corpus.jsonl"), "--doc-tokens", "2", "--out", str(tmp_path / "s")]
    assert main([*args, "--dense-out", str(tmp_path / "d"), "--json"]) == 0
    capsys.readouterr()
    assert main(["search", str(tmp_path / "d"), "yellow banana", "-k", "1", "--json"]) == 0
    assert _json(capsys)["queries"][0]["hits"][0]["id"] == "d2"


def test_errors_are_one_line(beir_dir, tmp_path, fake_model, capsys):
    assert main(["search", str(tmp_path / "missing"), "q"]) == 1
    assert capsys.readouterr().err.strip().startswith("error:")
    idx = tmp_path / "idx"
    assert main(["index", str(beir_dir / "corpus.jsonl"), "--out", str(idx), "--doc-tokens", "2"]) == 0
    assert main(["index", str(beir_dir / "corpus.jsonl"), "--out", str(idx), "--doc-tokens", "2"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["index", str(beir_dir / "corpus.jsonl"), "--out", str(idx), "--doc-tokens", "2", "--force"]) == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_id": "a", "text": "x"}\n{broken\n')
    assert main(["index", str(bad), "--out", str(tmp_path / "i2")]) == 1
    assert "bad.jsonl:2: not valid JSON" in capsys.readouterr().err
    i3 = ["index", str(beir_dir / "corpus.jsonl"), "--out", str(tmp_path / "i3")]
    assert main([*i3, "--recipe", "paper", "--weighting", "tf"]) == 2  # a usage error, before any model loads
    assert "'tf' is not one of ['raw', 'relu', 'log1p-relu', 'softmax']" in capsys.readouterr().err
    assert main([*i3, "--weighting", "relu"]) == 2  # the default recipe is lexical: aligned-token flags do not apply
    assert "--weighting" in capsys.readouterr().err


def test_other_tokenizer_is_refused(beir_dir, tmp_path, fake_model, capsys):
    idx = tmp_path / "idx"
    assert main(["index", str(beir_dir / "corpus.jsonl"), "--out", str(idx), "--doc-tokens", "2"]) == 0
    other = tiny_lens(name="other")
    other.vocabulary.tokenizer.add_tokens(["kiwi"])
    fake_model["lens"] = other
    assert main(["search", str(idx), "apple", "--model", "other"]) == 1
    assert "tokenizes differently" in capsys.readouterr().err


def test_incomplete_index_is_refused(beir_dir, tmp_path, fake_model, capsys):
    idx = tmp_path / "idx"
    assert main(["index", str(beir_dir / "corpus.jsonl"), "--out", str(idx), "--doc-tokens", "2"]) == 0
    (idx / "data.npy").unlink()
    assert main(["search", str(idx), "apple"]) == 1
    assert "incomplete: data.npy is missing" in capsys.readouterr().err


def test_eval(beir_dir, tmp_path, fake_model, capsys):
    out = tmp_path / "report"
    args = [
        "eval",
        str(beir_dir),
        "--systems",
        "dense,sparse,hybrid,bm25",
        "--doc-tokens",
        "3",
        "--json",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    report = _json(capsys)
    assert [r["system"] for r in report["results"]] == ["dense", "sparse", "hybrid", "bm25"]
    assert all(r["metrics"]["ndcg@10"] == pytest.approx(1.0) for r in report["results"])
    assert (out / "report.md").is_file() and (out / "runs" / "hybrid.trec").is_file()
    assert main(["eval", str(beir_dir), "--systems", "dense,splade"]) == 1
    assert "unknown system 'splade'" in capsys.readouterr().err
    assert main(["eval", str(beir_dir), "--split", "dev"]) == 1


@pytest.mark.slow
def test_minilm_end_to_end(beir_dir, tmp_path, cache_root, capsys):
    # the default recipe: own tokens with BM25 impacts, expanded by a head fitted on the corpus
    idx = tmp_path / "idx"
    corpus = str(beir_dir / "corpus.jsonl")
    assert main(["index", corpus, "--model", "minilm", "--out", str(idx), "--json"]) == 0
    assert _json(capsys)["model"] == "minilm"
    for extra in ([], ["--model", "minilm"]):  # the saved tokenizer and the model's agree
        assert main(["search", str(idx), "banana juice", "-k", "2", "--explain", "--json", *extra]) == 0
        hit = _json(capsys)["queries"][0]["hits"][0]
        assert hit["id"] == "d2" and {m["token"] for m in hit["explanation"]} == {"banana", "juice"}
    assert main(["eval", str(beir_dir), "--model", "minilm", "--systems", "dense,bm25", "--json"]) == 0
    assert _json(capsys)["results"][0]["metrics"]["ndcg@10"] > 0.5
