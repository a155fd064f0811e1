"""Gag orders (non-disclosure orders) and emergency notice deferrals (SPEC §4)."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from .. import audit
from ..db import utcnow
from ..errors import Conflict, FieldErrors, ValidationError
from ..models import Demand, Gag, GagEvent, NoticeDeferral, User
from . import parsing

LONG_GAG_DAYS = 365


def parse_gag(errors: FieldErrors, raw: Any, path: str = "") -> dict:
    """``{order_ref, issued_by, issued_at?, expires_at}`` (expires_at null: no end date)."""
    prefix = f"{path}." if path else ""
    if not isinstance(raw, dict):
        errors.add(path or "body", "must be an object")
        return {}
    order_ref = parsing.text(errors, raw, "order_ref", f"{prefix}order_ref")
    issued_by = parsing.text(errors, raw, "issued_by", f"{prefix}issued_by")
    issued_at = parsing.date_value(errors, raw.get("issued_at"), f"{prefix}issued_at", required=False)
    if "expires_at" not in raw:
        errors.add(f"{prefix}expires_at", "is required (null when the order has no end date)")
        expires_at = None
    else:
        expires_at = parsing.datetime_value(errors, raw.get("expires_at"), f"{prefix}expires_at", required=False)
    if issued_at and expires_at and expires_at.date() < issued_at:
        errors.add(f"{prefix}expires_at", "must not be before the order's issue date")
    return {"order_ref": order_ref, "issued_by": issued_by, "issued_at": issued_at, "expires_at": expires_at}


def gag_snapshot(gag: Gag) -> dict:
    return {
        "order_ref": gag.order_ref,
        "issued_by": gag.issued_by,
        "issued_at": gag.issued_at,
        "expires_at": gag.expires_at,
        "lifted_at": gag.lifted_at,
        "lift_reason": gag.lift_reason,
    }


def active_gag(demand: Demand, now: datetime) -> Gag | None:
    return next((g for g in demand.gags if g.active_at(now)), None)


def set_gag(session: Session, actor: User | None, demand: Demand, data: Any, *,
            now: datetime | None = None, parsed: bool = False) -> Gag:
    """Record a gag; notices of the demand not yet sent are held from now on.

    ``data`` is the raw body, or (``parsed=True``) the dict ``parse_gag`` returned."""
    from ..notices.outbox import hold_for_gag

    now = now or utcnow()
    if active_gag(demand, now) is not None:
        raise Conflict(f"{demand.reference} already has an active gag; extend or lift it instead.")
    if parsed:
        clean = data
    else:
        errors = FieldErrors()
        clean = parse_gag(errors, data)
        errors.raise_if_any()
    gag = Gag(
        order_ref=clean["order_ref"],
        issued_by=clean["issued_by"],
        issued_at=clean["issued_at"],
        expires_at=clean["expires_at"],
        set_at=now,
    )
    gag.events.append(GagEvent(kind="set", expires_at=gag.expires_at, actor_id=actor.id if actor else None, at=now))
    demand.gags.append(gag)
    session.flush()
    audit.record(session, actor, "gag.set", "demand", demand.id, None, gag_snapshot(gag), at=now)
    if gag.active_at(now):
        hold_for_gag(session, demand, now)
    return gag


def extend_gag(session: Session, actor: User | None, demand: Demand, data: Any, *,
               now: datetime | None = None) -> Gag:
    """Move the active gag's end later (or to no end). An extension never shortens it."""
    now = now or utcnow()
    gag = active_gag(demand, now)
    if gag is None:
        raise Conflict(f"{demand.reference} has no active gag to extend; set a new one instead.")
    errors = FieldErrors()
    data = parsing.mapping(errors, data, "body")
    errors.raise_if_any()
    if "expires_at" not in data:
        raise ValidationError({"expires_at": ["is required (null when the order has no end date)"]})
    expires_at = parsing.datetime_value(errors, data.get("expires_at"), "expires_at", required=False)
    errors.raise_if_any()
    if gag.expires_at is None and expires_at is not None:
        raise ValidationError({"expires_at": ["the gag has no end date; an end date would shorten it"]})
    if gag.expires_at is not None and expires_at is not None and expires_at <= gag.expires_at:
        raise ValidationError(
            {"expires_at": ["must be later than the gag's current end; an extension cannot shorten it"]}
        )
    before = gag_snapshot(gag)
    gag.expires_at = expires_at
    gag.events.append(GagEvent(kind="extend", expires_at=expires_at, actor_id=actor.id if actor else None, at=now))
    session.flush()
    audit.record(session, actor, "gag.extend", "demand", demand.id, before, gag_snapshot(gag), at=now)
    return gag


def lift_gag(session: Session, actor: User | None, demand: Demand, data: Any, *,
             now: datetime | None = None) -> Gag:
    """Lift the active gag, with a reason; its held notices are released at once and go
    out as delayed notices on the dispatcher's next run."""
    from ..notices.outbox import release_held_notices

    now = now or utcnow()
    gag = active_gag(demand, now)
    if gag is None:
        raise Conflict(f"{demand.reference} has no active gag to lift.")
    errors = FieldErrors()
    data = parsing.mapping(errors, data, "body")
    errors.raise_if_any()
    reason = parsing.text(errors, data, "reason", "reason", max_len=5000)
    errors.raise_if_any()
    before = gag_snapshot(gag)
    gag.lifted_at = now
    gag.lift_reason = reason
    gag.events.append(GagEvent(kind="lift", reason=reason, actor_id=actor.id if actor else None, at=now))
    session.flush()
    audit.record(session, actor, "gag.lift", "demand", demand.id, before, gag_snapshot(gag), at=now)
    release_held_notices(session, now, demand_id=demand.id)
    return gag


def defer_notices(session: Session, actor: User | None, demand: Demand, data: Any, *,
                  now: datetime | None = None) -> NoticeDeferral:
    """Counsel defers an emergency demand's notices until a date, with a reason. The
    latest deferral decides; notices due meanwhile wait as held and go after the date."""
    from ..notices.outbox import hold_for_deferral, release_held_notices

    now = now or utcnow()
    errors = FieldErrors()
    data = parsing.mapping(errors, data, "body")
    errors.raise_if_any()
    until = parsing.datetime_value(errors, data.get("until"), "until")
    reason = parsing.text(errors, data, "reason", "reason", max_len=5000)
    if until and until <= now:
        errors.add("until", "must be in the future")
    if not demand.emergency:
        errors.add("", "only an emergency demand's notices can be deferred")
    errors.raise_if_any()
    deferral = NoticeDeferral(demand_id=demand.id, until=until, reason=reason,
                              actor_id=actor.id if actor else None, at=now)
    session.add(deferral)
    session.flush()
    audit.record(session, actor, "notices.defer", "demand", demand.id, None,
                 {"until": until, "reason": reason}, at=now)
    hold_for_deferral(session, demand, now)
    # A later deferral may shorten an earlier one: anything it no longer holds is due.
    release_held_notices(session, now, demand_id=demand.id)
    return deferral


# ---------------------------------------------------------------- lists for the desk


def active_gags(session: Session, now: datetime) -> list[Gag]:
    """Gags active at ``now`` (the same rule as ``Gag.active_at``), soonest end first."""
    rows = session.scalars(
        select(Gag)
        .where(Gag.lifted_at.is_(None), or_(Gag.expires_at.is_(None), Gag.expires_at > now))
        .options(selectinload(Gag.demand))
        .order_by(Gag.expires_at.is_(None), Gag.expires_at, Gag.id)
    ).all()
    return list(rows)


def gag_start(gag: Gag) -> datetime:
    """When the order took effect: its issue date, else when it was recorded."""
    if gag.issued_at is not None:
        return datetime.combine(gag.issued_at, time.min, tzinfo=timezone.utc)
    return gag.set_at


def gags_expiring_soon(session: Session, now: datetime, days: int = 30) -> list[Gag]:
    """Active gags that end within ``days`` (soonest first): their notices will go out."""
    horizon = now + timedelta(days=days)
    return [g for g in active_gags(session, now) if g.expires_at is not None and g.expires_at <= horizon]


def gags_for_review(session: Session, now: datetime) -> list[Gag]:
    """Active gags with no end date, or in force longer than a year (to review for a
    challenge): the period from the order's start to its end, or to now, exceeds 365 days."""
    limit = timedelta(days=LONG_GAG_DAYS)
    out = []
    for gag in active_gags(session, now):
        start = gag_start(gag)
        if gag.expires_at is None or gag.expires_at - start > limit or now - start > limit:
            out.append(gag)
    return out
