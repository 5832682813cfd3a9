import pytest

from keytokens.datasets import SENTENCE_SETS, load_texts, read_sts
from keytokens.errors import InputError, UnknownNameError


def test_read_sts_by_hand(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("score\tsentence1\tsentence2\n4.5\tA cat.\tA kitten.\n1.0\tA dog.\tA cat.\n", encoding="utf-8")
    pairs = read_sts(path)
    assert [(p.score, p.sentence1, p.sentence2) for p in pairs] == [
        (4.5, "A cat.", "A kitten."),
        (1.0, "A dog.", "A cat."),
    ]
    assert load_texts(str(path)) == ["A cat.", "A kitten.", "A dog."]  # unique, first-seen order


def test_malformed_sts_line_is_named(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("score\tsentence1\tsentence2\n4.5\tonly one\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.tsv:2: expected 'score<TAB>sentence1<TAB>sentence2'"):
        read_sts(path)


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(b"fine line\ncaf\xe9 au lait\n")
    with pytest.raises(InputError, match=r"latin.txt:2: not valid UTF-8"):
        load_texts(str(path))


def test_jsonl_with_title_and_bad_line(tmp_path):
    good = tmp_path / "c.jsonl"
    good.write_text('{"title": "T", "text": "body"}\n\n{"text": "two"}\n', encoding="utf-8")
    assert load_texts(str(good)) == ["T. body", "two"]
    bad = tmp_path / "d.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": 3}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"d.jsonl:2: expected an object with a string 'text' field"):
        load_texts(str(bad))
    broken = tmp_path / "e.jsonl"
    broken.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"e.jsonl:1: not valid JSON"):
        load_texts(str(broken))


def test_unknown_set_lists_the_named_ones():
    with pytest.raises(UnknownNameError, match="sts-b"):
        load_texts("no-such-set")


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="holds no texts"):
        load_texts(str(path))


@pytest.mark.data
def test_named_sets_have_the_documented_sizes(shared_data):
    stsb = load_texts("sts-b")
    assert len(stsb) > 2500 and len(set(stsb)) == len(stsb)
    smt = load_texts("sts12-smtnews")
    pairs = read_sts(shared_data / "sts/sts12/subsets/surprise.SMTnews.tsv")
    high = {s for p in pairs if p.score > 4 for s in (p.sentence1, p.sentence2)}
    assert set(smt) == high
    assert set(SENTENCE_SETS) >= {"sts-b", "sts12-smtnews"}
