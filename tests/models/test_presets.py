"""The preset registry (PAPER.md §1's models) and what happens when a model is not available offline."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from keytokens.embedders import PRESETS, PROMPT_BERT, PROMPT_EOL, HeadSpec, Preset, get_preset
from keytokens.errors import InputError, ModelNotAvailableError, UnknownNameError
from keytokens.heads import HEAD_LAYOUTS, load_head

BACKBONES = ["gpt-neo-1.3b", "opt-1.3b", "llama-7b", "mistral-7b"]
PAPER_EMBEDDERS = [
    "sgpt-nli",
    "sgpt-msmarco",
    "opt-eol",
    "opt-eol-cse",
    "llama-eol",
    "llama-eol-cse",
    "gritlm-7b",
    "llm2vec-mistral",
]
FURTHER = ["e5-mistral", "gte-qwen2-7b", "qwen3-embedding-0.6b", "all-mpnet-base-v2", "promptbert", "dpr"]
OFFLINE = ["smollm2", "smollm2-eol", "minilm"]
MISSING = "keytokens-tests/no-such-model"


@pytest.mark.parametrize("name", BACKBONES + PAPER_EMBEDDERS + FURTHER + OFFLINE)
def test_the_registry_holds_the_papers_models_and_the_offline_ones(name):
    preset = get_preset(name)
    assert preset.name == name
    assert (preset.family == "backbone") == (name in BACKBONES or name == "smollm2")


def test_every_preset_names_a_registered_pooling_and_head_kind():
    pooling = pytest.importorskip("keytokens.embedders.pooling")
    for preset in PRESETS.values():
        assert preset.pooling in pooling.POOLINGS, preset.name
        assert preset.head.kind in HEAD_LAYOUTS, preset.name
        assert preset.kind in ("causal", "encoder", "sentence-transformers"), preset.name
        assert preset.padding_side in (None, "left", "right"), preset.name
        if preset.backbone is not None:
            assert PRESETS[preset.backbone].family == "backbone", preset.name
        json.dumps(preset.to_dict())


def test_paper_embedders_read_with_their_backbones_head():
    gpt_neo = get_preset("gpt-neo-1.3b").model
    assert get_preset("sgpt-nli").head == HeadSpec("lm", gpt_neo)
    assert get_preset("sgpt-msmarco").head == HeadSpec("lm", gpt_neo)
    assert get_preset("e5-mistral").head == HeadSpec("lm", get_preset("mistral-7b").model)
    assert get_preset("promptbert").head == HeadSpec("mlm-bert", "bert-base-uncased")
    assert get_preset("dpr").head == HeadSpec("mlm-bert", "bert-base-uncased")
    assert get_preset("all-mpnet-base-v2").head == HeadSpec("mlm-mpnet", "microsoft/mpnet-base")
    assert get_preset("minilm").head == HeadSpec("embeddings")


def test_paper_embedders_pool_and_prompt_as_published():
    assert get_preset("sgpt-nli").pooling == get_preset("sgpt-msmarco").pooling == "weighted-mean"
    for name in ("opt-eol", "opt-eol-cse", "llama-eol", "llama-eol-cse", "smollm2-eol"):
        preset = get_preset(name)
        assert (preset.pooling, preset.prompt.template) == ("last", PROMPT_EOL), name
    assert get_preset("opt-eol-cse").adapters and get_preset("llama-eol-cse").adapters
    promptbert = get_preset("promptbert")
    assert (promptbert.pooling, promptbert.prompt.template) == ("mask", PROMPT_BERT)
    assert get_preset("dpr").pooling == "cls" and get_preset("dpr").document_model
    assert get_preset("gritlm-7b").prompt.pool_text_only and get_preset("llm2vec-mistral").prompt.pool_text_only
    for name in ("e5-mistral", "gte-qwen2-7b", "qwen3-embedding-0.6b"):
        preset = get_preset(name)
        assert (preset.pooling, preset.padding_side, preset.prompt.append_eos) == ("last", "left", True), name
        assert preset.prompt.instructions["query"] and "document" not in preset.prompt.instructions


@pytest.mark.parametrize("text", ["lm", "embeddings", "bert-base-uncased:mlm-bert", "/models/mpnet:mlm-mpnet"])
def test_head_spec_parses_what_it_prints(text):
    assert str(HeadSpec.parse(text)) == text


def test_unknown_preset_lists_the_registered_names():
    with pytest.raises(UnknownNameError) as info:
        get_preset("gpt-5")
    assert "'sgpt-nli'" in str(info.value) and "model folder" in str(info.value)
    assert "did you mean" not in str(info.value)  # nothing close enough to suggest


@pytest.mark.parametrize(("typo", "meant"), [("minlm", "minilm"), ("smollm2eol", "smollm2-eol"), ("smolm2", "smollm2")])
def test_a_preset_typo_names_the_closest_preset_and_never_tries_the_hub(typo, meant, monkeypatch):
    from keytokens.embedders import loading

    monkeypatch.setattr(loading, "_read_config", lambda source: pytest.fail(f"tried to read {source!r}"))
    with pytest.raises(UnknownNameError, match=f"unknown preset '{typo}'; did you mean '{meant}'\\?"):
        loading.preset_for(typo)


def test_only_org_slash_name_or_a_folder_is_taken_for_a_model(tmp_path):
    from keytokens.embedders.presets import looks_like_model

    assert looks_like_model("sentence-transformers/all-MiniLM-L6-v2") and looks_like_model(str(tmp_path))
    assert not looks_like_model("minlm") and not looks_like_model("./no/such/model")
    assert not looks_like_model("org/name with space")


def test_preset_for_applies_overrides_and_ignores_none():
    from keytokens.embedders.loading import preset_for

    preset = preset_for("opt-eol", pooling="mean", head="facebook/opt-1.3b:embeddings", padding_side=None)
    assert (preset.name, preset.pooling) == ("opt-eol", "mean")
    assert preset.head == HeadSpec("embeddings", "facebook/opt-1.3b")
    assert preset.padding_side is None and preset.prompt == get_preset("opt-eol").prompt


def test_preset_for_infers_a_sentence_transformers_folder(tmp_path):
    from keytokens.embedders.loading import preset_for

    (tmp_path / "modules.json").write_text("[]")
    preset = preset_for(str(tmp_path))
    assert (preset.kind, preset.pooling, preset.head) == ("sentence-transformers", "mean", HeadSpec("embeddings"))


def test_a_folder_without_config_or_a_missing_path_is_an_input_error(tmp_path):
    from keytokens.embedders.loading import preset_for

    with pytest.raises(InputError, match=r"no config\.json"):
        preset_for(str(tmp_path))
    with pytest.raises(InputError, match=r"unknown preset '.*absent'.*\(org/name\) or a model folder"):
        preset_for(str(tmp_path / "absent"))


def _says_how_to_use_a_local_path(error) -> None:
    message = str(error.value)
    assert MISSING in message and "local folder path" in message


def test_unavailable_hub_id_offline_is_model_not_available():
    from keytokens.embedders.loading import load_model, preset_for

    with pytest.raises(ModelNotAvailableError) as info:
        preset_for(MISSING)
    _says_how_to_use_a_local_path(info)
    pytest.importorskip("torch")
    for kind in ("causal", "encoder"):
        with pytest.raises(ModelNotAvailableError) as info:
            load_model(Preset("missing", MISSING, kind, "last"))
        _says_how_to_use_a_local_path(info)


def test_unavailable_head_checkpoint_offline_is_model_not_available():
    with pytest.raises(ModelNotAvailableError) as info:
        load_head(MISSING, kind="lm")
    _says_how_to_use_a_local_path(info)
    assert isinstance(info.value, OSError)


def test_a_missing_local_head_folder_is_named(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        load_head(str(tmp_path / "absent"))
    with pytest.raises(ModelNotAvailableError, match="no weight files"):
        load_head(str(tmp_path))


def test_a_checkpoint_missing_the_heads_tensors_is_an_input_error(llama):
    with pytest.raises(UnknownNameError, match=r"unknown head kind 'mlm'.*'lm'"):
        load_head(str(llama.folder), kind="mlm")
    with pytest.raises(InputError, match="no MLM transform"):
        load_head(str(llama.folder), kind="mlm-bert")


def _fake_hub_cache(root, repo_id, files):
    """A hub cache holding ``files`` of ``repo_id`` at one commit, as huggingface_hub lays it out."""
    commit = "0" * 40
    repo = root / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for f in files:
        shutil.copy(f, snapshot / f.name)
    return snapshot


def test_a_cached_hub_checkpoint_is_read_offline(llama, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    _fake_hub_cache(tmp_path, "tiny/llama", [llama.folder / "model.safetensors", llama.folder / "config.json"])
    head = load_head("tiny/llama", kind="lm")  # no index in the cache: the single file is found
    np.testing.assert_array_equal(head.weight, llama.model.lm_head.weight.detach().numpy())


def test_a_cached_index_with_an_uncached_shard_is_model_not_available(llama, tmp_path, monkeypatch):
    from huggingface_hub import constants

    sharded = tmp_path / "sharded"
    llama.model.save_pretrained(sharded, max_shard_size="20KB")
    index = json.loads((sharded / "model.safetensors.index.json").read_text())["weight_map"]
    cached = [sharded / "model.safetensors.index.json"]
    cached += [sharded / f for f in set(index.values()) if f != index["lm_head.weight"]]
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    _fake_hub_cache(tmp_path / "cache", "tiny/sharded", cached)
    embeddings = load_head("tiny/sharded", kind="embeddings")
    np.testing.assert_array_equal(embeddings.weight, llama.model.model.embed_tokens.weight.detach().numpy())
    with pytest.raises(ModelNotAvailableError, match="not in the local cache"):
        load_head("tiny/sharded", kind="lm")


def test_importing_presets_and_heads_does_not_import_torch():
    code = (
        "import sys, keytokens.embedders, keytokens.heads, keytokens.embedders.loading; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
