"""Recipes: named ones, files that round-trip, and every bad recipe file refused in one line."""

import json

import pytest

from keytokens.errors import InputError, UnknownNameError
from keytokens.retrieval.recipes import DEFAULT_RECIPE, RECIPES, FusionConfig, Recipe, get_recipe, parse_fusion_weights


def test_named_recipes_and_default():
    assert get_recipe(None) is RECIPES[DEFAULT_RECIPE]
    assert {"default", "paper", "lexical", "expanded", "expanded-model"} <= set(RECIPES)
    assert RECIPES["paper"].lexical is False and RECIPES["lexical"].lexical is True
    with pytest.raises(UnknownNameError, match="expected one of"):
        get_recipe("bm42")


def test_recipe_file_round_trip(tmp_path):
    recipe = RECIPES["default"].replace(
        name="mine", model="minilm", tokenizer="abc", fusion=FusionConfig("rrf", (1, 2))
    )
    path = recipe.save(tmp_path / "r.json")
    assert Recipe.load(path) == recipe == get_recipe(str(path))
    assert not list(tmp_path.glob(".*tmp"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"kind": "something-else"}', "is not a keytokens recipe"),
        ('{"kind": "keytokens-recipe", "schema_version": 99, "recipe": {}}', "schema version 99"),
        ('{"kind": "keytokens-recipe", "schema_version": 1, "recipe": {"name": "x"}}', "is damaged"),
    ],
)
def test_bad_recipe_files(tmp_path, text, message):
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        Recipe.load(path)


def test_missing_file_and_missing_head_folder(tmp_path):
    with pytest.raises(InputError, match="no recipe file"):
        Recipe.load(tmp_path / "absent.json")
    path = RECIPES["default"].replace(head=str(tmp_path / "no-such-head")).save(tmp_path / "r.json")
    with pytest.raises(InputError, match="does not exist"):
        Recipe.load(path)


def test_recipe_for_another_model_or_tokenizer_is_refused():
    recipe = RECIPES["default"].replace(name="t", model="minilm", tokenizer="aaa")
    recipe.check_model("minilm", "aaa")
    with pytest.raises(InputError, match="tuned for model 'minilm', not 'smollm2-eol'"):
        recipe.check_model("smollm2-eol", "aaa")
    with pytest.raises(InputError, match=r"tokenizer aaa.*tokenizer bbb"):
        recipe.check_model("minilm", "bbb")


@pytest.mark.parametrize("text", ["0.3", "a,b", "-1,2", "0,0", "1,2,3", "nan,1"])
def test_bad_fusion_weights(text):
    with pytest.raises(InputError, match="fusion weights"):
        parse_fusion_weights(text)


def test_fusion_weights_parse_and_validate():
    assert parse_fusion_weights("0.35, 0.65") == (0.35, 0.65)
    with pytest.raises(ValueError, match="non-negative"):
        FusionConfig("interpolation", (-1.0, 1.0))
    with pytest.raises(UnknownNameError):
        FusionConfig("max", (1.0, 1.0))


def test_saved_recipe_is_plain_json(tmp_path):
    data = json.loads(RECIPES["paper"].save(tmp_path / "p.json").read_text())
    assert data["kind"] == "keytokens-recipe" and data["recipe"]["documents"]["mode"] == "aligned"
