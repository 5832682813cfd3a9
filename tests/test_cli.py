import json

import numpy as np
import pytest

from keytokens.cli import main


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_models_json_lists_presets_and_offline_flags(capsys):
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in _json(capsys)}
    assert rows["minilm"]["offline"] is True
    assert rows["smollm2-eol"]["offline"] is True
    assert rows["e5-mistral"]["head"] == "mistralai/Mistral-7B-v0.1:lm"


def test_unknown_preset_is_one_line_and_exit_1(capsys):
    assert main(["tokens", "hello", "--model", "./no/such/model"]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_usage_error_exits_2(capsys):
    assert main(["tokens", "hello", "-k", "0"]) == 2


def test_unknown_metric_definition(capsys):
    assert main(["align", "--definitions", "paper,bogus"]) == 1
    assert "unknown metric definition 'bogus'" in capsys.readouterr().err


@pytest.mark.slow
def test_tokens_json_minilm(capsys):
    assert main(["tokens", "a europe for all", "--model", "minilm", "-k", "3", "--json"]) == 0
    data = _json(capsys)
    assert data["results"][0]["text"] == "a europe for all"
    assert data["results"][0]["tokens"][0]["token"] == "europe"
    assert len(data["results"][0]["tokens"]) == 3


@pytest.mark.slow
def test_empty_text_is_refused(capsys):
    assert main(["tokens", "   ", "--model", "minilm"]) == 1
    assert "empty or whitespace" in capsys.readouterr().err


@pytest.mark.slow
def test_embeddings_of_wrong_width_are_refused(tmp_path, capsys):
    path = tmp_path / "e.npy"
    np.save(path, np.zeros((2, 10), np.float32))
    assert main(["tokens", "--embeddings", str(path), "--model", "minilm"]) == 1
    assert "embedding size 10; expected 384" in capsys.readouterr().err


@pytest.mark.slow
def test_precomputed_embeddings_read_as_tokens(tmp_path, capsys, minilm_lens):
    path = tmp_path / "e.npy"
    np.save(path, minilm_lens.encode(["a europe for all"]))
    assert main(["tokens", "--embeddings", str(path), "--model", "minilm", "-k", "1", "--json"]) == 0
    assert _json(capsys)["results"][0]["tokens"][0]["token"] == "europe"


@pytest.mark.slow
def test_align_on_a_file_json(tmp_path, capsys):
    path = tmp_path / "t.txt"
    path.write_text("a europe for all\nI like apple and banana\n", encoding="utf-8")
    assert main(["align", "--model", "minilm", "--data", str(path), "--json"]) == 0
    data = _json(capsys)
    assert data["n_texts"] == 2
    assert [s["definition"] for s in data["scores"]] == ["paper", "authors-code", "content", "content-surface"]
