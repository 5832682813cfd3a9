"""Evaluation reports: the means as a markdown table and JSON, with per-query values and TREC runs saved."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keytokens._version import __version__
from keytokens.evaluation.runner import EvaluationResult

#: Column titles of the markdown table, per metric key.
_TITLES = {"ndcg@10": "nDCG@10", "recall@100": "Recall@100", "mrr@10": "MRR@10", "map@100": "MAP@100"}


@dataclass(frozen=True, slots=True)
class Report:
    """Several systems evaluated on one dataset split.

    Attributes:
        dataset: the dataset's name.
        split: the qrels split.
        results: one result per system, in the order run.
        settings: shared settings (model, data folder …).
    """

    dataset: str
    split: str
    results: tuple[EvaluationResult, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, *, per_query: bool = False) -> dict:
        """JSON-ready form; ``per_query=True`` adds every query's values."""
        return {
            "dataset": self.dataset,
            "split": self.split,
            "keytokens_version": __version__,
            "settings": self.settings,
            "results": [r.to_dict(per_query=per_query) for r in self.results],
        }

    def to_markdown(self) -> str:
        """The means as a markdown table, one row per system."""
        names = list(dict.fromkeys(m for r in self.results for m in r.metrics))
        header = ["system", *(_TITLES.get(m, m) for m in names), "queries", "search s"]
        lines = [
            f"### {self.dataset} ({self.split})",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
        ]
        for r in self.results:
            cells = [r.system, *(f"{r.metrics[m]:.4f}" if m in r.metrics else "" for m in names)]
            lines.append("| " + " | ".join([*cells, str(r.n_queries), f"{r.search_seconds:.2f}"]) + " |")
        return "\n".join(lines) + "\n"

    def save(self, folder: str | Path) -> Path:
        """Write ``report.json`` (means and per-query values), ``report.md`` and ``runs/<system>.trec``.

        Each file is written to a temporary name and renamed, so a reader never sees half a file.
        """
        out = Path(folder)
        (out / "runs").mkdir(parents=True, exist_ok=True)
        _write(out / "report.json", json.dumps(self.to_dict(per_query=True), indent=2, allow_nan=False) + "\n")
        _write(out / "report.md", self.to_markdown())
        for r in self.results:
            _write(out / "runs" / f"{_safe(r.system)}.trec", trec_run(r))
        return out


def trec_run(result: EvaluationResult) -> str:
    """The run in TREC format: ``qid Q0 docid rank score tag`` a line, ranks from 1."""
    tag = _safe(result.system)
    return "".join(
        f"{qid} Q0 {doc} {rank} {score:.6f} {tag}\n"
        for qid, pairs in result.run.items()
        for rank, (doc, score) in enumerate(pairs, start=1)
    )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name) or "system"


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


__all__ = ["Report", "trec_run"]
