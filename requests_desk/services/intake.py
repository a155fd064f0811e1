"""Intake: check a demand as the API, the form or an import submits it, and log it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import access, audit
from ..db import utcnow
from ..errors import FieldErrors, Forbidden, ValidationError
from ..models import (
    Demand,
    DemandItem,
    DemandTarget,
    ProcessRule,
    ReferenceCounter,
    Requester,
    User,
)
from ..notices.outbox import make_notices_due
from ..rules import data_sets, process_rules
from ..vocabulary import PROCESS_TERMS, REQUESTER_TYPES
from . import gags as gag_service
from . import parsing
from .customers import resolve_targets
from .history import snapshot
from .items import Item, parse_items


@dataclass
class DemandInput:
    requester: dict
    country: str
    process_type: str
    legal_reference: str
    issuing_authority: str
    received_at: datetime
    channel: str
    emergency: bool
    justification: str | None
    due_at: datetime | None
    targets: list[str]
    requested: list[Item]
    gag: dict | None
    notes: str
    defer_notices: dict | None = None  # an emergency's notice deferral given at logging


def parse_demand(session: Session, data: Any, *, now: datetime | None = None) -> DemandInput:
    """Check a demand as the API and the form submit it; raise one 422 listing every problem."""
    now = now or utcnow()
    if not isinstance(data, dict):
        raise ValidationError({"": ["the body must be a JSON object"]})
    errors = FieldErrors()
    rules = process_rules(session)

    req_raw = data.get("requester")
    requester: dict = {}
    if req_raw is None:
        errors.add("requester", "is required")
    else:
        req_raw = parsing.mapping(errors, req_raw, "requester")
        if isinstance(data.get("requester"), dict):
            requester = {
                "agency": parsing.text(errors, req_raw, "agency", "requester.agency"),
                "name": parsing.text(errors, req_raw, "name", "requester.name"),
                "email": parsing.email(errors, req_raw.get("email"), "requester.email"),
                "phone": parsing.text(errors, req_raw, "phone", "requester.phone", required=False, max_len=50),
                "type": parsing.choice(errors, req_raw.get("type"), "requester.type", REQUESTER_TYPES,
                                       "requester type"),
            }

    country = parsing.country(errors, data.get("country"), "country")
    process_type = parsing.choice(errors, data.get("process_type"), "process_type", rules, "process type")
    legal_reference = parsing.text(errors, data, "legal_reference", "legal_reference")
    issuing_authority = parsing.text(errors, data, "issuing_authority", "issuing_authority",
                                     required=False) or ""
    received_at = parsing.datetime_value(errors, data.get("received_at"), "received_at", now=now)
    if received_at and received_at > now + timedelta(minutes=5):
        errors.add("received_at", "cannot be in the future")
    channel = parsing.text(errors, data, "channel", "channel", required=False, max_len=50) or "email"
    emergency = is_emergency(process_type, parsing.boolean(errors, data.get("emergency"), "emergency"))
    justification = parsing.text(errors, data, "justification", "justification", required=False,
                                 max_len=5000)
    if emergency and not justification:
        errors.add("justification", "an emergency demand needs a written justification")
    due_at = parsing.datetime_value(errors, data.get("due_at"), "due_at", required=False, future=True)
    if due_at and received_at and due_at < received_at:
        errors.add("due_at", "must not be before received_at")
    notes = parsing.text(errors, data, "notes", "notes", required=False, max_len=20000) or ""

    targets = [ident for _, ident in parsing.identifiers(errors, data, "targets")]

    requested = parse_items(
        errors, data.get("requested"), "requested", targets=targets, data_sets=data_sets(session)
    )

    gag = None
    if data.get("gag") is not None:
        gag = gag_service.parse_gag(errors, data.get("gag"), "gag")

    defer = None
    if data.get("defer_notices") is not None:  # SPEC §9: intake may defer an emergency's notices
        defer = gag_service.parse_deferral(errors, data.get("defer_notices"), "defer_notices", now=now)
        if not emergency:
            errors.add("defer_notices", "only an emergency demand's notices can be deferred")

    errors.raise_if_any()
    return DemandInput(
        requester=requester,
        country=country,
        process_type=process_type,
        legal_reference=legal_reference,
        issuing_authority=issuing_authority,
        received_at=received_at,
        channel=channel,
        emergency=emergency,
        justification=justification,
        due_at=due_at,
        targets=targets,
        requested=requested,
        gag=gag,
        notes=notes,
        defer_notices=defer,
    )


def is_emergency(process_type: str | None, flagged: bool) -> bool:
    """An emergency disclosure request is an emergency whatever its flag says."""
    return flagged or process_type == "emergency"


def _bump_counter(session: Session, year: int) -> int | None:
    """The year's next sequence number, or None when the year has no counter yet."""
    return session.execute(
        update(ReferenceCounter)
        .where(ReferenceCounter.year == year)
        .values(last_seq=ReferenceCounter.last_seq + 1)
        .returning(ReferenceCounter.last_seq)
    ).scalar()


def default_due_at(rule: ProcessRule, received_at: datetime, emergency: bool) -> datetime:
    hours = rule.emergency_due_hours if emergency else rule.due_hours
    return received_at + timedelta(hours=hours)


def next_reference(session: Session, year: int) -> str:
    """Allocate ``LD-<year>-<6 digits>``; the counter row's lock serialises writers."""
    updated = _bump_counter(session, year)
    if updated is None:
        try:
            with session.begin_nested():
                session.execute(insert(ReferenceCounter).values(year=year, last_seq=1))
            updated = 1
        except IntegrityError:
            # Another request created this year's counter first: take the next number from it.
            updated = _bump_counter(session, year)
    return format_reference(year, updated)


def format_reference(year: int, seq: int) -> str:
    """A demand's reference: ``LD-<year>-<6 digits>``, the year's ``seq``-th demand."""
    return f"LD-{year}-{seq:06d}"


# Intake finds a requester again by these fields (a new phone number updates the one found).
REQUESTER_IDENTITY = ("agency", "name", "email", "type")


def requester_key(data: dict) -> tuple:
    """What tells one requester from another (``REQUESTER_IDENTITY``'s values)."""
    return tuple(data[field] for field in REQUESTER_IDENTITY)


def find_or_create_requester(session: Session, data: dict) -> Requester:
    found = session.scalar(
        select(Requester).filter_by(**{field: data[field] for field in REQUESTER_IDENTITY}).limit(1)
    )
    if found is not None:
        if data.get("phone") and found.phone != data["phone"]:
            found.phone = data["phone"]
        return found
    requester = Requester(**data)
    session.add(requester)
    return requester


def log_demand(session: Session, actor: User | None, data: Any, *, now: datetime | None = None,
               permission: str = "demand.log") -> Demand:
    """Log a demand with its targets, requested items and optional gag; audit it and make
    the notice of demand due for each customer concerned, all in the caller's transaction.
    ``permission``: ``demand.submit`` when a requester submits through its portal."""
    if actor is not None:
        access.require(actor, permission, "log demands")
    now = now or utcnow()
    clean = parse_demand(session, data, now=now)
    if actor is not None and not access.may_see(actor, clean.process_type):
        raise Forbidden(f"Only users with role {access.COMPARTMENTS[clean.process_type]} may log a "
                        f"{PROCESS_TERMS.label(clean.process_type).lower()} demand.")
    demand = build_demand(session, actor, clean, now)
    audit.record(session, actor, "demand.log", "demand", demand.id, None, snapshot(demand), at=now)
    if clean.gag is not None:
        gag_service.record_gag(session, actor, demand, clean.gag, now)
    make_notices_due(session, demand, "demand", now=now)
    if clean.defer_notices is not None:
        gag_service.record_deferral(session, actor, demand, clean.defer_notices, now, at_intake=True)
    return demand


def build_demand(session: Session, actor: User | None, clean: DemandInput, now: datetime,
                 **fields: Any) -> Demand:
    """Write the demand ``parse_demand`` checked: its reference (the year's next), its
    requester (found again or new), its targets resolved to customers and its requested
    items; ``fields`` set more columns (an import's outcome). Flushed; not audited, no
    notices: the caller does both (``log_demand``, ``services/importing.py``)."""
    rule = session.get(ProcessRule, clean.process_type)
    resolved = resolve_targets(session, clean.targets)
    demand = Demand(
        reference=next_reference(session, clean.received_at.year),
        received_at=clean.received_at,
        channel=clean.channel,
        requester=find_or_create_requester(session, clean.requester),
        country=clean.country,
        process_type=clean.process_type,
        legal_reference=clean.legal_reference,
        issuing_authority=clean.issuing_authority,
        emergency=clean.emergency,
        justification=clean.justification,
        due_at=clean.due_at or default_due_at(rule, clean.received_at, clean.emergency),
        status="received",
        notes=clean.notes,
        created_by_id=actor.id if actor else None,
        created_at=now,
        concerns_enterprise=any(c is not None and c.enterprise for c in resolved.values()),
    )
    demand.targets = [
        DemandTarget(identifier=ident, customer=resolved[ident], position=pos)
        for pos, ident in enumerate(clean.targets)
    ]
    demand.items = [
        DemandItem(kind="requested", target=i.target, data_set=i.data_set, date_from=i.date_from,
                   date_to=i.date_to, basis=i.basis)
        for i in clean.requested
    ]
    for name, value in fields.items():
        setattr(demand, name, value)
    session.add(demand)
    session.flush()
    return demand


