"""IR metrics as trec_eval computes them (through pytrec-eval-terrier), one spelling each.

Two details make the numbers honest:

- trec_eval re-sorts a run by score and breaks ties by document id, which would undo our
  deterministic ranking; runs are therefore passed with strictly decreasing rank scores.
- trec_eval (and pytrec_eval) silently skip judged queries absent from the run, which inflates a
  mean; such queries score 0 here, and means are over every judged query.

MRR@10 truncates each run to its first 10 documents before ``recip_rank`` (a plain ``recip_rank``
counts a first relevant document at any depth).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from keytokens.errors import UnknownNameError, require


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric and how trec_eval computes it.

    Attributes:
        measure: the trec_eval measure requested (``ndcg_cut.10``).
        key: the key pytrec_eval reports it under (``ndcg_cut_10``).
        cutoff: the documents per query it looks at (a run must be at least this deep).
        truncate: cut the run to ``cutoff`` before trec_eval sees it (for measures with no cutoff of their own).
        description: one sentence for reports.
    """

    measure: str
    key: str
    cutoff: int
    truncate: bool
    description: str

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "measure": self.measure,
            "key": self.key,
            "cutoff": self.cutoff,
            "truncate": self.truncate,
            "description": self.description,
        }


#: One registry for metrics; error messages list exactly these names.
METRICS: Mapping[str, Metric] = {
    "ndcg@10": Metric("ndcg_cut.10", "ndcg_cut_10", 10, False, "nDCG of the first 10 results (trec_eval ndcg_cut.10)"),
    "recall@100": Metric("recall.100", "recall_100", 100, False, "share of the relevant documents in the first 100"),
    "mrr@10": Metric("recip_rank", "recip_rank", 10, True, "1 / rank of the first relevant result in the top 10"),
    "map@100": Metric("map", "map", 100, True, "mean average precision of the first 100 results"),
}
DEFAULT_METRICS: tuple[str, ...] = ("ndcg@10", "recall@100", "mrr@10")


def get_metric(name: str) -> Metric:
    """Return the metric called ``name``.

    Raises:
        UnknownNameError: naming the registered metrics.
    """
    try:
        return METRICS[name]
    except KeyError:
        raise UnknownNameError(f"unknown metric {name!r}; expected one of {sorted(METRICS)}") from None


def ir_metrics(
    run: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> dict[str, dict[str, float]]:
    """Per-query metric values of a ranked run.

    Args:
        run: query id → document ids, best first (scores are not needed: the order is the ranking).
        qrels: query id → document id → graded relevance; every judged query is scored.
        metrics: keys of :data:`METRICS`.

    Returns:
        metric name → query id → value, for every query in ``qrels`` (0 where the run has nothing).

    Raises:
        UnknownNameError: an unknown metric.
        MissingDependencyError: pytrec-eval-terrier is not installed.
    """
    specs = {name: get_metric(name) for name in metrics}
    pytrec_eval = require("pytrec_eval", "eval")
    judged = {q: {d: int(s) for d, s in docs.items()} for q, docs in qrels.items()}
    values: dict[str, dict[str, float]] = {name: dict.fromkeys(judged, 0.0) for name in specs}
    depths = {name: spec.cutoff if spec.truncate else None for name, spec in specs.items()}
    for depth in set(depths.values()):
        group = {name: spec for name, spec in specs.items() if depths[name] == depth}
        ranked = {q: list(run.get(q, ()))[:depth] for q in judged}
        trec_run = {q: {d: float(len(docs) - r) for r, d in enumerate(docs)} for q, docs in ranked.items() if docs}
        if not trec_run:
            continue
        evaluator = pytrec_eval.RelevanceEvaluator(judged, {spec.measure for spec in group.values()})
        for qid, measures in evaluator.evaluate(trec_run).items():
            for name, spec in group.items():
                values[name][qid] = float(measures[spec.key])
    return values


def mean(values: Mapping[str, float]) -> float:
    """Mean over queries (0 for none)."""
    return float(sum(values.values()) / len(values)) if values else 0.0


__all__ = ["DEFAULT_METRICS", "METRICS", "Metric", "get_metric", "ir_metrics", "mean"]
