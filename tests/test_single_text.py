"""One string is one text everywhere a list of texts is taken (as in sentence-transformers)."""

import numpy as np
import pytest

from keytokens.embedders import as_texts, check_texts
from keytokens.errors import EmptyTextError, InputError
from keytokens.metrics import alignment_scores
from tests.retrieval.tinylens import VOCAB, tiny_lens


def test_the_shared_validation_point_takes_one_string_as_one_text():
    assert check_texts("banana") == ["banana"]
    assert check_texts("banana apple") == ["banana apple"]  # not characters, not "text 1 is empty"
    assert as_texts(("a", "b")) == ["a", "b"]
    assert as_texts("") == [""]  # emptiness is check_texts's concern
    with pytest.raises(EmptyTextError, match="text 0 is empty"):
        check_texts(" ")
    with pytest.raises(InputError, match="text 1 is int, expected str"):
        check_texts(["a", 1])
    with pytest.raises(InputError, match="a string or a sequence of strings; got int"):
        check_texts(3)


def test_lens_encode_and_aligned_tokens_of_one_string_are_one_row():
    lens = tiny_lens()
    emb = lens.encode("banana")
    assert emb.shape == (1, len(VOCAB)) and emb.dtype == np.float32
    assert np.array_equal(emb, lens.encode(["banana"]))
    result = lens.aligned_tokens("banana apple", k=2)
    assert result.texts == ("banana apple",)
    assert result.token_ids.shape == (1, 2)
    assert set(result.tokens[0]) == {"banana", "apple"}
    assert lens.embedder.encode("cherry pie").shape == (1, len(VOCAB))


def test_vocabulary_metrics_and_query_tokens_take_one_string():
    lens = tiny_lens()
    (ids,) = lens.vocabulary.token_ids("apple pie")
    assert ids.tolist() == [VOCAB["apple"], VOCAB["pie"]]
    one = alignment_scores(lens.encode("apple pie"), "apple pie", lens.head, lens.vocabulary, k=2)
    listed = alignment_scores(lens.encode(["apple pie"]), ["apple pie"], lens.head, lens.vocabulary, k=2)
    assert [s.to_dict() for s in one] == [s.to_dict() for s in listed]
    assert one[0].n_texts == 1 and one[0].hit == 1.0


def test_instruction_encode_and_retrievers_take_one_string():
    from keytokens.interpret.instructions import encode
    from keytokens.retrieval.base import check_search

    lens = tiny_lens()
    assert encode(lens, "date fruit").shape == (1, len(VOCAB))
    assert check_search("date fruit", 3) == ["date fruit"]


@pytest.mark.slow
def test_minilm_reads_one_string_as_one_text(minilm_lens):
    emb = minilm_lens.encode("I like apple and banana")
    assert emb.shape == (1, 384)
    result = minilm_lens.aligned_tokens("banana", k=3)
    assert result.texts == ("banana",) and result.token_ids.shape == (1, 3)


def test_precomputed_embeddings_and_bm25_take_one_string_as_one_document():
    from keytokens.embedders import PrecomputedEmbedder
    from keytokens.retrieval import BM25Retriever

    embedder = PrecomputedEmbedder(np.ones((1, 3), np.float32), "banana bread")
    assert embedder.encode("banana bread").shape == (1, 3)
    bm25 = BM25Retriever("banana bread", ["d1"], stopwords=None, stemmer=None)
    assert bm25.search("banana", k=1).hits(0)[0][0] == "d1"
