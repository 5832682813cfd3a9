"""Fixtures of the interpretation tests: tiny word-pair files in a data folder of their own."""

from __future__ import annotations

import pytest

PAIRS = {
    "EN-WS-353-SIM.tsv": [("apple", "apple", 10.0), ("apple", "banana", 5.0), ("cherry", "date", 1.0)],
    "EN-WS-353-REL.tsv": [("pie", "pie", 9.0), ("pie", "juice", 6.0), ("red", "tree", 2.0), ("red", "red", 8.0)],
    "EN-SIMLEX-999.tsv": [("tree", "tree", 9.5), ("fruit", "apple", 3.0), ("yellow", "date", 0.5)],
}


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "wordsim"
    folder.mkdir(parents=True)
    for name, rows in PAIRS.items():
        lines = ["word1\tword2\tscore", *(f"{a}\t{b}\t{s}" for a, b, s in rows)]
        (folder / name).write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("KEYTOKENS_DATA", str(tmp_path / "data"))
    return folder


@pytest.fixture
def fake_models(monkeypatch):
    """``Lens.load`` returns the fake lens of ``tests/server/fakes.py`` under the requested name."""
    import dataclasses

    from keytokens.lens import Lens
    from tests.server.fakes import fake_lens, fake_preset

    loaded = []

    def load(cls, name, **kwargs):
        loaded.append(name)
        return dataclasses.replace(fake_lens(fake_preset(name)), name=name)

    monkeypatch.setattr(Lens, "load", classmethod(load))
    return loaded
