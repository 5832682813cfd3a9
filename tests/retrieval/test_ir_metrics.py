import math

import pytest

from keytokens.errors import UnknownNameError
from keytokens.evaluation import ir_metrics

QRELS = {"q1": {"d1": 1, "d2": 1, "d7": 0}, "q2": {"d3": 2, "d4": 1}, "q3": {"d5": 1}, "q4": {"d6": 1}}
RUN = {
    "q1": ["d9", "d1", "d8", "d2"],
    "q2": ["d4", "d3"],
    "q3": [f"x{i}" for i in range(10)] + ["d5"],  # first relevant at rank 11
    # q4 is judged but absent from the run: it must count as 0, not be skipped
}


def test_metrics_by_hand():
    m = ir_metrics(RUN, QRELS)
    # q1: DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3)
    assert m["ndcg@10"]["q1"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))
    # q2, graded (trec_eval gain = grade): DCG = 1 + 2/log2(3); IDCG = 2 + 1/log2(3)
    assert m["ndcg@10"]["q2"] == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))
    assert m["mrr@10"] == {"q1": 0.5, "q2": 1.0, "q3": 0.0, "q4": 0.0}  # rank 11 is beyond MRR@10
    assert m["recall@100"] == {"q1": 1.0, "q2": 1.0, "q3": 1.0, "q4": 0.0}
    assert m["ndcg@10"]["q3"] == 0.0 and m["ndcg@10"]["q4"] == 0.0


def test_run_order_is_kept_on_ties():
    # trec_eval would sort equal scores by doc id descending ("b" first); the run's order must win.
    assert ir_metrics({"q": ["a", "b"]}, {"q": {"b": 1}}, ["mrr@10"])["mrr@10"]["q"] == 0.5


def test_unknown_metric():
    with pytest.raises(UnknownNameError, match="ndcg@10"):
        ir_metrics(RUN, QRELS, ["ndcg@5"])
