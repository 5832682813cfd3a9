"""Resource use of `keytokens index` on a corpus holding one huge document (issue 13: 50 MB took minutes, 7 GB).

    .venv/bin/python bench/huge_document.py                 # one 50 MB document + 3 small ones, MiniLM
    .venv/bin/python bench/huge_document.py --mb 10 --model minilm

Runs `keytokens index` in a child process, with and without --keep-own-tokens, and reports its wall time
and peak resident memory (getrusage of the child). Writes bench/results/huge_document.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine_info, write_atomic, write_json


def write_corpus(path: Path, megabytes: float) -> int:
    """One document of random words of about ``megabytes`` MB (seeded), and three small ones."""
    rng = random.Random(0)
    words = [f"w{rng.randrange(50_000)}" for _ in range(10_000)] + ["cell", "protein", "therapy", "the", "of"]
    parts, size = [], 0
    while size < megabytes * 1e6:
        parts.append(rng.choice(words))
        size += len(parts[-1]) + 1
    with open(path, "w") as f:
        f.write(json.dumps({"_id": "huge", "title": "", "text": " ".join(parts)}) + "\n")
        for i in range(3):
            f.write(json.dumps({"_id": f"d{i}", "title": "", "text": "a small document about cells " * (i + 1)}) + "\n")
    return size


def run_index(corpus: Path, out: Path, model: str, own: bool, logs: Path) -> dict:
    """Wall time, peak RSS (this child's, from wait4) and exit code of one `keytokens index` child."""
    args = ["index", str(corpus), "--model", model, "-k", "64", "--no-cache", "--out", str(out), "--json"]
    args += ["--keep-own-tokens"] if own else []
    code = "import sys; from keytokens.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    start = time.perf_counter()
    with open(logs / f"stderr-{own}.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    exit_code = os.waitstatus_to_exitcode(status)
    last = (logs / f"stderr-{own}.txt").read_text().strip().splitlines()[-1:] if exit_code else []
    return {"own_tokens": own, "exit": exit_code, "seconds": round(seconds, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024), "error": last[0] if last else None}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="size of the huge document in MB")
    parser.add_argument("--model", default="minilm")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        size = write_corpus(corpus, args.mb)
        rows = [run_index(corpus, Path(tmp) / f"idx-{own}", args.model, own, Path(tmp)) for own in (False, True)]
    result = {"model": args.model, "document_bytes": size, "rows": rows, "machine": machine_info()}
    write_json(RESULTS / "huge_document.json", result)
    lines = [
        f"# One {size / 1e6:.0f} MB document: `keytokens index --model {args.model}`",
        "",
        "Each run is a child process; peak RSS is its own (wait4), wall time includes loading the model.",
        "",
        "| own tokens | exit | seconds | peak RSS (MB) |",
        "|---|---|---|---|",
        *(f"| {r['own_tokens']} | {r['exit']} | {r['seconds']} | {r['peak_rss_mb']} |" for r in rows),
    ]
    write_atomic(RESULTS / "huge_document.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
