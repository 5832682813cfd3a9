import numpy as np
import pytest

from keytokens.encoding import encode_corpus_embeddings

TEXTS = ["apple", "banana pie", "cherry", "date tree", "juice"]


class Counting:
    """Embeds a text as (length, number of words); can fail on a given call."""

    name, dim = "counting", 2

    def __init__(self, fail_on_call=None):
        self.calls, self.texts, self.fail_on_call = 0, 0, fail_on_call

    def encode(self, texts, *, role="document", batch_size=None, show_progress=False):
        self.calls += 1
        self.texts += len(texts)
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt
        return np.array([[len(t), len(t.split())] for t in texts], dtype=np.float32)


def test_interrupted_encoding_resumes(cache_root):
    with pytest.raises(KeyboardInterrupt):
        encode_corpus_embeddings(Counting(fail_on_call=3), TEXTS, chunk_size=2)
    chunks = sorted(p.name for p in cache_root.rglob("chunk*.npy"))
    assert chunks == ["chunk2-000000.npy", "chunk2-000001.npy"]
    resumed = Counting()
    emb = encode_corpus_embeddings(resumed, TEXTS, chunk_size=2)
    assert resumed.calls == 1  # only the missing third chunk
    np.testing.assert_array_equal(emb, Counting().encode(TEXTS))
    assert not list(cache_root.rglob("*.tmp"))


def test_other_texts_or_settings_do_not_reuse(cache_root):
    encode_corpus_embeddings(Counting(), TEXTS, chunk_size=2)
    again = Counting()
    encode_corpus_embeddings(again, TEXTS[:4], chunk_size=2)
    assert again.calls == 2
    other = Counting()
    encode_corpus_embeddings(other, TEXTS, chunk_size=2, settings={"pooling": "cls"})
    assert other.calls == 3


def test_damaged_chunk_is_encoded_again(cache_root):
    encode_corpus_embeddings(Counting(), TEXTS, chunk_size=2)
    next(cache_root.rglob("chunk2-000001.npy")).write_bytes(b"broken")
    again = Counting()
    np.testing.assert_array_equal(encode_corpus_embeddings(again, TEXTS, chunk_size=2), Counting().encode(TEXTS))
    assert again.calls == 1


def test_no_cache_writes_nothing(cache_root):
    encode_corpus_embeddings(Counting(), TEXTS, chunk_size=2, cache=False)
    assert not cache_root.exists()


def test_bad_arguments(cache_root):
    with pytest.raises(ValueError, match="chunk_size"):
        encode_corpus_embeddings(Counting(), TEXTS, chunk_size=0)
    with pytest.raises(ValueError, match="empty"):
        encode_corpus_embeddings(Counting(), ["ok", " "])


def test_rows_across_chunks_read_the_same_cache(cache_root):
    from keytokens.encoding import CorpusEmbeddings

    whole = encode_corpus_embeddings(Counting(), TEXTS, chunk_size=2)
    reader = Counting()
    corpus = CorpusEmbeddings(reader, TEXTS, chunk_size=2)
    for start, stop in [(0, 5), (1, 4), (3, 5), (4, 5), (2, 2)]:
        np.testing.assert_array_equal(corpus.rows(start, stop), whole[start:stop])
    assert reader.calls == 0 and corpus.reused > 0
    uncached = Counting()
    rows = CorpusEmbeddings(uncached, TEXTS, chunk_size=2, cache=False)
    np.testing.assert_array_equal(np.concatenate([rows.rows(0, 3), rows.rows(3, 5)]), whole)
    assert uncached.texts == len(TEXTS)  # each text encoded once, though chunk 1 is split between the ranges


def test_ranges_that_split_a_chunk_encode_only_their_texts_and_save_the_chunk_once_covered(cache_root):
    from keytokens.encoding import CorpusEmbeddings

    counting = Counting()
    corpus = CorpusEmbeddings(counting, TEXTS, chunk_size=4)  # chunks: texts 0-3, text 4
    first = corpus.rows(0, 3)  # part of chunk 0: its three texts only, one call (a shard of 3)
    assert (counting.calls, counting.texts) == (1, 3) and not list(cache_root.rglob("chunk4-000000.npy"))
    corpus.rows(3, 5)  # the rest of chunk 0, and chunk 1 whole
    assert (counting.calls, counting.texts) == (3, 5)
    assert sorted(p.name for p in cache_root.rglob("chunk*.npy")) == ["chunk4-000000.npy", "chunk4-000001.npy"]
    again = Counting()
    np.testing.assert_array_equal(encode_corpus_embeddings(again, TEXTS, chunk_size=4)[:3], first)
    assert again.calls == 0
    overlapping = CorpusEmbeddings(Counting(), TEXTS, chunk_size=4, cache=cache_root / "other")
    overlapping.rows(0, 2), overlapping.rows(1, 3), overlapping.rows(3, 4)  # overlaps never tile the chunk
    assert not list((cache_root / "other").rglob("chunk*.npy"))
