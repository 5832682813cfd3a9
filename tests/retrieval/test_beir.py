import json

import pytest

from keytokens.errors import InputError
from keytokens.evaluation import load_beir
from tests.retrieval.tinybeir import CORPUS, write_beir


def test_loads_the_judged_queries(beir_dir):
    ds = load_beir(beir_dir)
    assert ds.doc_ids == ("d1", "d2", "d3", "d4")
    assert ds.doc_texts[0] == "Apple apple pie apple tree" and ds.doc_texts[1] == "banana juice yellow"
    assert ds.query_ids == ("q1", "q2", "q3")  # q9 is not judged in this split
    assert ds.qrels["q3"] == {"d3": 2}
    assert ds.to_dict() == {
        "name": "tiny",
        "split": "test",
        "n_docs": 4,
        "n_queries": 3,
        "n_judgments": 3,
        "problems": [],
    }


def _corpus_lines(tmp_path, lines):
    folder = write_beir(tmp_path / "bad")
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"_id": "d1", "text": "a"}', "{oops"], r"corpus.jsonl:2: not valid JSON"),
        (['{"_id": "d1", "text": "a"}', '["list"]'], r"corpus.jsonl:2: expected a JSON object"),
        (['{"_id": "d1"}'], r"corpus.jsonl:1: field 'text' is missing"),
        (['{"text": "a"}'], r"corpus.jsonl:1: field '_id' is missing"),
        (['{"_id": "d1", "text": 5}'], r"field 'text' is a int"),
        (
            ['{"_id": "d1", "text": "a"}', '{"_id": "d1", "text": "b"}'],
            r":2: duplicate document id 'd1' \(first on line 1\)",
        ),
        (['{"_id": "d1", "title": " ", "text": ""}'], r"empty title and text"),
        ([""], r"the corpus holds no documents"),
    ],
)
def test_bad_corpus(tmp_path, lines, message):
    with pytest.raises(InputError, match=message):
        load_beir(_corpus_lines(tmp_path, lines))


def test_duplicate_query(tmp_path):
    folder = write_beir(tmp_path / "bad", queries=[{"_id": "q1", "text": "a"}, {"_id": "q1", "text": "b"}])
    with pytest.raises(InputError, match=r"queries\.jsonl:2: duplicate query id 'q1'"):
        load_beir(folder)


def test_dangling_qrels(tmp_path):
    qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\tghost\t1\nq7\td2\t1\n"
    folder = write_beir(tmp_path / "bad", qrels=qrels)
    with pytest.raises(InputError, match=r"1 documents missing from the corpus, e.g. \['ghost'\]"):
        load_beir(folder)
    ds = load_beir(folder, strict=False)
    assert ds.qrels == {"q1": {"d1": 1}}
    assert len(ds.problems) == 2 and "q7" in ds.problems[0]


def test_bad_qrels_lines(tmp_path):
    with pytest.raises(InputError, match=r"test.tsv:2: score 'high' is not an integer"):
        load_beir(write_beir(tmp_path / "a", qrels="query-id\tcorpus-id\tscore\nq1\td1\thigh\n"))
    with pytest.raises(InputError, match=r"test.tsv:1: expected 'query-id<TAB>corpus-id<TAB>score'"):
        load_beir(write_beir(tmp_path / "b", qrels="q1 d1 1\n"))
    with pytest.raises(InputError, match="judges document 'd1' twice"):
        load_beir(write_beir(tmp_path / "c", qrels="q1\td1\t1\nq1\td1\t1\n"))


def test_missing_files_and_splits(tmp_path, beir_dir):
    with pytest.raises(InputError, match=r"splits there: \['test'\]"):
        load_beir(beir_dir, split="dev")
    with pytest.raises(InputError, match="is not a folder"):
        load_beir(tmp_path / "nowhere")
    (beir_dir / "queries.jsonl").unlink()
    with pytest.raises(InputError, match=r"has no queries\.jsonl"):
        load_beir(beir_dir)


def test_integer_ids_are_read_as_strings(tmp_path):
    corpus = [{"_id": 7, "text": "x"}, *CORPUS]
    folder = write_beir(tmp_path / "ints", corpus=corpus)
    assert load_beir(folder).doc_ids[0] == "7"
    assert json.loads((folder / "corpus.jsonl").read_text().splitlines()[0])["_id"] == 7
