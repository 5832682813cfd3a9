import numpy as np

# The query path's shortcuts give what the slower calls gave.


def test_tokenize_fast_path_equals_the_tokenizer_call():
    from keytokens.sparse.tokenizer import tokenize
    from tests.retrieval.tinylens import tiny_tokenizer

    tok = tiny_tokenizer()
    texts = ["Apple pie", "red CHERRY tree unknownword", "pie"]
    want = [np.asarray(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]
    assert [t.tolist() for t in tokenize(tok, texts)] == [w.tolist() for w in want]
    # a tokenizer left truncating (by an earlier call) is not bypassed: queries are never truncated
    tok(["apple pie tree"], truncation=True, max_length=1)
    assert tok.backend_tokenizer.truncation is not None
    assert [t.tolist() for t in tokenize(tok, ["apple pie tree"])] == [
        tok(["apple pie tree"], add_special_tokens=False, truncation=False)["input_ids"][0]
    ]


def test_query_vectors_are_int32_csr_without_copies():
    from keytokens.sparse import query_vectors

    q = query_vectors([np.array([3, 1, 3])], token_weights=np.arange(5, dtype=np.float32), indexable=np.ones(5, bool))
    assert q.indices.dtype == np.int32 and q.indptr.dtype == np.int32 and q.dtype == np.float32
    assert q.has_canonical_format and q.toarray().tolist() == [[0, 1, 0, 3, 0]]
