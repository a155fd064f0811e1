"""Errors in one place, and the helpers every template uses."""
from __future__ import annotations

from datetime import datetime

from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import access
from .db import utcnow
from .errors import DeskError
from .vocabulary import OUTCOMES, STATES


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
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


def humanize(code: str | None) -> str:
    if not code:
        return "—"
    return code.replace("_", " ").replace("-", " ").capitalize()


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["dt"] = fmt_dt
    app.jinja_env.filters["date"] = lambda v: fmt_dt(v, with_time=False)
    app.jinja_env.filters["human"] = humanize

    @app.context_processor
    def inject():
        user = g.get("user")
        return {"current_user": user, "STATES": STATES, "OUTCOMES": OUTCOMES, "now": utcnow(),
                "may": lambda permission: access.may(user, permission)}
