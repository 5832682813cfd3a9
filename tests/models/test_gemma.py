"""Gemma 3 architectures on tiny random-initialised models: the EmbeddingGemma-style pipeline and its lens.

The causal Gemma 3 (``gemma3``, ``gemma3-eol``) runs through every causal test (``tiny.CAUSAL_ARCHS``).
Here: a bidirectional Gemma 3 encoder in a sentence-transformers pipeline with Dense layers after pooling,
read through its tied input embeddings with the Dense layers undone (the ``embeddinggemma`` lens).
"""

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from keytokens.embedders.loading import load_model, preset_for  # noqa: E402
from keytokens.embedders.sentence_transformers import SentenceTransformerEmbedder  # noqa: E402
from keytokens.errors import InputError  # noqa: E402
from keytokens.heads import LinearHead, topk  # noqa: E402
from tests.models import tiny  # noqa: E402

TEXTS = ["The lazy dog sleeps in the sun.", "fox", "the key tokens carry its meaning"]


@pytest.fixture(scope="module")
def gemma_st(tmp_path_factory, bpe_tokenizer):
    folder = tiny.embedding_gemma_folder(tmp_path_factory.mktemp("embeddinggemma"), bpe_tokenizer)
    return folder, load_model(preset_for(str(folder)))


def _pooled_before_dense(loaded, texts):
    st = loaded.embedder.model
    with torch.inference_mode():
        features = st.preprocess(texts)
        return st[1](st[0](features))["sentence_embedding"].numpy()


def test_the_tied_head_reads_the_pooled_state_before_the_dense_layers(gemma_st):
    _, loaded = gemma_st
    final = loaded.embedder.encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(final, axis=1), 1.0, atol=1e-5)  # the pipeline's own output
    pooled = _pooled_before_dense(loaded, TEXTS)
    embeddings = loaded.embedder.transformer.get_input_embeddings().weight.detach().numpy()
    reference = pooled @ embeddings.T  # E p: the pooled state through the tied embeddings
    logits = loaded.head.project(final)  # E M⁺ y, with y = M p / |M p|
    scale = np.sum(logits * reference, axis=1) / np.sum(reference * reference, axis=1)
    assert loaded.head.name.endswith("-through-dense")
    assert np.all(scale > 0)
    np.testing.assert_allclose(logits, reference * scale[:, None], atol=1e-4 * np.abs(logits).max())
    plain = LinearHead(weight=embeddings)
    np.testing.assert_array_equal(topk(loaded.head, final, 10)[0], topk(plain, pooled, 10)[0])
    # reading the final embedding through E directly would rank other tokens: the undoing matters
    assert not np.array_equal(topk(plain, final, 10)[0], topk(plain, pooled, 10)[0])


def test_the_encoder_attends_both_ways(gemma_st, bpe_tokenizer):
    _, loaded = gemma_st
    model = loaded.embedder.transformer
    a = bpe_tokenizer("The lazy dog", return_tensors="pt")["input_ids"]
    b = a.clone()
    b[0, -1] = (int(a[0, -1]) + 7) % tiny.CAUSAL_VOCAB  # another last token
    with torch.inference_mode():
        first_a = model(input_ids=a).last_hidden_state[0, 1]
        first_b = model(input_ids=b).last_hidden_state[0, 1]
    assert not torch.allclose(first_a, first_b)  # a later token changed an earlier state: bidirectional


def test_a_non_linear_layer_after_pooling_cannot_be_undone():
    from sentence_transformers import SentenceTransformer, models

    modules = [models.Pooling(4, pooling_mode="mean"), models.Dense(4, 4, activation_function=torch.nn.Tanh())]
    embedder = SentenceTransformerEmbedder(SentenceTransformer(modules=modules, device="cpu"), name="tanh")
    with pytest.raises(InputError, match="Tanh"):
        embedder.layers_after_pooling()


def test_a_dense_layer_with_a_bias_cannot_be_undone(gemma_st):
    from keytokens.heads.from_model import through_linear_layers

    head = LinearHead(weight=np.eye(3, dtype=np.float32))
    with pytest.raises(InputError, match="bias"):
        through_linear_layers(head, [(np.eye(3), np.ones(3))])


def test_the_embeddinggemma_preset_refuses_a_folder_of_another_model(gemma_st):
    folder, _ = gemma_st
    with pytest.raises(InputError) as err:
        load_model(preset_for("embeddinggemma", model=str(folder)))
    assert "hidden_size=32" in str(err.value) and "hidden_size=768" in str(err.value)


def test_gemma_presets_point_at_their_assembled_checkpoints():
    from keytokens.embedders import get_preset

    st, mean, eol = (get_preset(n) for n in ("embeddinggemma", "gemma3", "gemma3-eol"))
    assert (st.kind, st.checkpoint, st.head.kind) == ("sentence-transformers", "embeddinggemma-300m", "embeddings")
    assert st.prompt.format("x", "query").full == "task: search result | query: x"
    assert st.prompt.format("x", "document").full == "title: none | text: x"
    assert (mean.pooling, eol.pooling) == ("mean", "last") and mean.checkpoint == eol.checkpoint == "gemma-3-270m-fp32"
    assert "{text}" in eol.prompt.template and eol.prompt.template != "{text}"


def test_a_missing_gemma_checkpoint_is_reported_as_unavailable(tmp_path, monkeypatch):
    from keytokens.availability import available_offline
    from keytokens.embedders import get_preset

    monkeypatch.setenv("KEYTOKENS_CACHE", str(tmp_path))
    assert not available_offline(get_preset("gemma3-eol"))
    preset = dataclasses.replace(get_preset("gemma3-eol"))
    from keytokens.errors import ModelNotAvailableError

    with pytest.raises(ModelNotAvailableError, match="make models-gemma"):
        load_model(preset)


def test_max_length_caps_a_sentence_transformers_model(gemma_st):
    folder, _ = gemma_st
    loaded = load_model(preset_for(str(folder)), max_length=6)
    assert loaded.embedder.max_length == 6
    loaded.embedder.encode(["fox", "A text is worth several tokens, and the key tokens carry its meaning."])
    assert loaded.embedder.last_truncated == (1,)


def test_presets_without_a_checkpoint_keep_their_dict_and_so_their_cache_keys():
    from keytokens.embedders import get_preset

    assert "checkpoint" not in get_preset("minilm").to_dict()
    assert get_preset("gemma3").to_dict()["checkpoint"] == "gemma-3-270m-fp32"
