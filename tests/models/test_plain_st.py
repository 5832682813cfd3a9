"""Simple sentence-transformers folders run with transformers alone, exactly as that library runs them."""

import json
import subprocess
import sys

import numpy as np
import pytest

from keytokens.embedders.plain_st import plain_modules

MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
]


def _folder(tmp_path, modules=MODULES, **pooling):
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling").mkdir(exist_ok=True)
    config = {"word_embedding_dimension": 8, "pooling_mode_mean_tokens": True, **pooling}
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(config))
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128, "do_lower_case": False}))
    return tmp_path


def test_transformer_pooling_normalize_is_run_plainly(tmp_path):
    assert plain_modules(_folder(tmp_path)) == ("mean", True, 128)
    assert plain_modules(_folder(tmp_path, MODULES[:2])) == ("mean", False, 128)
    cls = _folder(tmp_path, pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    assert plain_modules(cls) == ("cls", True, 128)


@pytest.mark.parametrize(
    "change",
    [
        {"pooling_mode_max_tokens": True},  # mean + max concatenated
        {"pooling_mode_mean_tokens": False, "pooling_mode_weightedmean_tokens": True},
        {"include_prompt": False},
    ],
)
def test_other_poolings_are_left_to_sentence_transformers(tmp_path, change):
    assert plain_modules(_folder(tmp_path, **change)) is None


def test_other_modules_or_a_missing_file_are_left_to_sentence_transformers(tmp_path):
    dense = [*MODULES[:2], {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]
    assert plain_modules(_folder(tmp_path, dense)) is None
    assert plain_modules(tmp_path / "absent") is None


@pytest.mark.slow
def test_minilm_plain_equals_sentence_transformers_and_skips_its_import(minilm_lens):
    from keytokens.embedders import get_preset
    from keytokens.embedders.loading import model_source
    from keytokens.embedders.sentence_transformers import SentenceTransformerEmbedder

    texts = ["a europe for all", "YMCA in South Australia", "I like apple and banana " * 80, "x"]
    reference = SentenceTransformerEmbedder.load(model_source(get_preset("minilm")), name="minilm")
    np.testing.assert_allclose(minilm_lens.encode(texts), reference.encode(texts), atol=1e-6)
    assert minilm_lens.embedder.last_truncated == reference.last_truncated == (2,)
    assert minilm_lens.encode([]).shape == (0, 384)  # an empty batch is (0, d), as for every embedder
    code = "import sys; from keytokens import Lens; Lens.load('minilm'); print('sentence_transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.slow
def test_a_huge_text_is_cut_before_tokenising(minilm_lens):
    import time

    start = time.perf_counter()
    emb = minilm_lens.encode("apple pie " * 500_000)  # 5 MB: tokenised whole it takes a long time and GBs
    assert emb.shape == (1, 384) and minilm_lens.embedder.last_truncated == (0,)
    assert time.perf_counter() - start < 60
