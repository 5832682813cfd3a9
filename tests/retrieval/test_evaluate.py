import json

import pytest

from keytokens.errors import InputError, UnknownNameError
from keytokens.evaluation import Report, build_systems, evaluate, load_beir, parse_systems
from keytokens.retrieval import BM25Retriever
from keytokens.retrieval.recipes import RECIPES
from keytokens.sparse import QueryConfig, SparseConfig
from tests.retrieval.tinybeir import write_beir

ALL = ["dense", "sparse", "sparse+qexp", "hybrid", "bm25"]


def test_every_system_finds_the_one_relevant_document(beir_dir, lens, cache_root):
    ds = load_beir(beir_dir)
    # M=1: the bag-of-words lens gives a one-word query one positive logit and ties at 0 for every other
    # token, so a second expansion token is the smallest tied id (topk's rule), a word of another document
    recipe = RECIPES["paper"].replace(documents=SparseConfig(k=3), query=QueryConfig(weights="idf", expansion=1))
    systems = build_systems(ALL, ds.doc_ids, ds.doc_texts, lens=lens, recipe=recipe)
    assert [s.name for s in systems] == ALL
    for system in systems:
        result = evaluate(system.retriever, ds, settings=system.to_dict())
        assert result.metrics["ndcg@10"] == pytest.approx(1.0), system.name
        assert result.n_queries == 3 and set(result.per_query["mrr@10"]) == {"q1", "q2", "q3"}
    assert systems[1].settings["documents"]["k"] == 3 and systems[2].settings["query"]["expansion"] == 1


def test_self_hits_are_dropped(tmp_path):
    # query "d1" is also a document; its own text ranks it first
    corpus = [{"_id": "d1", "text": "apple pie"}, {"_id": "d2", "text": "apple tree"}]
    folder = write_beir(
        tmp_path / "self", corpus=corpus, queries=[{"_id": "d1", "text": "apple pie"}], qrels="d1\td2\t1\n"
    )
    ds = load_beir(folder)
    bm25 = BM25Retriever(ds.doc_texts, ds.doc_ids)
    assert evaluate(bm25, ds).metrics["mrr@10"] == 0.5
    kept = evaluate(bm25, ds, drop_self_hits=True)
    assert kept.metrics["mrr@10"] == 1.0 and [d for d, _ in kept.run["d1"]] == ["d2"]


def test_report_files(beir_dir, tmp_path):
    ds = load_beir(beir_dir)
    result = evaluate(BM25Retriever(ds.doc_texts, ds.doc_ids), ds, settings={"k1": 0.9})
    report = Report(ds.name, ds.split, (result,), settings={"data": "tiny"})
    report.save(tmp_path / "report")
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["results"][0]["per_query"]["ndcg@10"]["q1"] == 1.0
    assert saved["results"][0]["settings"] == {"k1": 0.9}
    md = (tmp_path / "report" / "report.md").read_text()
    assert "| system | nDCG@10 | Recall@100 | MRR@10 | queries | search s |" in md and "| bm25 | 1.0000 |" in md
    first = (tmp_path / "report" / "runs" / "bm25.trec").read_text().splitlines()[0].split()
    assert first[:4] == ["q1", "Q0", "d1", "1"] and first[5] == "bm25"
    assert "per_query" not in report.to_dict()["results"][0]


def test_depth_below_a_cutoff_is_refused(beir_dir):
    ds = load_beir(beir_dir)
    with pytest.raises(ValueError, match="below the cutoff of recall@100"):
        evaluate(BM25Retriever(ds.doc_texts, ds.doc_ids), ds, depth=50)


def test_system_names():
    assert parse_systems("dense, bm25,dense") == ["dense", "bm25"]
    with pytest.raises(UnknownNameError, match="sparse\\+qexp"):
        parse_systems("dense,colbert")
    with pytest.raises(InputError, match="at least one"):
        parse_systems(" , ")
    with pytest.raises(InputError, match="need a model"):
        build_systems(["dense"], ["a"], ["text"], lens=None)
