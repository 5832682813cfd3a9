import json

from keytokens.cli import main


def test_instructions_json_and_files(fake_models, tmp_path, capsys):
    argv = ["instructions", "apple apple banana", "cherry cherry date", "--model", "tiny", "-k", "2"]
    argv += ["-i", "juice=juice juice juice", "--out", str(tmp_path), "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "tiny" and data["k"] == 2
    (juice,) = data["instructions"]
    assert juice["overlap"] == 0.5 and juice["gained"] == [{"token": "juice", "count": 2}]
    assert data["command"].startswith("keytokens instructions 'apple apple banana' 'cherry cherry date' --model tiny")
    assert {p.name for p in tmp_path.iterdir()} == {"instructions.md", "instructions.json", "instructions.png"}
    assert json.loads((tmp_path / "instructions.json").read_text())["instructions"][0]["name"] == "juice"


def test_instructions_table(fake_models, capsys):
    assert main(["instructions", "apple apple banana", "--model", "tiny", "-k", "2", "-i", "pie=pie pie pie"]) == 0
    assert "overlap@2" in capsys.readouterr().out


def test_instructions_use_the_presets_own_or_fail_clearly(fake_models, capsys):
    assert main(["instructions", "apple", "--model", "tiny"]) == 1
    assert "give at least one instruction" in capsys.readouterr().err


def test_instructions_bad_options(fake_models, capsys):
    assert main(["instructions", "apple", "--model", "tiny", "-i", "oops"]) == 1
    assert "must be NAME=TEXT" in capsys.readouterr().err
    assert main(["instructions", "apple", "--model", "tiny", "-i", "a=b", "--filter", "nouns"]) == 2  # usage error
    assert "'nouns' is not one of ['all', 'no-special', 'content']" in capsys.readouterr().err
    assert main(["instructions", "apple", "--role", "passage", "-i", "a=b"]) == 2
    assert "'passage' is not one of ['query', 'document']" in capsys.readouterr().err
    assert fake_models == []  # every option was refused before any model loaded


def test_relatedness_files_and_json(fake_models, tiny_data, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["relatedness", "--model", "a", "--model", "b", "-k", "1", "--out", str(out), "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert [m["model"] for m in data["models"]] == ["a", "b"]
    assert data["models"][0]["word_sets"][0]["spearman"]["cosine"]["rho"] > 0.8
    assert {p.name for p in out.iterdir()} == {"relatedness.md", "relatedness.json", "relatedness.png"}
    assert "Command: `keytokens relatedness --model a --model b" in (out / "relatedness.md").read_text()


def test_relatedness_table(fake_models, tiny_data, capsys):
    assert main(["relatedness", "--model", "a", "-k", "1", "--sets", "ws353-rel"]) == 0
    out = capsys.readouterr().out
    assert "ws353-rel" in out and "cosine('I like apple', 'I do not like apple')" in out


def test_relatedness_refuses_unknown_sets_and_missing_data(fake_models, tmp_path, monkeypatch, capsys):
    assert main(["relatedness", "--sets", "men"]) == 1
    assert "unknown word-pair set 'men'" in capsys.readouterr().err
    monkeypatch.setenv("KEYTOKENS_DATA", str(tmp_path))
    assert main(["relatedness"]) == 1
    assert "set KEYTOKENS_DATA" in capsys.readouterr().err
    assert fake_models == []  # nothing loaded before the data were found


def test_relatedness_limit_uses_the_first_pairs_of_each_set(fake_models, tiny_data, capsys):
    from keytokens.interpret.relatedness import load_word_set

    assert main(["relatedness", "--model", "a", "-k", "1", "--sets", "ws353-rel", "--limit", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(load_word_set("ws353-rel")) == 4
    assert data["models"][0]["word_sets"][0]["n_pairs"] == 3
    assert "--limit 3" in data["command"]
    assert main(["relatedness", "--model", "a", "--limit", "2"]) == 2  # below the minimum of a rank correlation


def test_serve_and_relatedness_help_say_both_offline_models_run_by_default(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    for command in ("serve", "relatedness"):
        assert main([command, "--help"]) == 0
        assert "minilm and smollm2-eol" in " ".join(capsys.readouterr().out.split())
