"""Demands: intake, the case list query, and the demand's outward shape."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session, selectinload

from .. import audit
from ..db import utcnow
from ..errors import FieldErrors, NotFound, ValidationError
from ..models import (
    OPEN_STATES,
    REQUESTER_TYPES,
    STATES,
    Customer,
    Demand,
    DemandItem,
    DemandTarget,
    Gag,
    PreservationHold,
    ProcessRule,
    ReferenceCounter,
    Requester,
    User,
)
from ..rules import data_sets, process_rules
from . import gags as gag_service
from . import parsing
from .items import Item, parse_items

DUE_SOON = timedelta(hours=48)


# ---------------------------------------------------------------- parsing


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
    received_at = parsing.datetime_value(errors, data.get("received_at"), "received_at")
    if received_at and received_at > now + timedelta(minutes=5):
        errors.add("received_at", "cannot be in the future")
    channel = parsing.text(errors, data, "channel", "channel", required=False, max_len=50) or "email"
    emergency = parsing.boolean(errors, data.get("emergency"), "emergency")
    if process_type == "emergency":
        emergency = True
    justification = parsing.text(errors, data, "justification", "justification", required=False,
                                 max_len=5000)
    if emergency and not justification:
        errors.add("justification", "an emergency demand needs a written justification")
    due_at = parsing.datetime_value(errors, data.get("due_at"), "due_at", required=False)
    if due_at and received_at and due_at < received_at:
        errors.add("due_at", "must not be before received_at")
    notes = parsing.text(errors, data, "notes", "notes", required=False, max_len=20000) or ""

    targets: list[str] = []
    for i, raw in enumerate(parsing.listing(errors, data, "targets", "targets")):
        if not isinstance(raw, str) or not raw.strip():
            errors.add(f"targets[{i}]", "must be an account identifier")
            continue
        ident = parsing.identifier(raw)
        if len(ident) > 320:
            errors.add(f"targets[{i}]", "must be at most 320 characters")
        elif ident in targets:
            errors.add(f"targets[{i}]", "is listed twice")
        else:
            targets.append(ident)

    requested = parse_items(
        errors, data.get("requested"), "requested", targets=targets, data_sets=data_sets(session)
    )

    gag = None
    if data.get("gag") is not None:
        gag = gag_service.parse_gag(errors, data.get("gag"), "gag")

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
    )


# ---------------------------------------------------------------- intake


def default_due_at(rule: ProcessRule, received_at: datetime, emergency: bool) -> datetime:
    hours = rule.emergency_due_hours if emergency else rule.due_hours
    return received_at + timedelta(hours=hours)


def next_reference(session: Session, year: int) -> str:
    """Allocate ``LD-<year>-<6 digits>``; the counter row's lock serialises writers."""
    updated = session.execute(
        update(ReferenceCounter)
        .where(ReferenceCounter.year == year)
        .values(last_seq=ReferenceCounter.last_seq + 1)
        .returning(ReferenceCounter.last_seq)
    ).scalar()
    if updated is None:
        try:
            with session.begin_nested():
                session.execute(insert(ReferenceCounter).values(year=year, last_seq=1))
            updated = 1
        except IntegrityError:
            # Another request created this year's counter first: take the next number from it.
            updated = session.execute(
                update(ReferenceCounter)
                .where(ReferenceCounter.year == year)
                .values(last_seq=ReferenceCounter.last_seq + 1)
                .returning(ReferenceCounter.last_seq)
            ).scalar_one()
    return f"LD-{year}-{updated:06d}"


def find_or_create_requester(session: Session, data: dict) -> Requester:
    found = session.scalar(
        select(Requester).where(
            Requester.agency == data["agency"],
            Requester.name == data["name"],
            Requester.email == data["email"],
            Requester.type == data["type"],
        ).limit(1)
    )
    if found is not None:
        if data.get("phone") and found.phone != data["phone"]:
            found.phone = data["phone"]
        return found
    requester = Requester(**data)
    session.add(requester)
    return requester


def log_demand(session: Session, actor: User | None, data: Any, *, now: datetime | None = None) -> Demand:
    """Log a demand with its targets, requested items and optional gag; audit it and make
    the notice of demand due for each customer concerned, all in the caller's transaction."""
    from ..notices.outbox import make_notices_due

    now = now or utcnow()
    clean = parse_demand(session, data, now=now)
    from .customers import resolve_targets

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
    session.add(demand)
    session.flush()
    audit.record(session, actor, "demand.log", "demand", demand.id, None, snapshot(demand), at=now)
    if clean.gag is not None:
        gag_service.set_gag(session, actor, demand, clean.gag, now=now, parsed=True)
    make_notices_due(session, demand, "demand", now=now)
    return demand


# ---------------------------------------------------------------- reading


def customers_of(demand: Demand) -> list[Customer]:
    seen: dict[int, Customer] = {}
    for t in demand.targets:
        if t.customer is not None and t.customer.id not in seen:
            seen[t.customer.id] = t.customer
    return list(seen.values())


def active_gag(demand: Demand, now: datetime) -> Gag | None:
    for gag in demand.gags:
        if gag.active_at(now):
            return gag
    return None


def latest_gag(demand: Demand, now: datetime) -> Gag | None:
    return active_gag(demand, now) or (demand.gags[-1] if demand.gags else None)


def flags(demand: Demand, now: datetime) -> tuple[bool, bool]:
    """(overdue, due_soon) for an open demand."""
    if not demand.is_open:
        return False, False
    overdue = demand.due_at < now
    return overdue, (not overdue and demand.due_at <= now + DUE_SOON)


def preservation_hold(demand: Demand) -> PreservationHold | None:
    """The hold a ``preserve`` recorded (only preserved demands have one)."""
    session = object_session(demand)
    if demand.outcome != "preserved" or session is None:
        return None
    return session.scalar(select(PreservationHold).where(PreservationHold.demand_id == demand.id))


# What every audit event of a demand action names, changed or not, and what each action
# names besides: its subject, so the timeline can say "proposed a scope of 3 items" even
# when counsel proposes again the scope an approver returned.
ALWAYS_AUDITED = ("status", "outcome")
SUBJECT_OF = {"propose-scope": ("scope",), "record-production": ("production",), "assign": ("assignee_id",),
              "set-due": ("due_at",)}


def changes(action: str, before: dict, after: dict) -> tuple[dict, dict]:
    """An action's audit before/after: the snapshot fields it changed, with the status,
    the outcome and the action's subject always (``demand.log`` keeps the whole snapshot)."""
    keep = ALWAYS_AUDITED + SUBJECT_OF.get(action, ())
    missing = object()
    return (
        {k: v for k, v in before.items() if k in keep or after.get(k, missing) != v},
        {k: v for k, v in after.items() if k in keep or before.get(k, missing) != v},
    )


def snapshot(demand: Demand) -> dict:
    """What the audit log keeps of a demand when it is logged; later events keep what
    changed (``changes``)."""
    return {
        "reference": demand.reference,
        "status": demand.status,
        "outcome": demand.outcome,
        "received_at": demand.received_at,
        "country": demand.country,
        "process_type": demand.process_type,
        "legal_reference": demand.legal_reference,
        "emergency": demand.emergency,
        "due_at": demand.due_at,
        "assignee_id": demand.assignee_id,
        "targets": [t.identifier for t in demand.targets],
        "requested": [i.as_dict() for i in demand.items_of("requested")],
        "scope": [i.as_dict() for i in demand.items_of("scope")],
        "production": [i.as_dict() for i in demand.items_of("production")],
    }


def serialize(demand: Demand, now: datetime | None = None) -> dict:
    """The API's demand (SPEC §6)."""
    now = now or utcnow()
    overdue, due_soon = flags(demand, now)
    gag = latest_gag(demand, now)
    hold = preservation_hold(demand)
    production = None
    if demand.items_of("production") or demand.production_files:
        production = {
            "items": [i.as_dict() for i in demand.items_of("production")],
            "files": [{"name": f.name, "sha256": f.sha256, "bytes": f.bytes} for f in demand.production_files],
        }
    return {
        "id": demand.id,
        "reference": demand.reference,
        "status": demand.status,
        "outcome": demand.outcome,
        "received_at": iso(demand.received_at),
        "channel": demand.channel,
        "requester": {
            "agency": demand.requester.agency,
            "name": demand.requester.name,
            "email": demand.requester.email,
            "phone": demand.requester.phone,
            "type": demand.requester.type,
        },
        "country": demand.country,
        "process_type": demand.process_type,
        "legal_reference": demand.legal_reference,
        "issuing_authority": demand.issuing_authority,
        "emergency": demand.emergency,
        "justification": demand.justification,
        "customers": [{"id": c.id, "name": c.name, "enterprise": c.enterprise} for c in customers_of(demand)],
        "targets": [t.identifier for t in demand.targets],
        "requested": [i.as_dict() for i in demand.items_of("requested")],
        "scope": [i.as_dict() for i in demand.items_of("scope")],
        "production": production,
        "preserved": [i.as_dict() for i in demand.items_of("preserved")],
        "hold": None if hold is None else {
            "starts_at": iso(hold.starts_at),
            "ends_at": iso(hold.ends_at),
            "extended_at": iso(hold.extended_at),
        },
        "documents": [{"id": d.id, "name": d.filename, "sha256": d.sha256, "bytes": d.bytes}
                      for d in demand.documents],
        "gag": None if gag is None else {
            "order_ref": gag.order_ref,
            "issued_by": gag.issued_by,
            "issued_at": gag.issued_at.isoformat() if gag.issued_at else None,
            "expires_at": iso(gag.expires_at),
            "lifted_at": iso(gag.lifted_at),
            "active": gag.active_at(now),
        },
        "due_at": iso(demand.due_at),
        "overdue": overdue,
        "due_soon": due_soon,
        "assignee": demand.assignee.email if demand.assignee else None,
        "notes": demand.notes,
        "created_at": iso(demand.created_at),
        "closed_at": iso(demand.closed_at),
    }


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


DEMAND_LOAD = (
    selectinload(Demand.targets).joinedload(DemandTarget.customer),
    selectinload(Demand.items),
    selectinload(Demand.documents),
    selectinload(Demand.production_files),
    selectinload(Demand.gags),
)


def get_demand(session: Session, demand_id: int, *, for_update: bool = False) -> Demand:
    stmt = select(Demand).where(Demand.id == demand_id).options(*DEMAND_LOAD)
    if for_update:
        stmt = stmt.with_for_update(of=Demand)
    demand = session.scalar(stmt)
    if demand is None:
        raise NotFound(f"There is no demand {demand_id}.")
    return demand


# ---------------------------------------------------------------- the case list


@dataclass
class DemandFilters:
    status: str | None = None
    country: str | None = None
    process_type: str | None = None
    customer: int | None = None
    overdue: bool = False
    q: str | None = None
    sort: str = "-received_at"
    page: int = 1
    per_page: int = 50


SORTS = {
    "received_at": Demand.received_at,
    "due_at": Demand.due_at,
    "reference": Demand.reference,
    "status": Demand.status,
    "country": Demand.country,
}


MAX_PAGE = 1_000_000  # beyond any real list; keeps OFFSET inside what the databases take


def parse_filters(args: Any, *, max_per_page: int = 200, process_types: Any = None) -> DemandFilters:
    """Filters from query arguments; bad values are a 422 naming the parameter.

    ``process_types``: the known codes (from the rule table); an unknown one is a 422."""
    errors = FieldErrors()
    f = DemandFilters()
    status = args.get("status") or None
    if status and status not in STATES and status != "open":
        errors.add("status", "is not a known status")
    f.status = status
    country = (args.get("country") or "").strip().upper() or None
    if country:
        parsing.country(errors, country, "country")
    f.country = country
    f.process_type = args.get("process_type") or None
    if f.process_type and process_types is not None and f.process_type not in process_types:
        errors.add("process_type", "is not a known process type")
    customer = args.get("customer") or None
    if customer:
        try:
            f.customer = int(customer)
        except ValueError:
            errors.add("customer", "must be a customer id")
        else:
            if not 0 < f.customer < 2**31:  # beyond any id (INTEGER column): matches nothing
                f.customer = -1
    f.overdue = str(args.get("overdue", "")).lower() in {"1", "true", "yes", "on"}
    f.q = (args.get("q") or "").strip() or None
    sort = args.get("sort") or "-received_at"
    if sort.lstrip("-") not in SORTS:
        errors.add("sort", f"must be one of {', '.join(SORTS)} (prefix - for descending)")
    f.sort = sort
    for key, default, top in (("page", 1, MAX_PAGE), ("per_page", 50, max_per_page)):
        raw = args.get(key)
        if raw in (None, ""):
            setattr(f, key, default)
            continue
        try:
            value = int(raw)
        except (TypeError, ValueError):
            errors.add(key, "must be a whole number")
            continue
        if value < 1 or value > top:
            if key == "per_page":
                errors.add(key, f"must be between 1 and {top}")
            else:
                errors.add(key, "must be at least 1" if value < 1 else f"must be at most {top}")
            continue
        setattr(f, key, value)
    errors.raise_if_any()
    return f


def filtered_query(session: Session, f: DemandFilters, now: datetime | None = None) -> Select:
    now = now or utcnow()
    stmt = select(Demand)
    if f.status == "open":
        stmt = stmt.where(Demand.status.in_(OPEN_STATES))
    elif f.status:
        stmt = stmt.where(Demand.status == f.status)
    if f.country:
        stmt = stmt.where(Demand.country == f.country)
    if f.process_type:
        stmt = stmt.where(Demand.process_type == f.process_type)
    if f.customer:
        stmt = stmt.where(
            exists().where(DemandTarget.demand_id == Demand.id, DemandTarget.customer_id == f.customer)
        )
    if f.overdue:
        stmt = stmt.where(Demand.status.in_(OPEN_STATES), Demand.due_at < now)
    if f.q:
        # Reference, legal reference or target identifier; any part of them, any case
        # (lower() on both sides, so SQLite and PostgreSQL answer alike).
        q = f.q.strip()
        ident = parsing.identifier(q)
        like = f"%{_escape_like(q.lower())}%"
        stmt = stmt.where(
            or_(
                func.lower(Demand.reference).like(like, escape="\\"),
                func.lower(Demand.legal_reference).like(like, escape="\\"),
                exists().where(
                    DemandTarget.demand_id == Demand.id,
                    or_(DemandTarget.identifier == ident,
                        func.lower(DemandTarget.identifier).like(like, escape="\\")),
                ),
            )
        )
    return stmt


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_demands(session: Session, f: DemandFilters, now: datetime | None = None) -> tuple[list[Demand], int]:
    stmt = filtered_query(session, f, now)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    column = SORTS[f.sort.lstrip("-")]
    order = column.desc() if f.sort.startswith("-") else column.asc()
    rows = session.scalars(
        stmt.order_by(order, Demand.id.desc())
        .offset((f.page - 1) * f.per_page)
        .limit(f.per_page)
        .options(*DEMAND_LOAD)  # everything serialize() reads, in a few queries per page
    ).all()
    return list(rows), total or 0
