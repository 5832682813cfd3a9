"""Fixtures of the scale-out tests: Milvus Lite files and one local Ray cluster per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.retrieval.conftest import beir_dir, cache_root, lens  # noqa: F401  (shared fixtures)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def milvus():
    """pymilvus with Milvus Lite, or a skip naming the extra."""
    reason = "Milvus Lite is not installed: pip install 'keytokens[milvus]'"
    pytest.importorskip("milvus_lite", reason=reason)
    return pytest.importorskip("pymilvus", reason=reason)


@pytest.fixture
def milvus_uri(milvus, tmp_path: Path) -> str:
    return str(tmp_path / "kt.db")


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster with 2 CPUs, started once (Ray starts slowly); its workers can import ``tests``."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'keytokens[ray]'")
    pytest.importorskip("pyarrow", reason="pyarrow is not installed: pip install 'keytokens[ray]'")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=100 * 1024**2,
        runtime_env={"env_vars": {"PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false"}},
    )
    yield ray
    ray.shutdown()
