"""Transparency reports on the desk (``/desk/reports``): the periods, a live preview of each
draft, and the compile / publish buttons (admin and counsel compile; admin publishes).

The preview renders the draft's JSON with the same body the public page uses; nothing
here is cached, and nothing public changes until an admin publishes.
"""
from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import TextAreaField
from wtforms.validators import Length, Optional

from reports.periods import Period, PeriodError
from reports.render import render_html
from reports.schema import Report as ReportDoc

from .. import access
from ..db import utcnow
from ..db_session import get_session
from ..errors import Conflict, Forbidden, NotFound, ValidationError
from ..models import Demand, Report
from ..services import reports as report_service
from .blueprint import bp

LISTED_PERIODS = 8


class CompileForm(FlaskForm):
    pass


class PublishForm(FlaskForm):
    note = TextAreaField(
        "Correction note",
        validators=[Optional(), Length(max=report_service.NOTE_MAX)],
        render_kw={"rows": 2, "placeholder": "Only for a correction: what changed since the last version"},
    )


def _period_or_404(code: str) -> Period:
    try:
        return Period.parse(code)
    except PeriodError:
        raise NotFound(f"{code!r} is not a period such as 2026-H1.") from None


def _periods(session, now) -> list[Period]:
    """The current period and the ones before it, back to the first demand (at most 8),
    plus any period that already has a report."""
    current = Period.containing(now)
    first = session.scalar(select(func.min(Demand.received_at)))
    periods = [current]
    while len(periods) < LISTED_PERIODS and (first is not None and periods[-1].start > first):
        periods.append(periods[-1].previous())
    if len(periods) == 1:
        periods.append(current.previous())
    for code in session.scalars(select(Report.period).distinct()):
        try:
            p = Period.parse(code)
        except PeriodError:
            continue
        if p not in periods:
            periods.append(p)
    return sorted(periods, reverse=True)


@bp.get("/reports")
def reports():
    session = get_session()
    now = utcnow()
    rows = []
    for p in _periods(session, now):
        draft = report_service.draft_of(session, p.code)
        versions = report_service.published_versions(session, p.code)
        rows.append({
            "period": p,
            "draft": ReportDoc.from_json(draft.body) if draft else None,
            "versions": versions,
            "started": p.has_started(now),
            "ended": p.has_ended(now),
        })
    return render_template("staff/reports.html", rows=rows, compile_form=CompileForm(),
                           can_compile=access.may(g.user, "report.compile"),
                           can_publish=access.may(g.user, "report.publish"))


@bp.get("/reports/<code>")
def report_preview(code):
    session = get_session()
    period = _period_or_404(code)
    now = utcnow()
    draft = report_service.draft_of(session, period.code)
    versions = report_service.published_versions(session, period.code)
    doc = ReportDoc.from_json(draft.body) if draft else None
    body = render_html(doc, report_service.history(session, doc)) if doc else None
    return render_template(
        "staff/reports_preview.html", period=period, draft=doc, body=body, versions=versions,
        started=period.has_started(now), ended=period.has_ended(now),
        compile_form=CompileForm(), publish_form=PublishForm(),
        can_compile=access.may(g.user, "report.compile"), can_publish=access.may(g.user, "report.publish"),
    )


@bp.post("/reports/<code>/compile")
def report_compile(code):
    period = _period_or_404(code)
    form = CompileForm()
    if not form.validate_on_submit():
        flash("The form expired; reload the page and try again.", "error")
        return redirect(url_for("staff.report_preview", code=period.code))
    session = get_session()
    try:
        row = report_service.compile_report(
            session, g.user, period.code, utcnow(),
            min_country=current_app.config.get("DESK_REPORT_MIN_COUNTRY", 0),
        )
    except (Conflict, ValidationError) as err:
        session.rollback()
        flash(err.detail, "error")
        return redirect(url_for("staff.report_preview", code=period.code))
    except Forbidden:
        session.rollback()
        raise
    session.commit()
    doc = ReportDoc.from_json(row.body)
    flash(f"Draft of {period.code} compiled: {doc.totals.requests:,} requests. Check it below before publishing.",
          "success")
    return redirect(url_for("staff.report_preview", code=period.code))


@bp.post("/reports/<code>/publish")
def report_publish(code):
    period = _period_or_404(code)
    form = PublishForm()
    if not form.validate_on_submit():
        flash(" ".join(form.note.errors) or "The form expired; reload the page and try again.", "error")
        return redirect(url_for("staff.report_preview", code=period.code))
    session = get_session()
    try:
        row = report_service.publish_report(session, g.user, period.code, form.note.data, utcnow(),
                                            publisher=report_service.Publisher.from_config(current_app.config))
    except (Conflict, ValidationError) as err:
        session.rollback()
        flash(err.detail, "error")
        return redirect(url_for("staff.report_preview", code=period.code))
    version = row.version
    session.commit()
    flash(f"{period.code} published as version {version}.", "success")
    return redirect(url_for("staff.report_preview", code=period.code))
