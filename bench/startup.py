"""Start-up time of the command line: wall seconds from launch to exit of three commands.

- ``keytokens --help`` (no model);
- ``keytokens tokens "x" -m minilm`` (one text through the offline MiniLM: the load dominates);
- ``keytokens search IDX "q"`` on an index of the first 200 SciFact documents built with MiniLM
  (search reads the index's tokenizer, no model).

Each command runs ``--repeats`` times in a fresh process (``OMP_NUM_THREADS=1``, offline); the row keeps
the median and every run, with the 1-minute load average before and after, since the machine is shared.
``--src`` runs the commands with another checkout's ``src`` first on ``PYTHONPATH`` (to measure a
version before a change); ``--label`` names the row. Rows of other labels already in the JSON are kept.

    .venv/bin/python bench/startup.py --label after [--src OTHER/src] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import RESULTS, md_cell, write_atomic, write_json

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = Path(os.environ.get("KEYTOKENS_DATA", ROOT.parent / "shared" / "data")) / "scifact" / "corpus.jsonl"
N_DOCS = 200


def _env(src: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return {**env, "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _cli(*args: str) -> list[str]:
    code = "import sys; from keytokens.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, *args]


def _time(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _small_corpus(folder: Path) -> Path:
    lines = SCIFACT.read_text(encoding="utf-8").splitlines()[:N_DOCS]
    path = folder / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def measure(src: Path, repeats: int) -> dict:
    env = _env(src)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = _small_corpus(Path(tmp))
        index = Path(tmp) / "idx"
        subprocess.run(_cli("index", str(corpus), "-m", "minilm", "--out", str(index), "--json"), env=env,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        commands = {
            "keytokens --help": _cli("--help"),
            'keytokens tokens "x" -m minilm': _cli("tokens", "x", "-m", "minilm"),
            'keytokens search IDX "q"': _cli("search", str(index), "preterm infants brain"),
        }
        rows = {}
        for name, command in commands.items():
            load_before = os.getloadavg()[0]
            runs = [_time(command, env) for _ in range(repeats)]
            rows[name] = {
                "median_s": round(statistics.median(runs), 3),
                "runs_s": [round(r, 3) for r in runs],
                "load_1min_before": round(load_before, 2),
                "load_1min_after": round(os.getloadavg()[0], 2),
            }
    return rows


def to_markdown(results: dict) -> str:
    labels = list(results["rows"])
    commands = list(dict.fromkeys(c for label in labels for c in results["rows"][label]["commands"]))
    lines = [
        "# CLI start-up time",
        "",
        "Wall seconds from launch to exit, median of the runs, one fresh process each (`OMP_NUM_THREADS=1`, "
        f"offline); the search index holds the first {N_DOCS} SciFact documents (MiniLM). The machine is "
        "shared: the 1-minute load average is recorded with each row.",
        "",
        "| command | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for command in commands:
        cells = []
        for label in labels:
            row = results["rows"][label]["commands"].get(command)
            cells.append("" if row is None else f"{row['median_s']:.2f} s (load {row['load_1min_before']:.1f})")
        lines.append(f"| `{md_cell(command)}` | " + " | ".join(cells) + " |")
    lines += ["", "Runs and settings: `bench/results/startup.json`. Reproduce: " + results["command"], ""]
    for label in labels:
        lines.append(f"- `{label}`: {results['rows'][label]['source']} ({results['rows'][label]['date']})")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="row name, e.g. before or after")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the src folder to run")
    parser.add_argument("--source", default=None, help="what --src is (a commit), for the report")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    path = args.out_dir / "startup.json"
    results = json.loads(path.read_text()) if path.exists() else {"rows": {}}
    results["command"] = "`.venv/bin/python bench/startup.py --label before --src OLD/src; ... --label after`"
    results["rows"][args.label] = {
        "source": args.source or str(args.src),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "repeats": args.repeats,
        "commands": measure(args.src.resolve(), args.repeats),
    }
    write_json(path, results)
    write_atomic(args.out_dir / "startup.md", to_markdown(results))
    print(to_markdown(results))


if __name__ == "__main__":
    main()
