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


def security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config.get("DESK_SECURE_COOKIES"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def register(app: Flask) -> None:
    app.after_request(security_headers)
