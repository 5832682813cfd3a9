"""Every causal architecture of the presets, loaded from a folder through ``load_model(preset_for(...))``.

The reference is the tiny model's own forward pass: the vocabulary head applied to the pooled
embedding must give the model's own next-token logits (PAPER.md §1: an LLM is ``g ∘ f``).
"""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from keytokens.embedders.loading import load_model, preset_for  # noqa: E402
from keytokens.embedders.transformers import TransformersEmbedder  # noqa: E402
from keytokens.errors import ShapeError  # noqa: E402
from keytokens.heads import load_head  # noqa: E402
from tests.models import tiny  # noqa: E402

# Different lengths in one batch, so that padding shows.
TEXTS = [
    "A text is worth several tokens, and the key tokens carry its meaning.",
    "fox",
    "The lazy dog sleeps in the sun.",
    "query",
]
ATOL = 1e-4


def _own_logits_at_last_position(causal, texts):
    return np.stack([causal.logits(causal.tokenizer(t)["input_ids"])[-1] for t in texts])


@pytest.mark.parametrize("side", ["right", "left"])
def test_head_of_last_token_embedding_equals_the_models_next_token_logits(causal, side):
    loaded = causal.load(side)
    logits = loaded.head.project(loaded.embedder.encode(TEXTS))
    expected = _own_logits_at_last_position(causal, TEXTS)
    assert logits.shape == (len(TEXTS), tiny.CAUSAL_VOCAB)
    np.testing.assert_allclose(logits, expected, atol=ATOL)
    # the comparison can fail: the texts' logits are far apart compared with the tolerance
    assert np.abs(expected[0] - expected[1]).max() > 100 * ATOL


@pytest.mark.parametrize("side", ["right", "left"])
def test_each_text_pools_the_same_in_a_padded_batch_as_alone(causal, side):
    embedder = causal.load(side).embedder
    assert embedder.padding_side == side
    batch = embedder.encode(TEXTS, batch_size=len(TEXTS))
    alone = np.concatenate([embedder.encode([t]) for t in TEXTS])
    assert batch.shape == (len(TEXTS), embedder.dim) and batch.dtype == np.float32
    np.testing.assert_allclose(batch, alone, atol=ATOL)
    np.testing.assert_allclose(embedder.encode(TEXTS[::-1], batch_size=3), batch[::-1], atol=ATOL)


def test_embedder_tokenizes_like_the_tokenizer_when_there_is_no_prompt(causal):
    embedder = causal.load().embedder
    for text, item in zip(TEXTS, embedder.tokenize(TEXTS), strict=True):
        ids = causal.tokenizer(text)["input_ids"]
        assert ids[0] == tiny.BOS
        np.testing.assert_array_equal(item.input_ids, ids)
        np.testing.assert_array_equal(item.pool_mask, np.ones(len(ids)))


def _mean(states, weights):
    return (states * weights[:, None]).sum(axis=0) / weights.sum()


@pytest.mark.parametrize("pooling", ["mean", "weighted-mean"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_mean_poolings_equal_the_hidden_states_averaged_by_hand(causal, pooling, side):
    base = causal.load().embedder.model
    embedder = TransformersEmbedder(base, causal.tokenizer, pooling=pooling, padding_side=side)
    expected = []
    for text in TEXTS:
        states = causal.hidden(causal.tokenizer(text)["input_ids"])
        n = len(states)
        weights = np.ones(n) if pooling == "mean" else np.arange(1, n + 1, dtype=np.float64)
        expected.append(_mean(states, weights))
    np.testing.assert_allclose(embedder.encode(TEXTS), np.stack(expected), atol=ATOL)


def test_loaded_head_is_the_models_own_head(causal):
    head = causal.load().head
    own = causal.model.get_output_embeddings().weight.detach().numpy()
    np.testing.assert_array_equal(head.weight, own)
    assert head.bias is None and head.transform is None
    assert head.hidden_size == causal.load().embedder.dim


def test_head_read_alone_from_the_checkpoint_equals_the_models_head(causal):
    head = load_head(str(causal.folder), kind="lm")
    loaded = causal.load().head
    np.testing.assert_array_equal(head.weight, loaded.weight)
    assert head.bias is None
    expected_tensor = tiny.EMBEDDING_TENSOR[causal.arch] if causal.tied else "lm_head.weight"
    assert head.meta["tensor"] == expected_tensor
    embeddings = load_head(str(causal.folder), kind="embeddings")
    assert embeddings.meta["tensor"] == tiny.EMBEDDING_TENSOR[causal.arch]
    assert np.array_equal(embeddings.weight, head.weight) == causal.tied


def test_head_read_from_pytorch_model_bin_equals_the_models_head(causal, tmp_path):
    folder = tiny.save_torch_bin(causal.model, tmp_path / "bin")
    assert not list(folder.glob("*.safetensors"))
    head = load_head(str(folder), kind="lm")
    np.testing.assert_array_equal(head.weight, causal.load().head.weight)


def test_inferred_preset_for_a_causal_folder(causal):
    preset = preset_for(str(causal.folder))
    assert (preset.kind, preset.pooling, str(preset.head)) == ("causal", "last", "lm")
    assert preset_for(str(causal.folder), pooling="mean", head="embeddings").pooling == "mean"


def test_sharded_safetensors_checkpoint_is_read_through_its_index(llama, tmp_path):
    llama.model.save_pretrained(tmp_path, max_shard_size="20KB")
    weight_map = json.loads((tmp_path / "model.safetensors.index.json").read_text())["weight_map"]
    assert not (tmp_path / "model.safetensors").exists()
    assert weight_map["lm_head.weight"] != weight_map["model.embed_tokens.weight"]  # two different shards
    head = load_head(str(tmp_path), kind="lm")
    np.testing.assert_array_equal(head.weight, llama.model.lm_head.weight.detach().numpy())
    embeddings = load_head(str(tmp_path), kind="embeddings")
    np.testing.assert_array_equal(embeddings.weight, llama.model.model.embed_tokens.weight.detach().numpy())


def test_sharded_pytorch_bin_checkpoint_is_read_through_its_index(llama, tmp_path):
    folder = tiny.save_torch_bin(llama.model, tmp_path, shards=3)
    assert len(set(json.loads((folder / "pytorch_model.bin.index.json").read_text())["weight_map"].values())) == 3
    head = load_head(str(folder), kind="lm")
    np.testing.assert_array_equal(head.weight, llama.model.lm_head.weight.detach().numpy())


def test_a_missing_shard_is_reported_by_name(llama, tmp_path):
    llama.model.save_pretrained(tmp_path, max_shard_size="20KB")
    weight_map = json.loads((tmp_path / "model.safetensors.index.json").read_text())["weight_map"]
    (tmp_path / weight_map["lm_head.weight"]).unlink()
    from keytokens.errors import ModelNotAvailableError

    with pytest.raises(ModelNotAvailableError, match=weight_map["lm_head.weight"]):
        load_head(str(tmp_path), kind="lm")


def test_head_of_another_hidden_size_is_refused_naming_both_sizes(llama, tmp_path, bpe_tokenizer):
    import transformers as tf

    wide = tf.LlamaForCausalLM(
        tf.LlamaConfig(
            vocab_size=tiny.CAUSAL_VOCAB,
            hidden_size=48,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
    )
    wide.save_pretrained(tmp_path)
    with pytest.raises(ShapeError, match=r"48.*32"):
        load_model(preset_for(str(llama.folder), head=f"{tmp_path}:lm"))
    with pytest.raises(ShapeError, match=r"embedding size 32 .* hidden size 48"):
        load_head(str(tmp_path)).project(np.zeros((2, 32), np.float32))
