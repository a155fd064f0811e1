"""Errors in one place, and the helpers every template uses."""
from __future__ import annotations

import re
from datetime import datetime

from flask import Flask, g, jsonify, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import access
from .db import utcnow
from .errors import DeskError
from .notices.compose import long_date, long_datetime
from .vocabulary import (
    CHANNEL_TERMS,
    EMERGENCY_CHECK_TERMS,
    FLAG_KIND_TERMS,
    GAG_EVENT_TERMS,
    NOTICE_HOLD_TERMS,
    NOTICE_KIND_TERMS,
    NOTICE_STATE_TERMS,
    OUTCOME_TERMS,
    OUTCOMES,
    PROCESS_TERMS,
    REQUESTER_TYPE_TERMS,
    ROLE_TERMS,
    STATE_TERMS,
    STATES,
    TIER_TERMS,
    Terms,
    file_size,
)


def wants_problem_json() -> bool:
    return request.path.startswith("/api/")


def problem(status: int, title: str, detail: str, errors: dict | None = None):
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if status == 422:
        body["errors"] = errors or {}
    response = jsonify(body)
    response.status_code = status
    response.content_type = "application/problem+json"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="requests-desk"'
    return response


def _rollback() -> None:
    db = g.get("db")
    if db is not None:
        db.rollback()


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DeskError)
    def desk_error(err: DeskError):
        _rollback()
        if wants_problem_json():
            return problem(err.status, err.title, err.detail, err.errors)
        return render_template("error.html", status=err.status, title=err.title, detail=err.detail), err.status

    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError):
        _rollback()
        return render_template(
            "error.html", status=400, title="The form expired",
            detail="The form was open too long or came from elsewhere. Go back, reload it and send it again.",
        ), 400

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(err):
        _rollback()
        detail = "The upload is larger than 20 MiB."
        if wants_problem_json():
            return problem(422, "The request has errors", detail, {"file": ["is larger than 20 MiB"]})
        return render_template("error.html", status=413, title="File too large", detail=detail), 413

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        _rollback()
        status = err.code or 500
        if wants_problem_json():
            detail = "The body is not valid JSON." if status == 400 else (err.description or err.name)
            return problem(status, err.name, detail)
        return render_template("error.html", status=status, title=err.name, detail=err.description), status

    @app.errorhandler(Exception)
    def internal_error(err: Exception):
        _rollback()
        app.logger.exception("unhandled error")
        detail = "Something went wrong on our side; nothing was saved. The error was logged."
        if wants_problem_json():
            return problem(500, "Internal server error", detail)
        return render_template("error.html", status=500, title="Internal error", detail=detail), 500


def fmt_dt(value: datetime | None, with_time: bool = True) -> str:
    """"2024-03-27 14:05 UTC" (``with_time``) or "2024-03-27": the text of
    ``strftime("%Y-%m-%d %H:%M UTC")``, in half its time (a list shows two a row)."""
    if value is None:
        return "—"
    if type(value) is not datetime:  # a date, or a subclass: as strftime has it
        return value.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")
    if with_time:
        return f"{value.year}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d} UTC"
    return f"{value.year}-{value.month:02d}-{value.day:02d}"


def fmt_date(value: datetime | None) -> str:
    return fmt_dt(value, with_time=False)


def humanize(key: str | None) -> str:
    """A form field's key in words ("process_type" → "Process type"); codes have their
    words in the vocabulary (``words``)."""
    if not key:
        return "—"
    return key.replace("_", " ").replace("-", " ").capitalize()


# Every code a page shows, by the vocabulary it belongs to: {{ d.status|words('state') }}.
VOCABULARIES: dict[str, Terms] = {
    "state": STATE_TERMS, "process": PROCESS_TERMS, "outcome": OUTCOME_TERMS, "tier": TIER_TERMS,
    "requester_type": REQUESTER_TYPE_TERMS, "notice_state": NOTICE_STATE_TERMS, "notice_kind": NOTICE_KIND_TERMS,
    "held_by": NOTICE_HOLD_TERMS, "gag_event": GAG_EVENT_TERMS, "role": ROLE_TERMS, "channel": CHANNEL_TERMS,
    "emergency_check": EMERGENCY_CHECK_TERMS, "flag_kind": FLAG_KIND_TERMS,
}


def words(code: str | None, vocabulary: str, field: str = "label") -> str:
    """A code's words for an audience (``field``: label, short, public, customer). A
    channel is free text: one the form does not offer reads as typed."""
    terms = VOCABULARIES[vocabulary]
    if vocabulary == "channel" and code not in terms:
        return code or "—"
    return terms.label(code, field)


def break_points(identifier: str | None) -> Markup:
    """An identifier or domain, escaped, that may wrap (``<wbr>``) after its "@" and before
    a "." or "/" of its domain rather than mid-word: ``ann.lee@<wbr>contoso<wbr>.example``."""
    local, at, domain = str(escape(identifier or "")).rpartition("@")
    domain = domain.replace(".", "<wbr>.").replace("/", "<wbr>/")
    # Safe: the identifier is escaped above; only the constant "<wbr>" is added.
    return Markup(f"{local}@<wbr>{domain}" if at else domain)  # nosec B704


_DATE_IN_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?(?: UTC)?)?")


def unbroken_dates(text: str | None) -> Markup:
    """Text, escaped, its dates ("2024-03-27", "2024-03-27 14:05 UTC") kept on one line."""
    # Safe: the text is escaped first; the pattern matches only digits, "-", ":", " ",
    # "T" and "UTC", wrapped in a constant span.
    return Markup(_DATE_IN_TEXT.sub(_nowrap, str(escape(text or ""))))  # nosec B704


def _nowrap(match: re.Match) -> str:
    # A function, not the template r'<span …>\g<0></span>': re parses a template on
    # every call (5x slower on text without a date).
    return f'<span class="nowrap">{match[0]}</span>'


def _replace_escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
            .replace("'", "&#39;").replace('"', "&#34;"))


try:  # markupsafe's own escape in C, which ``escape`` wraps in ``Markup``: 145 ns a cell, not 380
    from markupsafe._speedups import _escape_inner as _escape_str
except ImportError:  # a markupsafe without its C speedups, or one that renamed it
    _escape_str = _replace_escape


def escaped_text(value: object) -> str:
    """``value`` as HTML-escaped text, a plain ``str``: markupsafe's escape (the same
    entities) without its ``Markup`` wrapper, for a template's ``{% autoescape false %}``
    region (``|esc``), where each cell's ``Markup`` was then copied back into a ``str``.
    Used where autoescape is on, it would escape twice: visible, never unsafe."""
    return _escape_str(value if type(value) is str else str(value))


_FIXED_URLS: dict[tuple, str] = {}


def fixed_url(endpoint: str, **values: str) -> str:
    """``url_for`` for a link every page repeats (the top bar, the style sheet): the same
    address for the same arguments under one mount point, so built once per worker. The
    top bar's dozen links cost about 0.3 ms a page through ``url_for``."""
    key = (request.script_root, endpoint, *sorted(values.items()))
    found = _FIXED_URLS.get(key)
    if found is None:
        found = _FIXED_URLS[key] = url_for(endpoint, **values)
    return found


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.globals["fixed_url"] = fixed_url
    app.jinja_env.filters["dt"] = fmt_dt
    app.jinja_env.filters["date"] = fmt_date
    # What a customer reads (the portal, like the notices' e-mails): "26 March 2024".
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.filters["long_datetime"] = long_datetime
    app.jinja_env.filters["human"] = humanize
    app.jinja_env.filters["words"] = words
    app.jinja_env.filters["filesize"] = file_size
    app.jinja_env.filters["ident"] = break_points
    app.jinja_env.filters["unbroken_dates"] = unbroken_dates
    app.jinja_env.filters["esc"] = escaped_text

    @app.context_processor
    def inject():
        user = g.get("user")
        return {"current_user": user, "STATES": STATES, "OUTCOMES": OUTCOMES, "now": utcnow(),
                "may": lambda permission: access.may(user, permission)}
