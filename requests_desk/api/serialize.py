"""The API's shape of a demand (its JSON), and its version (the ETag)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import object_session

from ..db import iso, utcnow
from ..models import Demand, User
from ..models.demands import item_as_dict
from ..services.case import due_flags, preservation_hold
from ..services.document_marks import destinations
from ..services.emergency_checks import missing_of, required
from ..services.fraud_flags import is_flagged
from ..services.requester_accounts import verified_agency


@dataclass(slots=True)
class Parts:
    """Everything the API's demand shows, read from the ORM (``parts_of``) or from plain
    rows (``api/demand_read.py``); ``body`` turns either into the same JSON."""

    demand: Any  # the demand's own columns, as attributes (a Demand, or a Row)
    requester: Any  # agency, name, email, phone, type
    customers: list[tuple[int, str, bool]]  # distinct, in target order
    targets: list[str]
    items: list[Any]  # kind, target, data_set, date_from, date_to, basis; by id
    files: list[Any]  # production files: name, sha256, bytes
    hold: Any | None  # a preserved demand's hold: starts_at, ends_at, extended_at
    documents: list[tuple[Any, list[int]]]  # each document, and the customers it goes to
    gag: Any | None  # the one to show (``Demand.latest_gag``)
    gag_active: bool
    assignee: str | None  # e-mail
    verified_agency: dict | None
    flagged: bool
    checks: list[tuple[str, str | None, datetime, str]]  # (code, by e-mail, at, note)
    override_by: str | None  # e-mail


def serialize(demand: Demand, now: datetime | None = None, *, flagged: bool | None = None) -> dict:
    """The API's demand (SPEC §6). ``flagged``: whether its requester's address or domain
    is flagged as fraudulent, when the caller knows (a list asks once for a page)."""
    now = now or utcnow()
    return body(parts_of(demand, now, flagged), now)


def parts_of(demand: Demand, now: datetime, flagged: bool | None = None) -> Parts:
    session = object_session(demand)
    gag = demand.latest_gag(now)
    goes_to = destinations(session, demand)
    return Parts(
        demand=demand, requester=demand.requester,
        customers=[(c.id, c.name, c.enterprise) for c in demand.customers],
        targets=[t.identifier for t in demand.targets], items=demand.items, files=demand.production_files,
        hold=preservation_hold(demand),
        documents=[(d, [c.id for c in goes_to[d.id]]) for d in demand.documents],
        gag=gag, gag_active=gag is not None and gag.active_at(now),
        assignee=demand.assignee.email if demand.assignee else None,
        verified_agency=_verified_agency(session, demand.requester_account_id),
        flagged=is_flagged(session, demand) if flagged is None else flagged,
        checks=[(c.check_code, c.by.email if c.by else None, c.at, c.note) for c in demand.emergency_checks],
        override_by=_email(session, demand.checks_override_by_id),
    )


def body(p: Parts, now: datetime) -> dict:
    """The API's JSON of a demand from its parts."""
    demand, gag, hold = p.demand, p.gag, p.hold
    overdue, due_soon = due_flags(demand.status, demand.due_at, now)

    def items_of(kind: str) -> list[dict]:
        return [item_as_dict(i) for i in p.items if i.kind == kind]

    production = None
    if items_of("production") or p.files:
        production = {
            "items": items_of("production"),
            "files": [{"name": f.name, "sha256": f.sha256, "bytes": f.bytes} for f in p.files],
        }
    return {
        "id": demand.id,
        "reference": demand.reference,
        "status": demand.status,
        "outcome": demand.outcome,
        "received_at": iso(demand.received_at),
        "channel": demand.channel,
        "requester": {
            "agency": p.requester.agency,
            "name": p.requester.name,
            "email": p.requester.email,
            "phone": p.requester.phone,
            "type": p.requester.type,
        },
        "country": demand.country,
        "process_type": demand.process_type,
        "legal_reference": demand.legal_reference,
        "issuing_authority": demand.issuing_authority,
        "emergency": demand.emergency,
        "justification": demand.justification,
        "customers": [{"id": i, "name": name, "enterprise": enterprise} for i, name, enterprise in p.customers],
        "targets": p.targets,
        "requested": items_of("requested"),
        "scope": items_of("scope"),
        "production": production,
        "preserved": items_of("preserved"),
        "hold": None if hold is None else {
            "starts_at": iso(hold.starts_at),
            "ends_at": iso(hold.ends_at),
            "extended_at": iso(hold.extended_at),
        },
        # Per document: a redacted copy's customer, and the customers it goes to.
        "documents": [{"id": d.id, "name": d.filename, "sha256": d.sha256, "bytes": d.bytes,
                       "for_customer_id": d.for_customer_id, "customers": to}
                      for d, to in p.documents],
        "gag": None if gag is None else {
            "order_ref": gag.order_ref,
            "issued_by": gag.issued_by,
            "issued_at": gag.issued_at.isoformat() if gag.issued_at else None,
            "expires_at": iso(gag.expires_at),
            "lifted_at": iso(gag.lifted_at),
            "active": p.gag_active,
        },
        "due_at": iso(demand.due_at),
        "overdue": overdue,
        "due_soon": due_soon,
        "assignee": p.assignee,
        "notices_released_at": iso(demand.notices_released_at),
        # A demand submitted through the requester portal: the account's verified agency.
        "verified_agency": p.verified_agency,
        # Emergency verification (SPEC §9): the checks recorded, and what a scope still needs.
        "flagged": p.flagged,
        "checks_required": required(demand.emergency, p.flagged),
        "checks": [{"check": code, "by": by, "at": iso(at), "note": note} for code, by, at, note in p.checks],
        "checks_missing": missing_of([code for code, *_ in p.checks]),
        "checks_override": None if not demand.checks_override_reason else {
            "reason": demand.checks_override_reason,
            "by": p.override_by,
            "at": iso(demand.checks_override_at),
        },
        "notes": demand.notes,
        "created_at": iso(demand.created_at),
        "closed_at": iso(demand.closed_at),
        "purged_at": iso(demand.purged_at),
    }


def _verified_agency(session, account_id: int | None) -> dict | None:
    found = verified_agency(session, account_id)
    if found is None:
        return None
    return {"name": found["name"], "domain": found["domain"], "country": found["country"],
            "suspended": found["suspended"], "submitted_by": found["email"]}


def _email(session, user_id: int | None) -> str | None:
    user = session.get(User, user_id) if user_id else None  # the identity map first
    return user.email if user else None


# What moves with the clock alone, not with a change to the demand.
CLOCK_FIELDS = ("overdue", "due_soon")


def etag_of(body: dict) -> str:
    """The version of a demand as ``serialize`` shows it: a strong ETag over everything
    but the clock's flags, so any change anyone makes to the demand changes it."""
    return json_and_etag(body)[1]


def json_and_etag(body: dict) -> tuple[str, str]:
    """The demand's JSON as the API sends it, and its ETag, from one encoding: the text
    is the canonical JSON (sorted keys, no spaces) of everything but the clock's flags,
    which the ETag hashes, with the flags added at its end."""
    stable = {k: v for k, v in body.items() if k not in CLOCK_FIELDS}
    text = json.dumps(stable, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).hexdigest()
    clock = ",".join(f'"{k}":{json.dumps(body[k])}' for k in CLOCK_FIELDS if k in body)
    if clock:
        text = f"{text[:-1]}{',' if len(text) > 2 else ''}{clock}}}"
    return text, f'"{digest[:32]}"'


def demand_etag(demand: Demand, now: datetime | None = None) -> str:
    return etag_of(serialize(demand, now))
