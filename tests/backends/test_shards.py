import json

import numpy as np
import pytest
import scipy.sparse as sp

from keytokens.backends.ray_encode import encode_to_shards
from keytokens.backends.shards import ShardError, iter_shards, read_manifest, shard_path
from keytokens.errors import InputError
from keytokens.sparse import SparseConfig, encode_corpus
from tests.retrieval.tinylens import WORDS, tiny_lens

pytest.importorskip("pyarrow", reason="pyarrow is not installed: pip install 'keytokens[ray]'")

CONFIG = SparseConfig(k=3)


@pytest.fixture(autouse=True)
def _private_cache(cache_root):
    """In-process encoding reads and fills the corpus-encoding cache: keep it in the test's folder."""
    return cache_root


def corpus(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return [f"d{i}" for i in range(n)], [" ".join(rng.choice(WORDS, 5)) for _ in range(n)]


def encode(folder, ids, texts, **kwargs):
    return encode_to_shards(ids, texts, folder, lens_factory=tiny_lens, config=CONFIG, shard_size=8, **kwargs)


def stacked(folder):
    shards = list(iter_shards(folder))
    ids = [d for s in shards for d in s.ids]
    return ids, np.concatenate([s.embeddings for s in shards]), sp.vstack([s.vectors for s in shards]).tocsr()


def test_shards_hold_the_in_process_vectors(tmp_path):
    ids, texts = corpus()
    report = encode(tmp_path / "s", ids, texts)
    assert (report.n_shards, report.encoded, report.skipped, report.workers) == (7, 7, 0, 0)
    got_ids, embeddings, vectors = stacked(tmp_path / "s")
    expected = encode_corpus(tiny_lens(), texts, CONFIG, cache=False)
    assert got_ids == ids
    assert np.array_equal(embeddings, expected.embeddings)
    assert (vectors != expected.vectors).nnz == 0
    assert read_manifest(tmp_path / "s").index.config == CONFIG


def test_rerun_skips_complete_shards_and_repairs_missing_or_damaged_ones(tmp_path):
    ids, texts = corpus()
    encode(tmp_path / "s", ids, texts)
    before = {i: shard_path(tmp_path / "s", i).read_bytes() for i in range(7)}
    shard_path(tmp_path / "s", 2).unlink()  # killed before shard 2 was renamed into place
    shard_path(tmp_path / "s", 5).write_bytes(before[5][:100])  # truncated by hand
    report = encode(tmp_path / "s", ids, texts)
    assert (report.encoded, report.skipped) == (2, 5)
    assert {i: shard_path(tmp_path / "s", i).read_bytes() for i in range(7)} == before
    assert encode(tmp_path / "s", ids, texts).encoded == 0


def test_incomplete_corrupt_or_foreign_shards_are_refused(tmp_path):
    ids, texts = corpus()
    encode(tmp_path / "s", ids, texts)
    encode_to_shards(ids, texts, tmp_path / "k2", lens_factory=tiny_lens, config=SparseConfig(k=2), shard_size=8)
    shard_path(tmp_path / "s", 3).write_bytes(shard_path(tmp_path / "k2", 3).read_bytes())
    with pytest.raises(ShardError, match=r"belongs to another encoding \(index\.config\.k 2 vs 3"):
        list(iter_shards(tmp_path / "s"))
    with pytest.raises(ShardError, match="belongs to another encoding"):
        encode(tmp_path / "s", ids, texts)  # a resumed run does not overwrite another encoding's shard
    shard_path(tmp_path / "s", 3).write_bytes(b"not parquet")
    with pytest.raises(ShardError, match="1 of 7 shards are missing or damaged"):
        list(iter_shards(tmp_path / "s"))
    with pytest.raises(ShardError, match="holds shards of another encoding"):
        encode_to_shards(ids, texts, tmp_path / "s", lens_factory=tiny_lens, config=SparseConfig(k=2), shard_size=8)
    with pytest.raises(ShardError, match=r"corpus '"):
        encode(tmp_path / "s", ids, [t + " pie" for t in texts])
    with pytest.raises(ShardError, match=r"no manifest\.json"):
        list(iter_shards(tmp_path))
    with pytest.raises(InputError, match="centering 'mean'"):
        encode_to_shards(ids, texts, tmp_path / "c", lens_factory=tiny_lens, config=SparseConfig(k=2, centering="mean"))


def test_cli_encode_then_index_from_shards(beir_dir, tmp_path, monkeypatch, cache_root, capsys):
    from keytokens.cli import main
    from keytokens.lens import Lens
    from keytokens.sparse import SparseIndex

    tiny = tiny_lens()
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *a, **kw: tiny))
    corpus_file = str(beir_dir / "corpus.jsonl")
    assert (
        main(["encode", corpus_file, "--out", str(tmp_path / "s"), "--doc-tokens", "3", "--shard-size", "3", "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["n_shards"] == 2
    assert main(["index", "--from-shards", str(tmp_path / "s"), "--out", str(tmp_path / "a"), "--json"]) == 0
    aligned = ["-r", "paper", "--doc-tokens", "3", "--weighting", "relu", "--centering", "none"]  # as the shards
    assert main(["index", corpus_file, *aligned, "--out", str(tmp_path / "b"), "--json"]) == 0
    capsys.readouterr()
    a, b = SparseIndex.load(tmp_path / "a"), SparseIndex.load(tmp_path / "b")
    assert list(a.doc_ids) == list(b.doc_ids) and (a.matrix != b.matrix).nnz == 0 and a.info == b.info
    assert main(["search", str(tmp_path / "a"), "cherry pie", "--json"]) == 0  # the tokenizer came with the shards
    assert json.loads(capsys.readouterr().out)["queries"][0]["hits"][0]["id"] == "d3"
    shard_path(tmp_path / "s", 1).write_bytes(b"garbage")
    assert main(["index", "--from-shards", str(tmp_path / "s"), "--out", str(tmp_path / "c")]) == 1
    assert "missing or damaged" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_cli_index_from_shards_into_milvus(beir_dir, tmp_path, monkeypatch, cache_root, capsys, milvus):
    from keytokens.backends import MilvusIndex
    from keytokens.cli import main
    from keytokens.lens import Lens

    tiny = tiny_lens()
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *a, **kw: tiny))
    assert (
        main(["encode", str(beir_dir / "corpus.jsonl"), "--out", str(tmp_path / "s"), "--doc-tokens", "3", "--json"])
        == 0
    )
    uri = str(tmp_path / "kt.db")
    for _ in range(2):  # the second run is an idempotent re-run
        assert main(["index", "--from-shards", str(tmp_path / "s"), "--backend", "milvus", "--uri", uri, "--json"]) == 0
    capsys.readouterr()
    index = MilvusIndex.open(uri, "keytokens")
    assert index.n_docs == 4 and index.info.index.config.k == 3


def test_encode_and_index_share_the_corpus_encoding_cache(tmp_path):
    from keytokens.encoding import encode_corpus_embeddings
    from keytokens.sparse.corpus import lens_settings

    ids, texts = corpus()
    encode(tmp_path / "s", ids, texts)
    index_lens = tiny_lens()  # what `keytokens index` would encode with
    emb = encode_corpus_embeddings(index_lens.embedder, texts, settings=lens_settings(index_lens))
    assert index_lens.embedder.calls == 0  # every chunk came from the cache `encode` filled
    assert np.array_equal(emb, stacked(tmp_path / "s")[1])
    shards_lens = tiny_lens()
    encode_to_shards(ids, texts, tmp_path / "t", lens_factory=lambda: shards_lens, config=CONFIG, shard_size=8)
    assert shards_lens.embedder.calls == 0 and len(list((tmp_path / "t").glob("shard-*.parquet"))) == 7


def test_a_finished_rerun_of_the_same_request_does_not_load_the_model(tmp_path):
    ids, texts = corpus()
    request = {"model": "tiny", "head": None, "max_length": None}
    loads = []

    def factory():
        loads.append(1)
        return tiny_lens()

    run = lambda **kw: encode_to_shards(
        ids, texts, tmp_path / "s", lens_factory=factory, config=kw.pop("config", CONFIG), shard_size=8, **kw
    )
    assert run(request=request).encoded == 7 and len(loads) == 1
    report = run(request=request)
    assert (report.encoded, report.skipped, len(loads)) == (0, 7, 1)  # nothing loaded
    assert run().encoded == 0 and len(loads) == 2  # without a request, the lens is needed to check the folder
    run(request={**request, "head": "lm"})
    assert len(loads) == 3  # another request loads the model (and here finds the same encoding)
    shard_path(tmp_path / "s", 4).unlink()
    assert run(request=request).encoded == 1 and len(loads) == 4  # an incomplete folder loads and resumes
    with pytest.raises(ShardError, match="holds shards of another encoding"):
        run(request=request, config=SparseConfig(k=2))


def test_cli_encode_rerun_skips_without_loading(beir_dir, tmp_path, monkeypatch, capsys):
    from keytokens.cli import main
    from keytokens.lens import Lens

    loads = []
    monkeypatch.setattr(Lens, "load", classmethod(lambda cls, *a, **kw: loads.append(a) or tiny_lens()))
    import typer.main

    from keytokens.cli import app

    k_flag = next(p.opts[0] for p in typer.main.get_command(app).commands["encode"].params if p.name == "k")
    argv = ["encode", str(beir_dir / "corpus.jsonl"), "--out", str(tmp_path / "s"), k_flag, "3", "--json"]
    assert main(argv) == 0 and len(loads) == 1
    assert json.loads(capsys.readouterr().out)["encoded"] == 1
    assert main(argv) == 0 and len(loads) == 1  # every shard complete: the model was not loaded
    report = json.loads(capsys.readouterr().out)
    assert (report["encoded"], report["skipped"]) == (0, report["n_shards"])
