import json

import numpy as np
import pytest

from keytokens.cli import main
from keytokens.heads import FittedHead
from tests.retrieval.tinybeir import write_beir


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KEYTOKENS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def tiny_model(monkeypatch, cache):
    """Every ``Lens.load`` returns the tiny bag-of-words lens (14 dimensions, 14 tokens)."""
    from keytokens.lens import Lens
    from tests.retrieval.tinylens import tiny_lens

    lens = tiny_lens()
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *args, **kwargs: lens))
    return lens


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_fit_head_writes_a_loadable_head(tmp_path, tiny_model, capsys):
    corpus = write_beir(tmp_path / "beir") / "corpus.jsonl"
    out = tmp_path / "head"
    args = ["fit-head", str(corpus), "--model", "tiny", "--out", str(out)]
    assert main([*args, "--target", "tf", "--l2", "0.01", "--json"]) == 0
    summary = _json(capsys)
    assert summary["n_texts"] == 4 and summary["target"]["kind"] == "tf" and summary["fit"]["l2"] == 0.01
    assert summary["texts"] == str(corpus) and summary["embedder"] == "tiny"
    head = FittedHead.load(out, tokenizer=tiny_model.vocabulary.tokenizer, hidden_size=14, embedder=("tiny",))
    emb = tiny_model.encode(["yellow"])  # d2 is the only text with "yellow", and it reads "banana juice yellow"
    top = {tiny_model.vocabulary.readable[i] for i in np.argsort(-head.project(emb)[0])[:3]}
    assert top == {"banana", "juice", "yellow"}
    assert main([*args, "--l2", "0.01"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "--l2", "0.01", "--force"]) == 0


def test_fit_head_errors_are_one_line(tmp_path, tiny_model, capsys):
    corpus = write_beir(tmp_path / "beir") / "corpus.jsonl"
    args = ["fit-head", str(corpus), "--out", str(tmp_path / "h")]
    assert main([*args, "--target", "bm25"]) == 2  # usage errors, before any model loads
    assert "'bm25' is not one of ['tf', 'tfidf', 'model', 'mix']" in capsys.readouterr().err
    assert main([*args, "--fit", "lasso"]) == 2
    assert "'lasso' is not one of ['kl', 'ridge']" in capsys.readouterr().err
    assert main([*args, "--l2", "0"]) == 1
    assert "4 texts for 14 embedding dimensions" in capsys.readouterr().err
    lines = tmp_path / "texts.txt"
    lines.write_text("apple pie\nbanana juice\n")
    assert main(["fit-head", str(lines), "--out", str(tmp_path / "h2"), "--json"]) == 0
    assert _json(capsys)["n_texts"] == 2


def test_fit_head_takes_the_corpus_as_an_argument_and_texts_as_a_deprecated_alias(tmp_path, tiny_model, capsys):
    lines = tmp_path / "texts.txt"
    lines.write_text("apple pie\nbanana juice\ncherry pie\n")
    assert main(["fit-head", "--texts", str(lines), "--out", str(tmp_path / "h"), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n_texts"] == 3 and "--texts is deprecated" in captured.err
    assert main(["fit-head", str(lines), "--texts", str(lines), "--out", str(tmp_path / "h2")]) == 2
    assert "give the corpus once" in capsys.readouterr().err
    assert main(["fit-head", "--out", str(tmp_path / "h3")]) == 2
    assert "give CORPUS" in capsys.readouterr().err
    assert "--texts" not in _help(capsys, "fit-head")


def _help(capsys, command: str) -> str:
    assert main([command, "--help"]) == 0
    return capsys.readouterr().out


@pytest.mark.slow
def test_fit_head_then_every_command_takes_it_with_minilm(tmp_path, cache, capsys):
    beir = write_beir(tmp_path / "beir")
    head = tmp_path / "head"
    fit = ["fit-head", str(beir / "corpus.jsonl"), "--model", "minilm", "--out", str(head)]
    assert main([*fit, "--l2", "1.0", "--json"]) == 0
    assert _json(capsys)["embedder"] == "minilm"
    assert main(["tokens", "apple pie", "--model", "minilm", "--head", str(head), "-k", "3", "--json"]) == 0
    tokens = _json(capsys)
    assert tokens["head"] == "minilm:fitted-tfidf-ridge" and len(tokens["results"][0]["tokens"]) == 3
    texts = tmp_path / "texts.txt"
    texts.write_text("apple pie apple tree\nred cherry pie\n")
    assert main(["align", "--model", "minilm", "--data", str(texts), "--head", str(head), "--json"]) == 0
    assert _json(capsys)["n_texts"] == 2
    idx = [
        "index",
        str(beir / "corpus.jsonl"),
        "--model",
        "minilm",
        "--head",
        str(head),
        "-r",
        "paper",
        "--doc-tokens",
        "4",
    ]
    assert main([*idx, "--out", str(tmp_path / "idx"), "--json"]) == 0
    assert _json(capsys)["head"] == "minilm:fitted-tfidf-ridge"
    run = [
        "eval",
        str(beir),
        "--model",
        "minilm",
        "--head",
        str(head),
        "--systems",
        "sparse,dense",
        "-r",
        "paper",
        "--doc-tokens",
        "4",
    ]
    assert main([*run, "--json"]) == 0
    results = _json(capsys)["results"]
    assert [r["system"] for r in results] == ["sparse", "dense"]
    assert results[0]["settings"]["settings"]["head"] == "minilm:fitted-tfidf-ridge"
