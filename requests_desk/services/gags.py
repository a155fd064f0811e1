"""Gag orders (non-disclosure orders) and emergency notice deferrals (SPEC §4)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .. import access, audit
from ..db import utcnow
from ..errors import Conflict, FieldErrors, ValidationError
from ..models import Demand, Gag, GagEvent, NoticeDeferral, User
from ..notices.outbox import hold_for_deferral, hold_for_gag, release_held_notices
from . import parsing
from .notice_release import mark_released, released_by_action


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
        expires_at = parsing.datetime_value(errors, raw.get("expires_at"), f"{prefix}expires_at", required=False,
                                            future=True)
    if issued_at and expires_at and expires_at.date() < issued_at:
        errors.add(f"{prefix}expires_at", "must not be before the order's issue date")
    return {"order_ref": order_ref, "issued_by": issued_by, "issued_at": issued_at, "expires_at": expires_at}


def _may_manage(actor: User | None) -> None:
    """Users need the role table's ``gag.manage``; no user is the operator or the system."""
    if actor is not None:
        access.require(actor, "gag.manage", "record, extend or lift a gag")


def gag_snapshot(gag: Gag) -> dict:
    return {
        "order_ref": gag.order_ref,
        "issued_by": gag.issued_by,
        "issued_at": gag.issued_at,
        "expires_at": gag.expires_at,
        "lifted_at": gag.lifted_at,
        "lift_reason": gag.lift_reason,
    }


def set_gag(session: Session, actor: User | None, demand: Demand, data: Any, *,
            now: datetime | None = None) -> Gag:
    """Counsel records a gag on a demand (``data`` is the raw body); notices of the
    demand not yet sent are held from now on."""
    _may_manage(actor)
    now = now or utcnow()
    if demand.active_gag(now) is not None:
        raise Conflict(f"{demand.reference} already has an active gag; extend or lift it instead.")
    errors = FieldErrors()
    clean = parse_gag(errors, data)
    errors.raise_if_any()
    return record_gag(session, actor, demand, clean, now)


def record_gag(session: Session, actor: User | None, demand: Demand, clean: dict, now: datetime) -> Gag:
    """Record a gag ``parse_gag`` checked: through ``set_gag``, or as part of logging the
    demand it came with (whoever may log a demand records the order that came with it)."""
    gag = Gag(
        order_ref=clean["order_ref"],
        issued_by=clean["issued_by"],
        issued_at=clean["issued_at"],
        expires_at=clean["expires_at"],
        set_at=now,
        process_type=demand.process_type,
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
    _may_manage(actor)
    now = now or utcnow()
    gag = demand.active_gag(now)
    if gag is None:
        raise Conflict(f"{demand.reference} has no active gag to extend; set a new one instead.")
    errors = FieldErrors()
    data = parsing.mapping(errors, data, "body")
    errors.raise_if_any()
    if "expires_at" not in data:
        raise ValidationError({"expires_at": ["is required (null when the order has no end date)"]})
    expires_at = parsing.datetime_value(errors, data.get("expires_at"), "expires_at", required=False, future=True)
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
    _may_manage(actor)
    now = now or utcnow()
    gag = demand.active_gag(now)
    if gag is None:
        raise Conflict(f"{demand.reference} has no active gag to lift.")
    errors = FieldErrors()
    data = parsing.mapping(errors, data, "body")
    errors.raise_if_any()
    reason = parsing.text(errors, data, "reason", "reason", max_len=parsing.MAX_REASON)
    errors.raise_if_any()
    before = gag_snapshot(gag)
    gag.lifted_at = now
    gag.lift_reason = reason
    gag.events.append(GagEvent(kind="lift", reason=reason, actor_id=actor.id if actor else None, at=now))
    session.flush()
    audit.record(session, actor, "gag.lift", "demand", demand.id, before, gag_snapshot(gag), at=now)
    release_held_notices(session, now, demand_id=demand.id, actor=actor)
    return gag


def parse_deferral(errors: FieldErrors, raw: Any, path: str = "", *, now: datetime) -> dict:
    """``{until, reason}``: until in the future (at most 2100-12-31), a reason."""
    prefix = f"{path}." if path else ""
    if not isinstance(raw, dict):
        errors.add(path or "body", "must be an object with until and reason")
        return {}
    until = parsing.datetime_value(errors, raw.get("until"), f"{prefix}until", future=True)
    reason = parsing.text(errors, raw, "reason", f"{prefix}reason", max_len=parsing.MAX_REASON)
    if until and until <= now:
        errors.add(f"{prefix}until", "must be in the future")
    return {"until": until, "reason": reason}


def record_deferral(session: Session, actor: User | None, demand: Demand, clean: dict, now: datetime, *,
                    at_intake: bool = False) -> NoticeDeferral:
    """Record a deferral ``parse_deferral`` checked: through ``defer_notices``, or as part
    of logging an emergency (``at_intake``: the notices still await counsel's release)."""
    deferral = NoticeDeferral(demand_id=demand.id, until=clean["until"], reason=clean["reason"],
                              actor_id=actor.id if actor else None, at=now)
    session.add(deferral)
    session.flush()
    after = {"until": clean["until"], "reason": clean["reason"], **({"at_intake": True} if at_intake else {})}
    audit.record(session, actor, "notices.defer", "demand", demand.id, None, after, at=now)
    hold_for_deferral(session, demand, now)
    return deferral


def defer_notices(session: Session, actor: User | None, demand: Demand, data: Any, *,
                  now: datetime | None = None) -> NoticeDeferral:
    """Counsel defers an emergency demand's notices until a date, with a reason. The
    latest deferral decides; notices due meanwhile wait as held and go after the date."""
    if actor is not None:
        access.require(actor, "notice.defer", "defer customer notices")
    now = now or utcnow()
    errors = FieldErrors()
    data = parsing.mapping(errors, data, "body")
    errors.raise_if_any()
    clean = parse_deferral(errors, data, now=now)
    if not demand.emergency:
        errors.add("", "only an emergency demand's notices can be deferred")
    errors.raise_if_any()
    deferral = record_deferral(session, actor, demand, clean, now)
    # Deferring is counsel's decision about the notices: it releases them, to wait
    # for the date (a national-security demand's only by an explicit release).
    if released_by_action(demand, "defer-notices"):
        mark_released(session, actor, demand, now, by="defer-notices")
    # A later deferral may shorten an earlier one: anything it no longer holds is due.
    release_held_notices(session, now, demand_id=demand.id, actor=actor)
    return deferral
