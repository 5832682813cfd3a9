"""Fixtures for the retrieval tests: a tiny lens, a tiny BEIR folder, the shared data when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from keytokens.datasets import data_dir
from tests.retrieval.tinybeir import write_beir


@pytest.fixture
def beir_dir(tmp_path: Path) -> Path:
    return write_beir(tmp_path / "tiny")


@pytest.fixture(scope="session")
def lens():
    from tests.retrieval.tinylens import tiny_lens

    return tiny_lens()


@pytest.fixture
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("KEYTOKENS_CACHE", str(root))
    return root


@pytest.fixture
def beir_data() -> Path:
    """The shared BEIR folders; skipped when absent, except under CI=true where they must be there."""
    root = data_dir()
    if not (root / "scifact" / "corpus.jsonl").is_file():
        message = f"shared data not found at {str(root)!r}; set KEYTOKENS_DATA to the shared data folder"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message + " (CI=true: data tests must run)")
        pytest.skip(message)
    return root
