"""The API on the real offline models (MiniLM, SmolLM2 backbone): what the page shows, checked end to end."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    from fastapi.testclient import TestClient

    from keytokens.cli.serve import build_explorer
    from keytokens.server.app import create_app

    with TestClient(create_app(build_explorer(["minilm", "smollm2"], [], [])), raise_server_exceptions=False) as c:
        yield c


def _tokens(response, row=0):
    assert response.status_code == 200, response.text
    return [t["token"] for t in response.json()["results"][row]["tokens"]]


def test_minilm_reads_europe(client):
    assert (
        _tokens(client.post("/api/tokens", json={"preset": "minilm", "texts": ["a europe for all"], "k": 3}))[0]
        == "europe"
    )


def test_minilm_contrast_is_related_and_keeps_apple(client):
    body = client.post(
        "/api/compare", json={"preset": "minilm", "texts": ["I like apple", "I do not like apple"]}
    ).json()
    assert 0.5 < body["cosine"] < 1.0
    assert "apple" in body["shared"]


def test_minilm_instruction_changes_the_tokens(client):
    base = {"preset": "minilm", "texts": ["The hotel room was dirty and the staff were rude."], "k": 10}
    plain = _tokens(client.post("/api/tokens", json={**base, "instruction": ""}))
    instructed = _tokens(client.post("/api/tokens", json={**base, "instruction": "sentiment: angry complaint"}))
    assert plain != instructed


def test_backbone_first_component_removal_brings_key_tokens(client):
    spectrum = client.get("/api/presets/smollm2/spectrum").json()
    assert spectrum["n_texts"] == 32 and spectrum["mean_coefficient"] > 0
    base = {"preset": "smollm2", "texts": ["I like apple and banana"], "k": 10}
    raw = _tokens(client.post("/api/tokens", json=base))
    adjusted = _tokens(client.post("/api/tokens", json={**base, "lam": -spectrum["mean_coefficient"]}))
    fruit = {"banana", "bananas", "apple", "apples"}
    assert not fruit & set(raw)  # the raw backbone reads punctuation and function words
    assert len(fruit & set(adjusted)) >= 2
