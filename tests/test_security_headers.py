"""Issue 11: security headers on every HTML answer, a CSP without inline script, and
templates with no inline script or style left for the CSP to refuse."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from requests_desk.app import create_app
from tests.factories import make_user

TEMPLATES = Path(__file__).resolve().parent.parent / "requests_desk" / "templates"


def _directives(csp: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in csp.split(";") if part.strip()}


def _check(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    d = _directives(csp)
    script = d.get("script-src") or d["default-src"]
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script
    assert "'unsafe-inline'" not in d.get("style-src", "")
    assert d["frame-ancestors"] == "frame-ancestors 'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin")


def test_headers_on_public_login_desk_and_errors(session, client, login):
    for path in ("/login", "/transparency/", "/no-such-page"):
        r = client.get(path)
        _check(r)
        assert "Strict-Transport-Security" not in r.headers
    user = make_user(session, "counsel")
    login(user.email)
    for path in ("/desk/", "/desk/demands", "/desk/demands/999"):
        _check(client.get(path))


def test_hsts_when_secure_cookies(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DESK_SECURE_COOKIES", "true")
    app = create_app({"TESTING": True, "DESK_DATABASE_URL": db_url, "SECRET_KEY": "k",
                      "DESK_UPLOAD_DIR": str(tmp_path / "up")})
    try:
        r = app.test_client().get("/login")
        assert r.headers["Strict-Transport-Security"].startswith("max-age=")
        _check(r)
    finally:
        app.extensions["desk"]["engine"].dispose()


@pytest.mark.parametrize("path", sorted(p for p in TEMPLATES.rglob("*.html") if "email" not in p.parts),
                         ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_have_no_inline_script_or_style(path):
    html = path.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline <script>"
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert "javascript:" not in html


def test_the_top_bar_links_are_built_once_per_mount_point(app):
    """``fixed_url`` (the top bar, the style sheet) remembers url_for's address per mount
    point: a desk served under /root and one at / each get their own."""
    from flask import url_for

    from requests_desk.web import fixed_url

    for base in ("http://desk.example/root", "http://desk.example/", "http://desk.example/root"):
        with app.test_request_context("/desk/", base_url=base):
            for endpoint, values in (("staff.demands", {}), ("static", {"filename": "desk.css"})):
                assert fixed_url(endpoint, **values) == url_for(endpoint, **values)
    with app.test_request_context("/", base_url="http://desk.example/root"):
        assert fixed_url("auth.index").startswith("/root/")


def test_a_header_the_answer_sets_itself_is_kept_and_not_doubled(db_url, tmp_path):
    from flask import Response

    app = create_app({"TESTING": True, "DESK_DATABASE_URL": db_url, "SECRET_KEY": "k",
                      "DESK_UPLOAD_DIR": str(tmp_path / "up")})
    own = "default-src 'none'; frame-ancestors 'none'"
    app.add_url_rule("/own-policy", "own_policy",
                     lambda: Response("x", headers={"content-security-policy": own, "X-Frame-Options": "SAMEORIGIN"}))
    try:
        r = app.test_client().get("/own-policy")
        assert r.headers.getlist("Content-Security-Policy") == [own]
        assert r.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
        assert r.headers.getlist("X-Content-Type-Options") == ["nosniff"]
        assert r.headers.getlist("Referrer-Policy") == ["same-origin"]
    finally:
        app.extensions["desk"]["engine"].dispose()
