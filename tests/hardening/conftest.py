"""Fixtures of the hardening tests: a tiny corpus and a runner of the CLI in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORDS = ["apple", "banana", "cherry", "date", "fruit", "red", "yellow", "tree", "pie", "juice"]


def write_corpus(path: Path, n: int = 8) -> Path:
    """``n`` documents of three tiny-vocabulary words each."""
    with open(path, "w") as f:
        for i in range(n):
            words = [WORDS[(i + j * 3) % len(WORDS)] for j in range(3)]
            f.write(json.dumps({"_id": f"d{i}", "title": "", "text": " ".join(words)}) + "\n")
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus.jsonl")


@pytest.fixture
def cli_env(tmp_path: Path) -> dict:
    src = str(ROOT / "src")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TINY_CLI_")}
    env.update(
        PYTHONPATH=os.pathsep.join([src, str(ROOT)]),
        KEYTOKENS_CACHE=str(tmp_path / "cache"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        OMP_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


def start_cli(args: list[str], env: dict, **extra: str) -> subprocess.Popen:
    """Start ``keytokens ARGS`` with the tiny lens in a new process."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.hardening.tiny_cli", *args],
        cwd=ROOT,
        env={**env, **extra},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_cli(args: list[str], env: dict, *, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess:
    """Run ``keytokens ARGS`` with the tiny lens in a new process, to the end."""
    proc = start_cli(args, env, **extra)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
