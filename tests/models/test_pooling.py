"""Poolings on hand-made hidden states, with expected values worked out by hand."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from keytokens.embedders.pooling import POOLINGS, get_pooling  # noqa: E402
from keytokens.errors import UnknownNameError  # noqa: E402

# Two texts of four positions; state i of text 0 is (i, 10 i), of text 1 (4 + i, 10 (4 + i)), i = 1..4.
HIDDEN = torch.tensor(
    [
        [[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]],
        [[5.0, 50.0], [6.0, 60.0], [7.0, 70.0], [8.0, 80.0]],
    ]
)
RIGHT = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])  # 3 and 2 tokens, padded on the right
LEFT = torch.tensor([[0, 1, 1, 1], [0, 0, 1, 1]])  # 3 and 2 tokens, padded on the left

EXPECTED = {
    # right padding: text 0 pools states 1, 2, 3; text 1 pools states 5, 6
    ("last", "right"): [[3, 30], [6, 60]],
    ("mean", "right"): [[2, 20], [5.5, 55]],
    ("weighted-mean", "right"): [[(1 + 2 * 2 + 3 * 3) / 6, 140 / 6], [(5 + 2 * 6) / 3, 170 / 3]],  # weights 1..n
    ("cls", "right"): [[1, 10], [5, 50]],
    # left padding: text 0 pools states 2, 3, 4; text 1 pools states 7, 8
    ("last", "left"): [[4, 40], [8, 80]],
    ("mean", "left"): [[3, 30], [7.5, 75]],
    ("weighted-mean", "left"): [[(2 + 2 * 3 + 3 * 4) / 6, 200 / 6], [(7 + 2 * 8) / 3, 230 / 3]],
    ("cls", "left"): [[2, 20], [7, 70]],
}


@pytest.mark.parametrize(("name", "side"), sorted(EXPECTED))
def test_pooling_by_hand(name, side):
    mask = RIGHT if side == "right" else LEFT
    pooled = get_pooling(name)(HIDDEN, mask)
    assert pooled.shape == (2, 2)
    np.testing.assert_allclose(pooled.numpy(), np.array(EXPECTED[name, side]), rtol=1e-6)


def test_weighted_mean_weights_count_pooled_tokens_not_positions():
    # pool_text_only masks an instruction: the text's tokens at positions 2 and 3 get weights 1 and 2
    mask = torch.tensor([[0, 0, 1, 1]])
    pooled = get_pooling("weighted-mean")(HIDDEN[:1], mask)
    np.testing.assert_allclose(pooled.numpy(), [[(3 + 2 * 4) / 3, (30 + 2 * 40) / 3]], rtol=1e-6)


def test_mean_skips_masked_positions_inside_the_sequence():
    mask = torch.tensor([[1, 0, 1, 0]])
    np.testing.assert_allclose(get_pooling("mean")(HIDDEN[:1], mask).numpy(), [[2, 20]])


def test_mask_pooling_takes_the_one_marked_position():
    mask = torch.tensor([[0, 0, 1, 0], [0, 1, 0, 0]])
    np.testing.assert_allclose(get_pooling("mask")(HIDDEN, mask).numpy(), [[3, 30], [6, 60]])


def test_poolings_keep_the_dtype_of_the_states():
    for name in POOLINGS:
        assert get_pooling(name)(HIDDEN.double(), RIGHT).dtype == torch.float64, name


def test_unknown_pooling_lists_the_registered_names():
    with pytest.raises(UnknownNameError) as info:
        get_pooling("max")
    for name in POOLINGS:
        assert repr(name) in str(info.value)
