"""Start-up time of the command line: wall seconds from launch to exit of three commands.

- ``keytokens --help`` (no model);
- ``keytokens tokens "x" -m minilm`` (one text through the offline MiniLM: the load dominates);
- ``keytokens search IDX "q"`` on an index of the first 200 SciFact documents built with MiniLM
  (search reads the index's tokenizer, no model).

Each command runs ``--repeats`` times in a fresh process (``OMP_NUM_THREADS=1``, offline) for each source
folder given as ``LABEL=SRC`` (``SRC`` first on ``PYTHONPATH``: a checkout before a change, and this one),
the sources interleaved run by run so that both meet the same load on the shared machine; each row keeps
the median, every run and the range of the 1-minute load average. The results record the command line.

    git archive BASE src | tar -x -C /tmp/before
    .venv/bin/python bench/startup.py before=/tmp/before/src@BASE after=src@HEAD [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import shlex
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


def _time(command: list[str], env: dict) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run; CPU time depends less on the machine's load."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command)
    return wall, usage.ru_utime + usage.ru_stime


def _small_corpus(folder: Path) -> Path:
    lines = SCIFACT.read_text(encoding="utf-8").splitlines()[:N_DOCS]
    path = folder / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def measure(sources: dict[str, Path], repeats: int) -> dict[str, dict]:
    """Each command run ``repeats`` times per source, the sources interleaved run by run (same load for all)."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = _small_corpus(Path(tmp))
        index = Path(tmp) / "idx"
        first = next(iter(sources.values()))
        subprocess.run(_cli("index", str(corpus), "-m", "minilm", "--out", str(index), "--json"), env=_env(first),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        commands = {
            "keytokens --help": _cli("--help"),
            'keytokens tokens "x" -m minilm': _cli("tokens", "x", "-m", "minilm"),
            'keytokens search IDX "q"': _cli("search", str(index), "preterm infants brain"),
        }
        rows: dict[str, dict] = {label: {} for label in sources}
        for name, command in commands.items():
            runs: dict[str, list[tuple[float, float]]] = {label: [] for label in sources}
            loads = []
            for _ in range(repeats):
                for label, src in sources.items():
                    loads.append(os.getloadavg()[0])
                    runs[label].append(_time(command, _env(src)))
            for label in sources:
                rows[label][name] = {
                    "median_s": round(statistics.median(w for w, _ in runs[label]), 3),
                    "median_cpu_s": round(statistics.median(c for _, c in runs[label]), 3),
                    "runs_s": [round(w, 3) for w, _ in runs[label]],
                    "runs_cpu_s": [round(c, 3) for _, c in runs[label]],
                    "load_1min_min": round(min(loads), 2),
                    "load_1min_max": round(max(loads), 2),
                }
    return rows


def to_markdown(results: dict) -> str:
    labels = list(results["rows"])
    commands = list(dict.fromkeys(c for label in labels for c in results["rows"][label]["commands"]))
    lines = [
        "# CLI start-up time",
        "",
        "Wall seconds from launch to exit, median of the runs, one fresh process each (`OMP_NUM_THREADS=1`, "
        f"offline); the search index holds the first {N_DOCS} SciFact documents (MiniLM). The versions run "
        "interleaved, run by run, so they meet the same load; the machine is shared (2 CPUs), and its 1-minute "
        "load average during the runs is in the last column. In brackets, the CPU seconds (user + system) of "
        "the process, which the load inflates less than the wall time.",
        "",
        "| command | " + " | ".join(labels) + " | 1-minute load during the runs |",
        "|---|" + "---|" * len(labels) + "---|",
    ]
    for command in commands:
        cells = []
        for label in labels:
            row = results["rows"][label]["commands"].get(command)
            cells.append("" if row is None else f"{row['median_s']:.2f} s ({row['median_cpu_s']:.2f} s CPU)")
        row = results["rows"][labels[0]]["commands"][command]
        load = f"{row['load_1min_min']:.1f}–{row['load_1min_max']:.1f}"
        lines.append(f"| `{md_cell(command)}` | " + " | ".join(cells) + f" | {load} |")
    lines += ["", "Runs and settings: `bench/results/startup.json`. Reproduce: " + results["command"], ""]
    for label in labels:
        lines.append(f"- `{label}`: {results['rows'][label]['source']} ({results['rows'][label]['date']})")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", help="LABEL=SRC_FOLDER[@DESCRIPTION], e.g. after=src@HEAD")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    sources, described = {}, {}
    for spec in args.sources:
        label, _, rest = spec.partition("=")
        folder, _, description = rest.partition("@")
        sources[label] = Path(folder).resolve()
        described[label] = description or folder
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    measured = measure(sources, args.repeats)
    results = {
        "command": "`" + shlex.join(["python", "bench/startup.py", *sys.argv[1:]]) + "`",
        "rows": {
            label: {"source": described[label], "date": date, "cpus": os.cpu_count(), "repeats": args.repeats,
                    "commands": measured[label]}
            for label in sources
        },
    }  # fmt: skip
    write_json(args.out_dir / "startup.json", results)
    write_atomic(args.out_dir / "startup.md", to_markdown(results))
    print(to_markdown(results))


if __name__ == "__main__":
    main()
