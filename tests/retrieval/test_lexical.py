"""Lexical documents: BM25 impacts by hand, term normalisation, expansion as pseudo-occurrences."""

import math

import numpy as np
import pytest

from keytokens.errors import UnknownNameError
from keytokens.lens import Vocabulary
from keytokens.retrieval import SparseRetriever
from keytokens.sparse.corpus import build_index, read_documents
from keytokens.sparse.expansion import ExpansionConfig
from keytokens.sparse.lexical import LexicalConfig, LexicalIndexConfig, lexical_vectors, term_form, token_map
from tests.retrieval.tinylens import VOCAB, tiny_tokenizer

A, B, C = VOCAB["apple"], VOCAB["banana"], VOCAB["cherry"]
V = len(VOCAB)


def lucene(tf: float, dl: float, avgdl: float, df: int, n: int, k1: float = 0.9, b: float = 0.4) -> float:
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))  # Lucene 8+: no (k1 + 1) factor


def test_bm25_impacts_by_hand():
    docs = [np.array([A, A, B]), np.array([B]), np.array([C, C, C, B])]
    m = lexical_vectors(docs, vocab_size=V, config=LexicalConfig(k1=0.9, b=0.4, normalize="none")).toarray()
    avgdl = (3 + 1 + 4) / 3
    assert m[0, A] == pytest.approx(lucene(2, 3, avgdl, 1, 3), rel=1e-5)
    assert m[1, B] == pytest.approx(lucene(1, 1, avgdl, 3, 3), rel=1e-5)
    assert m[2, C] == pytest.approx(lucene(3, 4, avgdl, 1, 3), rel=1e-5)
    assert m[1, A] == 0 and m.dtype == np.float32


def test_expansion_adds_pseudo_occurrences():
    docs = [np.array([A]), np.array([B])]
    config = LexicalConfig(normalize="none", expansion_tf=1)
    m = lexical_vectors(docs, vocab_size=V, config=config, expansion=np.array([[C], [A]])).toarray()
    # doc 0 = A C, doc 1 = B A: every document is 2 terms long, A occurs in both, B and C in one
    assert m[0, C] == pytest.approx(lucene(1, 2, 2, 1, 2), rel=1e-5)
    assert m[1, A] == pytest.approx(lucene(1, 2, 2, 2, 2), rel=1e-5)
    with pytest.raises(ValueError, match="2 expansion rows for 1 documents"):
        lexical_vectors(docs[:1], vocab_size=V, config=config, expansion=np.array([[C], [A]]))


def test_term_forms_merge_case_and_markers_but_not_word_pieces():
    assert term_form("Europe") == term_form(" europe") == "europe"
    assert term_form("##ing") != term_form("ing")


def test_token_map_surface_merges_case_variants():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "Apple": 1, "apple": 2, "apples": 3, "pie": 4}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
    vocabulary = Vocabulary.from_tokenizer(fast)
    assert token_map(vocabulary, "none").tolist() == [-1, 1, 2, 3, 4]
    assert token_map(vocabulary, "surface").tolist() == [-1, 1, 1, 3, 4]
    assert token_map(vocabulary, "stem").tolist() == [-1, 1, 1, 1, 4]
    with pytest.raises(UnknownNameError, match="expected one of"):
        token_map(vocabulary, "lemma")


def test_config_validation():
    with pytest.raises(ValueError, match="b must be"):
        LexicalConfig(b=1.5)
    with pytest.raises(ValueError, match="k1 must be"):
        LexicalConfig(k1=-1)
    with pytest.raises(ValueError, match="exactly when k is 0"):
        ExpansionConfig(head="none", k=4)
    with pytest.raises(UnknownNameError):
        ExpansionConfig(head="oracle")
    config = LexicalIndexConfig(LexicalConfig(k1=1.2), ExpansionConfig(head="model", k=3))
    assert LexicalIndexConfig.from_dict(config.to_dict()) == config


def test_lexical_index_equals_bm25s_and_round_trips(lens, tmp_path):
    """The index's scores are bm25s's own scores for the same token lists; save → load changes nothing."""
    import bm25s

    texts = ["apple pie apple tree", "banana juice yellow", "red cherry pie", "date tree fruit"]
    ids = [f"d{i}" for i in range(4)]
    config = LexicalIndexConfig(LexicalConfig(normalize="none"), ExpansionConfig(head="none", k=0))
    encoding = read_documents(lens, lens.encode(texts), texts, config)
    index = build_index(lens, encoding, ids)
    retriever = SparseRetriever.from_lens(index, lens)
    assert retriever.query.weights == "one"  # BM25 impacts hold the idf
    tok = tiny_tokenizer()
    corpus = [[str(t) for t in tok(t, add_special_tokens=False)["input_ids"]] for t in texts]
    reference = bm25s.BM25(k1=0.9, b=0.4, method="lucene")
    reference.index(corpus, show_progress=False)
    query = [str(t) for t in tok("apple tree", add_special_tokens=False)["input_ids"]]
    expected = reference.get_scores(query)
    result = retriever.search(["apple tree"], k=4)
    got = dict(result.hits(0))
    for doc, score in zip(ids, expected, strict=True):
        assert got.get(doc, 0.0) == pytest.approx(float(score), rel=1e-5)
    index.save(tmp_path / "idx", tokenizer=tok)
    again = SparseRetriever.load(tmp_path / "idx")
    assert again.search(["apple tree"], k=4) == result


def test_expansion_with_model_head_adds_aligned_tokens(lens):
    # the tiny lens's head is the identity: a document's aligned tokens are its own words
    texts = ["apple apple pie", "banana"]
    config = LexicalIndexConfig(LexicalConfig(normalize="none"), ExpansionConfig(head="model", k=1))
    encoding = read_documents(lens, lens.encode(texts), texts, config)
    assert encoding.details["expansion_head"] == "identity"
    assert encoding.details["expansion"] == {"per_doc": 1, "new_share": 0.0}  # reinforced, nothing new
    own = read_documents(
        lens, lens.encode(texts), texts, LexicalIndexConfig(config.lexical, ExpansionConfig("none", 0))
    )
    # apple gets one more (pseudo-)occurrence in document 0
    assert encoding.vectors[0, A] > own.vectors[0, A]
