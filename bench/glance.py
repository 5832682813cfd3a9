"""Results at a glance: one table and one plot of what each offline model and method scores.

Reads only results other benchmarks wrote (nothing is measured here):

- ``results/alignment.json`` (``bench/alignment.py``): Hit@10 and LAR on STS-B test, ``content-surface``;
- ``results/retrieval.json`` (``bench/retrieval.py``): nDCG@10 on SciFact test and NFCorpus dev;
- ``results/relatedness.json`` (``keytokens relatedness``): Spearman ρ of cosine on WordSim-353 similarity.

Writes ``results/glance.md`` (the table the README copies) and ``results/glance.png`` (the plot it shows).

    .venv/bin/python bench/glance.py
"""

from __future__ import annotations

import json
from pathlib import Path

from _common import RESULTS, write_atomic

MODELS = ("minilm", "smollm2-eol")
SYSTEMS = ("dense", "sparse", "hybrid")
BASELINES = (("bm25s", "bm25", "BM25 (bm25s)"), ("splade-tiny", "splade", "SPLADE (splade-tiny)"))
DATASETS = (("scifact", "test", "SciFact"), ("nfcorpus", "dev", "NFCorpus"))


def _read(folder: Path, name: str):
    return json.loads((folder / name).read_text(encoding="utf-8"))


def collect(folder: Path = RESULTS) -> dict:
    """The numbers of the table, keyed by model (or baseline label)."""
    alignment = {
        r["model"]: r
        for r in _read(folder, "alignment.json")
        if r["dataset"] == "sts-b" and r["definition"] == "content-surface"
    }
    ndcg = {
        (r["dataset"], r["split"], r["model"], r["system"]): r["ndcg@10"]
        for r in _read(folder, "retrieval.json")
        if "ndcg@10" in r
    }
    rho = {
        m["model"]: s["spearman"]["cosine"]["rho"]
        for m in _read(folder, "relatedness.json")["models"]
        for s in m["word_sets"]
        if s["name"] == "ws353-sim"
    }
    rows = {}
    for model in MODELS:
        rows[model] = {
            "hit": alignment[model]["hit@10"],
            "lar": alignment[model]["lar"],
            "rho": rho.get(model),
            **{f"{d}/{s}": ndcg.get((d, split, model, s)) for d, split, _ in DATASETS for s in SYSTEMS},
        }
    for model, system, label in BASELINES:
        rows[label] = {f"{d}/{system}": ndcg.get((d, split, model, system)) for d, split, _ in DATASETS}
    return rows


def _cell(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def to_markdown(rows: dict) -> str:
    """The glance table (markdown)."""
    heads = [f"{label} nDCG@10: dense · sparse · hybrid" for _, _, label in DATASETS]
    lines = [
        "| model | reads its text: Hit@10 / LAR | " + " | ".join(heads) + " | word similarity ρ |",
        "|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        if name in MODELS:
            reads = f"{_cell(row['hit'])} / {_cell(row['lar'])}"
            cells = [" · ".join(_cell(row[f"{d}/{s}"]) for s in SYSTEMS) for d, _, _ in DATASETS]
            lines.append(f"| `{name}` | {reads} | " + " | ".join(cells) + f" | {_cell(row['rho'])} |")
        else:
            cells = [_cell(next(iter(v for k, v in row.items() if k.startswith(d)))) for d, _, _ in DATASETS]
            lines.append(f"| {name} | – | " + " | ".join(cells) + " | – |")
    return "\n".join(lines) + "\n"


def plot(rows: dict, path: Path) -> None:
    """Grouped bars: nDCG@10 of each model and method on each dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    bars = [(f"{m} {s}", [rows[m][f"{d}/{s}"] for d, _, _ in DATASETS]) for m in MODELS for s in SYSTEMS]
    bars += [(label, [rows[label][f"{d}/{sys}"] for d, _, _ in DATASETS]) for _, sys, label in BASELINES]
    fig, ax = plt.subplots(figsize=(9, 3.6), layout="constrained")
    width = 0.8 / len(bars)
    x = np.arange(len(DATASETS))
    colors = plt.get_cmap("tab10").colors
    for i, (label, values) in enumerate(bars):
        heights = [np.nan if v is None else v for v in values]
        ax.bar(x + (i - (len(bars) - 1) / 2) * width, heights, width, label=label, color=colors[i % len(colors)])
    ax.set_xticks(x, [f"{label} ({split})" for _, split, label in DATASETS])
    ax.set_ylabel("nDCG@10")
    ax.set_title("Retrieval by model and method (bench/results/retrieval.json)")
    ax.legend(ncol=2, fontsize=8, frameon=False, loc="upper right")
    ax.set_ylim(0, max(v for _, vals in bars for v in vals if v is not None) * 1.45)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    rows = collect()
    table = to_markdown(rows)
    intro = (
        "# Results at a glance\n\nWritten by `bench/glance.py` from `alignment.json` (STS-B test, content-surface "
        "definition), `retrieval.json` (SciFact test, NFCorpus dev) and `relatedness.json` (WordSim-353 "
        "similarity, cosine).\n\n"
    )
    write_atomic(RESULTS / "glance.md", intro + table + "\n![nDCG@10 by model and method](glance.png)\n")
    plot(rows, RESULTS / "glance.png")
    print(table)


if __name__ == "__main__":
    main()
