"""Transparency reports (SPEC §5): compile drafts from live data, publish frozen versions.

A period has at most one draft (``version`` NULL), compiled again as often as wanted
once the period has started. Publishing, once the period has ended, turns the latest
draft *as it is* into version N (only ``status``, ``version``, ``published_at`` and
``note`` are set) and renders every public output of that version once (JSON, CSV,
HTML body with its charts, PDF) into ``report_artifacts``. Nothing public is ever
rendered from live data. A correction is a new compile and a new publish: version N+1.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from reports import aggregate
from reports.charts import HistoryPoint
from reports.periods import Period, PeriodError
from reports.render import render_all
from reports.schema import Report as ReportDoc

from .. import access, audit
from ..config import DEFAULT_PROVIDER_NAME
from ..db import utcnow
from ..errors import Conflict, FieldErrors, NotFound, ValidationError
from ..models import Report, ReportArtifact, User
from . import parsing

NOTE_MAX = parsing.MAX_NOTE
ARTIFACT_KINDS = ("json", "csv", "html", "pdf")

Actor = User | str | None  # a user (API, pages), or the operator at the command line


def _require(actor: Actor, permission: str, what: str) -> None:
    """Users need the role table's permission; the command line (no user) is the operator and may."""
    if isinstance(actor, User):
        access.require(actor, permission, f"{what} transparency reports")


def parse_period(value: Any, field: str = "period") -> Period:
    """``2026-H1`` → Period; anything else is a 422 naming the field."""
    if value is None or value == "":
        raise ValidationError({field: ["is required: a half-year such as 2026-H1"]})
    try:
        return Period.parse(value)
    except PeriodError as err:
        raise ValidationError({field: [str(err)]}) from None


def parse_note(value: Any) -> str | None:
    if value is None:
        return None
    errors = FieldErrors()
    value = parsing.text(errors, {"note": value}, "note", "note", required=False, max_len=NOTE_MAX)
    errors.raise_if_any()
    return value or None


def _drafts(session: Session, period: Period) -> list[Report]:
    return list(session.scalars(
        select(Report).where(Report.period == period.code, Report.status == "draft")
        .order_by(Report.compiled_at, Report.id).with_for_update()
    ))


def compile_report(session: Session, actor: Actor, period: Any, now: datetime | None = None, *,
                   min_country: int = 0) -> Report:
    """Compile (or compile again) the draft of ``period`` from live data as of ``now``."""
    _require(actor, "report.compile", "compile")
    p = parse_period(period)
    now = now or utcnow()
    if not p.has_started(now):
        raise Conflict(f"{p} has not started yet; it can be compiled from {p.start:%Y-%m-%d} (UTC).")
    doc = aggregate.compile_report(session, p, now, min_country=min_country)
    drafts = _drafts(session, p)
    before = None
    if drafts:
        row = drafts[-1]
        before = _summary(row)
        for stale in drafts[:-1]:  # two compiles that raced: keep one draft
            session.delete(stale)
        row.body, row.compiled_at, row.note = doc.to_json(), doc.compiled_at, None
    else:
        row = Report(period=p.code, status="draft", version=None, compiled_at=doc.compiled_at, body=doc.to_json())
        session.add(row)
    session.flush()
    audit.record(session, actor, "report.compile", "report", row.id, before, _summary(row), at=now)
    return row


@dataclass(frozen=True)
class Publisher:
    """Who publishes a version, captured when it is published: the name goes into the
    frozen JSON (``provider``), the PNG logo onto the PDF's cover. A later change of
    ``DESK_PROVIDER_NAME`` or of the logo leaves published versions as they are."""

    name: str = DEFAULT_PROVIDER_NAME
    logo_png: bytes | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Publisher":
        """From ``DESK_PROVIDER_NAME`` and ``DESK_PROVIDER_LOGO`` (an SVG logo shows on the
        web pages only: the PDF takes a PNG)."""
        logo = config.get("DESK_PROVIDER_LOGO")
        png = Path(logo).read_bytes() if logo and str(logo).lower().endswith(".png") else None
        return cls(config.get("DESK_PROVIDER_NAME") or DEFAULT_PROVIDER_NAME, png)


# How many versions this process has published: the public site's page cache
# (public/views.py) drops what it rendered before a publication.
_publications = 0


def publications() -> int:
    return _publications


def publish_report(session: Session, actor: Actor, period: Any, note: Any = None,
                   now: datetime | None = None, *, publisher: Publisher | None = None) -> Report:
    """Freeze the latest draft of an ended period as the next version and render its
    outputs, in ``publisher``'s name (the callers pass ``Publisher.from_config``)."""
    publisher = publisher or Publisher()
    _require(actor, "report.publish", "publish")
    p = parse_period(period)
    clean_note = parse_note(note)
    now = now or utcnow()
    if not p.has_ended(now):
        raise Conflict(f"{p} has not ended yet; it can be published from {p.end:%Y-%m-%d} (UTC).")
    drafts = _drafts(session, p)
    if not drafts:
        raise Conflict(f"There is no draft of {p} to publish; compile it first.")
    row = drafts[-1]
    before = _summary(row)
    for stale in drafts[:-1]:
        session.delete(stale)
    last = session.scalar(select(func.max(Report.version)).where(Report.period == p.code))
    version = (last or 0) + 1
    frozen = ReportDoc.from_json(row.body).published(version, now, clean_note, publisher.name)
    row.status, row.version, row.published_at, row.note = "published", version, frozen.published_at, clean_note
    row.body = frozen.to_json()
    session.flush()
    _render_artifacts(session, row, frozen, publisher.logo_png)
    audit.record(session, actor, "report.publish", "report", row.id, before, _summary(row), at=now)
    global _publications
    _publications += 1
    return row


def _render_artifacts(session: Session, row: Report, frozen: ReportDoc, logo: bytes | None) -> None:
    session.execute(delete(ReportArtifact).where(ReportArtifact.report_id == row.id))
    for kind, artifact in render_all(frozen, history(session, frozen), logo=logo).items():
        session.add(ReportArtifact(report_id=row.id, kind=kind, content=artifact.content, etag=artifact.etag))
    session.flush()


def _summary(row: Report) -> dict:
    """What the audit log keeps of a report: enough to tell versions apart."""
    return {
        "period": row.period,
        "status": row.status,
        "version": row.version,
        "compiled_at": row.compiled_at,
        "published_at": row.published_at,
        "note": row.note,
        "body_sha256": hashlib.sha256(row.body.encode("utf-8")).hexdigest(),
    }


# ---------------------------------------------------------------- reading (frozen rows only)


def history(session: Session, current: ReportDoc) -> list[HistoryPoint]:
    """Requests per period up to ``current``: the latest published version of each earlier
    period (from its frozen JSON), then ``current`` itself."""
    points: dict[str, HistoryPoint] = {}
    rows = session.execute(
        select(Report.period, Report.version, Report.body)
        .where(Report.status == "published", Report.period < current.period)
        .order_by(Report.period, Report.version)
    )
    for period, version, body in rows:
        points[period] = HistoryPoint(period, int(json.loads(body)["totals"]["requests"]), version)
    points[current.period] = HistoryPoint(current.period, current.totals.requests, current.version)
    return [points[k] for k in sorted(points)]


def published_versions(session: Session, period: str) -> list[Report]:
    return list(session.scalars(
        select(Report).where(Report.period == period, Report.status == "published").order_by(Report.version)
    ))


def latest_published(session: Session) -> list[Report]:
    """The latest version of every published period, newest period first."""
    newest = (
        select(Report.period, func.max(Report.version).label("version"))
        .where(Report.status == "published").group_by(Report.period).subquery()
    )
    return list(session.scalars(
        select(Report).join(newest, (Report.period == newest.c.period) & (Report.version == newest.c.version))
        .order_by(Report.period.desc())
    ))


def all_published(session: Session, limit: int = 100) -> list[Report]:
    """Every published version, most recently published first (the feed)."""
    return list(session.scalars(
        select(Report).where(Report.status == "published")
        .order_by(Report.published_at.desc(), Report.id.desc()).limit(limit)
    ))


def draft_of(session: Session, period: str) -> Report | None:
    return session.scalar(
        select(Report).where(Report.period == period, Report.status == "draft")
        .order_by(Report.compiled_at.desc(), Report.id.desc()).limit(1)
    )


def artifact(session: Session, report_id: int, kind: str) -> ReportArtifact:
    found = session.scalar(
        select(ReportArtifact).where(ReportArtifact.report_id == report_id, ReportArtifact.kind == kind)
    )
    if found is None:
        raise NotFound("This output of the report does not exist.")
    return found
