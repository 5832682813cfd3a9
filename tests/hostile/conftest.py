"""Fixtures of the hostile-input tests: the tiny lens behind every ``Lens.load``, a tiny BEIR folder, indexes."""

from __future__ import annotations

import pytest

from keytokens.lens import Lens
from tests.retrieval.conftest import beir_dir, cache_root  # noqa: F401  (shared fixtures)
from tests.retrieval.tinylens import tiny_lens


@pytest.fixture
def loads(monkeypatch, cache_root):  # noqa: F811
    """Every ``Lens.load`` returns the tiny lens and is recorded (to prove a refusal came before any load)."""
    calls: list[str] = []

    def load(cls, name, *args, **kwargs):
        calls.append(name)
        return tiny_lens()

    monkeypatch.setattr(Lens, "load", classmethod(load))
    return calls


@pytest.fixture
def indexes(beir_dir, tmp_path, loads):  # noqa: F811
    """A sparse and a dense index of the tiny corpus: ``(sparse_dir, dense_dir)``."""
    from keytokens.cli import main

    sparse, dense = tmp_path / "sparse", tmp_path / "dense"
    args = [
        "index",
        str(beir_dir / "corpus.jsonl"),
        "--doc-tokens",
        "3",
        "--out",
        str(sparse),
        "--dense-out",
        str(dense),
    ]
    assert main([*args, "--json"]) == 0
    loads.clear()
    return sparse, dense
