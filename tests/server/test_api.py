"""The JSON API through FastAPI's test client, on the fake lens (expected tokens worked out by hand)."""

from __future__ import annotations

import numpy as np
import pytest


def _tokens(response, row: int = 0) -> list[tuple[str, float]]:
    assert response.status_code == 200, response.json()
    return [(t["token"], t["score"]) for t in response.json()["results"][row]["tokens"]]


def test_presets_list_the_start_up_presets_and_limits(client, loads):
    data = client.get("/api/presets").json()
    by_name = {p["name"]: p for p in data["presets"]}
    assert list(by_name) == ["tiny", "tiny-instruct", "tiny-backbone"]
    assert by_name["tiny-backbone"]["lambda_adjustment"] is True
    assert by_name["tiny"]["lambda_adjustment"] is False
    assert by_name["tiny-instruct"]["instructions"] == [
        {"name": "query", "text": "fruit ", "source": "preset"},
        {"name": "pie", "text": "pie pie", "source": "server"},
    ]
    assert by_name["tiny"]["instruction_format"] == "{instruction} "  # none of its own: separated by a space
    assert by_name["tiny-instruct"]["instruction_format"] == "{instruction}"  # its own, kept
    assert data["limits"]["max_texts"] == 16 and data["limits"]["max_k"] == 100
    assert loads == []  # listing loads nothing


def test_tokens_are_the_words_ranked_by_count(client):
    response = client.post("/api/tokens", json={"preset": "tiny", "texts": ["apple apple banana"], "k": 2})
    assert _tokens(response) == [("apple", 2.0), ("banana", 1.0)]
    body = response.json()
    assert body["results"][0]["text"] == "apple apple banana"
    assert body["results"][0]["tokens"][0] == {"id": 4, "token": "apple", "raw": "apple", "score": 2.0}


def test_several_texts_keep_their_order(client):
    response = client.post(
        "/api/tokens", json={"preset": "tiny", "texts": ["cherry cherry date", "juice pie pie"], "k": 2}
    )
    assert _tokens(response, 0) == [("cherry", 2.0), ("date", 1.0)]
    assert _tokens(response, 1) == [("pie", 2.0), ("juice", 1.0)]


def test_model_loads_once_and_is_cached(client, loads):
    for _ in range(3):
        client.post("/api/tokens", json={"preset": "tiny", "texts": ["apple"], "k": 1})
    assert loads == ["tiny"]
    assert {p["name"]: p["loaded"] for p in client.get("/api/presets").json()["presets"]}["tiny"] is True


def test_instruction_adds_its_words_and_none_removes_the_role_default(client):
    base = {"preset": "tiny-instruct", "texts": ["apple apple banana"], "k": 3, "role": "query"}
    assert _tokens(client.post("/api/tokens", json=base)) == [("apple", 2.0), ("banana", 1.0), ("fruit", 1.0)]
    custom = client.post("/api/tokens", json={**base, "instruction": "juice juice juice "})
    assert _tokens(custom) == [("juice", 3.0), ("apple", 2.0), ("banana", 1.0)]
    assert custom.json()["instruction"] == "juice juice juice "
    none = _tokens(client.post("/api/tokens", json={**base, "instruction": "", "k": 2}))
    assert none == [("apple", 2.0), ("banana", 1.0)]


def test_documents_get_no_query_instruction(client):
    body = {"preset": "tiny-instruct", "texts": ["apple apple banana"], "k": 2, "role": "document"}
    assert _tokens(client.post("/api/tokens", json=body)) == [("apple", 2.0), ("banana", 1.0)]


def test_token_filter_content_drops_special_tokens(client):
    body = {"preset": "tiny", "texts": ["apple"], "k": 3}
    assert "[PAD]" in [t for t, _ in _tokens(client.post("/api/tokens", json=body))]
    content = _tokens(client.post("/api/tokens", json={**body, "token_filter": "content"}))
    assert content[0] == ("apple", 1.0) and not any(t.startswith("[") for t, _ in content)


def test_compare_by_hand(client):
    # a = 2 apple + banana, b = apple + 2 cherry: cos = 2 / (√5 √5) = 0.4
    response = client.post(
        "/api/compare", json={"preset": "tiny", "texts": ["apple apple banana", "apple cherry cherry"], "k": 2}
    )
    body = response.json()
    assert response.status_code == 200
    assert body["cosine"] == pytest.approx(0.4)
    assert body["shared"] == ["apple"] and body["only_first"] == ["banana"] and body["only_second"] == ["cherry"]
    assert body["jaccard"] == pytest.approx(1 / 3)
    assert [t["token"] for t in body["tokens"][1]] == ["cherry", "apple"]


def test_spectrum_of_a_backbone(client):
    from keytokens.spectral import principal_components
    from tests.server.fakes import FRUIT_TEXTS, PRESETS, fake_lens

    h = fake_lens(PRESETS[2]).encode(list(FRUIT_TEXTS))
    u1 = principal_components(h, n_components=1).first
    body = client.get("/api/presets/tiny-backbone/spectrum").json()
    assert body["n_texts"] == 4
    assert body["mean_coefficient"] == pytest.approx(float((h @ u1).mean()), rel=1e-5)
    assert body["lambda_min"] < 0 < body["lambda_max"]


def test_lambda_moves_a_backbone_embedding_along_u1(client):
    from keytokens.spectral import principal_components
    from tests.server.fakes import FRUIT_TEXTS, PRESETS, fake_lens

    lens = fake_lens(PRESETS[2])
    u1 = principal_components(lens.encode(list(FRUIT_TEXTS)), n_components=1).first
    lam = -3.0
    expected = lens.encode(["date"])[0] + lam * u1  # identity head: logits are the adjusted embedding
    response = client.post("/api/tokens", json={"preset": "tiny-backbone", "texts": ["date"], "k": 14, "lam": lam})
    scores = {t["id"]: t["score"] for t in response.json()["results"][0]["tokens"]}
    np.testing.assert_allclose([scores[i] for i in range(14)], expected, rtol=1e-5, atol=1e-5)
    assert response.json()["lam"] == lam


def test_search_lists_hits_with_their_matched_tokens(client, index_dir):
    from keytokens.retrieval import SparseRetriever

    response = client.post("/api/search", json={"index": "fruit", "query": "apple pie", "k": 2})
    assert response.status_code == 200
    body = response.json()
    expected = SparseRetriever.load(index_dir).search(["apple pie"], k=2).hits(0)
    assert [(h["id"], h["score"]) for h in body["hits"]] == [(d, pytest.approx(s)) for d, s in expected]
    top = body["hits"][0]
    assert top["id"] == "d-pie"
    assert sorted(m["token"] for m in top["matches"]) == ["apple", "pie"]
    assert sum(m["contribution"] for m in top["matches"]) == pytest.approx(top["score"])


def test_search_without_explanations_and_without_matches(client):
    body = client.post("/api/search", json={"index": "fruit", "query": "banana", "explain": False}).json()
    assert [h["id"] for h in body["hits"]] == ["d-apple"] and body["hits"][0]["matches"] is None
    assert client.post("/api/search", json={"index": "fruit", "query": "date"}).json()["hits"] == []


def test_indexes_are_listed_with_their_meta(client):
    assert client.get("/api/indexes").json() == {
        "indexes": [{"name": "fruit", "model": "tiny", "n_docs": 4, "k": 3, "weighting": "relu"}]
    }


def test_page_and_static_files_are_served_with_a_strict_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script src="/static/app.js"' in page.text and "<script>" not in page.text  # no inline script
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"]
    assert "innerHTML" not in client.get("/static/app.js").text  # server strings only through textContent


def test_openapi_documents_every_endpoint_with_its_limits(client):
    schema = client.get("/openapi.json").json()
    assert {"/api/tokens", "/api/compare", "/api/search", "/api/presets", "/api/indexes"} <= set(schema["paths"])
    tokens = schema["components"]["schemas"]["TokensRequest"]["properties"]
    assert tokens["texts"]["maxItems"] == 16 and tokens["texts"]["items"]["maxLength"] == 2000
    assert tokens["k"]["maximum"] == 100
    assert "ErrorResponse" in str(schema["paths"]["/api/tokens"]["post"]["responses"]["400"])


def test_health(client):
    assert client.get("/api/health").json()["status"] == "ok"


def test_server_instruction_is_separated_from_the_text_on_a_preset_without_instructions(client):
    body = {"preset": "tiny", "texts": ["apple"], "k": 2, "instruction": "pie pie"}
    assert _tokens(client.post("/api/tokens", json=body)) == [("pie", 2.0), ("apple", 1.0)]
