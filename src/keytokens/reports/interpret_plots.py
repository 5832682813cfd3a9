"""Plots of the interpretation analyses; each returns a matplotlib ``Figure`` (Agg backend, never shown).

Write them with :func:`keytokens.reports.plots.save` (atomic PNG).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keytokens.errors import require


def _figure(width: float, height: float):
    matplotlib = require("matplotlib", "models")
    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def plot_instruction_effects(report, *, top: int = 8) -> object:
    """Overlap@k per instruction, and per instruction the tokens gained (right) and lost (left) most often.

    Args:
        report: an :class:`~keytokens.interpret.instructions.InstructionReport`.
        top: tokens shown per instruction.
    """
    effects = report.effects
    fig = _figure(3.2 + 3.4 * len(effects), 0.9 + 0.32 * max(top * 2, len(effects) + 2))
    axes = fig.subplots(1, 1 + len(effects), squeeze=False)[0]
    names = [e.instruction.name for e in effects]
    overlap = axes[0]
    overlap.barh(np.arange(len(effects)), [e.mean_overlap for e in effects], color="#1f77b4")
    overlap.set_yticks(np.arange(len(effects)), names)
    overlap.invert_yaxis()
    overlap.set_xlim(0, 1)
    overlap.set_xlabel(f"overlap@{report.k} with no instruction")
    overlap.set_title(report.model)
    for ax, effect in zip(axes[1:], effects, strict=True):
        gained, lost = effect.gained[:top], effect.lost[:top]
        labels = [t for t, _ in gained] + [t for t, _ in lost]
        values = [c for _, c in gained] + [-c for _, c in lost]
        ax.barh(np.arange(len(labels)), values, color=["#2ca02c"] * len(gained) + ["#d62728"] * len(lost))
        ax.set_yticks(np.arange(len(labels)), labels)
        ax.invert_yaxis()
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_xlabel("texts: gained (+) / lost (−)")
        ax.set_title(effect.instruction.name)
    return fig


def plot_relatedness(results: Sequence, *, measures: Sequence[str] = ("cosine", "jaccard")) -> object:
    """Spearman's ρ per word-pair set, one group of bars per set, one bar per model and measure.

    Args:
        results: :class:`~keytokens.interpret.relatedness.ModelRelatedness`, one per model.
        measures: which correlations to show.
    """
    sets = [s.word_set.name for s in results[0].scores] if results else []
    series = [(r.model, m, [s.correlations[m].rho for s in r.scores]) for r in results for m in measures]
    fig = _figure(2.0 + 1.6 * len(sets) * max(1, len(series)) / 2, 3.6)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(series))
    x = np.arange(len(sets))
    for i, (model, measure, values) in enumerate(series):
        heights = np.nan_to_num(np.asarray(values, dtype=float))
        ax.bar(x + (i - (len(series) - 1) / 2) * width, heights, width, label=f"{model}: {measure}")
    ax.set_xticks(x, sets)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylabel("Spearman ρ with human scores")
    ax.set_title("relatedness vs similarity")
    ax.legend(fontsize=8)
    return fig


__all__ = ["plot_instruction_effects", "plot_relatedness"]
