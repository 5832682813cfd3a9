"""Command-line overrides of a recipe: each flag changes exactly its setting, or is refused where it does not apply."""

import pytest
import typer

from keytokens.cli.recipe_options import Overrides, resolve_recipe
from keytokens.errors import InputError
from keytokens.retrieval.recipes import RECIPES


def test_no_flag_is_the_recipe_itself():
    assert resolve_recipe("default", Overrides()) == RECIPES["default"]
    assert resolve_recipe("paper", Overrides()) == RECIPES["paper"]


def test_lexical_overrides():
    recipe = resolve_recipe("default", Overrides(doc_tokens=12, expansion_head="model", k1=0.5, normalize="none"))
    docs = recipe.documents
    assert (docs.expansion.head, docs.expansion.k, docs.lexical.k1, docs.lexical.normalize) == (
        "model",
        12,
        0.5,
        "none",
    )
    assert docs.lexical.b == RECIPES["default"].documents.lexical.b
    assert resolve_recipe("default", Overrides(doc_tokens=0)).documents.expansion.enabled is False
    assert resolve_recipe("lexical", Overrides(doc_tokens=6)).documents.expansion.head == "fitted"


def test_fusion_and_dense_overrides():
    recipe = resolve_recipe("default", Overrides(fusion_weights="0.2,0.8", similarity="dot", fusion="rrf"))
    assert recipe.fusion.weights == (0.2, 0.8) and recipe.fusion.method == "rrf" and recipe.similarity == "dot"
    with pytest.raises(InputError, match="fusion weights"):
        resolve_recipe("default", Overrides(fusion_weights="1"))


def test_flags_of_the_other_kind_of_index_are_refused():
    with pytest.raises(typer.BadParameter, match="--weighting"):
        resolve_recipe("default", Overrides(weighting="relu"))
    with pytest.raises(typer.BadParameter, match="--k1"):
        resolve_recipe("paper", Overrides(k1=1.0))
    assert resolve_recipe("paper", Overrides(doc_tokens=32, centering="none")).documents.k == 32
