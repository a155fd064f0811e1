"""Security headers on every answer: a CSP with no inline script, no framing, no sniffing,
a same-origin referrer, and HSTS when the desk is served over HTTPS (DESK_SECURE_COOKIES)."""
from __future__ import annotations

from flask import Flask, current_app

# Scripts and style sheets come from /static only. ``style-src-attr 'unsafe-inline'``
# allows style *attributes* alone: the report charts are matplotlib SVG drawn inline, whose
# shapes carry style="…"; an attribute cannot load or run anything, and <style> elements
# (where CSS selectors could read the page) stay refused.
CSP = (
    "default-src 'self'; "
    "script-src 'self'; "
    "style-src 'self'; "
    "style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; "
    "object-src 'none'; "
    "base-uri 'none'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)


_HEADERS = (("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "same-origin"))
_HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def security_headers(response):
    """Each of these headers that the answer does not set itself. (The names present are
    read once: asked one by one, werkzeug raised and caught an exception for each absent
    name, a tenth of the cached public page's time.)"""
    headers = response.headers
    present = {name.lower() for name, _ in headers}
    wanted = _HEADERS + (_HSTS,) if current_app.config.get("DESK_SECURE_COOKIES") else _HEADERS
    for name, value in wanted:
        if name.lower() not in present:
            headers.add(name, value)
    return response


def register(app: Flask) -> None:
    app.after_request(security_headers)
