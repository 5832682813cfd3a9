"""Retrieval evaluation: BEIR datasets, trec_eval metrics, the runner, reports and the systems compared."""

from keytokens.evaluation.beir import BeirDataset, load_beir
from keytokens.evaluation.metrics import DEFAULT_METRICS, METRICS, Metric, ir_metrics
from keytokens.evaluation.report import Report, trec_run
from keytokens.evaluation.runner import EvaluationResult, evaluate
from keytokens.evaluation.systems import SYSTEMS, System, build_systems, parse_systems

__all__ = [
    "DEFAULT_METRICS",
    "METRICS",
    "SYSTEMS",
    "BeirDataset",
    "EvaluationResult",
    "Metric",
    "Report",
    "System",
    "build_systems",
    "evaluate",
    "ir_metrics",
    "load_beir",
    "parse_systems",
    "trec_run",
]
