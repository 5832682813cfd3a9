"""``keytokens serve``: start-up checks, through ``main(argv)`` with uvicorn replaced by a stub."""

from __future__ import annotations

import pytest

from keytokens.cli import main


@pytest.fixture
def started(monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    return calls


def test_serve_binds_loopback_and_checks_the_host_header(started, index_dir, capsys):
    argv = ["serve", "--model", "minilm", "--index", f"fruit={index_dir}", "--instruction", "topic=Name the topic."]
    assert main(argv) == 0
    app, kwargs = started[0]
    assert kwargs["host"] == "127.0.0.1" and kwargs["port"] == 8000
    assert "http://127.0.0.1:8000/" in capsys.readouterr().err
    from fastapi.testclient import TestClient

    client = TestClient(app, base_url="http://127.0.0.1:8000")
    presets = client.get("/api/presets").json()["presets"]
    assert [p["name"] for p in presets] == ["minilm"] and presets[0]["loaded"] is False
    assert presets[0]["instructions"] == [{"name": "topic", "text": "Name the topic.", "source": "server"}]
    assert client.get("/api/indexes").json()["indexes"][0]["name"] == "fruit"
    assert client.get("/api/health", headers={"host": "attacker.example"}).status_code == 400


def test_serve_default_presets(started):
    assert main(["serve"]) == 0
    from fastapi.testclient import TestClient

    client = TestClient(started[0][0], base_url="http://127.0.0.1:8000")
    assert [p["name"] for p in client.get("/api/presets").json()["presets"]] == ["minilm", "smollm2-eol"]


def test_serve_elsewhere_warns(started, capsys):
    assert main(["serve", "--host", "0.0.0.0", "--port", "9000"]) == 0
    assert started[0][1] == {"host": "0.0.0.0", "port": 9000, "log_level": "warning"}
    assert "anyone who can reach it" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "no-such-preset"], "unknown preset 'no-such-preset'"),
        (["--model", "./some/folder"], "unknown preset './some/folder'"),
        (["--index", "fruit"], "must be NAME=DIR"),
        (["--index", "a=/no/such/folder"], "is not a folder"),
        (["--instruction", "no-equals-sign"], "must be NAME=TEXT"),
        (["--instruction", "a=x", "--instruction", "a=y"], "instruction names must be unique"),
    ],
)
def test_serve_refuses_bad_start_up_names(started, capsys, argv, message):
    assert main(["serve", *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert started == []


def test_serve_refuses_duplicate_index_names(started, capsys, index_dir):
    assert main(["serve", "--index", f"a={index_dir}", "--index", f"a={index_dir}"]) == 1
    assert "index names must be unique" in capsys.readouterr().err
