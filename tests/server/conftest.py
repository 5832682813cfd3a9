"""Fixtures of the server tests: the fake explorer behind a FastAPI test client."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the explorer needs the serve extra: pip install -e '.[serve]'")


@pytest.fixture
def loads() -> list[str]:
    return []


@pytest.fixture
def index_dir(tmp_path_factory):
    from tests.server.fakes import write_tiny_index

    folder = tmp_path_factory.mktemp("index") / "fruit"
    write_tiny_index(folder)
    return folder


@pytest.fixture
def client(loads, index_dir):
    from fastapi.testclient import TestClient

    from keytokens.interpret.instructions import Instruction
    from keytokens.server import IndexCache
    from keytokens.server.app import create_app
    from tests.server.fakes import fake_explorer

    explorer = fake_explorer(
        indexes=IndexCache({"fruit": index_dir}), instructions=[Instruction("pie", "pie pie")], loads=loads
    )
    with TestClient(create_app(explorer), raise_server_exceptions=False) as test_client:
        yield test_client
