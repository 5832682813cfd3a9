"""Bad input gets a 4xx with one clear message: never a 500, never a traceback."""

from __future__ import annotations

import json

import pytest

TOKENS = {"preset": "tiny", "texts": ["apple"], "k": 1}


def _error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["detail"] and isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body["detail"]


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"texts": []}, 422, "texts: List should have at least 1 item"),
        ({"texts": [""]}, 422, "texts.0: String should have at least 1 character"),
        ({"texts": ["apple", "  \n"]}, 422, "texts.1: text is empty or whitespace only"),
        ({"texts": ["apple"] * 17}, 422, "texts: List should have at most 16 items"),
        ({"texts": ["a" * 2001]}, 422, "texts.0: String should have at most 2000 characters"),
        ({"texts": "apple"}, 422, "texts: Input should be a valid list"),
        ({"texts": [3]}, 422, "texts.0: Input should be a valid string"),
        ({"k": 0}, 422, "k: Input should be greater than or equal to 1"),
        ({"k": 101}, 422, "k: Input should be less than or equal to 100"),
        ({"k": "ten"}, 422, "k: Input should be a valid integer"),
        ({"k": 20}, 400, "k must be between 1 and 14; got 20"),
        ({"role": "passage"}, 422, "role: Input should be 'query' or 'document'"),
        ({"token_filter": "nouns"}, 422, "token_filter: Input should be 'all', 'no-special' or 'content'"),
        ({"instruction": "x" * 1001}, 422, "instruction: String should have at most 1000 characters"),
        ({"lam": 1e6}, 422, "lam: Input should be less than or equal to 10000"),
        ({"lam": 2.0}, 400, "applies to backbone presets; 'tiny' is an embedder"),
        (
            {"preset": "nope"},
            404,
            "unknown preset 'nope'; this server serves ['tiny', 'tiny-instruct', 'tiny-backbone']",
        ),
        ({"preset": "../../etc/passwd"}, 404, "unknown preset '../../etc/passwd'"),
        ({"preset": "x" * 201}, 422, "preset: String should have at most 200 characters"),
        ({"surprise": 1}, 422, "surprise: unknown field"),
    ],
)
def test_tokens_request_out_of_bounds(client, change, status, message):
    detail = _error(client.post("/api/tokens", json={**TOKENS, **change}), status)
    assert message in detail


def test_missing_field(client):
    assert _error(client.post("/api/tokens", json={"texts": ["apple"]}), 422) == "preset: required field missing"


@pytest.mark.parametrize("body", ['{"preset": "tiny", "texts": [', "not json", '{"preset": "tiny",}', "\xff\xfe"])
def test_malformed_json_is_a_400(client, body):
    detail = _error(client.post("/api/tokens", content=body, headers={"content-type": "application/json"}), 400)
    assert detail.startswith(("malformed JSON", "There was an error parsing the body"))


@pytest.mark.parametrize("body", ["[]", '"apple"', "3", "null"])
def test_body_that_is_not_an_object(client, body):
    detail = _error(client.post("/api/tokens", content=body, headers={"content-type": "application/json"}), 422)
    assert "JSON object" in detail or "required field missing" in detail


def test_json_without_a_json_content_type(client):
    response = client.post("/api/tokens", content=json.dumps(TOKENS), headers={"content-type": "text/plain"})
    assert "Content-Type: application/json" in _error(response, 422)


def test_non_finite_lambda(client):
    body = '{"preset": "tiny-backbone", "texts": ["apple"], "lam": NaN}'
    detail = _error(client.post("/api/tokens", content=body, headers={"content-type": "application/json"}), 422)
    assert detail.startswith("lam:")


def test_oversized_body_by_header_and_while_streaming(client):
    huge = json.dumps({**TOKENS, "texts": ["apple " * 300] * 200})
    assert "larger than" in _error(
        client.post("/api/tokens", content=huge, headers={"content-type": "application/json"}), 413
    )

    def chunks():  # no Content-Length: the limit applies while reading
        yield b'{"preset": "tiny", "texts": ["'
        for _ in range(300):
            yield b"a" * 1024
        yield b'"]}'

    streamed = client.post("/api/tokens", content=chunks(), headers={"content-type": "application/json"})
    assert "larger than" in _error(streamed, 413)


@pytest.mark.parametrize(
    ("texts", "message"),
    [(["apple"], "List should have at least 2 items"), (["apple"] * 3, "List should have at most 2 items")],
)
def test_compare_needs_exactly_two_texts(client, texts, message):
    assert message in _error(client.post("/api/compare", json={"preset": "tiny", "texts": texts}), 422)


def test_compare_empty_text(client):
    assert "empty" in _error(client.post("/api/compare", json={"preset": "tiny", "texts": ["apple", " "]}), 422)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"index": "nope", "query": "apple"}, 404, "unknown index 'nope'; this server serves ['fruit']"),
        ({"index": "/tmp", "query": "apple"}, 404, "unknown index '/tmp'"),
        ({"index": "fruit", "query": "   "}, 422, "query: text is empty or whitespace only"),
        ({"index": "fruit", "query": "apple", "k": 0}, 422, "k: Input should be greater than or equal to 1"),
        ({"index": "fruit"}, 422, "query: required field missing"),
    ],
)
def test_search_bad_input(client, body, status, message):
    assert message in _error(client.post("/api/search", json=body), status)


def test_spectrum_of_an_embedder_or_unknown_preset(client):
    assert "applies to backbone presets" in _error(client.get("/api/presets/tiny/spectrum"), 400)
    assert "unknown preset 'nope'" in _error(client.get("/api/presets/nope/spectrum"), 404)


def test_unknown_route_and_method(client):
    assert _error(client.get("/api/nothing"), 404) == "Not Found"
    assert _error(client.get("/api/tokens"), 405) == "Method Not Allowed"


def test_instruction_for_a_model_without_instructions(client_without_prompt):
    body = {"preset": "plain", "texts": ["apple"], "k": 1, "instruction": "pie"}
    assert "does not take instructions" in _error(client_without_prompt.post("/api/tokens", json=body), 400)
    ok = client_without_prompt.post("/api/tokens", json={**body, "instruction": ""})
    assert ok.status_code == 200


def test_a_model_that_cannot_load_is_a_503_and_is_tried_again(failing_client):
    client, attempts = failing_client
    for _ in range(2):
        assert "not available offline" in _error(client.post("/api/tokens", json={**TOKENS, "preset": "broken"}), 503)
    assert attempts == ["broken", "broken"]


def test_an_unexpected_failure_is_a_500_without_a_traceback(failing_client, caplog):
    client, _ = failing_client
    response = client.post("/api/tokens", json={**TOKENS, "preset": "buggy"})
    assert _error(response, 500) == "internal error; the server log has the details"
    assert "ZeroDivisionError" not in response.text
    assert any("unexpected error" in r.message for r in caplog.records)


def test_host_header_is_checked_on_a_loopback_server():
    from fastapi.testclient import TestClient

    from keytokens.server.app import LOOPBACK_HOSTS, create_app
    from tests.server.fakes import fake_explorer

    client = TestClient(create_app(fake_explorer(), allowed_hosts=LOOPBACK_HOSTS), base_url="http://127.0.0.1:8000")
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/health", headers={"host": "evil.example:8000"}).status_code == 400


@pytest.fixture
def client_without_prompt():
    from fastapi.testclient import TestClient

    from keytokens.server import Explorer, IndexCache, ModelCache
    from keytokens.server.app import create_app
    from tests.retrieval.tinylens import tiny_lens
    from tests.server.fakes import fake_preset

    cache = ModelCache([fake_preset("plain")], load=lambda preset: tiny_lens(name="plain"))
    with TestClient(create_app(Explorer(cache, IndexCache({}))), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def failing_client():
    from fastapi.testclient import TestClient

    from keytokens.errors import ModelNotAvailableError
    from keytokens.server import Explorer, IndexCache, ModelCache
    from keytokens.server.app import create_app
    from tests.server.fakes import fake_preset

    attempts = []

    def load(preset):
        attempts.append(preset.name)
        if preset.name == "broken":
            raise ModelNotAvailableError("model 'fake/broken' is not available offline and the hub cannot be reached")
        return 1 / 0

    cache = ModelCache([fake_preset("broken"), fake_preset("buggy")], load=load)
    with TestClient(create_app(Explorer(cache, IndexCache({}))), raise_server_exceptions=False) as c:
        yield c, attempts
