"""The notice outbox (SPEC §4).

A notice is written in the same transaction as the change that makes it due, so none
is ever lost: ``held`` at once while counsel has not released the demand's notices,
a gag or an emergency deferral is in force, otherwise ``pending`` (due from that
moment). The dispatcher sends pending notices; ``release_held_notices`` turns held
notices into pending ones when everything that held them has ended (a gag's end makes
them *delayed* notices). What holds a notice is one of three, judged in this order:
``counsel`` (the demand's ``notices_released_at`` is unset), ``gag``, ``deferral``;
``held_by`` names the first that applies.

Whether a gag is active is one SQL expression (``models.gag_active_clause``, the twin
of ``Gag.active_at``) used by the outbox, the dispatcher and the portal alike, so every
reader judges it the same way.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from .. import audit
from ..errors import Conflict
from ..models import (
    Demand,
    Notice,
    User,
    awaiting_counsel_clause,
    deferral_active_clause,
    gag_active_clause,
)

# A notice is given up (``failed``) after this many attempts; staff can retry it.
MAX_ATTEMPTS = 8
# Exponential backoff between attempts: 5 min, 10, 20 … capped at 6 hours.
BACKOFF_BASE_SECONDS = 300
BACKOFF_CAP_SECONDS = 6 * 3600


def gag_active(session: Session, demand_id: int, now: datetime) -> bool:
    return bool(session.scalar(select(gag_active_clause(demand_id, now))))


def deferral_active(session: Session, demand_id: int, now: datetime) -> bool:
    return bool(session.scalar(select(deferral_active_clause(demand_id, now))))


def awaiting_counsel(session: Session, demand_id: int) -> bool:
    """Counsel has not released the demand's notices (read from the row as it is now)."""
    return bool(session.scalar(select(awaiting_counsel_clause(demand_id))))


def holder(session: Session, demand_id: int, now: datetime) -> str | None:
    """What holds a notice of this demand now: 'counsel', 'gag', 'deferral' or None."""
    if awaiting_counsel(session, demand_id):
        return "counsel"
    if gag_active(session, demand_id, now):
        return "gag"
    if deferral_active(session, demand_id, now):
        return "deferral"
    return None


def new_message_id() -> str:
    """The notice's Message-ID, fixed when it is written: every attempt reuses it."""
    return f"<notice.{secrets.token_hex(16)}@requests-desk>"


def backoff_seconds(attempts: int, base: int = BACKOFF_BASE_SECONDS, cap: int = BACKOFF_CAP_SECONDS) -> int:
    """Wait before the next attempt after ``attempts`` failed ones (1 → base, 2 → 2×base …)."""
    return min(base * 2 ** max(attempts - 1, 0), cap)


def make_notices_due(session: Session, demand: Demand, kind: str, *, now: datetime) -> list[Notice]:
    """One notice of ``kind`` ('demand' or 'outcome') per customer concerned (none where
    one exists already), ``held`` at once while counsel has not released the demand's
    notices or a gag or a deferral is in force."""
    customers = demand.customers
    if not customers:
        return []
    gagged = gag_active(session, demand.id, now)
    counsel = demand.notices_released_at is None
    deferred = not gagged and not counsel and deferral_active(session, demand.id, now)
    held = counsel or gagged or deferred
    held_by = "counsel" if counsel else "gag" if gagged else "deferral" if deferred else None
    existing = set(
        session.scalars(select(Notice.customer_id).where(Notice.demand_id == demand.id, Notice.kind == kind))
    )
    made = []
    for customer in customers:
        if customer.id in existing:
            continue
        notice = Notice(
            demand_id=demand.id,
            customer_id=customer.id,
            kind=kind,
            state="held" if held else "pending",
            held_by=held_by,
            gag_held=gagged,
            delayed=False,
            due_at=now,
            created_at=now,
            attempts=0,
            next_attempt_at=None if held else now,
            message_id=new_message_id(),
        )
        session.add(notice)
        made.append(notice)
    session.flush()
    return made


def hold_for_gag(session: Session, demand: Demand, now: datetime) -> int:
    """A gag was set: every notice of the demand not yet sent waits as held (a failed one
    too: it must not be retried under the gag). Sent notices stay sent; the portal hides
    them while the gag is active. On PostgreSQL this waits for a dispatcher that is
    sending one of these notices right now, so the gag and the send never overlap."""
    result = session.execute(
        update(Notice)
        .where(Notice.demand_id == demand.id, Notice.state.in_(("pending", "failed", "held")))
        .values(state="held", held_by=case((Notice.held_by == "counsel", "counsel"), else_="gag"),
                gag_held=True, next_attempt_at=None, claimed_until=None)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0


def hold_for_deferral(session: Session, demand: Demand, now: datetime) -> int:
    """An emergency deferral: notices not yet sent wait as held until its date (one
    awaiting counsel keeps saying so: counsel's release comes first)."""
    result = session.execute(
        update(Notice)
        .where(Notice.demand_id == demand.id, Notice.state.in_(("pending", "failed")))
        .values(state="held", held_by="deferral", next_attempt_at=None, claimed_until=None)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0


def release_held_notices(session: Session, now: datetime, demand_id: int | None = None, *,
                         actor: User | None = None) -> int:
    """Held notices that counsel has released, whose gag has ended and whose deferral
    has passed become pending (a notice a gag held becomes a *delayed* notice); returns
    how many were released. Each release is the audit event ``notice.released`` of its
    demand, in notice order, by ``actor`` (the dispatcher's runs: the system), naming
    what held it.

    A notice still held by something else is relabelled with what holds it now (counsel
    released it under a gag: 'gag'; a gag ended under a deferral: 'deferral')."""
    counsel = awaiting_counsel_clause(Notice.demand_id)
    gagged = gag_active_clause(Notice.demand_id, now)
    deferred = deferral_active_clause(Notice.demand_id, now)
    mine = [Notice.demand_id == demand_id] if demand_id is not None else []
    session.execute(
        update(Notice)
        .where(*mine, Notice.state == "held", ~counsel, Notice.held_by.in_(("counsel", "gag", "deferral")),
               gagged | deferred)
        .values(held_by=case((gagged, "gag"), else_="deferral"))
        .execution_options(synchronize_session="fetch")
    )
    scope = [*mine, Notice.state == "held", ~counsel, ~gagged]
    rows = session.scalars(
        select(Notice).where(*scope, ~deferred).order_by(Notice.id).with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)  # the rows as they are now, not as once loaded
    ).all()
    for notice in rows:
        held_by = notice.held_by
        notice.state = "pending"
        notice.delayed = notice.delayed or notice.gag_held
        notice.held_by = None
        notice.attempts = 0
        notice.last_error = None
        notice.claimed_until = None
        notice.next_attempt_at = now
        session.flush()
        record_notice_event(session, actor, "notice.released", notice, {"state": "held", "held_by": held_by},
                            {"state": "pending", "delayed": notice.delayed}, now)
    return len(rows)


def record_notice_event(session: Session, actor: User | None, action: str, notice: Notice, before: dict,
                        after: dict, now: datetime) -> None:
    """A notice's event (``notice.released``, ``notice.sent``, ``notice.failed``) in its
    demand's audit trail: what it is (kind, customer) and its state before and after."""
    audit.record(session, actor, action, "notice", notice.id, before,
                 {**after, "kind": notice.kind, "customer_id": notice.customer_id},
                 demand_id=notice.demand_id, at=now)


def retry_notice(session: Session, actor: User, notice: Notice, *, now: datetime) -> Notice:
    """Staff retry a notice given up as ``failed``: it becomes pending again with its
    attempts reset (or held, should counsel's release, a gag or a deferral be missing
    or in force now); audited."""
    if notice.state != "failed":
        raise Conflict(f"Only a failed notice can be retried; this one is {notice.state}.")
    before = {"state": notice.state, "attempts": notice.attempts, "last_error": notice.last_error}
    held_by = holder(session, notice.demand_id, now)
    if held_by is not None:
        notice.state, notice.held_by = "held", held_by
        notice.gag_held = notice.gag_held or held_by == "gag"
        notice.next_attempt_at = None
    else:
        notice.state = "pending"
        notice.next_attempt_at = now
    notice.attempts = 0
    notice.claimed_until = None
    session.flush()
    audit.record(
        session, actor, "notice.retry", "notice", notice.id, before,
        {"state": notice.state, "attempts": 0, "kind": notice.kind, "customer_id": notice.customer_id},
        demand_id=notice.demand_id, at=now,
    )
    return notice

