"""Property-based round trips (hypothesis): encode → index → search on random corpora and queries.

The tiny lens (word-level tokenizer, bag-of-words embeddings, identity head) makes every expected number
computable by brute force. Texts mix its words with unknown ones, very long tokens, control characters,
other scripts and emoji; ids are random printable strings. Every property runs a fixed, small number of
examples with a derandomized seed, so CI is deterministic and the file runs in seconds.
"""

from __future__ import annotations

import traceback

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keytokens.cli import main
from keytokens.errors import KeytokensError
from keytokens.retrieval import DenseIndex, SparseRetriever
from keytokens.sparse import QueryConfig, SparseConfig, build_index, encode_corpus
from keytokens.strings import id_problem
from tests.retrieval.tinylens import WORDS, tiny_lens

LENS = tiny_lens()
PROPERTY = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

ODD_WORDS = ["APPLE", "Banana", "kiwi", "x" * 500, "\x00", "\x1b[31m", "é", "🍎", "مرحبا", "\u200b", "a\tb", "-"]
word = st.sampled_from(WORDS) | st.sampled_from(ODD_WORDS) | st.text(min_size=1, max_size=8)
text = st.lists(word, min_size=1, max_size=10).map(" ".join).filter(lambda t: t.strip())
doc_id = st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=10).filter(
    lambda d: d == d.strip()
)
corpus = st.lists(st.tuples(doc_id, text), min_size=1, max_size=12, unique_by=lambda pair: pair[0])
queries = st.lists(text, min_size=1, max_size=4)
configs = st.builds(
    SparseConfig,
    k=st.integers(1, len(WORDS)),
    weighting=st.sampled_from(["relu", "log1p-relu"]),
    keep_own_tokens=st.booleans(),
)


def _assert_refused_by_keytokens(exc: BaseException) -> None:
    """An error of input raised on purpose by keytokens itself, with a message: not one from inside numpy."""
    assert str(exc)
    if not isinstance(exc, KeytokensError):
        last = traceback.extract_tb(exc.__traceback__)[-1]  # a `raise` statement of keytokens, not numpy's C code
        assert "/keytokens/" in last.filename.replace("\\", "/") and last.line.startswith("raise "), last


def _brute_force(query_vectors, doc_vectors, k: int) -> list[list[tuple[int, float]]]:
    """Each query's documents with a positive score ``q · x`` (float64), best first, ties by position."""
    scores = np.asarray(query_vectors.todense(), dtype=np.float64) @ np.asarray(doc_vectors.todense()).T
    ranked = []
    for row in scores:
        hits = [(int(p), float(row[p])) for p in np.flatnonzero(row > 0)]
        ranked.append(sorted(hits, key=lambda h: (-h[1], h[0]))[:k])
    return ranked


def _assert_ranking(results, expected, doc_ids) -> None:
    position = {d: i for i, d in enumerate(doc_ids)}
    for q, want in enumerate(expected):
        got = results.hits(q)
        assert len(got) == len(want), (q, got, want)
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-5, atol=1e-6)
        scores = dict(want)
        for d, s in got:
            assert d in position  # every returned id is in the corpus
            assert position[d] in scores or np.isclose(s, want[-1][1], rtol=1e-5)  # only ties at the cut differ


@PROPERTY
@given(docs=corpus, config=configs, qs=queries, k=st.integers(1, 15), weights=st.sampled_from(["one", "idf"]))
def test_sparse_search_equals_brute_force_and_survives_save_load(tmp_path_factory, docs, config, qs, k, weights):
    ids, texts = [d for d, _ in docs], [t for _, t in docs]
    encoding = encode_corpus(LENS, texts, config, cache=False)
    index = build_index(LENS, encoding, ids)
    retriever = SparseRetriever.from_lens(index, LENS, query=QueryConfig(weights=weights))
    results = retriever.search(qs, k=k)
    _assert_ranking(results, _brute_force(retriever.encode(qs), encoding.vectors, k), ids)
    assert all(len(row) <= min(k, len(ids)) for row in results.doc_ids)

    folder = tmp_path_factory.mktemp("sparse") / "idx"
    index.save(folder, tokenizer=LENS.vocabulary.tokenizer)
    loaded = SparseRetriever.load(folder, query=QueryConfig(weights=weights))  # the saved tokenizer, no model
    assert loaded.search(qs, k=k) == results
    assert list(loaded.index.doc_ids) == ids


@PROPERTY
@given(docs=corpus, qs=queries, k=st.integers(1, 15), similarity=st.sampled_from(["dot", "cosine"]))
def test_dense_search_equals_brute_force_and_survives_save_load(tmp_path_factory, docs, qs, k, similarity):
    ids, texts = [d for d, _ in docs], [t for _, t in docs]
    emb = LENS.encode(texts)
    index = DenseIndex.build(emb, ids, model="tiny", similarity=similarity)
    query_emb = LENS.encode(qs, role="query")
    results = index.search(query_emb, k=k)
    unit = (
        (lambda x: x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-30)) if similarity == "cosine" else None
    )
    x, q = (unit(emb), unit(query_emb)) if unit else (emb, query_emb)
    scores = q.astype(np.float64) @ x.astype(np.float64).T
    expected = [sorted(enumerate(row.tolist()), key=lambda h: (-h[1], h[0]))[:k] for row in scores]
    for i, want in enumerate(expected):
        got = results.hits(i)
        assert len(got) == min(k, len(ids))
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-5, atol=1e-6)
        assert {d for d, _ in got} <= set(ids)

    folder = tmp_path_factory.mktemp("dense") / "idx"
    index.save(folder)
    assert DenseIndex.load(folder).search(query_emb, k=k) == results


any_text = st.text(max_size=30) | st.sampled_from(["", "   ", "\n\t", "\ud800", "apple \udcff", "\x00"])
any_id = st.text(max_size=8) | st.sampled_from(["", " d", "d\x00", "d\n", "\ud800"]) | st.integers() | st.none()


@settings(PROPERTY, max_examples=200)  # cheap: no model, a handful of texts
@given(
    ids=st.lists(st.one_of(doc_id, doc_id, any_id), min_size=1, max_size=6),
    texts=st.lists(st.one_of(text, text, any_text), min_size=1, max_size=6),
)
def test_arbitrary_input_is_indexed_or_refused_with_an_input_error(ids, texts):
    """Whatever the ids and texts, building either works or raises an error of input (never anything else)."""
    n = min(len(ids), len(texts))
    try:
        encoding = encode_corpus(LENS, texts[:n], SparseConfig(k=3), cache=False)
        index = build_index(LENS, encoding, ids[:n])
    except (KeytokensError, ValueError) as exc:
        _assert_refused_by_keytokens(exc)
        return
    assert n > 0 and all(id_problem(d) is None for d in ids[:n])
    assert list(index.doc_ids) == ids[:n]  # no id altered on the way (no trailing NUL dropped)


@pytest.fixture(scope="module")
def saved_index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "idx"
    ids, texts = ["d1", "d2", "d3"], ["apple pie", "banana juice", "cherry tree"]
    build_index(LENS, encode_corpus(LENS, texts, SparseConfig(k=3), cache=False), ids).save(
        folder, tokenizer=LENS.vocabulary.tokenizer
    )
    return folder


cli_query = st.text(max_size=40) | st.sampled_from(["\udcff\udcfe", "-k", "--json", "-", "\x00", " ", "[/x]", "[b]x"])
cli_k = st.sampled_from(["1", "3", "1000000000", "0", "-1", "x", "1e3", "99999999999999999999999"])


@PROPERTY
@given(query=cli_query, k=cli_k)
def test_cli_search_exits_0_1_or_2_with_no_traceback(saved_index, capsys, query, k):
    code = main(
        ["search", str(saved_index), "--", query]
        if query.startswith("-")
        else ["search", str(saved_index), query, "-k", k]
    )
    err = capsys.readouterr().err
    assert code in (0, 1, 2) and "Traceback" not in err
    if code == 1:
        assert err.startswith("error: ") and "internal error" not in err


@pytest.fixture(scope="module")
def retrievers(saved_index):
    dense = DenseIndex.build(
        LENS.encode(["apple pie", "banana juice", "cherry tree"]), ["d1", "d2", "d3"], model="tiny"
    )
    from keytokens.retrieval import DenseRetriever

    return SparseRetriever.load(saved_index), DenseRetriever(dense, LENS.embedder)


@settings(PROPERTY, max_examples=100)
@given(qs=st.lists(st.one_of(text, any_text), max_size=4), k=st.integers(-2, 10**12))
def test_arbitrary_queries_are_answered_or_refused_with_an_input_error(retrievers, qs, k):
    for retriever in retrievers:
        try:
            results = retriever.search(qs, k=k)
        except (KeytokensError, ValueError) as exc:
            _assert_refused_by_keytokens(exc)
            continue
        assert len(results) == len(qs)
        assert all(set(ids) <= {"d1", "d2", "d3"} and len(ids) <= k for ids in results.doc_ids)


@pytest.mark.slow
def test_an_empty_batch_is_zero_rows_for_a_real_embedder(minilm_lens):
    """Found by the property above: the sentence-transformers tokenizer fails on an empty batch."""
    assert minilm_lens.encode([]).shape == (0, 384)
    dense = DenseIndex.build(minilm_lens.encode(["apple pie"]), ["d1"], model="minilm")
    from keytokens.retrieval import DenseRetriever

    assert len(DenseRetriever(dense, minilm_lens.embedder).search([], k=3)) == 0
