"""The API's shape of a demand (its JSON), and its version (the ETag)."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime

from ..db import iso, utcnow
from sqlalchemy.orm import object_session

from ..models import Demand, User
from ..services.case import flags, preservation_hold
from ..services.document_marks import destinations
from ..services.emergency_checks import checks_required, missing_checks
from ..services.fraud_flags import is_flagged
from ..services.requester_accounts import verified_agency


def serialize(demand: Demand, now: datetime | None = None, *, flagged: bool | None = None) -> dict:
    """The API's demand (SPEC §6). ``flagged``: whether its requester's address or domain
    is flagged as fraudulent, when the caller knows (a list asks once for a page)."""
    now = now or utcnow()
    session = object_session(demand)
    if flagged is None:
        flagged = is_flagged(session, demand)
    overdue, due_soon = flags(demand, now)
    gag = demand.latest_gag(now)
    hold = preservation_hold(demand)
    goes_to = destinations(session, demand)
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
        "customers": [{"id": c.id, "name": c.name, "enterprise": c.enterprise} for c in demand.customers],
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
        # Per document: a redacted copy's customer, and the customers it goes to.
        "documents": [{"id": d.id, "name": d.filename, "sha256": d.sha256, "bytes": d.bytes,
                       "for_customer_id": d.for_customer_id, "customers": [c.id for c in goes_to[d.id]]}
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
        "notices_released_at": iso(demand.notices_released_at),
        # A demand submitted through the requester portal: the account's verified agency.
        "verified_agency": _verified_agency(session, demand.requester_account_id),
        # Emergency verification (SPEC §9): the checks recorded, and what a scope still needs.
        "flagged": flagged,
        "checks_required": checks_required(session, demand, flagged=flagged),
        "checks": [{"check": c.check_code, "by": c.by.email if c.by else None, "at": iso(c.at), "note": c.note}
                   for c in demand.emergency_checks],
        "checks_missing": missing_checks(demand),
        "checks_override": None if not demand.checks_override_reason else {
            "reason": demand.checks_override_reason,
            "by": _email(session, demand.checks_override_by_id),
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
    stable = {k: v for k, v in body.items() if k not in CLOCK_FIELDS}
    digest = hashlib.sha256(json.dumps(stable, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f'"{digest[:32]}"'


def demand_etag(demand: Demand, now: datetime | None = None) -> str:
    return etag_of(serialize(demand, now))
