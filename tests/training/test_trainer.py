import json

import numpy as np
import pytest

from keytokens.errors import InputError
from keytokens.training.pairs import TextPair, read_pairs, unsupervised_pairs
from tests.training.conftest import WORDS

torch = pytest.importorskip("torch")

from keytokens.training import trainer  # noqa: E402
from keytokens.training.trainer import TrainConfig, info_nce, text2token_loss, train  # noqa: E402


def _pairs(n=12, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words = rng.choice(WORDS, size=5)
        out.append(TextPair(" ".join(words), " ".join(words[::-1])))
    return out


def test_info_nce_by_hand():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # perfect matches: sim = [[1,0],[0,1]]/t; loss = log(1 + e^{-1/t}) each way
    t = 0.5
    expected = np.log(1 + np.exp(-1 / t))
    assert float(info_nce(a, a.clone(), t)) == pytest.approx(expected, rel=1e-5)


def test_text2token_loss_is_zero_for_the_target_distribution():
    ids = torch.tensor([1, 3])
    logits = torch.full((1, 5), -1e4)
    logits[0, ids] = 0.0  # softmax = uniform over {1, 3}
    assert float(text2token_loss(logits, [ids])) == pytest.approx(0.0, abs=1e-4)


@pytest.mark.parametrize("method", ["lora", "full"])
def test_training_lowers_the_loss_and_keeps_the_head_frozen(tiny_llama, tmp_path, method):
    config = TrainConfig(
        base=str(tiny_llama), method=method, steps=6, batch_size=4, lr=5e-3, max_length=16, checkpoint_every=3
    )
    result = train(config, _pairs(), tmp_path / "run")
    assert len(result.losses) == 6 and np.all(np.isfinite(result.losses))
    assert np.mean(result.losses[-2:]) < np.mean(result.losses[:2])
    meta = json.loads((tmp_path / "run" / "train_meta.json").read_text())
    assert meta["config"]["method"] == method and meta["output"] == ("adapter" if method == "lora" else "model")
    assert not (tmp_path / "run" / "checkpoint").exists()


def test_trained_adapter_loads_as_an_embedder_with_the_backbone_head(tiny_llama, tmp_path):
    from keytokens.embedders.loading import load_model, preset_for

    config = TrainConfig(base=str(tiny_llama), steps=3, batch_size=4, lr=5e-3, max_length=16)
    train(config, _pairs(), tmp_path / "run")
    base = load_model(preset_for(str(tiny_llama), pooling="mean"))
    tuned = load_model(preset_for(str(tiny_llama), pooling="mean", adapters=(str(tmp_path / "run" / "adapter"),)))
    np.testing.assert_allclose(tuned.head.weight, base.head.weight)  # head frozen
    texts = ["the cat sat on the mat"]
    assert not np.allclose(tuned.embedder.encode(texts), base.embedder.encode(texts))


def test_interrupted_run_resumes_to_the_same_result(tiny_llama, tmp_path, monkeypatch):
    config = TrainConfig(
        base=str(tiny_llama), method="full", steps=6, batch_size=4, lr=5e-3, max_length=16, checkpoint_every=2
    )
    full = train(config, _pairs(), tmp_path / "a")

    original = trainer._Run.step

    def crash_at_5(self, step):
        if step == 4:
            raise KeyboardInterrupt
        return original(self, step)

    monkeypatch.setattr(trainer._Run, "step", crash_at_5)
    with pytest.raises(KeyboardInterrupt):
        train(config, _pairs(), tmp_path / "b")
    assert (tmp_path / "b" / "checkpoint" / "state.pt").exists()
    monkeypatch.setattr(trainer._Run, "step", original)
    resumed = train(config, _pairs(), tmp_path / "b")
    assert resumed.resumed_from == 4
    np.testing.assert_allclose(resumed.losses, full.losses, rtol=1e-4)


def test_too_few_pairs_for_a_batch(tiny_llama, tmp_path):
    with pytest.raises(InputError, match="2 pairs for a batch of 4"):
        train(TrainConfig(base=str(tiny_llama), batch_size=4), _pairs(2), tmp_path)


def test_read_pairs_sts_and_plain(tmp_path):
    sts = tmp_path / "s.tsv"
    sts.write_text("score\tsentence1\tsentence2\n4.5\ta\tb\n3.0\tc\td\n", encoding="utf-8")
    assert read_pairs(sts) == [TextPair("a", "b")]
    plain = tmp_path / "p.txt"
    plain.write_text("x\ty\nonly\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"p.txt:2: expected 'anchor<TAB>positive'"):
        read_pairs(plain)
    empty = tmp_path / "e.txt"
    empty.write_text("x\t \n", encoding="utf-8")
    with pytest.raises(InputError, match=r"e.txt:1: empty text"):
        read_pairs(empty)
    assert unsupervised_pairs(["s", " "]) == [TextPair("s", "s")]
