"""The notice outbox: notices are written in the same transaction as the change that
makes them due, ``held`` at once while a gag (or an emergency deferral) is active."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..models import Demand, Gag, Notice, NoticeDeferral


def _gag_active(session: Session, demand_id: int, now: datetime) -> bool:
    return session.scalar(
        select(Gag.id)
        .where(Gag.demand_id == demand_id, Gag.lifted_at.is_(None),
               (Gag.expires_at.is_(None)) | (Gag.expires_at > now))
        .limit(1)
    ) is not None


def _deferred(session: Session, demand_id: int, now: datetime) -> bool:
    return session.scalar(
        select(NoticeDeferral.id).where(NoticeDeferral.demand_id == demand_id, NoticeDeferral.until > now).limit(1)
    ) is not None


def new_message_id() -> str:
    return f"<notice.{secrets.token_hex(16)}@requests-desk>"


def make_notices_due(session: Session, demand: Demand, kind: str, *, now: datetime) -> list[Notice]:
    """One notice of ``kind`` per customer concerned (none if one exists already)."""
    from ..services.demands import customers_of

    customers = customers_of(demand)
    if not customers:
        return []
    gagged = _gag_active(session, demand.id, now)
    deferred = not gagged and _deferred(session, demand.id, now)
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
            state="held" if (gagged or deferred) else "pending",
            held_by="gag" if gagged else ("deferral" if deferred else None),
            gag_held=gagged,
            due_at=now,
            created_at=now,
            next_attempt_at=None if (gagged or deferred) else now,
            message_id=new_message_id(),
        )
        session.add(notice)
        made.append(notice)
    session.flush()
    return made


def hold_for_gag(session: Session, demand: Demand, now: datetime) -> None:
    """A gag was set: every notice of the demand not yet sent waits as held."""
    session.execute(
        update(Notice)
        .where(Notice.demand_id == demand.id, Notice.state.in_(("pending", "failed", "held")))
        .values(state="held", held_by="gag", gag_held=True, next_attempt_at=None)
    )


def hold_for_deferral(session: Session, demand: Demand, now: datetime) -> None:
    session.execute(
        update(Notice)
        .where(Notice.demand_id == demand.id, Notice.state.in_(("pending", "failed")))
        .values(state="held", held_by="deferral", next_attempt_at=None)
    )


def release_held_notices(session: Session, now: datetime, demand_id: int | None = None) -> int:
    """Release held notices whose gag has ended (as delayed notices) or whose deferral has
    passed; returns how many became pending."""
    stmt = select(Notice).where(Notice.state == "held")
    if demand_id is not None:
        stmt = stmt.where(Notice.demand_id == demand_id)
    released = 0
    cache: dict[int, tuple[bool, bool]] = {}
    for notice in session.scalars(stmt.order_by(Notice.id).with_for_update(skip_locked=True)):
        if notice.demand_id not in cache:
            cache[notice.demand_id] = (
                _gag_active(session, notice.demand_id, now),
                _deferred(session, notice.demand_id, now),
            )
        gagged, deferred = cache[notice.demand_id]
        if gagged:
            if notice.held_by != "gag":
                notice.held_by, notice.gag_held = "gag", True
            continue
        if deferred:
            continue
        notice.state = "pending"
        notice.delayed = notice.delayed or notice.gag_held
        notice.held_by = None
        notice.next_attempt_at = now
        released += 1
    session.flush()
    return released
