"""Emergency verification (SPEC §9): the four checks staff record before any disclosure,
and counsel's override.

Forged "emergency" requests from hijacked police mailboxes are a known attack, so a
scope cannot be proposed on an emergency demand — or on any demand whose requester's
address or domain is flagged as fraudulent (``services/fraud_flags.py``) — until staff
have recorded the four checks (``callback``, ``sender``, ``authority``,
``justification``), each with who, when and a note, or counsel has recorded a reason to
go ahead without them. ``propose-scope`` answers 422 naming the missing ones
(``scope_blocked``, called by the workflow's rule).

Recording a check again replaces it (the audit event keeps the earlier one as its
``before``); so does recording the override again.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Collection

from sqlalchemy.orm import Session

from .. import access, audit
from ..db import utcnow
from ..errors import Conflict, FieldErrors
from ..models import Demand, EmergencyCheck, User
from ..vocabulary import EMERGENCY_CHECK_TERMS, EMERGENCY_CHECKS
from . import parsing
from .fraud_flags import is_flagged

MAX_CHECK_NOTE = parsing.MAX_REASON


def checks_required(session: Session, demand: Demand, *, flagged: bool | None = None) -> bool:
    """An emergency demand, or one from a flagged address or domain, needs the four checks."""
    if demand.emergency:
        return True
    return is_flagged(session, demand) if flagged is None else flagged


def required(emergency: bool, flagged: bool) -> bool:
    """``checks_required`` on plain values: an emergency, or a flagged sender."""
    return bool(emergency) or flagged


def checks_by_code(demand: Demand) -> dict[str, EmergencyCheck]:
    return {c.check_code: c for c in demand.emergency_checks}


def missing_checks(demand: Demand) -> list[str]:
    """The checks not recorded yet, in the vocabulary's order."""
    return missing_of(checks_by_code(demand))


def missing_of(done: Collection[str]) -> list[str]:
    """Of the four checks, those not in ``done`` (codes), in the vocabulary's order."""
    return [code for code in EMERGENCY_CHECKS if code not in done]


def overridden(demand: Demand) -> bool:
    return bool(demand.checks_override_reason)


def scope_blocked(session: Session, demand: Demand) -> str | None:
    """Why a scope cannot be proposed yet (the missing checks, named), or None."""
    if overridden(demand) or not checks_required(session, demand):
        return None
    missing = missing_checks(demand)
    if not missing:
        return None
    why = "an emergency demand" if demand.emergency else "a demand from a flagged address or domain"
    names = ", ".join(f"{code} ({EMERGENCY_CHECK_TERMS.label(code).lower()})" for code in missing)
    return (f"{why} needs all four checks before a scope is proposed; missing: {names}. Record them, "
            "or counsel records a reason to override them")


def check_snapshot(check: EmergencyCheck) -> dict:
    return {"check": check.check_code, "by_id": check.by_id, "at": check.at, "note": check.note}


def _open_and_checked(session: Session, demand: Demand, errors: FieldErrors) -> None:
    if not demand.is_open:
        raise Conflict(f"{demand.reference} is closed; a closed demand is final.")
    if not checks_required(session, demand):
        errors.add("", "only an emergency demand, or one from a flagged address or domain, takes the "
                       "emergency checks")


def record_check(session: Session, actor: User, demand: Demand, data: Any, *,
                 now: datetime | None = None) -> EmergencyCheck:
    """Staff record one check (``{check, note}``); recording it again replaces it."""
    access.require(actor, "emergency.check", "record emergency checks")
    now = now or utcnow()
    errors = FieldErrors()
    data = parsing.mapping(errors, data, "body")
    errors.raise_if_any()
    code = parsing.choice(errors, data.get("check"), "check", EMERGENCY_CHECKS, "check")
    note = parsing.text(errors, data, "note", "note", max_len=MAX_CHECK_NOTE)
    _open_and_checked(session, demand, errors)
    errors.raise_if_any()
    check = checks_by_code(demand).get(code)
    before = None if check is None else check_snapshot(check)
    if check is None:
        check = EmergencyCheck(check_code=code)
        demand.emergency_checks.append(check)
    check.by_id, check.by, check.at, check.note = actor.id, actor, now, note
    session.flush()
    audit.record(session, actor, "check.record", "demand", demand.id, before, check_snapshot(check), at=now)
    return check


def override_snapshot(demand: Demand) -> dict:
    return {"reason": demand.checks_override_reason, "by_id": demand.checks_override_by_id,
            "at": demand.checks_override_at, "missing": missing_checks(demand)}


def override_checks(session: Session, actor: User, demand: Demand, data: Any, *,
                    now: datetime | None = None) -> Demand:
    """Counsel records why a scope may be proposed before the checks are complete
    (``{reason}``); recording it again replaces the reason."""
    access.require(actor, "emergency.override", "override the emergency checks")
    now = now or utcnow()
    errors = FieldErrors()
    data = parsing.mapping(errors, data, "body")
    errors.raise_if_any()
    reason = parsing.text(errors, data, "reason", "reason", max_len=parsing.MAX_REASON)
    _open_and_checked(session, demand, errors)
    errors.raise_if_any()
    before = override_snapshot(demand) if overridden(demand) else None
    demand.checks_override_reason, demand.checks_override_by_id, demand.checks_override_at = reason, actor.id, now
    session.flush()
    audit.record(session, actor, "checks.override", "demand", demand.id, before, override_snapshot(demand), at=now)
    return demand
