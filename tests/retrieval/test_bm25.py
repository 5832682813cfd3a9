import numpy as np
import pytest

from keytokens.errors import InputError
from keytokens.retrieval import BM25Retriever, Retriever

TEXTS = ["The cats are running home", "dogs run fast", "a cat sleeps", "a cat sleeps"]
IDS = ["d0", "d1", "d2", "d3"]


def test_stemming_and_stopwords():
    bm25 = BM25Retriever(TEXTS, IDS)
    assert isinstance(bm25, Retriever)
    res = bm25.search(["cat", "the", "running dogs"], k=10)
    assert set(res.doc_ids[0]) == {"d0", "d2", "d3"}  # "cats" stems to "cat"
    assert res.doc_ids[1] == ()  # a stopword alone matches nothing
    assert res.doc_ids[2][0] == "d1"  # run + dog


def test_ties_follow_document_order():
    res = BM25Retriever(TEXTS, IDS).search(["sleeps"], k=2)
    assert res.doc_ids[0] == ("d2", "d3")
    assert res.scores[0][0] == res.scores[0][1]


def test_scores_agree_with_bm25s():
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    ref = bm25s.BM25(k1=0.9, b=0.4, method="lucene")
    ref.index(bm25s.tokenize(TEXTS, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    _, scores = ref.retrieve(
        bm25s.tokenize(["cat"], stopwords="en", stemmer=stemmer, show_progress=False), k=3, show_progress=False
    )
    ours = BM25Retriever(TEXTS, IDS).search(["cat"], k=3)
    np.testing.assert_allclose(np.sort(ours.scores[0]), np.sort(scores[0]), rtol=1e-6)


def test_bad_corpus():
    with pytest.raises(InputError, match="empty corpus"):
        BM25Retriever([], [])
    with pytest.raises(InputError, match="unique document ids"):
        BM25Retriever(["a b", "c d"], ["x", "x"])
