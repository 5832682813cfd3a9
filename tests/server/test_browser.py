"""End to end in a real browser: Debian's chromium, driven by Playwright, against a real uvicorn server.

Skipped with the reason where chromium or playwright is missing; under CI=true that is a failure
(``make test`` installs chromium first). Playwright never downloads a browser here: it is given
``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "bench" / "results" / "explorer.png"


def _missing() -> str | None:
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} not found; install it with `make browser` (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed; pip install -e '.[dev]'"
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        return "fastapi/uvicorn are not installed; pip install -e '.[serve]'"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url():
    reason = _missing()
    if reason:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{reason} (CI=true: the browser test must run)")
        pytest.skip(reason)
    import uvicorn

    from keytokens.cli.serve import build_explorer
    from keytokens.server.app import LOOPBACK_HOSTS, create_app

    app = create_app(build_explorer(["minilm"], [], []), allowed_hosts=LOOPBACK_HOSTS)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True, name="uvicorn")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.slow
def test_typing_a_text_shows_its_aligned_tokens_as_bars(server_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(server_url + "/")
            page.wait_for_selector("body[data-ready=true]", timeout=30_000)
            assert page.locator("#preset option").all_inner_texts() == ["minilm (embedder)"]
            page.fill("#texts", "a europe for all\nI like apple and banana")
            page.click("#read")
            cards = page.locator("#token-results .card")
            cards.nth(1).locator(".token").nth(9).wait_for(timeout=120_000)  # no eval: the page's CSP forbids it
            assert cards.count() == 2
            first = [r.get_attribute("data-token") for r in cards.nth(0).locator(".token").all()]
            second = [r.get_attribute("data-token") for r in cards.nth(1).locator(".token").all()]
            assert len(first) == len(second) == 10
            assert first[0] == "europe"
            assert "apple" in second
            assert cards.nth(0).locator("h3").inner_text() == "a europe for all"
            widths = [b.bounding_box()["width"] for b in cards.nth(0).locator(".fill").all()]
            assert widths[0] == max(widths) > 0  # the best token has the longest bar
            assert page.locator("#status").inner_text() == ""
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
