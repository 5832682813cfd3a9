"""The commit protocol in one process: crashes injected between its steps, destinations refused early."""

from __future__ import annotations

import json

import numpy as np
import pytest

from keytokens import commit, store
from keytokens.store import StoreError


class Crash(BaseException):
    """Stands for the process dying at a step (nothing after it runs, no cleanup of the commit)."""


def _save(path, version: int, *, transaction=None, overwrite=True):
    arrays = {"x": np.full(version + 2, version, dtype=np.int32)}
    return store.save(path, kind="thing", schema_version=1, arrays=arrays, meta={"version": version},
                      overwrite=overwrite, transaction=transaction)  # fmt: skip


def _version(path) -> int:
    stored = store.load(path, kind="thing", schema_version=1)
    assert stored.arrays["x"].tolist() == [stored.meta["version"]] * (stored.meta["version"] + 2)  # complete
    return stored.meta["version"]


def _commit_pair(a, b, version):
    with store.store_transaction({a: "thing", b: "thing"}, overwrite=True) as tx:
        _save(a, version, transaction=tx)
        _save(b, version, transaction=tx)


STEPS = ["staged", "journaled", "placed-0", "placed-1", "cleaned"]


CASES = [(step, True) for step in STEPS] + [(step, False) for step in [*STEPS, "moved-aside"]]


IDS = [f"{step}-{'renameat2' if exchange else 'two-renames'}" for step, exchange in CASES]


@pytest.mark.parametrize(("step", "exchange"), CASES, ids=IDS)
def test_a_crash_at_any_step_leaves_the_old_or_the_new_pair_and_is_recovered(tmp_path, monkeypatch, step, exchange):
    a, b = tmp_path / "sparse", tmp_path / "dense"
    _commit_pair(a, b, 1)

    def crash_at(name):
        if name == step:
            raise Crash(name)

    monkeypatch.setattr(commit, "_checkpoint", crash_at)
    if not exchange:
        monkeypatch.setattr(commit, "_exchange", lambda x, y: False)
    with pytest.raises(Crash):
        _commit_pair(a, b, 2)
    monkeypatch.setattr(commit, "_checkpoint", lambda name: None)

    if exchange:  # each folder is always whole: the old or the new one
        for path in (a, b):
            document = json.loads((path / "meta.json").read_text())
            assert document["meta"]["version"] in (1, 2)
    versions = (_version(a), _version(b))  # loading finishes a decided commit
    assert versions == ((1, 1) if step == "staged" else (2, 2))
    _commit_pair(a, b, 3)  # the next run cleans what a crash left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dense", "sparse"]
    assert (_version(a), _version(b)) == (3, 3)


def test_a_failure_before_the_commit_keeps_the_old_pair(tmp_path):
    a, b = tmp_path / "sparse", tmp_path / "dense"
    _commit_pair(a, b, 1)
    transaction = store.store_transaction({a: "thing", b: "thing"}, overwrite=True)
    with pytest.raises(OSError, match="disk full"), transaction as tx:
        _save(a, 2, transaction=tx)
        raise OSError(28, "disk full")  # the dense write fails after the sparse one was written
    assert (_version(a), _version(b)) == (1, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dense", "sparse"]


def test_a_destination_under_a_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="is a file, not a folder"):
        store.store_transaction({tmp_path / "file" / "idx": "thing"}, overwrite=False).__enter__()
    with pytest.raises(StoreError, match="is a file, not a folder"):
        store.check_destination(tmp_path / "file" / "deeper" / "idx", kind="thing", overwrite=True)


def test_a_previous_version_left_by_an_older_keytokens_is_named_not_deleted(tmp_path):
    old = tmp_path / ".s.old-abc123" / "s"  # what the two-rename replace of keytokens 0.x left on a crash
    _save(old, 1, overwrite=False)
    with pytest.raises(StoreError, match=r"\.s\.old-abc123.*move it back"):
        _save(tmp_path / "s", 2)
    assert _version(old) == 1


def test_the_lock_is_reentrant_within_a_process_and_removed_after(tmp_path):
    with commit.locked(tmp_path / "s"), commit.locked(tmp_path / "s"):
        assert commit.lock_file(tmp_path / "s").is_file()
    assert not commit.lock_file(tmp_path / "s").exists()


def test_a_reader_waits_for_a_live_writer_and_a_damaged_journal_is_named(tmp_path):
    import os
    import subprocess
    import sys

    _save(tmp_path / "s", 1, overwrite=False)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from keytokens.commit import locked\n"
         "with locked(sys.argv[1]):\n    print('locked', flush=True); time.sleep(60)", str(tmp_path / "s")],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        commit.journal_file(tmp_path / "s").write_text('{"entries": []}')  # a commit in flight
        assert _version(tmp_path / "s") == 1  # the folder is whole: read it, leave the journal to its writer
        (tmp_path / "s").rename(tmp_path / "elsewhere")
        with pytest.raises(StoreError, match=r"being replaced right now .*pid \d+"):
            store.load(tmp_path / "s", kind="thing", schema_version=1)
        with pytest.raises(StoreError, match="being written by another keytokens process"):
            _save(tmp_path / "s", 2)
    finally:
        holder.kill()
        holder.wait()
    commit.journal_file(tmp_path / "s").write_text("{damaged")
    with pytest.raises(StoreError, match=r"commit journal .* is damaged"):
        store.load(tmp_path / "s", kind="thing", schema_version=1)
