"""BERT and MPNet MLM heads, PromptBERT's [MASK] pooling, [CLS] pooling and DPR, on tiny encoders."""

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from keytokens.embedders import PROMPT_BERT, PromptSpec  # noqa: E402
from keytokens.embedders.loading import load_model, preset_for  # noqa: E402
from keytokens.embedders.transformers import TransformersEmbedder  # noqa: E402
from keytokens.errors import InputError  # noqa: E402
from keytokens.heads import load_head  # noqa: E402
from keytokens.heads.from_model import output_head  # noqa: E402

TEXTS = ["the quick brown fox jumps over the lazy dog", "a text", "the key tokens of the text carry its meaning"]
ATOL = 1e-4


def _mlm_logits(mlm, ids):
    with torch.inference_mode():
        return mlm.model(input_ids=torch.as_tensor(ids)[None]).logits[0].numpy()


def _base_states(model, ids):
    with torch.inference_mode():
        return model.base_model(input_ids=torch.as_tensor(ids)[None]).last_hidden_state[0].numpy()


def _mask_position(mlm, ids):
    return int(np.flatnonzero(np.asarray(ids) == mlm.tokenizer.mask_token_id)[-1])


def test_mlm_head_from_checkpoint_equals_the_masked_lm_at_the_mask(mlm):
    ids = mlm.tokenizer(PROMPT_BERT.format(text=TEXTS[0]))["input_ids"]
    at = _mask_position(mlm, ids)
    head = load_head(str(mlm.folder), kind=mlm.kind)
    assert head.transform is not None and head.bias is not None
    assert head.transform.eps == pytest.approx(1e-6)  # read from config.json, not the 1e-12 default
    logits = head.project(_base_states(mlm.model, ids)[at])
    np.testing.assert_allclose(logits[0], _mlm_logits(mlm, ids)[at], atol=ATOL)


def test_mlm_head_taken_from_the_model_in_memory_equals_its_logits(mlm):
    ids = mlm.tokenizer(TEXTS[0])["input_ids"]
    head = output_head(mlm.model, name=mlm.name)
    assert head.transform is not None
    np.testing.assert_allclose(head.project(_base_states(mlm.model, ids)), _mlm_logits(mlm, ids), atol=ATOL)


def test_mask_pooling_with_the_promptbert_template_reads_the_masked_lm(mlm):
    preset = preset_for(
        str(mlm.folder), pooling="mask", prompt=PromptSpec(template=PROMPT_BERT), head=f"{mlm.folder}:{mlm.kind}"
    )
    loaded = load_model(preset)
    logits = loaded.head.project(loaded.embedder.encode(TEXTS))
    for text, row in zip(TEXTS, logits, strict=True):
        ids = mlm.tokenizer(PROMPT_BERT.format(text=text))["input_ids"]
        np.testing.assert_allclose(row, _mlm_logits(mlm, ids)[_mask_position(mlm, ids)], atol=ATOL)
    assert np.abs(logits[0] - logits[1]).max() > 100 * ATOL


def test_mask_pooling_skips_a_mask_token_inside_the_text(mlm):
    embedder = TransformersEmbedder(
        mlm.model.base_model, mlm.tokenizer, pooling="mask", prompt=PromptSpec(template=PROMPT_BERT)
    )
    text = "the [MASK] fox"
    (item,) = embedder.tokenize([text])
    mask_id = mlm.tokenizer.mask_token_id
    assert list(item.input_ids).count(mask_id) == 2
    assert item.pool_mask.sum() == 1
    assert item.pool_mask[_mask_position(mlm, item.input_ids)] == 1  # the template's, the later one
    ids = mlm.tokenizer(PROMPT_BERT.format(text=text))["input_ids"]
    np.testing.assert_allclose(
        embedder.encode([text])[0], _base_states(mlm.model, ids)[_mask_position(mlm, ids)], atol=ATOL
    )


def test_mask_pooling_without_a_mask_in_the_template_is_an_input_error(mlm):
    embedder = TransformersEmbedder(mlm.model.base_model, mlm.tokenizer, pooling="mask")
    with pytest.raises(InputError, match="mask token"):
        embedder.encode(["a text"])


@pytest.mark.parametrize("side", ["right", "left"])
def test_cls_pooling_is_the_first_token_state(mlm, side):
    preset = preset_for(str(mlm.folder))
    assert (preset.kind, preset.pooling, str(preset.head)) == ("encoder", "cls", "embeddings")
    loaded = load_model(dataclasses.replace(preset, padding_side=side))
    expected = np.stack([_base_states(mlm.model, mlm.tokenizer(t)["input_ids"])[0] for t in TEXTS])
    np.testing.assert_allclose(loaded.embedder.encode(TEXTS), expected, atol=ATOL)
    np.testing.assert_array_equal(loaded.head.weight, mlm.model.get_input_embeddings().weight.detach().numpy())


def test_a_bare_encoder_has_no_lm_head(mlm):
    with pytest.raises(InputError, match="embeddings"):
        output_head(mlm.model.base_model, name=mlm.name)


def test_dpr_question_encoder_cls_pooling_equals_its_pooler_output(dpr):
    encoders, tokenizer = dpr
    folder, question = encoders["DPRQuestionEncoder"]
    preset = preset_for(str(folder))
    assert (preset.kind, preset.pooling) == ("encoder", "cls")
    loaded = load_model(preset)
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.inference_mode():
        expected = question(**batch).pooler_output.numpy()
    np.testing.assert_allclose(loaded.embedder.encode(TEXTS, role="query"), expected, atol=ATOL)
    word_embeddings = question.question_encoder.bert_model.embeddings.word_embeddings.weight.detach().numpy()
    np.testing.assert_array_equal(loaded.head.weight, word_embeddings)


def test_dpr_routes_queries_and_documents_to_their_own_encoders(dpr):
    encoders, tokenizer = dpr
    (q_folder, question), (c_folder, context) = encoders["DPRQuestionEncoder"], encoders["DPRContextEncoder"]
    loaded = load_model(preset_for(str(q_folder), document_model=str(c_folder)))
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.inference_mode():
        q_expected, c_expected = question(**batch).pooler_output.numpy(), context(**batch).pooler_output.numpy()
    queries = loaded.embedder.encode(TEXTS, role="query")
    documents = loaded.embedder.encode(TEXTS, role="document")
    np.testing.assert_allclose(queries, q_expected, atol=ATOL)
    np.testing.assert_allclose(documents, c_expected, atol=ATOL)
    assert np.abs(queries - documents).max() > 100 * ATOL
