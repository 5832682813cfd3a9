"""``--head FOLDER`` at the loading layer: ``HeadSpec.parse`` and ``Lens.load`` with a tiny random model."""

import numpy as np
import pytest

from keytokens.embedders import HeadSpec
from keytokens.errors import InputError, ShapeError
from keytokens.heads import FitConfig, FitInfo, FittedHead, TargetSpec, fit_head, tokenizer_fingerprint


def test_head_spec_parse_recognises_a_folder(tmp_path, monkeypatch):
    head_dir = tmp_path / "my-head"
    head_dir.mkdir()
    assert HeadSpec.parse(str(head_dir)) == HeadSpec("fitted", str(head_dir))
    assert HeadSpec.parse(f"{head_dir}:fitted") == HeadSpec("fitted", str(head_dir))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lm").mkdir()  # a registered kind wins over a folder of that name
    assert HeadSpec.parse("lm") == HeadSpec("lm")
    assert HeadSpec.parse("bert-base-uncased:mlm-bert") == HeadSpec("mlm-bert", "bert-base-uncased")


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    """A tiny random Llama saved to a folder, and its lens loaded with the model's own head."""
    torch = pytest.importorskip("torch")
    from keytokens.lens import Lens
    from tests.models import tiny

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("llama")
    tiny.causal_model("llama").save_pretrained(folder)
    tiny.bpe_tokenizer().save_pretrained(folder)
    return folder, Lens.load(str(folder))


def _fit(lens, embedder: str) -> FittedHead:
    from tests.models.tiny import SENTENCES

    emb = lens.encode(SENTENCES)
    return fit_head(emb, SENTENCES, lens.vocabulary, embedder=embedder, config=FitConfig(l2=1.0))


def test_lens_load_takes_a_fitted_head_folder(llama, tmp_path):
    from keytokens.lens import Lens
    from keytokens.sparse.corpus import lens_settings

    folder, base = llama
    head = _fit(base, base.name)
    path = head.save(tmp_path / "head")
    lens = Lens.load(str(folder), head=str(path))
    assert isinstance(lens.head, FittedHead) and lens.head.name == head.name
    emb = base.encode(["the lazy dog sleeps"])
    np.testing.assert_array_equal(lens.head.project(emb), head.project(emb))
    # the head changes no embedding: the preset (and so the encoding cache key) stays the embedder's
    assert lens.preset.head == HeadSpec("lm") and lens_settings(lens) == lens_settings(base)
    assert lens.aligned_tokens(["the lazy dog"], k=3).token_ids.shape == (1, 3)


def test_lens_load_refuses_a_head_fitted_for_another_model(llama, tmp_path):
    from keytokens.lens import Lens

    folder, base = llama
    other = _fit(base, "minilm").save(tmp_path / "other")
    with pytest.raises(InputError, match=r"fitted for embedder 'minilm', not '.*llama"):
        Lens.load(str(folder), head=str(other))
    info = FitInfo(embedder=base.name, tokenizer="0" * 16, target=TargetSpec(), fit=FitConfig(), n_texts=5)
    size = base.head.vocab_size
    FittedHead(np.zeros((size, 32), np.float32), np.zeros(size, np.float32), info).save(tmp_path / "tok")
    with pytest.raises(InputError, match=r"fitted for tokenizer .*0000000000000000.*token ids differ"):
        Lens.load(str(folder), head=str(tmp_path / "tok"))
    info = FitInfo(
        embedder=base.name,
        tokenizer=tokenizer_fingerprint(base.vocabulary.tokenizer),
        target=TargetSpec(),
        fit=FitConfig(),
        n_texts=5,
    )
    FittedHead(np.zeros((size, 16), np.float32), np.zeros(size, np.float32), info).save(tmp_path / "dim")
    with pytest.raises(ShapeError, match="reads 16-dimensional embeddings, but the embedder gives 32"):
        Lens.load(str(folder), head=str(tmp_path / "dim"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no meta\.json"):
        Lens.load(str(folder), head=str(tmp_path / "empty"))
