"""Plots of the spectral analysis; each returns a matplotlib ``Figure`` (Agg backend, never shown)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keytokens.errors import require


def _figure(width: float = 7.0, height: float = 3.5):
    matplotlib = require("matplotlib", "models")
    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def plot_variation(v: np.ndarray, *, title: str = "variation per component") -> object:
    """Bar plot of ``v_j`` against component index ``j`` (PAPER.md §3, their Figure 3)."""
    fig, ax = _figure()
    idx = np.arange(1, len(v) + 1)
    ax.bar(idx, v, color=["#d62728"] + ["#1f77b4"] * (len(v) - 1))
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel("principal component j")
    ax.set_ylabel("v_j = mean (ĥ − h)·u_j")
    ax.set_title(title)
    return fig


def plot_contribution(first: np.ndarray, rest: np.ndarray, tokens: Sequence[str], *, title: str) -> object:
    """Stacked bars: for a text's top tokens, the logit from the first component and from the rest."""
    fig, ax = _figure(8.0, 3.8)
    idx = np.arange(len(tokens))
    ax.bar(idx, first, label="first component", color="#d62728")
    ax.bar(idx, rest, bottom=np.where(np.sign(rest) == np.sign(first), first, 0), label="rest", color="#1f77b4")
    ax.set_xticks(idx, list(tokens), rotation=45, ha="right")
    ax.set_ylabel("logit")
    ax.set_title(title)
    ax.legend()
    return fig


def plot_sweep(lambdas: Sequence[float], series: dict[str, Sequence[float]], *, title: str) -> object:
    """Alignment metric(s) against λ for ``h + λ u_1``."""
    fig, ax = _figure()
    for name, values in series.items():
        ax.plot(lambdas, values, marker="o", label=name)
    ax.set_xlabel("λ")
    ax.set_ylabel("score")
    ax.set_title(title)
    ax.legend()
    return fig


def plot_tokens(rows: dict[str, Sequence[str]], *, title: str) -> object:
    """A table figure: one row of tokens per label (tokens before/after an adjustment)."""
    fig, ax = _figure(9.0, 0.5 + 0.45 * len(rows))
    ax.axis("off")
    table = ax.table(
        cellText=[["  ".join(v)] for v in rows.values()], rowLabels=list(rows), loc="center", cellLoc="left"
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    ax.set_title(title)
    return fig


def save(fig, path) -> None:
    """Write ``fig`` as PNG to ``path`` through a temporary file (no half-written images)."""
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
