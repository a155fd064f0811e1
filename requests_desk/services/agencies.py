"""Verified agencies (SPEC §9): the official e-mail domains whose officers may register
on the requester portal, sign in and submit demands, each with its agency's name and
country. Loaded from a CSV file (``desk agencies load``) or kept on the admin page;
every change is audited. A suspended domain's requesters can no longer sign in or
submit (``agency_refusal``), and an open session of theirs stops working."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import access, audit
from ..db import utcnow
from ..errors import FieldErrors, NotFound, ValidationError
from ..models import Agency, RequesterAccount, User
from . import parsing

COLUMNS = ("domain", "agency", "country")
MAX_DOMAIN = 253
MAX_ROWS = 10000
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def snapshot(agency: Agency) -> dict:
    return {
        "domain": agency.domain,
        "name": agency.name,
        "country": agency.country,
        "suspended_at": agency.suspended_at.isoformat() if agency.suspended_at else None,
        "suspension_reason": agency.suspension_reason,
    }


def domain_problem(domain: str) -> str | None:
    """What is wrong with a domain as the list keeps it (lower case, no '@'), or None."""
    if not domain:
        return "is required"
    if len(domain) > MAX_DOMAIN:
        return f"must be at most {MAX_DOMAIN} characters"
    if "@" in domain:
        return "is a domain without '@' (police.example.gov, not officer@police.example.gov)"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return "is not a domain name (letters, digits and hyphens, with at least one dot)"
    return None


def clean_domain(errors: FieldErrors, value: Any, path: str) -> str | None:
    if value is not None and not isinstance(value, str):
        errors.add(path, "must be text")
        return None
    domain = (value or "").strip().lower().rstrip(".")
    problem = parsing.hygiene_problem(domain) or domain_problem(domain)
    if problem:
        errors.add(path, problem)
        return None
    return domain


@dataclass(frozen=True)
class AgencyInput:
    domain: str
    name: str
    country: str


def parse_agency(errors: FieldErrors, data: dict, prefix: str = "", *, domain: bool = True) -> AgencyInput | None:
    """One agency's fields (``domain``, ``agency``, ``country``); errors keyed ``prefix + field``."""
    clean = clean_domain(errors, data.get("domain"), prefix + "domain") if domain else ""
    name = parsing.text(errors, data, "agency", prefix + "agency", max_len=parsing.MAX_NAME)
    country = parsing.country(errors, data.get("country"), prefix + "country")
    if (domain and clean is None) or name is None or country is None:
        return None
    return AgencyInput(clean or "", name.strip(), country)


def parse_csv(text: str) -> list[AgencyInput]:
    """Every row of an agencies CSV checked first: one 422 naming each problem by row
    (the header is row 1) and column; duplicate domains in the file are refused."""
    text = text.lstrip("\ufeff")  # a spreadsheet's byte-order mark
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ValidationError({"row 1": [f"the header must name the columns {', '.join(COLUMNS)} "
                                         f"(missing: {', '.join(missing)})"]})
    reader.fieldnames = header
    errors = FieldErrors()
    rows: list[AgencyInput] = []
    first_row: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            errors.add(f"row {number}", f"the file has more than {MAX_ROWS} rows")
            break
        if not any((v or "").strip() for k, v in raw.items() if k is not None):
            continue  # an empty line
        if raw.get(None):
            errors.add(f"row {number}", "has more cells than the header has columns")
        row = parse_agency(errors, {c: raw.get(c) for c in COLUMNS}, f"row {number}, ")
        if row is None:
            continue
        if row.domain in first_row:
            errors.add(f"row {number}, domain", f"{row.domain} is also on row {first_row[row.domain]}")
            continue
        first_row[row.domain] = number
        rows.append(row)
    if not rows and not errors:
        errors.add("row 2", "the file lists no agency")
    errors.raise_if_any()
    return rows


@dataclass
class LoadResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def load_agencies(session: Session, actor: User | None, rows: Iterable[AgencyInput],
                  now: datetime | None = None) -> LoadResult:
    """Add the new domains and update the name and country of the known ones (a
    suspension stays as it is); one audit event per change."""
    if actor is not None:
        access.require(actor, "agency.manage", "manage verified agencies")
    now = now or utcnow()
    result = LoadResult()
    known = {a.domain: a for a in session.scalars(select(Agency))}
    for row in rows:
        agency = known.get(row.domain)
        if agency is None:
            agency = Agency(domain=row.domain, name=row.name, country=row.country, created_at=now, updated_at=now)
            session.add(agency)
            session.flush()
            audit.record(session, actor, "agency.create", "agency", agency.id, None, snapshot(agency), at=now)
            known[row.domain] = agency
            result.added += 1
        elif (agency.name, agency.country) != (row.name, row.country):
            before = snapshot(agency)
            agency.name, agency.country, agency.updated_at = row.name, row.country, now
            session.flush()
            audit.record(session, actor, "agency.update", "agency", agency.id, before, snapshot(agency), at=now)
            result.updated += 1
        else:
            result.unchanged += 1
    return result


def create_agency(session: Session, actor: User | None, data: dict) -> Agency:
    errors = FieldErrors()
    row = parse_agency(errors, data)
    if row is not None and session.scalar(select(Agency.id).where(Agency.domain == row.domain)) is not None:
        errors.add("domain", f"{row.domain} is listed already")
    errors.raise_if_any()
    load_agencies(session, actor, [row])
    return session.scalar(select(Agency).where(Agency.domain == row.domain))


def update_agency(session: Session, actor: User | None, agency: Agency, data: dict) -> Agency:
    """A new name or country; the domain is the agency's key and stays (list another
    domain and suspend this one to move an agency)."""
    errors = FieldErrors()
    row = parse_agency(errors, data, domain=False)
    errors.raise_if_any()
    load_agencies(session, actor, [AgencyInput(agency.domain, row.name, row.country)])
    return agency


def suspend(session: Session, actor: User | None, agency: Agency, reason: Any, now: datetime | None = None) -> Agency:
    """Suspend a domain: its requesters can no longer sign in or submit, at once."""
    if actor is not None:
        access.require(actor, "agency.manage", "suspend verified agencies")
    errors = FieldErrors()
    text = parsing.text(errors, {"reason": reason}, "reason", "reason", max_len=parsing.MAX_REASON)
    errors.raise_if_any()
    if agency.suspended:
        raise ValidationError({"reason": [f"{agency.domain} is suspended already"]})
    before = snapshot(agency)
    agency.suspended_at = agency.updated_at = now or utcnow()
    agency.suspended_by_id = actor.id if actor is not None else None
    agency.suspension_reason = text
    session.flush()
    audit.record(session, actor, "agency.suspend", "agency", agency.id, before, snapshot(agency))
    return agency


def unsuspend(session: Session, actor: User | None, agency: Agency, now: datetime | None = None) -> Agency:
    if actor is not None:
        access.require(actor, "agency.manage", "unsuspend verified agencies")
    if not agency.suspended:
        raise ValidationError({"": [f"{agency.domain} is not suspended"]})
    before = snapshot(agency)
    agency.suspended_at = agency.suspended_by_id = agency.suspension_reason = None
    agency.updated_at = now or utcnow()
    session.flush()
    audit.record(session, actor, "agency.unsuspend", "agency", agency.id, before, snapshot(agency))
    return agency


def get_agency(session: Session, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise NotFound(f"There is no agency {agency_id}.")
    return agency


def all_agencies(session: Session) -> list[Agency]:
    return list(session.scalars(select(Agency).order_by(Agency.name, Agency.domain)))


def requester_counts(session: Session) -> dict[int, int]:
    return dict(session.execute(select(RequesterAccount.agency_id, func.count())
                                .group_by(RequesterAccount.agency_id)).all())


def agency_for_email(session: Session, email: str) -> Agency | None:
    """The listed agency of an address's domain (exactly the part after '@'), or None."""
    domain = (email or "").rpartition("@")[2].strip().lower()
    if not domain:
        return None
    return session.scalar(select(Agency).where(Agency.domain == domain))
