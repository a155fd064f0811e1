"""Spreadsheet import, second half: write the demands a checked file describes, all in
the caller's one transaction (``import_check.check_sheet`` first; nothing is written
unless every row passed).

Each demand is built by intake's own ``build_demand`` (its reference allocated, its
targets resolved to customers), has channel ``import`` and keeps its ``external_id``,
and is audited with one ``demand.import`` event (a gag that came with it adds its
``gag.set``, as at intake). An open demand then takes intake's notice path: its notices
of demand are written, held for counsel. A closed historical demand is written closed,
with its outcome and closed_at, and makes no notice at all: it is history, and its
customers are not told now of what happened then."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import access, audit
from ..db import utcnow
from ..errors import Conflict
from ..models import User
from ..notices.outbox import make_notices_due
from . import gags as gag_service
from .history import snapshot
from .import_check import Plan
from .intake import build_demand


@dataclass
class ImportResult:
    demands: int
    closed: int
    rows: int
    first_reference: str | None
    last_reference: str | None


def import_plan(session: Session, actor: User | None, plan: Plan, *, now: datetime | None = None,
                on_progress: Callable[[int], Any] | None = None) -> ImportResult:
    """Write every demand of ``plan``; ``on_progress(rows)`` after each demand (its rows)."""
    references: list[str] = []
    for rows, reference in import_steps(session, actor, plan, now=now):
        references.append(reference)
        if on_progress is not None:
            on_progress(rows)
    closed = sum(1 for p in plan.demands if p.outcome is not None)
    return ImportResult(len(references), closed, plan.rows, references[0] if references else None,
                        references[-1] if references else None)


def import_steps(session: Session, actor: User | None, plan: Plan, *,
                 now: datetime | None = None) -> Iterator[tuple[int, str]]:
    """Write ``plan``'s demands one by one, yielding (its rows, its reference) after each
    (the upload page draws its progress bar between them)."""
    if actor is not None:
        access.require(actor, "demand.log", "import demands")
    now = now or utcnow()
    for planned in plan.demands:
        fields: dict[str, Any] = {"external_id": planned.external_id}
        if planned.outcome is not None:
            fields.update(status="closed", outcome=planned.outcome, closed_at=planned.closed_at)
        try:
            demand = build_demand(session, actor, planned.clean, now, **fields)
        except IntegrityError:
            raise Conflict(f"{planned.external_id} was imported by someone else meanwhile; nothing was imported. "
                           "Check the file again.") from None
        after = {**snapshot(demand), "external_id": planned.external_id, "channel": demand.channel}
        if planned.outcome is not None:
            after["closed_at"] = planned.closed_at
        audit.record(session, actor, "demand.import", "demand", demand.id, None, after, at=now)
        if planned.clean.gag is not None:
            gag_service.record_gag(session, actor, demand, planned.clean.gag, now)
        if planned.outcome is None:
            make_notices_due(session, demand, "demand", now=now)
        reference = demand.reference
        # The demand is written: let it go, so 10,000 rows do not pile up in the session.
        session.expunge(demand)
        yield planned.rows, reference
