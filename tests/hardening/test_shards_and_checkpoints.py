"""Forced re-encodes replace the old tokenizer; shards index only with theirs; checkpoints are not pickles."""

from __future__ import annotations

import pathlib
import shutil
from types import SimpleNamespace

import numpy as np
import pytest

from keytokens.cli import main
from keytokens.errors import InputError
from keytokens.heads import LinearHead
from keytokens.lens import Lens, Vocabulary
from keytokens.sparse import SparseConfig
from keytokens.sparse.tokenizer import TOKENIZER_DIR, load_tokenizer
from tests.retrieval.tinylens import VOCAB, BagOfWords, tiny_lens

TEXTS = ["apple pie", "cherry tree", "red banana", "yellow fruit juice", "date pie"]
IDS = [f"d{i}" for i in range(len(TEXTS))]


def other_lens() -> Lens:
    """The tiny lens with one more word in its vocabulary: another tokenizer (another fingerprint)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(vocab={**VOCAB, "kiwi": len(VOCAB)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    head = LinearHead(weight=np.eye(len(VOCAB) + 1, len(VOCAB), dtype=np.float32), name="identity")
    return Lens(BagOfWords(fast, name="other"), head, Vocabulary.from_tokenizer(fast), name="other")


def test_a_forced_encode_with_another_model_replaces_the_tokenizer(tmp_path):
    pytest.importorskip("pyarrow")
    from keytokens.backends.ray_encode import encode_to_shards

    folder = tmp_path / "shards"
    encode_to_shards(IDS, TEXTS, folder, lens_factory=tiny_lens, config=SparseConfig(k=2), shard_size=2)
    assert "kiwi" not in load_tokenizer(folder).get_vocab()
    encode_to_shards(IDS, TEXTS, folder, lens_factory=other_lens, config=SparseConfig(k=2), shard_size=3, force=True)
    assert "kiwi" in load_tokenizer(folder).get_vocab()
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "shard-000000.parquet",
                                                        "shard-000001.parquet", "tokenizer"]  # fmt: skip


def test_index_from_shards_refuses_a_tokenizer_that_is_not_theirs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pyarrow")
    from keytokens.backends.ray_encode import encode_to_shards

    folder = tmp_path / "shards"
    encode_to_shards(IDS, TEXTS, folder, lens_factory=other_lens, config=SparseConfig(k=2), shard_size=2)
    before = tmp_path / "before"
    encode_to_shards(IDS, TEXTS, before, lens_factory=tiny_lens, config=SparseConfig(k=2), shard_size=2)
    shutil.rmtree(folder / TOKENIZER_DIR)
    shutil.copytree(before / TOKENIZER_DIR, folder / TOKENIZER_DIR)  # what a forced encode used to leave
    assert main(["index", "--from-shards", str(folder), "--out", str(tmp_path / "idx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "is not the one its shards were encoded with" in err
    assert not (tmp_path / "idx").exists()


def test_a_pickled_payload_in_the_run_folder_is_refused_never_run(tmp_path):
    torch = pytest.importorskip("torch")
    from keytokens.training import trainer

    ran = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (pathlib.Path.touch, (ran,))

    (tmp_path / "checkpoint").mkdir()
    torch.save({"weights": Payload(), "step": 3}, tmp_path / "checkpoint" / "state.pt")
    run = SimpleNamespace(out_dir=tmp_path, config=None)
    with pytest.raises(InputError, match="is not a checkpoint keytokens wrote"):
        trainer._Run.load_checkpoint(run)
    assert not ran.exists()
