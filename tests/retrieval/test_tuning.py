"""Tuning on train qrels: the library search and `keytokens tune` end to end, with the tiny lens."""

import dataclasses
import json

import pytest

from keytokens.cli import main
from keytokens.errors import InputError
from keytokens.evaluation import load_beir
from keytokens.evaluation.tuning import QUICK_GRID, tune
from keytokens.lens import Lens
from keytokens.retrieval.recipes import Recipe
from tests.retrieval.tinybeir import QRELS, write_beir
from tests.retrieval.tinylens import tiny_lens


@pytest.fixture
def train_dir(tmp_path):
    return write_beir(tmp_path / "tiny", split="train")


def test_tune_scores_every_stage_and_never_loses_to_either_side(train_dir, lens, cache_root):
    ds = load_beir(train_dir, split="train")
    result = tune([ds], lens, grid=QUICK_GRID, name="mine")
    stages = [t.stage for t in result.trials]
    assert stages.count("lexical") == 2 and stages.count("expansion") == 3 and stages.count("dense") == 1
    assert stages.count("fusion") == len(QUICK_GRID.fusion_weights) + 1
    recipe = result.recipe
    assert recipe.name == "mine" and recipe.model == "tiny" and recipe.provenance["datasets"] == ["tiny/train"]
    best = {stage: result.best(stage).mean for stage in ("expansion", "dense", "fusion")}
    assert best["fusion"] >= max(best["expansion"], best["dense"])  # pure sides are candidates
    assert json.loads(json.dumps(result.to_dict()))["recipe"]["name"] == "mine"


def test_tune_refuses_a_split_without_judgments(tmp_path, lens, cache_root):
    folder = write_beir(tmp_path / "nojudg", qrels="query-id\tcorpus-id\tscore\n", split="train")
    with pytest.raises(InputError, match="no judgments"):
        load_beir(folder, split="train")
    ds = dataclasses.replace(load_beir(write_beir(tmp_path / "ok", split="train"), split="train"), qrels={})
    with pytest.raises(InputError, match="no judged query"):
        tune([ds], lens, grid=QUICK_GRID)
    with pytest.raises(InputError, match="at least one"):
        tune([], lens)


def test_tune_cli_then_index_with_the_recipe_file(train_dir, tmp_path, monkeypatch, cache_root, capsys):
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *a, **kw: tiny_lens()))
    out = tmp_path / "recipe.json"
    assert main(["tune", str(train_dir), "--model", "tiny", "--grid", "quick", "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    recipe = Recipe.load(out)
    assert printed["recipe"] == recipe.to_dict() and (tmp_path / "recipe.tuning.json").is_file()
    idx = tmp_path / "idx"
    assert main(["index", str(train_dir / "corpus.jsonl"), "--recipe", str(out), "--out", str(idx), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config"] == recipe.documents.to_dict()
    assert main(["eval", str(train_dir), "--split", "train", "--recipe", str(out), "--systems", "sparse,hybrid"]) == 0
    # the recipe was tuned for "tiny": another model is refused, naming both
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *a, **kw: tiny_lens(name="other")))
    assert main(["index", str(train_dir / "corpus.jsonl"), "--recipe", str(out), "--out", str(tmp_path / "i2")]) == 1
    assert "tuned for model 'tiny', not 'other'" in capsys.readouterr().err


def test_tune_cli_bad_input(train_dir, tmp_path, capsys):
    assert main(["tune", str(train_dir), "--grid", "huge", "--out", str(tmp_path / "r.json")]) == 2
    assert main(["tune", str(train_dir), "--split", "dev", "--out", str(tmp_path / "r.json")]) == 1
    assert "dev" in capsys.readouterr().err


def test_fusion_weights_flag(beir_dir, tmp_path, monkeypatch, cache_root, capsys):
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *a, **kw: tiny_lens()))
    args = ["eval", str(beir_dir), "--systems", "hybrid", "--json"]
    assert main([*args, "--fusion-weights", "0.2,0.8"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["settings"]["settings"]["fusion"]["weights"] == [0.2, 0.8]
    assert main([*args, "--fusion-weights", "-1,2"]) == 1
    assert "fusion weights" in capsys.readouterr().err
    assert main([*args, "--fusion-weights", "x"]) == 1


assert QRELS  # the tiny dataset judges three queries


def test_eval_keeps_going_past_qrels_for_missing_documents_unless_strict(tmp_path, monkeypatch, cache_root, capsys):
    # official ArguAna judges documents its corpus lacks: BEIR and MTEB drop those judgments with a warning
    folder = write_beir(tmp_path / "dangling", qrels=QRELS + "q1\tmissing-doc\t1\n")
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *a, **kw: tiny_lens()))
    assert main(["eval", str(folder), "--systems", "bm25,sparse", "--json"]) == 0
    captured = capsys.readouterr()
    assert "warning:" in captured.err and "missing-doc" in captured.err
    assert json.loads(captured.out)["results"][0]["n_queries"] == 3
    assert main(["eval", str(folder), "--systems", "bm25", "--strict"]) == 1
    assert "missing-doc" in capsys.readouterr().err


def test_search_takes_the_query_settings_of_the_index_recipe(beir_dir, tmp_path, monkeypatch, cache_root, capsys):
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *a, **kw: tiny_lens()))
    idx = tmp_path / "idx"
    assert main(["index", str(beir_dir / "corpus.jsonl"), "--out", str(idx), "--json"]) == 0
    capsys.readouterr()
    assert main(["search", str(idx), "cherry pie", "--recipe", "default", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["queries"][0]["hits"][0]["id"] == "d3"
    assert main(["search", str(idx), "cherry pie", "--recipe", "paper"]) == 1  # built with other documents
    assert "recipe 'paper'" in capsys.readouterr().err
