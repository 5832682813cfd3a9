"""Reports of the interpretation analyses: markdown that says what the numbers show, JSON, atomic writes."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from keytokens.interpret.instructions import InstructionReport
from keytokens.interpret.relatedness import ModelRelatedness

#: Tokens that mark a negation in a contrast's aligned tokens (case-insensitive).
NEGATIONS = frozenset({"not", "no", "never", "don", "dont", "don't", "doesn", "didn", "nothing", "none", "neither"})


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file renamed into place (no half-written files)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is for reading
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_json(path: str | Path, data: dict) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    return write_text(path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def _rho(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.3f}"


def _cell(tokens: Sequence[str]) -> str:
    return " ".join(f"`{t}`" for t in tokens).replace("|", "\\|") or "–"


def relatedness_markdown(results: Sequence[ModelRelatedness], *, k: int, token_filter: str, command: str = "") -> str:
    """The relatedness report: a table of Spearman's ρ, the contrast, and what the numbers show."""
    lines = [
        "# Relatedness vs similarity (PAPER.md §5)",
        "",
        f"Spearman's ρ between human scores and (a) the cosine of the two words' embeddings, (b) the overlap of "
        f"their top-{k} aligned tokens ({token_filter} tokens, compared by surface form): Jaccard of the token "
        "sets, and weighted Jaccard of a softmax over each word's top-k logits.",
        "",
    ]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [
        "| model | word set | judges | pairs | ρ cosine | ρ Jaccard | ρ weighted Jaccard | pairs sharing no token |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for s in r.scores:
            c = s.correlations
            lines.append(
                f"| {r.model} | {s.word_set.name} | {s.word_set.judges} | {s.n_pairs} | {_rho(c['cosine'].rho)} | "
                f"{_rho(c['jaccard'].rho)} | {_rho(c['weighted-jaccard'].rho)} | {s.zero_overlap:.0%} |"
            )
    lines += ["", '## "I like apple" vs "I do not like apple"', ""]
    if results:
        first, second = results[0].contrast.texts
        lines += [
            f"| model | cosine | tokens of {first!r} | tokens of {second!r} | shared | only in the second |",
            "|---|---:|---|---|---|---|",
        ]
    for r in results:
        c = r.contrast
        a, b = ([t.token for t in row] for row in c.tokens)
        lines.append(
            f"| {r.model} | {c.cosine:.3f} | {_cell(a)} | {_cell(b)} | {_cell(c.shared)} | {_cell(c.only_second)} |"
        )
    lines += ["", "## What the numbers show", "", *relatedness_findings(results), *_across_models(results), ""]
    lines += [
        "The WordSim-353 splits hold different pairs (each adds its own similar or related pairs to shared "
        "unrelated ones), so a gap between them is indicative, not a controlled comparison; SimLex-999 scores "
        "similarity alone.",
        "",
    ]
    return "\n".join(lines)


def _across_models(results: Sequence[ModelRelatedness]) -> list[str]:
    """Which model's cosine tracks each set best, and whether token overlap ever beats the cosine."""
    if len(results) < 2:
        return []
    out = []
    for i, s in enumerate(results[0].scores):
        rhos = {r.model: r.scores[i].correlations["cosine"].rho for r in results}
        finite = {m: v for m, v in rhos.items() if np.isfinite(v)}
        if finite:
            best = max(finite, key=finite.get)
            out.append(f"- On {s.word_set.name}, {best}'s cosine tracks the human scores best (ρ {finite[best]:.3f}).")
    beats = [
        f"{r.model} on {s.word_set.name}"
        for r in results
        for s in r.scores
        if s.correlations["jaccard"].rho > s.correlations["cosine"].rho
    ]
    out.append(
        "- Aligned-token Jaccard beats the cosine on " + ", ".join(beats) + "."
        if beats
        else "- Aligned-token Jaccard stays below the cosine on every set and model: the top tokens keep part, "
        "not all, of what the embedding knows about a word."
    )
    return out


def _by_set(result: ModelRelatedness) -> dict[str, dict[str, float]]:
    return {s.word_set.name: {m: c.rho for m, c in s.correlations.items()} for s in result.scores}


def relatedness_findings(results: Sequence[ModelRelatedness]) -> list[str]:
    """Plain sentences drawn from the numbers (nothing here is written by hand)."""
    out = []
    for r in results:
        rho = _by_set(r)
        if {"ws353-sim", "ws353-rel"} <= rho.keys():
            sim, rel = rho["ws353-sim"]["cosine"], rho["ws353-rel"]["cosine"]
            if np.isfinite(sim) and np.isfinite(rel):
                side = "similarity" if sim > rel else "relatedness"
                out.append(
                    f"- **{r.model}**: cosine follows WordSim-353 {side} more closely "
                    f"(ρ {sim:.3f} on the similarity split, {rel:.3f} on the relatedness split)."
                )
        if "simlex999" in rho and "ws353-sim" in rho:
            out.append(
                f"- **{r.model}**: on SimLex-999, which rates related but dissimilar pairs low, cosine reaches "
                f"ρ {_rho(rho['simlex999']['cosine'])} against {_rho(rho['ws353-sim']['cosine'])} on WordSim-353 "
                "similarity."
            )
        ratios = [
            v["jaccard"] / v["cosine"]
            for v in rho.values()
            if np.isfinite(v["jaccard"]) and np.isfinite(v["cosine"]) and v["cosine"] > 0
        ]
        if ratios:
            zero = max(s.zero_overlap for s in r.scores)
            out.append(
                f"- **{r.model}**: aligned-token Jaccard keeps {np.mean(ratios):.0%} of the cosine's ρ on average "
                f"(up to {zero:.0%} of a set's pairs share no aligned token, a tie that caps the overlap's ρ)."
            )
        out.append(_contrast_finding(r))
    return out


def _contrast_finding(r: ModelRelatedness) -> str:
    c = r.contrast
    negations = [t for t in c.only_second if t.lower().strip("'") in NEGATIONS]
    keeps = [t for t in c.shared if "apple" in t.lower()]
    parts = [
        f"- **{r.model}**: the contrast pair has cosine {c.cosine:.3f} and shares {len(c.shared)} of its top tokens"
    ]
    if negations:
        parts.append(f"; the negated text gains negation tokens ({', '.join(f'`{t}`' for t in negations)})")
    else:
        parts.append("; no negation token enters the negated text's top tokens")
    parts.append(
        "; both keep `apple`, the related reading." if keeps else "; `apple` is not among the tokens both share."
    )
    return "".join(parts)


def instructions_markdown(report: InstructionReport, *, command: str = "", plot: str | None = None) -> str:
    """The instruction report: overlap@k and the tokens gained and lost per instruction."""
    k = report.k
    lines = [
        f"# Instructions and aligned tokens: {report.model} (PAPER.md §5)",
        "",
        f"{len(report.texts)} texts encoded as {report.role}s without an instruction and under each instruction "
        f"(placed with the format `{report.instruction_format!r}`); top-{k} aligned tokens, filter "
        f"`{report.token_filter}`. Overlap@{k} = |top-{k} with ∩ top-{k} without| / {k}, averaged over the texts.",
        "",
    ]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [
        f"| instruction | text | overlap@{k} | gained most often | lost most often |",
        "|---|---|---:|---|---|",
    ]
    for e in report.effects:
        gained = ", ".join(f"`{t}` ({c})" for t, c in e.gained[:6]) or "–"
        lost = ", ".join(f"`{t}` ({c})" for t, c in e.lost[:6]) or "–"
        text = e.instruction.text.replace("|", "\\|")
        lines.append(f"| {e.instruction.name} | {text} | {e.mean_overlap:.3f} | {gained} | {lost} |")
    if plot:
        lines += ["", f"![overlap and tokens per instruction]({plot})"]
    lines += ["", "## Examples", ""]
    for i, text in enumerate(report.texts[:3]):
        lines += [f"- {text!r}", f"  - none: {_cell(report.baseline[i])}"]
        lines += [f"  - {e.instruction.name}: {_cell(e.tokens[i])}" for e in report.effects]
    lines += ["", "## What the numbers show", ""]
    if report.effects:
        lowest = min(report.effects, key=lambda e: e.mean_overlap)
        highest = max(report.effects, key=lambda e: e.mean_overlap)
        lines.append(
            f"- The instructions keep between {lowest.mean_overlap:.0%} ({lowest.instruction.name}) and "
            f"{highest.mean_overlap:.0%} ({highest.instruction.name}) of the no-instruction top-{k} tokens."
        )
        for e in report.effects:
            if e.gained:
                top = ", ".join(f"`{t}`" for t, _ in e.gained[:3])
                lines.append(f"- Under **{e.instruction.name}** the tokens entering most often are {top}.")
    return "\n".join(lines) + "\n"


__all__ = [
    "NEGATIONS",
    "instructions_markdown",
    "relatedness_findings",
    "relatedness_markdown",
    "write_json",
    "write_text",
]
