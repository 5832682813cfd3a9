"""The spectral report: backbone vs embedder, first-component contribution, λ sweep, as PNGs + JSON."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keytokens.errors import ShapeError
from keytokens.lens import Lens, aligned_tokens
from keytokens.reports import plots
from keytokens.spectral import Spectrum, contribution, lambda_sweep, principal_components, variation

EXAMPLES = ("YMCA in South Australia", "I like apple and banana")


@dataclass(frozen=True)
class SpectrumReport:
    """What ``keytokens spectrum`` measured.

    Attributes:
        summary: JSON-ready numbers (variation, sweep, tokens before/after).
        figures: file name → matplotlib figure.
    """

    summary: dict
    figures: dict

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write ``summary.json`` and the PNGs into ``out_dir`` (each file atomically)."""
        text = json.dumps(self.summary, indent=2, allow_nan=False)  # refused (NaN) before anything is written
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, fig in self.figures.items():
            plots.save(fig, out / name)
            written.append(out / name)
        fd, tmp = tempfile.mkstemp(suffix=".json", dir=out)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, out / "summary.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return [*written, out / "summary.json"]


def check_compatible(backbone: Lens, embedder: Lens) -> None:
    """Refuse a backbone/embedder pair that do not share a vocabulary and hidden size, saying which."""
    if backbone.head.hidden_size != embedder.head.hidden_size:
        raise ShapeError(
            f"backbone {backbone.name!r} has hidden size {backbone.head.hidden_size}, embedder "
            f"{embedder.name!r} {embedder.head.hidden_size}; they must match"
        )
    if backbone.vocabulary.raw != embedder.vocabulary.raw:
        raise ShapeError(
            f"backbone {backbone.name!r} and embedder {embedder.name!r} use different tokenizers "
            f"({backbone.vocabulary.size} vs {embedder.vocabulary.size} tokens)"
        )


def default_lambdas(h: np.ndarray, spec: Spectrum, v1: float) -> list[float]:
    """λ grid: fractions of ``v_1`` and of ``−mean(h·u_1)`` (which removes the first component on average)."""
    c_mean = float((h @ spec.first).mean())
    fractions = (0.25, 0.5, 0.75, 1.0, 1.25)
    return sorted({0.0, *(round(v1 * f, 3) for f in fractions), *(round(-c_mean * f, 3) for f in fractions)})


def spectrum_report(
    backbone: Lens,
    embedder: Lens,
    texts: Sequence[str],
    *,
    n_components: int = 50,
    lambdas: Sequence[float] | None = None,
    k: int = 10,
    show_progress: bool = False,
) -> SpectrumReport:
    """Compare a backbone with an embedder made from it, on ``texts`` (PAPER.md §3)."""
    check_compatible(backbone, embedder)
    h = backbone.encode(texts, show_progress=show_progress)
    h_hat = embedder.encode(texts, show_progress=show_progress)
    spec = principal_components(h, n_components=min(n_components, *h.shape))
    var = variation(spec, h, h_hat)
    v1 = float(var.v[0])
    grid = list(lambdas) if lambdas is not None else default_lambdas(h, spec, v1)
    head, vocab = backbone.head, backbone.vocabulary
    sweep = {d: lambda_sweep(h, texts, spec, head, vocab, grid, k=k, definition=d) for d in ("paper", "content")}
    figures = {
        "variation.png": plots.plot_variation(var.v, title=f"{backbone.name} → {embedder.name}: v_j per component"),
        "lambda_sweep.png": plots.plot_sweep(
            grid,
            {f"{d} Hit@{k}": [p.hit for p in pts] for d, pts in sweep.items()}
            | {f"{d} LAR": [p.lar for p in pts] for d, pts in sweep.items()},
            title=f"{backbone.name}: h + λ u1",
        ),
    }
    best = max(sweep["content"], key=lambda p: p.hit).lam
    examples = _examples(backbone, spec, {"v1": v1, "best": best}, k, figures)
    summary = {
        "backbone": backbone.name,
        "embedder": embedder.name,
        "n_texts": len(texts),
        "k": k,
        "spectrum": spec.to_dict(),
        "variation": var.to_dict(),
        "sweep": {d: [p.to_dict() for p in pts] for d, pts in sweep.items()},
        "examples": examples,
        "best_lambda_content_hit": best,
    }
    return SpectrumReport(summary=summary, figures=figures)


def _examples(backbone: Lens, spec: Spectrum, lams: dict[str, float], k: int, figures: dict) -> list[dict]:
    from keytokens.spectral import adjust

    emb = backbone.encode(list(EXAMPLES))
    split = contribution(emb, spec, backbone.head)
    rows, table = [], {}
    for i, text in enumerate(EXAMPLES):
        top = np.argsort(-split.total[i], kind="stable")[:k]
        labels = backbone.vocabulary.render(top)
        figures[f"contribution_{i + 1}.png"] = plots.plot_contribution(
            split.first[i, top], split.rest[i, top], labels, title=f"{text!r}: first component vs rest"
        )
        first, rest = np.abs(split.first[i, top]).sum(), np.abs(split.rest[i, top]).sum()
        share = float(first / (first + rest)) if first + rest > 0 else None  # None: all-zero logits (no NaN)
        row = {"text": text, "tokens": {}, "first_component_share_of_top": share}
        for label, lam in {"raw": 0.0, **lams}.items():
            adjusted = adjust(emb[i : i + 1], spec, lam)
            tokens = aligned_tokens(adjusted, backbone.head, backbone.vocabulary, k=k).tokens[0]
            key = label if label == "raw" else f"{label} λ={lam:.1f}"
            row["tokens"][key] = list(tokens)
            table[f"{text[:28]} ({key})"] = tokens
        rows.append(row)
    figures["tokens_before_after.png"] = plots.plot_tokens(table, title=f"{backbone.name}: h vs h + λ u1")
    return rows
