"""EmbeddingGemma-300M and Gemma 3 270M with their real weights (slow; skipped until `make models-gemma` ran)."""

import json

import numpy as np
import pytest

from keytokens.cli import main
from keytokens.embedders.gemma import CHECKPOINTS

pytestmark = pytest.mark.slow


def _needs(key: str) -> None:
    checkpoint = CHECKPOINTS[key]
    if not checkpoint.is_ready():
        pytest.skip(f"{checkpoint.title} is not installed at {checkpoint.folder}; run `make models-gemma`")


@pytest.fixture(scope="module")
def embeddinggemma():
    _needs("embeddinggemma-300m")
    from keytokens.lens import Lens

    return Lens.load("embeddinggemma")


def test_models_lists_the_three_gemma_presets_as_available(capsys):
    _needs("embeddinggemma-300m")
    _needs("gemma-3-270m-fp32")
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert all(rows[n]["offline"] is True for n in ("embeddinggemma", "gemma3", "gemma3-eol"))


def test_embeddinggemma_reads_europe_and_never_an_unused_token(embeddinggemma):
    result = embeddinggemma.aligned_tokens(["a europe for all", "I like apple and banana"], k=10)
    assert "europe" in {t.lower() for t in result.tokens[0]}
    assert not embeddinggemma.vocabulary.unused[result.token_ids].any()
    assert embeddinggemma.vocabulary.unused.sum() == 6242  # <unused0> … <unused6241>
    assert (embeddinggemma.head.vocab_size, embeddinggemma.head.hidden_size) == (262_144, 768)


def test_embeddinggemma_lens_equals_the_pooled_state_before_the_dense_layers(embeddinggemma):
    import torch

    from keytokens.heads import LinearHead, topk

    texts = ["white matter diffusion imaging in preterm infants", "YMCA in South Australia"]
    st = embeddinggemma.embedder.model
    prompted = [embeddinggemma.embedder.prompt.format(t, "document").full for t in texts]
    with torch.inference_mode():
        pooled = st[1](st[0](st.preprocess(prompted)))["sentence_embedding"].numpy()
    tied = LinearHead(weight=st[0].auto_model.get_input_embeddings().weight.detach().numpy())
    mask = ~embeddinggemma.vocabulary.unused
    expected, _ = topk(tied, pooled, 10, mask=mask)
    got, _ = topk(embeddinggemma.head, embeddinggemma.encode(texts), 10, mask=mask)
    np.testing.assert_array_equal(got, expected)


def test_embeddinggemma_query_and_document_prompts_change_the_embedding(embeddinggemma):
    query = embeddinggemma.encode(["apple pie"], role="query")
    document = embeddinggemma.encode(["apple pie"], role="document")
    assert query.shape == (1, 768) and 0.5 < float((query @ document.T)[0, 0]) < 0.9999


def test_gemma3_eol_tokens_command_reads_europe(capsys):
    _needs("gemma-3-270m-fp32")
    assert main(["tokens", "a europe for all", "-m", "gemma3-eol", "-k", "10", "--json"]) == 0
    tokens = [t["token"].lower() for t in json.loads(capsys.readouterr().out)["results"][0]["tokens"]]
    assert "europe" in tokens
