import json

import numpy as np
import pytest

from keytokens.errors import InputError, UnknownNameError
from keytokens.interpret.relatedness import (
    WORD_SETS,
    WordPair,
    contrast,
    get_word_set,
    jaccard,
    load_word_set,
    read_word_pairs,
    relatedness,
    score_pairs,
    spearman,
    weighted_jaccard,
    word_set_scores,
)
from tests.server.fakes import PRESETS, fake_lens


def test_read_word_pairs(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("word1\tword2\tscore\ntiger\tcat\t7.35\n\nold\tnew\t1.58\n")
    assert read_word_pairs(path) == [WordPair("tiger", "cat", 7.35), WordPair("old", "new", 1.58)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("word1\tword2\tscore\ntiger\tcat\n", r"p.tsv:2: expected"),
        ("word1\tword2\tscore\ntiger\tcat\tseven\n", r"p.tsv:2: expected"),
        ("word1\tword2\tscore\n\tcat\t1\n", r"p.tsv:2: expected"),
        ("word1\tword2\tscore\n", "holds no word pairs"),
    ],
)
def test_read_word_pairs_refuses(tmp_path, text, message):
    path = tmp_path / "p.tsv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_word_pairs(path)


def test_missing_files_and_unknown_sets(tmp_path):
    with pytest.raises(InputError, match="set KEYTOKENS_DATA"):
        read_word_pairs(tmp_path / "none.tsv")
    with pytest.raises(UnknownNameError, match=r"expected one of \['simlex999', 'ws353-rel', 'ws353-sim'\]"):
        get_word_set("men")


def test_overlaps_by_hand():
    a, b = {1: 0.5, 2: 0.5}, {2: 0.25, 3: 0.75}
    assert jaccard(a, b) == pytest.approx(1 / 3)
    assert weighted_jaccard(a, b) == pytest.approx(0.25 / 1.75)
    assert jaccard({}, {}) == 0.0 and weighted_jaccard({}, {}) == 0.0
    assert weighted_jaccard(a, a) == pytest.approx(1.0)


def test_spearman_by_hand():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]).rho == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]).rho == pytest.approx(-1.0)
    # ranks [3, 1.5, 1.5] vs [3, 2, 1]: cov 1.5, variances 1.5 and 2 → 1.5 / √3
    assert spearman([1, 0, 0], [10, 5, 1]).rho == pytest.approx(1.5 / np.sqrt(3))
    constant = spearman([1, 1, 1], [1, 2, 3])
    assert np.isnan(constant.rho) and constant.to_dict() == {"rho": None, "pvalue": None}


def test_pairs_on_the_fake_lens():
    pairs = [WordPair("apple", "apple", 10), WordPair("apple", "banana", 5), WordPair("cherry", "date", 1)]
    cosines, overlaps = score_pairs(fake_lens(PRESETS[0]), pairs, k=1)
    np.testing.assert_allclose(cosines, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(overlaps["jaccard"], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(overlaps["weighted-jaccard"], [1.0, 0.0, 0.0])


def test_tokens_of_one_surface_form_count_once():
    from keytokens.interpret.relatedness import _surface_weights
    from keytokens.lens import AlignedTokens

    aligned = AlignedTokens(
        np.array([[0, 1, 2]]),
        np.log(np.array([[2.0, 1.0, 1.0]], dtype=np.float32)),
        (("A", "a", "b"),),
        (("A", "a", "b"),),
    )
    surface = np.array([7, 7, 9])  # ids 0 and 1 are one surface form
    assert _surface_weights(aligned, surface, 0) == pytest.approx({7: 0.75, 9: 0.25})


def test_word_set_scores_on_tiny_data(tiny_data):
    scores = word_set_scores(fake_lens(PRESETS[0]), "ws353-sim", k=1)
    assert scores.n_pairs == 3
    assert scores.correlations["cosine"].rho == pytest.approx(1.5 / np.sqrt(3))
    assert scores.zero_overlap == pytest.approx(2 / 3)
    assert scores.to_dict()["judges"] == "similarity"


def test_contrast_on_the_fake_lens():
    c = contrast(fake_lens(PRESETS[0]), ("apple apple pie", "apple apple juice"), k=2)
    assert c.cosine == pytest.approx(4 / 5)
    assert c.shared == ("apple",) and c.only_first == ("pie",) and c.only_second == ("juice",)


def test_relatedness_and_its_report(tiny_data, tmp_path):
    from keytokens.interpret.report import relatedness_markdown, write_json, write_text

    result = relatedness(fake_lens(PRESETS[0]), k=1, contrast_texts=("apple pie", "red apple"))
    assert [s.word_set.name for s in result.scores] == list(WORD_SETS)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["contrast"]["texts"] == ["apple pie", "red apple"]
    md = relatedness_markdown([result], k=1, token_filter="content", command="keytokens relatedness")
    assert "| tiny | ws353-sim | similarity | 3 | 0.866 |" in md
    assert "## What the numbers show" in md and "- **tiny**: cosine follows WordSim-353" in md
    write_text(tmp_path / "r.md", md)
    write_json(tmp_path / "r.json", data)
    assert (tmp_path / "r.md").read_text() == md
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_negation_finding():
    from keytokens.interpret.compare import Comparison, ScoredToken
    from keytokens.interpret.relatedness import ModelRelatedness
    from keytokens.interpret.report import relatedness_findings

    row = (ScoredToken(1, "apple", 1.0),)
    c = Comparison(("I like apple", "I do not like apple"), 0.3, (row, row), ("apple",), (), ("not", "never"))
    (line,) = relatedness_findings([ModelRelatedness("nli", (), c)])
    assert "gains negation tokens (`not`, `never`)" in line and "both keep `apple`" in line


def test_relatedness_checks_set_names_first():
    with pytest.raises(UnknownNameError):
        relatedness(fake_lens(PRESETS[0]), ["nope"])


@pytest.mark.data
def test_shared_word_sets_load(shared_data):
    counts = {name: len(load_word_set(name)) for name in WORD_SETS}
    assert counts == {"ws353-sim": 203, "ws353-rel": 252, "simlex999": 999}
    assert load_word_set("ws353-sim")[0] == WordPair("tiger", "cat", 7.35)


@pytest.mark.slow
@pytest.mark.data
def test_minilm_cosine_tracks_wordsim_similarity(shared_data, minilm_lens):
    scores = word_set_scores(minilm_lens, "ws353-sim")
    assert scores.correlations["cosine"].rho > 0.6
    assert scores.correlations["jaccard"].rho > 0.3
