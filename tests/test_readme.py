"""Every code block of README.md works as written.

- ```python blocks run (with the offline models: ``slow``), unless named in :data:`PYTHON_SKIP` with the reason;
- every ``keytokens`` command of a ```bash or ```console block names a real subcommand, and each of its
  flags is one that subcommand's ``--help`` lists (cheap, always); the ones that need no file, server or
  minutes of model time run (:data:`NOT_RUN` says why the others do not);
- ``make TARGET`` names a Makefile target and ``pip install -e ".[extras]"`` names extras pyproject declares;
- the console example's output is what the command prints today; the results table is the one
  ``bench/glance.py`` builds from the benchmark results; every repository path the README names exists.

New blocks are covered as they are added: nothing here lists the README's commands one by one.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer.main

from keytokens.cli import app, main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

#: ```python blocks that do not run in the suite: a substring of the block → why.
PYTHON_SKIP: dict[str, str] = {}

#: Subcommands whose README examples run in order in a folder holding a 4-document ``corpus.jsonl``.
ON_A_TINY_CORPUS = ("index", "search", "fit-head", "encode", "tokens", "verify")
#: Flags whose examples are not run there → why.
NOT_RUN_WITH = {
    "--backend": "needs Milvus (tests/backends runs Milvus Lite)",
    "--ray": "starts a Ray cluster (tests/backends runs one)",
}
#: Subcommands whose README examples are checked (subcommand, flags) but not run → why.
NOT_RUN = {
    "align": "scores all of STS-B with a model (minutes); `make demo` runs it",
    "eval": "encodes a whole BEIR corpus (minutes to hours)",
    "tune": "tunes a recipe on a BEIR train split (minutes to hours)",
    "spectrum": "encodes STS-B with two models (minutes)",
    "train": "trains for minutes",
    "serve": "starts a web server that runs until stopped",
    "instructions": "runs SmolLM2 over several instructions (minutes)",
    "relatedness": "encodes three word-pair sets with two models (minutes)",
}
#: Options whose value a command writes (the rest of the path-like words are inputs that must exist).
OUTPUTS = ("--out", "--dense-out")


@dataclass(frozen=True)
class Block:
    language: str
    line: int
    code: str


@dataclass(frozen=True)
class Command:
    line: int
    text: str
    argv: tuple[str, ...]  # without the optional [ ... ] parts the README writes around options
    words: tuple[str, ...]  # every word, optional parts included, brackets removed


def blocks(language: str) -> list[Block]:
    text = README.read_text(encoding="utf-8")
    return [
        Block(m.group(1), text.count("\n", 0, m.start()) + 1, m.group(2))
        for m in re.finditer(r"^```(\w+)\n(.*?)^```", text, re.M | re.S)
        if m.group(1) == language
    ]


def shell_commands() -> list[Command]:
    """The command lines of the bash and console blocks (continuations joined, comments dropped)."""
    commands = []
    for block in blocks("bash") + blocks("console"):
        lines = block.code.replace("\\\n", " ").splitlines()
        for offset, line in enumerate(lines):
            if block.language == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            words = shlex.split(line, comments=True)
            if not words:
                continue
            required = shlex.split(re.sub(r"\s\[[^\]]*\]", "", line), comments=True)
            plain = tuple(w.strip("[]") for w in words if w.strip("[]"))
            commands.append(Command(block.line + 1 + offset, line.strip(), tuple(required), plain))
    return commands


def keytokens_commands() -> list[Command]:
    return [c for c in shell_commands() if c.words[0] == "keytokens"]


def _group():
    return typer.main.get_command(app)


def _options(command) -> set[str]:
    names = {"--help"}
    for param in command.params:
        names.update(getattr(param, "opts", ()))
        names.update(getattr(param, "secondary_opts", ()))
    return {n for n in names if n.startswith("-")}


def _flags(words: tuple[str, ...]) -> list[str]:
    flags = []
    for word in words:
        for part in word.split("|"):  # `[--mode sparse|dense|hybrid]`
            if re.fullmatch(r"--?[A-Za-z][\w-]*(=.*)?", part):
                flags.append(part.split("=")[0])
    return flags


def test_the_readme_has_blocks_of_each_kind():
    assert blocks("python") and blocks("bash") and blocks("console")
    assert len(keytokens_commands()) >= 20


@pytest.mark.parametrize("command", keytokens_commands(), ids=lambda c: f"README:{c.line}")
def test_every_keytokens_command_and_flag_exists(command):
    group = _group()
    sub = command.words[1]
    if sub.startswith("-"):  # an option of the root: keytokens --version
        assert set(_flags(command.words[1:])) <= _options(group), command.text
        return
    assert sub in group.commands, f"README line {command.line}: no subcommand {sub!r}: {command.text}"
    unknown = set(_flags(command.words[2:])) - _options(group.commands[sub])
    assert not unknown, f"README line {command.line}: {sub} has no {sorted(unknown)}: {command.text}"


def test_make_targets_and_pip_extras_exist():
    makefile = (ROOT / "Makefile").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = pyproject.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    extras = set(re.findall(r"^([\w-]+) = \[", section, re.M))
    assert {"models", "dev"} <= extras
    checked = 0
    for command in shell_commands():
        if command.words[0] == "make":
            for target in command.words[1:]:
                assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"no make target {target!r}"
                checked += 1
        for group in re.findall(r"\.\[([\w,]+)\]", command.text):
            unknown = set(group.split(",")) - extras
            assert not unknown, f"README line {command.line}: pyproject has no extras {sorted(unknown)}"
            checked += 1
    assert checked >= 3


def _missing_input(command: Command, folder: Path) -> str | None:
    """The first file or folder ``command`` reads that is not in ``folder`` (the user's own data), if any."""
    argv = command.argv
    for i in range(2, len(argv)):
        word = argv[i]
        if word.startswith("-") or argv[i - 1] in OUTPUTS or "://" in word:
            continue
        if re.search(r"/|\.(jsonl?|npy|tsv|txt|db)$", word) and not (folder / word).exists():
            return word
    return None


def _runnable(command: Command) -> str | None:
    """Why ``command`` is not run with the offline models alone (in an empty folder), or ``None`` to run it."""
    sub = command.argv[1]
    if sub in NOT_RUN:
        return NOT_RUN[sub]
    if sub in ON_A_TINY_CORPUS and sub != "tokens":
        return "runs on a tiny corpus (test_corpus_examples_run_on_a_tiny_corpus)"
    return None


def _tiny_corpus_run(command: Command, folder: Path) -> str | None:
    """Why ``command`` is not run in the tiny-corpus folder (as it is now), or ``None`` to run it."""
    if command.argv[1] not in ON_A_TINY_CORPUS:
        return "not a corpus command"
    for flag, reason in NOT_RUN_WITH.items():
        if flag in command.argv:
            return reason
    if (missing := _missing_input(command, folder)) is not None:
        return f"reads {missing}, the user's own data"
    if command.argv[1] == "tokens" and "--head" not in command.argv:
        return "needs no corpus (test_cheap_model_commands_run)"
    return None


def test_every_subcommand_the_readme_shows_is_run_or_skipped_with_a_reason():
    group = _group()
    for command in keytokens_commands():
        sub = command.argv[1]
        assert sub.startswith("-") or sub in group.commands
        assert sub.startswith("-") or sub in NOT_RUN or sub in ("models", "version", *ON_A_TINY_CORPUS), (
            f"README line {command.line}: say in NOT_RUN why `keytokens {sub}` is not run, or make it cheap"
        )


def _model_free(command: Command) -> bool:
    return command.argv[1] in ("models", "version") or command.argv[1].startswith("-")


@pytest.mark.parametrize(
    "command", [c for c in keytokens_commands() if _model_free(c)], ids=lambda c: f"README:{c.line}"
)
def test_model_free_commands_run(command, capsys):
    assert main(list(command.argv[1:])) == 0, command.text
    assert capsys.readouterr().out.strip()


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [c for c in keytokens_commands() if not _model_free(c) and _runnable(c) is None],
    ids=lambda c: f"README:{c.line}",
)
def test_cheap_model_commands_run(command, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if (missing := _missing_input(command, tmp_path)) is not None:
        pytest.skip(f"reads {missing}, the user's own data (or the output of another example)")
    assert main(list(command.argv[1:])) == 0, command.text
    assert capsys.readouterr().out.strip()


@pytest.mark.slow
def test_corpus_examples_run_on_a_tiny_corpus(tmp_path, monkeypatch, capsys):
    from tests.retrieval.tinybeir import write_beir

    write_beir(tmp_path)  # corpus.jsonl, as the examples name it
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KEYTOKENS_CACHE", str(tmp_path / "cache"))
    ran = []
    for command in keytokens_commands():
        if _tiny_corpus_run(command, tmp_path) is None:
            assert main(list(command.argv[1:])) == 0, f"README line {command.line}: {command.text}"
            ran.append(command.argv[1])
    capsys.readouterr()
    assert "index" in ran and len(ran) >= 4, ran


@pytest.mark.slow
def test_the_console_example_prints_what_the_readme_shows(capsys):
    (block,) = [b for b in blocks("console") if "keytokens tokens" in b.code]
    line, shown = block.code.splitlines()[:2]
    assert main([*shlex.split(line[2:])[1:], "--json"]) == 0
    got = [t["token"] for t in json.loads(capsys.readouterr().out)["results"][0]["tokens"]]
    assert shown.split("│")[1].split() == [t.strip() for t in got]


@pytest.mark.slow
@pytest.mark.parametrize("block", blocks("python"), ids=lambda b: f"README:{b.line}")
def test_python_blocks_run(block, tmp_path, monkeypatch):
    for marker, reason in PYTHON_SKIP.items():
        if marker in block.code:
            pytest.skip(reason)
    monkeypatch.chdir(tmp_path)
    exec(compile(block.code, f"README.md:{block.line}", "exec"), {"__name__": "readme"})


def test_the_results_table_is_the_one_the_benchmarks_give():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        glance = importlib.import_module("glance")
    finally:
        sys.path.remove(str(ROOT / "bench"))
    table = glance.to_markdown(glance.collect(ROOT / "bench" / "results"))
    text = README.read_text(encoding="utf-8")
    shown = text.split("<!-- glance:start -->\n", 1)[1].split("<!-- glance:end -->", 1)[0]
    assert shown == table, "run bench/glance.py and copy bench/results/glance.md's table into the README"
    assert (ROOT / "bench" / "results" / "glance.png").is_file()


def test_every_repository_path_the_readme_names_exists():
    text = README.read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:bench|src|reports|tests)/[^`\s{}*:]+)`", text))
    paths |= set(re.findall(r"\]\(((?:bench|reports)/[^)\s]+)\)", text))
    assert paths
    missing = sorted(p for p in paths if not (ROOT / p.rstrip("/")).exists())
    assert not missing, f"the README names paths that do not exist: {missing}"
