"""Precomputed embeddings from .npy files, and the dual (query/document) embedder."""

import numpy as np
import pytest

from keytokens.embedders import DualEmbedder, Embedder, PrecomputedEmbedder, load_embeddings
from keytokens.errors import EmptyTextError, InputError, ShapeError

TEXTS = ["first text", "second text", "third text"]
ROWS = np.arange(12, dtype=np.float64).reshape(3, 4)


def _save(tmp_path, array, name="emb.npy"):
    path = tmp_path / name
    np.save(path, array)
    return path


def test_load_embeddings_returns_float32_rows(tmp_path):
    emb = load_embeddings(_save(tmp_path, ROWS.astype(np.float16)), dim=4)
    assert emb.dtype == np.float32 and emb.shape == (3, 4)
    np.testing.assert_array_equal(emb, ROWS)


@pytest.mark.parametrize("shape", [(12,), (3, 2, 2)])
def test_load_embeddings_refuses_other_shapes_naming_them(tmp_path, shape):
    with pytest.raises(ShapeError, match=rf"shape \({shape[0]},.*expected \(n, d\)"):
        load_embeddings(_save(tmp_path, ROWS.reshape(shape)))


def test_load_embeddings_refuses_integers_naming_the_dtype(tmp_path):
    with pytest.raises(ShapeError, match="dtype int64; expected float16, float32 or float64"):
        load_embeddings(_save(tmp_path, ROWS.astype(np.int64)))


def test_load_embeddings_names_both_sizes_when_d_differs(tmp_path):
    with pytest.raises(ShapeError, match="embedding size 4; expected 8"):
        load_embeddings(_save(tmp_path, ROWS), dim=8)


def test_load_embeddings_refuses_a_file_that_is_not_npy(tmp_path):
    text = tmp_path / "emb.npy"
    text.write_text("0.1 0.2\n0.3 0.4\n")
    with pytest.raises(InputError, match=r"not a valid \.npy file"):
        load_embeddings(text)
    pickled = _save(tmp_path, np.array([{"a": 1}], dtype=object), "objects.npy")
    with pytest.raises(InputError, match=r"not a valid \.npy file"):
        load_embeddings(pickled)


def test_load_embeddings_refuses_an_npz_archive(tmp_path):
    path = tmp_path / "emb.npz"
    np.savez(path, emb=ROWS)
    with pytest.raises(InputError, match=r"\.npz archive, not a \.npy file"):
        load_embeddings(path)


def test_load_embeddings_names_a_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"absent\.npy' does not exist"):
        load_embeddings(tmp_path / "absent.npy")


def test_precomputed_embedder_serves_the_rows_of_the_texts():
    embedder = PrecomputedEmbedder(ROWS, TEXTS, name="stored")
    assert isinstance(embedder, Embedder) and embedder.dim == 4
    out = embedder.encode(["third text", "first text"])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, ROWS[[2, 0]])
    assert embedder.encode(["second text"], role="query").shape == (1, 4)


def test_precomputed_embedder_refuses_bad_input():
    with pytest.raises(ShapeError, match="2 texts for 3 embedding rows"):
        PrecomputedEmbedder(ROWS, TEXTS[:2])
    embedder = PrecomputedEmbedder(ROWS, TEXTS)
    with pytest.raises(InputError, match=r"1 texts have no precomputed embedding, e\.g\. 'fourth text'"):
        embedder.encode(["first text", "fourth text"])
    with pytest.raises(EmptyTextError, match="text 0"):
        embedder.encode([" "])
    with pytest.raises(InputError, match="unknown role"):
        embedder.encode(TEXTS, role="passage")


def test_dual_embedder_routes_each_role_to_its_own_embedder():
    query = PrecomputedEmbedder(ROWS, TEXTS, name="q")
    document = PrecomputedEmbedder(-ROWS, TEXTS, name="d")
    dual = DualEmbedder(query=query, document=document, name="dual")
    assert dual.dim == 4
    np.testing.assert_array_equal(dual.encode(TEXTS[:1], role="query"), ROWS[:1])
    np.testing.assert_array_equal(dual.encode(TEXTS[:1]), -ROWS[:1])  # documents by default
    with pytest.raises(InputError, match="unknown role"):
        dual.encode(TEXTS, role="passage")


def test_dual_embedder_refuses_different_sizes():
    with pytest.raises(ShapeError, match="4 dimensions, document embedder 2"):
        DualEmbedder(
            query=PrecomputedEmbedder(ROWS, TEXTS), document=PrecomputedEmbedder(ROWS[:, :2], TEXTS), name="dual"
        )
