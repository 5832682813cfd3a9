"""Evaluate a retriever on a dataset: search every judged query, score the run, keep per-query results."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from keytokens.evaluation.beir import BeirDataset
from keytokens.evaluation.metrics import DEFAULT_METRICS, get_metric, ir_metrics, mean
from keytokens.retrieval.base import Retriever

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """One system on one dataset split.

    Attributes:
        system: the retriever's name.
        dataset: the dataset's name.
        split: the qrels split.
        metrics: metric name → mean over all judged queries.
        per_query: metric name → query id → value.
        run: query id → ``(doc_id, score)`` pairs, best first (self-hits already removed).
        search_seconds: wall time of searching all queries (query encoding included).
        settings: what reproduces the system (model, K, weighting …).
    """

    system: str
    dataset: str
    split: str
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    run: dict[str, tuple[tuple[str, float], ...]]
    search_seconds: float
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def n_queries(self) -> int:
        """Judged queries evaluated."""
        return len(next(iter(self.per_query.values()), {}))

    def to_dict(self, *, per_query: bool = True) -> dict:
        """JSON-ready form; ``per_query=False`` keeps only the means."""
        data = {
            "system": self.system,
            "dataset": self.dataset,
            "split": self.split,
            "n_queries": self.n_queries,
            "metrics": self.metrics,
            "search_seconds": self.search_seconds,
            "settings": self.settings,
        }
        if per_query:
            data["per_query"] = self.per_query
        return data


def remove_self_hits(doc_ids: Sequence[str], scores: Sequence[float], query_id: str | None) -> list[tuple[str, float]]:
    """The ranked ``(doc_id, score)`` pairs without the query's own document (ArguAna-style sets, PAPER.md §4).

    ``query_id=None`` keeps every pair.
    """
    return [(d, float(s)) for d, s in zip(doc_ids, scores, strict=True) if d != query_id]


def evaluate(
    retriever: Retriever,
    dataset: BeirDataset,
    *,
    depth: int = 100,
    metrics: Sequence[str] = DEFAULT_METRICS,
    drop_self_hits: bool = False,
    settings: Mapping[str, Any] | None = None,
) -> EvaluationResult:
    """Search the dataset's judged queries and score the run with trec_eval's measures.

    Args:
        retriever: the system.
        dataset: the split to evaluate.
        depth: documents kept per query (at least every metric's cutoff, e.g. 100 for Recall@100).
        metrics: keys of :data:`~keytokens.evaluation.metrics.METRICS`.
        drop_self_hits: remove a document whose id equals the query id before cutting to ``depth``.
        settings: recorded in the result.

    Raises:
        ValueError: ``depth`` is below a metric's cutoff.
    """
    for name in metrics:
        cutoff = get_metric(name).cutoff
        if cutoff > depth:
            raise ValueError(f"depth {depth} is below the cutoff of {name}; search at least {cutoff} documents")
    start = time.perf_counter()
    results = retriever.search(list(dataset.query_texts), k=depth + 1 if drop_self_hits else depth)
    seconds = time.perf_counter() - start
    run = {}
    for qid, ids, scores in zip(dataset.query_ids, results.doc_ids, results.scores, strict=True):
        pairs = remove_self_hits(ids, scores, qid if drop_self_hits else None)
        run[qid] = tuple(pairs[:depth])
    per_query = ir_metrics({q: [d for d, _ in pairs] for q, pairs in run.items()}, dataset.qrels, metrics)
    means = {name: mean(values) for name, values in per_query.items()}
    logger.info("%s on %s/%s: %s", retriever.name, dataset.name, dataset.split, means)
    return EvaluationResult(
        system=retriever.name,
        dataset=dataset.name,
        split=dataset.split,
        metrics=means,
        per_query=per_query,
        run=run,
        search_seconds=seconds,
        settings=dict(settings or {}),
    )


__all__ = ["EvaluationResult", "evaluate", "remove_self_hits"]
