import numpy as np
import pytest

from keytokens.backends.ray_encode import encode_to_shards
from keytokens.backends.shards import shard_path
from keytokens.sparse import SparseConfig
from tests.backends.test_shards import CONFIG, corpus, stacked
from tests.retrieval.tinylens import tiny_lens


def test_ray_encodes_the_in_process_vectors_and_resumes(ray_cluster, tmp_path):
    ids, texts = corpus(60)
    local = encode_to_shards(ids, texts, tmp_path / "local", lens_factory=tiny_lens, config=CONFIG, shard_size=8)
    report = encode_to_shards(
        ids, texts, tmp_path / "ray", lens_factory=tiny_lens, config=CONFIG, shard_size=8, use_ray=True, workers=2
    )
    assert (report.encoded, report.workers) == (local.encoded, 2)
    expected = stacked(tmp_path / "local")
    got = stacked(tmp_path / "ray")
    assert got[0] == expected[0] and np.array_equal(got[1], expected[1]) and (got[2] != expected[2]).nnz == 0

    before = {i: shard_path(tmp_path / "ray", i).read_bytes() for i in range(report.n_shards)}
    shard_path(tmp_path / "ray", 1).unlink()  # the run was killed: shard 1 never landed,
    shard_path(tmp_path / "ray", 6).write_bytes(before[6][: len(before[6]) // 2])  # shard 6 half written by hand
    resumed = encode_to_shards(
        ids, texts, tmp_path / "ray", lens_factory=tiny_lens, config=CONFIG, shard_size=8, use_ray=True, workers=2
    )
    assert (resumed.encoded, resumed.skipped) == (2, report.n_shards - 2)
    assert {i: shard_path(tmp_path / "ray", i).read_bytes() for i in range(report.n_shards)} == before


def test_ray_run_refuses_a_foreign_folder(ray_cluster, tmp_path):
    from keytokens.backends.shards import ShardError

    ids, texts = corpus(16)
    encode_to_shards(ids, texts, tmp_path / "s", lens_factory=tiny_lens, config=CONFIG, shard_size=8)
    with pytest.raises(ShardError, match="another encoding"):
        encode_to_shards(
            ids, texts, tmp_path / "s", lens_factory=tiny_lens, config=SparseConfig(k=2), shard_size=8, use_ray=True
        )
