"""Long work reports progress off a terminal, and truncation once per corpus, in keytokens' words."""

import logging
import subprocess
import sys

import numpy as np
import pytest

from keytokens.embedders.base import report_truncation
from keytokens.encoding import encode_corpus_embeddings
from keytokens.progress import progress_line, track


def test_progress_line_says_done_rate_and_time_left():
    assert progress_line("encoding (x)", 512, 5183, 10.0, "documents") == (
        "encoding (x): 512/5,183 documents (10%), 51.2/s, about 1 min 31 s left"
    )
    assert progress_line("encoding (x)", 5183, 5183, 4000.0, "documents").endswith("done in 1 h 6 min")


def test_lines_are_written_when_stderr_is_not_a_terminal(capsys, monkeypatch):
    monkeypatch.setenv("KEYTOKENS_PROGRESS_EVERY", "0")
    sizes = [256, 256, 10]
    items = list(track(range(3), total=3, description="encoding (t)", enabled=True, unit="documents", sizes=sizes))
    assert items == [0, 1, 2]
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("encoding (t): 256/522 documents (49%), ") and lines[0].endswith(" left")
    assert lines[-1].startswith("encoding (t): 522/522 documents (100%), ") and " done in " in lines[-1]


def test_lines_are_periodic_and_the_last_always_comes(capsys, monkeypatch):
    monkeypatch.setenv("KEYTOKENS_PROGRESS_EVERY", "3600")
    list(track(range(50), total=50, description="work", enabled=True))
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("work: 50/50 items (100%)")
    list(track(range(5), total=5, description="work", enabled=False))
    assert capsys.readouterr().err == ""


class Truncating:
    """Every text longer than 3 words is 'truncated', as a real embedder reports it."""

    name, dim, max_length = "trunc", 1, 3

    def encode(self, texts, *, role="document", batch_size=None, show_progress=False):
        self.last_truncated = tuple(i for i, t in enumerate(texts) if len(t.split()) > 3)
        report_truncation(self.name, len(self.last_truncated), len(texts), self.max_length)
        return np.ones((len(texts), 1), np.float32)


def test_a_corpus_reports_truncation_once_with_the_total(caplog, capsys, monkeypatch):
    monkeypatch.setenv("KEYTOKENS_PROGRESS_EVERY", "0")
    texts = ["one two three four five", "short"] * 5  # 5 long texts over 5 chunks of 2
    with caplog.at_level(logging.WARNING):
        encode_corpus_embeddings(Truncating(), texts, cache=False, chunk_size=2, show_progress=True)
    messages = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert messages == [
        "5 of 10 texts were longer than trunc's max length of 3 tokens and were truncated (their ends are not read)"
    ]
    assert capsys.readouterr().err.count("documents") == 5  # one line per chunk (every 0 s)
    with caplog.at_level(logging.WARNING):
        Truncating().encode(["a b c d"])  # a direct call still reports its own
    assert "1 of 1 texts" in caplog.text


@pytest.mark.slow
def test_commands_print_no_library_noise_and_report_truncation_once():
    long_text = "apple banana " * 300
    code = "import sys; from keytokens.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run(
        [sys.executable, "-c", code, "tokens", long_text, "short text", "-m", "minilm", "-k", "3", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Token indices sequence length" not in run.stderr
    assert "Loading weights" not in run.stderr
    gguf = subprocess.run(
        [sys.executable, "-c", code, "tokens", "apple", "-m", "smollm2-eol", "-k", "3", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "GGUF" not in gguf.stderr and "it/s" not in gguf.stderr
    assert " ".join(run.stderr.split()).count("were truncated") == 1
    assert "1 of 2 texts were longer than minilm's max length of 256 tokens" in " ".join(run.stderr.split())
