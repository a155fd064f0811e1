"""API: transparency reports (admin and counsel compile a draft; admin publishes it)."""
from __future__ import annotations

from flask import Response, current_app, g

from ..db import utcnow
from ..db_session import get_session
from ..errors import ValidationError
from ..services import reports as report_service
from .blueprint import bp, json_body


def _report_response(row, status: int) -> Response:
    """The report JSON exactly as stored (and, once published, as served publicly)."""
    return Response(row.body, status=status, mimetype="application/json")


@bp.post("/reports")
def compile_report():
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationError({"": ["the body must be a JSON object such as {\"period\": \"2026-H1\"}"]})
    session = get_session()
    row = report_service.compile_report(
        session, g.user, body.get("period"), utcnow(),
        min_country=current_app.config.get("DESK_REPORT_MIN_COUNTRY", 0),
    )
    session.commit()
    return _report_response(row, 201)


@bp.post("/reports/<period>/publish")
def publish_report(period):
    body = json_body(required=False)
    if not isinstance(body, dict):
        raise ValidationError({"": ["the body must be a JSON object such as {\"note\": \"…\"}"]})
    session = get_session()
    row = report_service.publish_report(session, g.user, period, body.get("note"), utcnow(),
                                        publisher=report_service.Publisher.from_config(current_app.config))
    session.commit()
    return _report_response(row, 200)
