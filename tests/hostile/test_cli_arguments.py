"""Hostile command-line arguments: one line on stderr and exit 1 (2 for usage errors), never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keytokens.cli import main
from keytokens.cli.app import print_json

REPO = Path(__file__).resolve().parents[2]


def _one_line_error(capsys, *, contains: str = "") -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and 'File "' not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert contains in lines[0], err
    return lines[0]


# --- bytes that are not UTF-8 -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["\udcff\udcfe", "apple \udcff", "\ud800"])
def test_text_that_is_not_utf8_is_refused(text, loads, capsys):
    assert main(["tokens", text, "--model", "tiny"]) == 1
    line = _one_line_error(capsys, contains="text 0 is not valid UTF-8")
    if text.startswith("\udcff"):
        assert "\\xff\\xfe" in line  # the bytes as the user typed them


@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_query_that_is_not_utf8_is_refused(kind, indexes, capsys):
    folder = indexes[0] if kind == "sparse" else indexes[1]
    assert main(["search", str(folder), "apple", "\udcff"]) == 1
    _one_line_error(capsys, contains="text 1 is not valid UTF-8")


def test_raw_bytes_from_a_shell(indexes):
    """The real thing: argv bytes 0xff 0xfe reach ``keytokens search`` (tokenizer-only, no model)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    argv = [sys.executable, "-m", "keytokens.cli", "search", os.fsencode(indexes[0]), b"\xff\xfe"]
    done = subprocess.run(argv, capture_output=True, env=env, timeout=120)
    assert done.returncode == 1, done.stderr
    assert b"Traceback" not in done.stderr
    assert b"not valid UTF-8" in done.stderr and b"\\xff\\xfe" in done.stderr


def test_an_index_path_that_is_not_utf8_is_refused_before_any_work(beir_dir, tmp_path, loads, capsys):
    out = tmp_path / "idx\udcff"  # bytes that are not UTF-8: a valid Linux name the tokenizer library cannot use
    assert main(["index", str(beir_dir / "corpus.jsonl"), "--doc-tokens", "2", "--out", str(out)]) == 1
    _one_line_error(capsys, contains="idx\\xff' is not a UTF-8 path")
    assert loads == [] and not out.exists()
    dense = tmp_path / "dense\udcff"  # where no tokenizer is written, such a path works and prints
    args = [
        "index",
        str(beir_dir / "corpus.jsonl"),
        "--doc-tokens",
        "2",
        "--out",
        str(tmp_path / "s"),
        "--dense-out",
        str(dense),
    ]
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dense_index"] == str(dense)


# --- huge k ----------------------------------------------------------------------------------------------


def test_huge_k_for_tokens_is_refused(loads, capsys):
    """Tokens per text cannot exceed the vocabulary: refused, naming the bound."""
    assert main(["tokens", "apple", "--model", "tiny", "-k", "1000000000"]) == 1
    _one_line_error(capsys, contains="k must be between 1 and 14; got 1000000000")
    assert main(["tokens", "apple", "--model", "tiny", "-k", "11", "--filter", "content"]) == 1
    _one_line_error(capsys, contains="got 11")


@pytest.mark.parametrize("command", ["index", "eval"])
def test_huge_k_per_document_is_refused_before_encoding(command, beir_dir, tmp_path, loads, capsys):
    from tests.retrieval.tinylens import BagOfWords

    calls = []
    original = BagOfWords.encode
    BagOfWords.encode = lambda self, *a, **kw: calls.append(1) or original(self, *a, **kw)
    try:
        args = [str(beir_dir / "corpus.jsonl"), "--out", str(tmp_path / "i")] if command == "index" else [str(beir_dir)]
        assert main([command, *args, "--doc-tokens", "1000000000", "--no-cache"]) == 1
    finally:
        BagOfWords.encode = original
    _one_line_error(capsys, contains="--doc-tokens 1000000000 exceeds the 10 tokens")
    assert calls == []  # refused before a single document was encoded


@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_huge_k_for_search_is_clamped_to_the_corpus(kind, indexes, capsys):
    """Documents per query is "at most k": a k beyond the corpus returns what there is."""
    folder = indexes[0] if kind == "sparse" else indexes[1]
    assert main(["search", str(folder), "apple tree", "-k", "1000000000", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["queries"][0]["hits"]
    assert 1 <= len(hits) <= 4 and hits[0]["id"] == "d1"


def test_huge_expansion_is_refused(indexes, capsys):
    assert main(["search", str(indexes[0]), "apple", "--expand", "1000000000"]) == 1
    _one_line_error(capsys, contains="got 1000000000")


# --- unknown choices: usage errors before any model loads ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        (["tokens", "apple", "--filter", "contents"], "['all', 'no-special', 'content']"),
        (["tokens", "apple", "--role", "passage"], "['query', 'document']"),
        (["index", "c.jsonl", "--out", "x", "--weighting", "tf"], "['raw', 'relu', 'log1p-relu', 'softmax']"),
        (["index", "c.jsonl", "--out", "x", "--centering", "median"], "['none', 'mean', 'pc1']"),
        (["index", "c.jsonl", "--out", "x", "--backend", "faiss"], "['embedded', 'milvus']"),
        (["search", "x", "q", "--query-weights", "bm25"], "['one', 'idf']"),
        (["search", "x", "q", "--mode", "fuzzy"], "['sparse', 'dense', 'hybrid']"),
        (["eval", "x", "--fusion", "max"], "['rrf', 'interpolation']"),
        (["eval", "x", "--similarity", "l2"], "['dot', 'cosine']"),
        (["encode", "c.jsonl", "--out", "x", "--weighting", "tf"], "['raw', 'relu', 'log1p-relu', 'softmax']"),
        (["relatedness", "--filter", "nouns"], "['all', 'no-special', 'content']"),
    ],
)
def test_unknown_choice_is_a_usage_error_before_any_model_loads(args, listed, loads, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "is not one of " + listed in err and "Traceback" not in err
    assert loads == []


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_usage_errors(value, loads, tmp_path, capsys):
    assert main(["fit-head", "--texts", "x.txt", "--out", str(tmp_path / "h"), "--l2", value]) == 2
    assert "Invalid value for '--l2'" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "t"), "--min-score", value]) == 2
    assert "Invalid value for '--min-score'" in capsys.readouterr().err
    assert loads == [] and not (tmp_path / "t").exists()


# --- precomputed embeddings with NaN or Inf ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "dtype", "kind"), [(np.nan, np.float32, "NaN"), (np.inf, np.float32, "Inf"), (1e300, np.float64, "Inf")]
)
def test_non_finite_embeddings_are_refused_naming_the_row(value, dtype, kind, tmp_path, loads, capsys):
    emb = np.ones((3, 14), dtype=dtype)
    emb[2, 5] = value
    path = tmp_path / "e.npy"
    np.save(path, emb)
    assert main(["tokens", "--embeddings", str(path), "--model", "tiny", "--json"]) == 1
    _one_line_error(capsys, contains=f"row 2 holds {kind}")
    assert capsys.readouterr().out == ""


def test_json_output_never_holds_nan():
    with pytest.raises(RuntimeError, match="NaN or Inf"):
        print_json({"score": float("inf")})


# --- damaged files and unexpected failures ----------------------------------------------------------------


def test_a_shard_folder_missing_its_special_token_file(tmp_path, loads, capsys):
    pytest.importorskip("pyarrow", reason="pyarrow is not installed: pip install 'keytokens[ray]'")
    from keytokens.backends.ray_encode import encode_to_shards
    from keytokens.sparse import SparseConfig
    from tests.retrieval.tinylens import tiny_lens

    shards = tmp_path / "shards"
    ids, texts = ["d1", "d2"], ["apple pie", "banana juice"]
    encode_to_shards(ids, texts, shards, lens_factory=tiny_lens, config=SparseConfig(k=2), shard_size=8)
    (shards / "tokenizer" / "keytokens_special.json").unlink()
    assert main(["index", "--from-shards", str(shards), "--out", str(tmp_path / "idx")]) == 1
    _one_line_error(capsys, contains="keytokens_special.json")
    assert not (tmp_path / "idx").exists()


def test_an_unexpected_failure_is_one_line_and_v_shows_the_traceback(monkeypatch, capsys):
    from keytokens.lens import Lens

    def broken(cls, *args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(Lens, "load", classmethod(broken))
    assert main(["tokens", "apple"]) == 1
    line = _one_line_error(capsys, contains="internal error: ZeroDivisionError: division by zero")
    assert line.endswith("run with -v for the traceback")
    assert main(["-v", "tokens", "apple"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("error: internal error")


def _no_nan(constant: str):
    raise AssertionError(f"JSON output holds {constant}")


def test_spectrum_json_has_no_nan_when_a_text_has_no_known_token(tmp_path, loads, capsys):
    """The tiny lens embeds the report's example texts as zero vectors: shares are 0/0, written as null."""
    data = tmp_path / "t.txt"
    data.write_text("apple pie\nbanana juice\ncherry tree\n")
    args = ["spectrum", "--data", str(data), "--components", "1000000", "--out", str(tmp_path / "s"), "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out, parse_constant=_no_nan)
    assert summary["examples"][0]["first_component_share_of_top"] is None  # "YMCA in South Australia": no known word
    json.loads((tmp_path / "s" / "summary.json").read_text(), parse_constant=_no_nan)


def test_align_needs_a_definition(loads, capsys):
    assert main(["align", "--definitions", " , "]) == 2
    assert "name at least one metric definition" in capsys.readouterr().err
    assert loads == []


def test_a_failure_of_the_machine_is_not_an_internal_error(monkeypatch, loads, capsys):
    from keytokens.lens import Lens

    def full(cls, *args, **kwargs):
        raise OSError(28, "No space left on device", "/tmp/x")

    monkeypatch.setattr(Lens, "load", classmethod(full))
    assert main(["tokens", "apple"]) == 1
    line = _one_line_error(capsys, contains="No space left on device")
    assert "internal error" not in line


def test_a_report_that_cannot_be_json_writes_nothing(tmp_path):
    from keytokens.reports.spectrum import SpectrumReport

    with pytest.raises(ValueError, match="not JSON compliant"):
        SpectrumReport(summary={"share": float("nan")}, figures={}).write(tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text", ["[/x] apple", "apple [bold red]pie[/bold red]", "[link=http://x]apple[/link]"])
def test_texts_are_printed_as_they_are_not_as_markup(text, loads, indexes, capsys):
    assert main(["tokens", text, "--model", "tiny"]) == 0
    assert text in capsys.readouterr().out.replace("\n", "")
    assert main(["search", str(indexes[0]), text]) == 0
    assert text.split()[0] in capsys.readouterr().out  # the title (it may wrap)
    assert main(["search", str(indexes[0]), text, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["queries"][0]["query"] == text


def test_huge_k_for_encode_is_refused_before_any_shard(beir_dir, tmp_path, loads, capsys):
    pytest.importorskip("pyarrow", reason="pyarrow is not installed: pip install 'keytokens[ray]'")
    out = tmp_path / "shards"
    assert main(["encode", str(beir_dir / "corpus.jsonl"), "--out", str(out), "--doc-tokens", "1000000000"]) == 1
    _one_line_error(capsys, contains="--doc-tokens 1000000000 exceeds the 10 tokens")
    assert not out.exists() or not list(out.iterdir())
