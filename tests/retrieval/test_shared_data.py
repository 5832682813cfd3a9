import pytest

from keytokens.evaluation import evaluate, load_beir
from keytokens.retrieval import BM25Retriever


@pytest.mark.data
def test_scifact_counts_and_bm25_baseline(beir_data):
    ds = load_beir(beir_data / "scifact", split="test")
    assert (len(ds.doc_ids), len(ds.query_ids), sum(map(len, ds.qrels.values()))) == (5183, 300, 339)
    result = evaluate(BM25Retriever(ds.doc_texts, ds.doc_ids), ds)
    assert result.metrics["ndcg@10"] == pytest.approx(0.676, abs=0.002)  # the measured baseline


@pytest.mark.data
def test_nfcorpus_dev_counts(beir_data):
    ds = load_beir(beir_data / "nfcorpus", split="dev")
    assert (len(ds.doc_ids), len(ds.query_ids), sum(map(len, ds.qrels.values()))) == (3633, 324, 11385)
