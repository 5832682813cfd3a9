"""Real processes: two writers of one index, kill -9 in the middle of a commit, Ctrl-C during encoding."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from keytokens.retrieval import DenseIndex
from keytokens.sparse import SparseIndex
from tests.hardening.conftest import run_cli, start_cli, write_corpus


def _wait_for(marker: Path, proc, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"the process ended before it started encoding: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the process never started encoding")
        time.sleep(0.05)


def test_a_second_writer_of_the_same_new_index_is_refused(tmp_path, corpus, cli_env):
    out = tmp_path / "idx"
    slow = {"TINY_CLI_SLOW": "240", "TINY_CLI_STARTED": str(tmp_path / "started"),
            "TINY_CLI_RELEASE": str(tmp_path / "release")}  # fmt: skip
    first = start_cli(["index", str(corpus), "--out", str(out), "--doc-tokens", "2", "--json"], cli_env, **slow)
    _wait_for(tmp_path / "started", first)
    second = run_cli(
        ["index", str(write_corpus(tmp_path / "other.jsonl", 3)), "--out", str(out), "--doc-tokens", "2"], cli_env
    )
    (tmp_path / "release").touch()  # the first writer holds the lock until the second has been refused
    assert second.returncode == 1
    assert second.stderr.strip().startswith("error:") and "being written by another keytokens process" in second.stderr
    assert "Traceback" not in second.stderr
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert SparseIndex.load(out).n_docs == 8  # the first writer's index, not replaced by the second


def test_a_writer_killed_holding_the_lock_does_not_block_the_next(tmp_path, corpus, cli_env):
    out = tmp_path / "idx"
    proc = start_cli(["index", str(corpus), "--out", str(out)], cli_env,
                     TINY_CLI_SLOW="60", TINY_CLI_STARTED=str(tmp_path / "started"))  # fmt: skip
    _wait_for(tmp_path / "started", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert (tmp_path / ".idx.lock").is_file() and not out.exists()  # the dead writer's lock is left behind
    again = run_cli(["index", str(corpus), "--out", str(out), "--doc-tokens", "2"], cli_env)
    assert again.returncode == 0, again.stderr
    assert "died while writing" in again.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".idx", "idx"))) == ["idx"]


@pytest.mark.parametrize(
    ("step", "mode"),
    [("staged", ""), ("journaled", ""), ("placed-0", ""), ("placed-1", ""), ("cleaned", ""),
     ("moved-aside", "1"), ("placed-0", "1")],
    ids=["staged", "journaled", "placed-0", "placed-1", "cleaned", "two-renames-moved-aside", "two-renames-placed-0"],
)  # fmt: skip
def test_kill_9_during_a_forced_rebuild_loses_neither_index(tmp_path, cli_env, step, mode):
    sparse, dense = tmp_path / "idx", tmp_path / "dense"
    old, new = write_corpus(tmp_path / "old.jsonl", 8), write_corpus(tmp_path / "new.jsonl", 5)
    args = ["index", "--out", str(sparse), "--dense-out", str(dense), "--doc-tokens", "2"]
    assert run_cli([*args[:1], str(old), *args[1:]], cli_env).returncode == 0
    extra = {"TINY_CLI_CRASH_AT": step, **({"TINY_CLI_NO_EXCHANGE": "1"} if mode else {})}
    crashed = run_cli([args[0], str(new), *args[1:], "--force"], cli_env, **extra)
    assert crashed.returncode == -signal.SIGKILL

    if not mode:  # with an atomic exchange both folders are whole at every instant
        for folder in (sparse, dense):
            assert json.loads((folder / "meta.json").read_text())["meta"]["n_docs"] in (8, 5)
    expected = 8 if step == "staged" else 5  # once the journal is written the new pair is the one
    assert SparseIndex.load(sparse).n_docs == expected  # loading finishes a decided commit
    assert DenseIndex.load(dense).n_docs == expected
    rerun = run_cli([args[0], str(new), *args[1:], "--force"], cli_env)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if "idx" in p.name or "dense" in p.name) == ["dense", "idx"]


def test_ctrl_c_during_index_exits_130_and_a_rerun_resumes(tmp_path, cli_env, monkeypatch):
    corpus = write_corpus(tmp_path / "big.jsonl", 600)  # three chunks of 256 texts
    out = tmp_path / "idx"
    slow = {"TINY_CLI_SLOW": "60", "TINY_CLI_SLOW_FROM": "2", "TINY_CLI_STARTED": str(tmp_path / "started")}
    proc = start_cli(["index", str(corpus), "--out", str(out), "--doc-tokens", "2"], cli_env, **slow)
    _wait_for(tmp_path / "started", proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted: 1 of 3 chunks of embeddings are cached in")
    assert "run the same command again to resume" in lines[0]
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".idx")]

    from keytokens.cli import main
    from keytokens.lens import Lens
    from tests.retrieval.tinylens import tiny_lens

    lens = tiny_lens()
    monkeypatch.setenv("KEYTOKENS_CACHE", cli_env["KEYTOKENS_CACHE"])
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *a, **kw: lens))
    assert main(["index", str(corpus), "--out", str(out), "--doc-tokens", "2"]) == 0
    assert lens.embedder.calls == 2  # the first chunk came from the cache
    assert SparseIndex.load(out).n_docs == 600


def test_ctrl_c_during_eval_exits_130(tmp_path, cli_env):
    from tests.retrieval.tinybeir import write_beir

    data = write_beir(tmp_path / "beir")
    slow = {"TINY_CLI_SLOW": "60", "TINY_CLI_STARTED": str(tmp_path / "started")}
    args = ["eval", str(data), "--systems", "sparse", "--doc-tokens", "2", "--out", str(tmp_path / "r")]
    proc = start_cli(args, cli_env, **slow)
    _wait_for(tmp_path / "started", proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "interrupted: 0 of 1 chunks of embeddings are cached in" in stderr and not (tmp_path / "r").exists()


def test_ctrl_c_during_encode_says_which_shards_are_kept(tmp_path, cli_env):
    pytest.importorskip("pyarrow")
    corpus = write_corpus(tmp_path / "c.jsonl", 9)
    slow = {"TINY_CLI_SLOW": "60", "TINY_CLI_SLOW_FROM": "3", "TINY_CLI_STARTED": str(tmp_path / "started")}
    args = ["encode", str(corpus), "--out", str(tmp_path / "shards"), "--shard-size", "3", "--doc-tokens", "2"]
    proc = start_cli(args, cli_env, **slow)
    _wait_for(tmp_path / "started", proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "interrupted: " in stderr and "of 3 shards are complete in" in stderr
