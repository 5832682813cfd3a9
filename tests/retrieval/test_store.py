import json

import numpy as np
import pytest

from keytokens import store
from keytokens.store import StoreError


def _save(path, **kwargs):
    arrays = {"a": np.arange(6, dtype=np.int32).reshape(2, 3), "b": np.array([0.5, 1.5], dtype=np.float32)}
    return store.save(path, kind="thing", schema_version=2, arrays=arrays, meta={"k": 3}, **kwargs)


def test_round_trip_is_memory_mapped(tmp_path):
    _save(tmp_path / "s")
    stored = store.load(tmp_path / "s", kind="thing", schema_version=2)
    assert isinstance(stored.arrays["a"], np.memmap)
    np.testing.assert_array_equal(stored.arrays["a"], np.arange(6).reshape(2, 3))
    assert stored.meta == {"k": 3}
    assert stored.to_dict()["arrays"]["b"] == {"shape": [2], "dtype": "float32"}
    document = json.loads((tmp_path / "s" / "meta.json").read_text())
    assert document["schema_version"] == 2 and document["keytokens_version"]


def test_no_temporary_folders_are_left(tmp_path):
    _save(tmp_path / "s")
    _save(tmp_path / "s", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_failed_write_leaves_nothing(tmp_path):
    def boom(folder):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        _save(tmp_path / "s", extra=boom)
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_needs_overwrite(tmp_path):
    _save(tmp_path / "s")
    with pytest.raises(StoreError, match="already exists"):
        _save(tmp_path / "s")


def test_never_replaces_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(StoreError, match="refusing to replace"):
        _save(tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"


def test_object_arrays_are_refused(tmp_path):
    with pytest.raises(ValueError, match="cannot be stored"):
        store.save(tmp_path / "s", kind="t", schema_version=1, arrays={"x": np.array([{}])}, meta={})


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: (p / "meta.json").unlink(), "incomplete or not a keytokens store"),
        (lambda p: (p / "meta.json").write_text("{not json"), "damaged"),
        (lambda p: (p / "meta.json").write_text("{}"), "expected the keys"),
        (lambda p: (p / "a.npy").unlink(), "incomplete: a.npy is missing"),
        (lambda p: (p / "a.npy").write_bytes((p / "a.npy").read_bytes()[:-8]), "damaged"),
        (lambda p: np.save(p / "b.npy", np.zeros(3, dtype=np.float32)), r"shape \[3\]"),
    ],
)
def test_damaged_stores_are_refused(tmp_path, damage, message):
    _save(tmp_path / "s")
    damage(tmp_path / "s")
    with pytest.raises(StoreError, match=message):
        store.load(tmp_path / "s", kind="thing", schema_version=2)


def test_other_kind_and_version_are_refused(tmp_path):
    _save(tmp_path / "s")
    with pytest.raises(StoreError, match="holds a thing, not a other"):
        store.load(tmp_path / "s", kind="other", schema_version=2)
    with pytest.raises(StoreError, match=r"schema version 2.*reads version 3: rebuild it"):
        store.load(tmp_path / "s", kind="thing", schema_version=3)


def test_missing_folder(tmp_path):
    with pytest.raises(StoreError, match="is not a folder"):
        store.load(tmp_path / "nope", kind="thing", schema_version=2)
