"""Lesser finding (d): in setup mode the first visitor could register the app, and the
server would write *their* app's id, private key and webhook secret into its `.env`.
Now registration needs a one-time code the server prints on its console at start."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import structlog

import app.web.setup as setup_views
from tests.unit.web.test_setup import make_app, post_to_github, registration_form


def test_without_the_console_code_nobody_registers_the_app(
    simulator, tmp_path, workdir, monkeypatch
):
    console = structlog.testing.LogCapture()
    logger = structlog.wrap_logger(structlog.ReturnLogger(), processors=[console])
    monkeypatch.setattr(setup_views, "log", logger)
    app = make_app(simulator, tmp_path)
    code = next((e.get("setup_code") for e in console.entries if e["event"] == "setup.open"), "")
    visitor = app.test_client()

    page = visitor.get("/setup").get_data(as_text=True)
    assert "manifest" not in page  # only the code form
    for guess in ("", "guess", code[:-1] or "x"):
        refused = visitor.post("/setup", data={"setup_code": guess})
        assert refused.status_code == 403
        assert "manifest" not in refused.get_data(as_text=True)
    # Without a state from the page, GitHub's callback writes nothing.
    assert visitor.get("/setup/callback?code=abc&state=anything").status_code == 403
    assert not (workdir / ".env").exists()

    [opened] = [e for e in console.entries if e["event"] == "setup.open"]
    assert opened["url"].endswith("/setup") and opened["setup_code"] == code
    operator = app.test_client()
    page = operator.post("/setup", data={"setup_code": code}).get_data(as_text=True)
    callback, _ = post_to_github(simulator, registration_form(page))
    assert operator.get(callback).status_code == 200
    assert (workdir / ".env").exists()
    assert parse_qs(urlsplit(registration_form(page)["action"]).query)["state"][0]
    app.extensions["foureyes"].engine.dispose()
