"""The command line a new user meets: --version, -v anywhere, readable help, --no- forms, early checks."""

import logging

import pytest
import typer.main

from keytokens._version import __version__
from keytokens.cli import app, main


def _commands():
    group = typer.main.get_command(app)
    return group, group.commands


def test_version_flag_and_subcommand(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == __version__
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == __version__


@pytest.mark.parametrize("argv", [["-v", "models", "--json"], ["models", "-v", "--json"], ["models", "--verbose"]])
def test_verbose_is_accepted_before_and_after_the_command(argv):
    assert main(argv) == 0
    assert logging.getLogger().level == logging.INFO
    assert main(["models", "--json"]) == 0
    assert logging.getLogger().level == logging.WARNING


@pytest.mark.parametrize("command", ["tokens", "align", "index", "eval", "fit-head", "train", "encode", "serve"])
def test_help_prints_types_a_user_types_not_python_annotations(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    for annotation in ("<str>", "<bool>", "<int", "<float", "<list", "<Path"):
        assert annotation not in text, f"{command} --help shows {annotation}"
    assert "TEXT" in text or "PATH" in text


def test_a_flag_that_could_be_on_can_be_turned_off_and_every_option_has_help():
    """Opt-in flags (off by default: --json, --force, --explain) need no --no- form; any other flag has one."""
    _, commands = _commands()
    cannot_turn_off, missing_help = [], []
    for name, command in commands.items():
        for param in command.params:
            flag = getattr(param, "is_flag", False)
            if flag and not param.secondary_opts and param.default is not False:
                cannot_turn_off.append(f"{name} {param.opts[0]} (default {param.default!r})")
            if not getattr(param, "help", None) and not getattr(param, "hidden", False):
                missing_help.append(f"{name} {param.name}")
    assert cannot_turn_off == []
    assert missing_help == []
    for name in ("index", "eval", "encode"):
        (keep,) = [p for p in commands[name].params if p.name == "keep_own_tokens"]
        assert keep.secondary_opts == ["--no-keep-own-tokens"], name
    assert [p.secondary_opts for p in commands["fit-head"].params if p.name == "no_center"] == [["--center"]]
    assert [p.secondary_opts for p in commands["serve"].params if p.name == "preload"] == [["--no-preload"]]


def test_no_forms_parse(tmp_path, monkeypatch, capsys):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"_id": "d1", "text": "apple"}\n')
    # --no-keep-own-tokens parses: the command goes on to refuse the preset typo
    argv = ["encode", str(corpus), "--out", str(tmp_path / "s"), "--no-keep-own-tokens", "-m", "minlm"]
    assert main(argv) == 1
    assert "did you mean 'minilm'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tokens", "apple", "--role", "passage"], "unknown role 'passage'; expected one of ['query', 'document']"),
        (["tokens", "apple", "--filter", "nouns"], "unknown token filter 'nouns'"),
        (["tokens", "apple", "-m", "minlm"], "unknown preset 'minlm'; did you mean 'minilm'?"),
        (["relatedness", "--filter", "nouns"], "unknown token filter 'nouns'"),
        (["instructions", "apple", "--role", "passage"], "unknown role 'passage'"),
        (["tokens", "apple", "--head", "bogus"], "unknown head 'bogus'; expected one of ['embeddings', 'lm'"),
        (["tokens", "apple", "--head", "./no/head/"], "head folder './no/head/' does not exist"),
        (["tokens", "apple", "--head", "x:mlm-bort"], "unknown head 'x:mlm-bort'"),
    ],
)
def test_choices_and_preset_typos_are_refused_before_any_model_loads(argv, message, monkeypatch, capsys):
    from keytokens.embedders import loading

    monkeypatch.setattr(loading, "load_model", lambda *a, **kw: pytest.fail("the model was loaded"))
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_models_shows_what_each_preset_is_for_and_its_note(capsys, monkeypatch):
    import json

    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert all(r["use"] for r in rows.values())
    assert "retrieval" in rows["minilm"]["use"] and "key tokens" in rows["smollm2-eol"]["use"]
    assert "input token embeddings" in rows["minilm"]["note"]
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["models"]) == 0
    table = " ".join(capsys.readouterr().out.split())
    assert "use it for" in table and "note: GritLM embeds with bidirectional attention" in table


def test_a_presets_description_is_not_part_of_the_corpus_cache_key():
    import dataclasses

    from keytokens.embedders import get_preset
    from keytokens.sparse.corpus import lens_settings
    from tests.retrieval.tinylens import tiny_lens

    preset = get_preset("minilm")
    lens = dataclasses.replace(tiny_lens(), preset=preset)
    other = dataclasses.replace(lens, preset=dataclasses.replace(preset, use="x", note="y"))
    assert lens_settings(lens) == lens_settings(other) and "use" not in lens_settings(lens)


def test_train_refuses_an_unknown_pooling_before_the_backbone_loads(tmp_path, monkeypatch, capsys):
    from keytokens.embedders import loading

    monkeypatch.setattr(loading, "_from_pretrained", lambda *a, **kw: pytest.fail("the backbone was loaded"))
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("an apple\ta red apple\na pear\ta green pear\n")
    argv = ["train", "--out", str(tmp_path / "run"), "--pairs", str(pairs), "--pooling", "bogus"]
    assert main(argv) == 1
    assert "unknown pooling 'bogus'" in capsys.readouterr().err


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "keytokens.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == __version__


def test_the_choice_metavars_are_the_registries():
    """Help names the choices without importing the library at start-up; they must not drift from the code."""
    from keytokens.embedders.base import ROLES
    from keytokens.lens import TOKEN_FILTERS

    _, commands = _commands()
    for command in ("tokens", "instructions"):
        params = {p.name: p for p in commands[command].params}
        assert params["role"].metavar == "|".join(ROLES)
        assert params["token_filter"].metavar == "|".join(TOKEN_FILTERS)
