import json

import numpy as np
import pytest

from keytokens.errors import InputError, ShapeError
from keytokens.heads import FitConfig, FittedHead, TargetSpec, VocabHead, fit_head, is_fitted_head, topk
from keytokens.store import StoreError
from tests.heads.conftest import WORDS, FingerprintedWordTokenizer

TEXTS = ["apple apple banana", "banana pie", "red apple pie", "pie pie red", "banana red", "apple", "red", "pie"]


def _bag_of_words(texts):
    """Embeddings = word counts: a head that reads them back as their own words is easy to check."""
    ids = {w: i for i, w in enumerate(WORDS)}
    out = np.zeros((len(texts), len(WORDS)), np.float32)
    for row, text in enumerate(texts):
        for word in text.split():
            out[row, ids[word]] += 1
    return out


@pytest.fixture
def fitted(vocabulary) -> FittedHead:
    emb = _bag_of_words(TEXTS)
    return fit_head(emb, TEXTS, vocabulary, embedder="bow", target=TargetSpec(kind="tf"), config=FitConfig(l2=0.01))


def test_fitted_head_reads_texts_as_their_own_words(fitted, vocabulary):
    from keytokens.lens import aligned_tokens

    assert isinstance(fitted, VocabHead)
    assert (fitted.hidden_size, fitted.vocab_size) == (len(WORDS), len(WORDS))
    assert fitted.name == "bow:fitted-tf-ridge" and fitted.info.n_texts == len(TEXTS)
    result = aligned_tokens(_bag_of_words(["banana pie", "red"]), fitted, vocabulary, k=2, token_filter="no-special")
    assert set(result.tokens[0]) == {"banana", "pie"} and result.tokens[1][0] == "red"


def test_save_load_round_trip_gives_identical_projections(fitted, tmp_path):
    path = fitted.save(tmp_path / "head")
    assert is_fitted_head(path) and not is_fitted_head(tmp_path)
    meta = json.loads((path / "meta.json").read_text())
    assert meta["kind"] == "fitted-head" and meta["schema_version"] == 1
    assert meta["meta"]["embedder"] == "bow" and meta["meta"]["fit"]["l2"] == 0.01
    assert meta["meta"]["target"]["kind"] == "tf" and meta["meta"]["n_texts"] == len(TEXTS)
    emb = np.random.default_rng(0).normal(size=(5, len(WORDS))).astype(np.float32)
    for mmap in (True, False):
        loaded = FittedHead.load(path, mmap=mmap)
        np.testing.assert_array_equal(loaded.project(emb), fitted.project(emb))
        assert loaded.info == fitted.info and loaded.name == fitted.name
    with pytest.raises(StoreError, match="already exists"):
        fitted.save(path)
    fitted.save(path, overwrite=True)


def test_loading_for_another_model_is_refused_naming_both(fitted, tmp_path):
    path = fitted.save(tmp_path / "head")
    same = FingerprintedWordTokenizer(WORDS)
    FittedHead.load(path, tokenizer=same, hidden_size=len(WORDS), embedder=("bow",))  # matches: no error
    other = FingerprintedWordTokenizer([*WORDS, "cherry"], name="other-words")
    with pytest.raises(InputError, match=r"fitted for tokenizer 'words' .* not 'other-words'"):
        FittedHead.load(path, tokenizer=other)
    with pytest.raises(ShapeError, match=r"reads 8-dimensional embeddings, but the embedder gives 384"):
        FittedHead.load(path, hidden_size=384)
    with pytest.raises(InputError, match=r"fitted for embedder 'bow', not 'minilm'"):
        FittedHead.load(path, embedder=("minilm", "sentence-transformers/all-MiniLM-L6-v2"))
    with pytest.raises(StoreError, match=r"no meta\.json"):
        FittedHead.load(tmp_path)


def test_bad_fitting_inputs(vocabulary):
    emb = _bag_of_words(TEXTS)
    with pytest.raises(InputError, match="8 embeddings for 5 texts"):
        fit_head(emb, TEXTS[:5], vocabulary, embedder="bow")
    bad = emb.copy()
    bad[3, 0] = np.inf
    with pytest.raises(InputError, match="first: row 3"):
        fit_head(bad, TEXTS, vocabulary, embedder="bow")
    with pytest.raises(InputError, match="no text has a token"):
        fit_head(emb[:2], ["the a", "a ,"], vocabulary, embedder="bow", target=TargetSpec(drop_stopwords=True))
    with pytest.raises(InputError, match="need a source head"):
        fit_head(emb, TEXTS, vocabulary, embedder="bow", target=TargetSpec(kind="model"))


def test_model_derived_targets_distil_a_source_head(vocabulary):
    from keytokens.heads import LinearHead

    source = LinearHead(weight=np.eye(len(WORDS), dtype=np.float32), name="identity")
    emb = np.random.default_rng(0).normal(size=(40, len(WORDS))).astype(np.float32)
    head = fit_head(
        emb, ["apple"] * 40, vocabulary, embedder="bow", target=TargetSpec(kind="model", top_n=1), source_head=source
    )
    allowed = ~vocabulary.special
    teacher, _ = topk(source, emb, 1, mask=allowed)
    student, _ = topk(head, emb, 1, mask=allowed)
    assert (teacher == student).mean() >= 0.9


def test_a_fitted_head_builds_and_searches_a_sparse_index():
    """Everything downstream takes it as a head: aligned tokens, metrics, sparse index, spectral split."""
    from keytokens.lens import Lens, Vocabulary
    from keytokens.metrics import alignment_scores
    from keytokens.retrieval import SparseRetriever
    from keytokens.sparse import SparseConfig, build_index, encode_corpus
    from keytokens.spectral import contribution, principal_components
    from tests.retrieval.tinybeir import CORPUS
    from tests.retrieval.tinylens import BagOfWords, tiny_tokenizer

    tok = tiny_tokenizer()
    texts = [" ".join([d.get("title", ""), d["text"]]).strip() for d in CORPUS]
    embedder = BagOfWords(tok)
    vocabulary = Vocabulary.from_tokenizer(tok)
    emb = embedder.encode(texts)
    head = fit_head(emb, texts, vocabulary, embedder="tiny", config=FitConfig(l2=0.01))
    lens = Lens(embedder, head, vocabulary, name="tiny")
    encoding = encode_corpus(lens, texts, SparseConfig(k=3), cache=False)
    index = build_index(lens, encoding, [d["_id"] for d in CORPUS])
    assert index.info.head == "tiny:fitted-tfidf-ridge"
    hits = SparseRetriever.from_lens(index, lens).search(["yellow banana", "cherry"], k=1)
    assert [hits.hits(i)[0][0] for i in range(2)] == ["d2", "d3"]
    scores = alignment_scores(emb, texts, head, vocabulary, k=3, definitions=["content"])
    assert scores[0].hit == 1.0
    split = contribution(emb, principal_components(emb, n_components=2), head)
    assert split.first.shape == (len(texts), head.vocab_size)
