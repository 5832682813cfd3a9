"""The ``keytokens`` CLI with the tiny lens, for tests that need a real process (locks, kill -9, Ctrl-C).

Run as ``python -m tests.hardening.tiny_cli ARGS`` from the repository root. Environment:

- ``TINY_CLI_SLOW``: seconds each embedder call sleeps, from call ``TINY_CLI_SLOW_FROM`` (default 1) on;
- ``TINY_CLI_STARTED``: a file created when that slow call starts (the test waits for it);
- ``TINY_CLI_RELEASE``: a file whose creation ends the sleep early (the test creates it);
- ``TINY_CLI_CRASH_AT``: a commit step (:func:`keytokens.commit._checkpoint`) at which the process
  kills itself with SIGKILL;
- ``TINY_CLI_NO_EXCHANGE``: replace folders with two renames, as where ``renameat2`` is missing.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path


def _install() -> None:
    from keytokens.lens import Lens
    from tests.retrieval.tinylens import tiny_lens

    lens = tiny_lens()
    embedder = lens.embedder
    encode, calls = embedder.encode, [0]
    slow, slow_from = float(os.environ.get("TINY_CLI_SLOW", "0")), int(os.environ.get("TINY_CLI_SLOW_FROM", "1"))

    def slow_encode(texts, **kwargs):
        calls[0] += 1
        if calls[0] >= slow_from and slow:
            if os.environ.get("TINY_CLI_STARTED"):
                Path(os.environ["TINY_CLI_STARTED"]).touch()
            release = os.environ.get("TINY_CLI_RELEASE")
            deadline = time.monotonic() + slow
            while time.monotonic() < deadline and not (release and Path(release).exists()):
                time.sleep(0.05)
        return encode(texts, **kwargs)

    embedder.encode = slow_encode
    Lens.load = classmethod(lambda cls, *args, **kwargs: lens)
    crash = os.environ.get("TINY_CLI_CRASH_AT")
    if crash or os.environ.get("TINY_CLI_NO_EXCHANGE"):
        from keytokens import commit
    if crash:
        commit._checkpoint = lambda step: os.kill(os.getpid(), signal.SIGKILL) if step == crash else None
    if os.environ.get("TINY_CLI_NO_EXCHANGE"):
        commit._exchange = lambda a, b: False


if __name__ == "__main__":
    _install()
    from keytokens.cli import main

    sys.exit(main(sys.argv[1:]))
