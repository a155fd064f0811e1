"""Fraud flags (SPEC §9): the e-mail address and the domain of a requester whose demand
counsel rejected as fraudulent (``reject-fraudulent``).

Every demand whose requester address or domain carries an active flag shows a warning
badge (case page, case list, queue) and needs all four emergency checks before a scope
is proposed, emergency or not (``services/emergency_checks.py``). The flag is judged
when the demand is looked at, not when it was logged: an open demand logged before the
flag from the same address is flagged too, which is what counsel wants to know.

Counsel lifts a flag with a reason (``/desk/flags``); rejecting another demand from the
same address as fraudulent flags it again. Every change is an audit event (``flag.set``,
``flag.lift``) with its before and after.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterable, Iterator

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from .. import access, audit
from ..kept import kept
from ..db import utcnow
from ..errors import Conflict, FieldErrors, NotFound
from ..models import Demand, FraudFlag, User
from . import parsing


def domain_of(email: str | None) -> str | None:
    """The lower-case part after the last '@' (None for a redacted or odd address)."""
    local, at, domain = (email or "").strip().lower().rpartition("@")
    return domain if at and local and domain else None


def flag_values(email: str | None) -> list[tuple[str, str]]:
    """What flagging this requester address flags: ``[("email", address), ("domain", domain)]``."""
    domain = domain_of(email)
    if domain is None:
        return []
    return [("email", (email or "").strip().lower()), ("domain", domain)]


_MEMO = "fraud_flags.read_once"
# Built once: a reused statement keeps its cache key (every case page asks it).
_ACTIVE_MATCHING = select(FraudFlag).where(
    FraudFlag.lifted_at.is_(None),
    or_(and_(FraudFlag.kind == "email", FraudFlag.value.in_(bindparam("emails", expanding=True))),
        and_(FraudFlag.kind == "domain", FraudFlag.value.in_(bindparam("domains", expanding=True)))),
).order_by(FraudFlag.id)


@contextmanager
def read_once(session: Session) -> Iterator[None]:
    """Inside the block, the same addresses asked about again are answered from the
    first answer, without SQL: for a page that only reads, where several parts ask of
    the same requester (the case page: its checks panel, its version, the scope it
    offers). Nothing in the block may set or lift a flag."""
    if _MEMO in session.info:  # an outer block already remembers
        yield
        return
    session.info[_MEMO] = {}
    try:
        yield
    finally:
        session.info.pop(_MEMO, None)


def known_unflagged(session: Session, email: str | None) -> None:
    """Inside ``read_once``: the caller read in its own statement (``flagged_clause``)
    that no active flag names this address or its domain; ``flags_for`` answers so
    without SQL."""
    memo = session.info.get(_MEMO)
    address = (email or "").strip().lower()
    if memo is not None and domain_of(address):
        memo[frozenset({address})] = ()


def _active_matching(session: Session, emails: set[str]) -> list[FraudFlag]:
    domains = {d for d in (domain_of(e) for e in emails) if d}
    if not domains:
        return []
    memo = session.info.get(_MEMO)
    key = frozenset(emails)
    if memo is not None and key in memo:
        return list(memo[key])
    found = list(session.scalars(_ACTIVE_MATCHING, {"emails": sorted(emails), "domains": sorted(domains)}))
    if memo is not None:
        memo[key] = tuple(found)
    return found


def flagged_clause(email: ColumnElement[str]) -> ColumnElement[bool]:
    """SQL: an active flag names this requester address or its domain (for a list's read
    model: one statement for a page). The domain is compared as the address's tail
    ``'@' || value``, which reads the same on SQLite and PostgreSQL."""
    address = func.lower(email)
    tail = func.substr(address, func.length(address) - func.length(FraudFlag.value))
    return exists().where(
        FraudFlag.lifted_at.is_(None),
        or_(and_(FraudFlag.kind == "email", FraudFlag.value == address),
            and_(FraudFlag.kind == "domain", tail == literal("@") + FraudFlag.value)),
    )


def flags_for(session: Session, email: str | None) -> list[FraudFlag]:
    """The active flags a requester address falls under (its own, its domain's)."""
    address = (email or "").strip().lower()
    return _active_matching(session, {address}) if domain_of(address) else []


def flagged_emails(session: Session, emails: Iterable[str | None]) -> set[str]:
    """Of these requester addresses, the flagged ones (lower case): one query for a
    whole page of a list."""
    wanted = {e.strip().lower() for e in emails if e and domain_of(e)}
    if not wanted:
        return set()
    flags = _active_matching(session, wanted)
    by_email = {f.value for f in flags if f.kind == "email"}
    by_domain = {f.value for f in flags if f.kind == "domain"}
    return {e for e in wanted if flagged_address(e, (by_email, by_domain))}


_ACTIVE_VALUES = select(FraudFlag.kind, FraudFlag.value).where(FraudFlag.lifted_at.is_(None))


def shown_flags(session: Session) -> tuple[frozenset[str], frozenset[str]]:
    """The active flags' addresses and domains, as the lists show them: kept by each
    worker for a few seconds (``kept.py``; a flag set or lifted in this process is seen
    at once). The few flags counsel sets (one per fraudulent sender) are read whole, so
    a page of any number of demands asks nothing more; what decides (the emergency
    checks a scope needs) reads the flags in its own transaction."""
    def read(conn) -> tuple[frozenset[str], frozenset[str]]:
        rows = conn.execute(_ACTIVE_VALUES).all()
        return (frozenset(v for k, v in rows if k == "email"), frozenset(v for k, v in rows if k == "domain"))
    return kept(session, "fraud_flags", FraudFlag, read)


def flagged_address(email: str | None, flags: tuple[frozenset[str], frozenset[str]]) -> bool:
    """Whether these flags (addresses, domains: ``shown_flags``) name this requester
    address or its domain."""
    by_email, by_domain = flags
    if not by_email and not by_domain:
        return False
    address = (email or "").strip().lower()
    domain = domain_of(address)
    return domain is not None and (address in by_email or domain in by_domain)


def flagged_demand_ids(session: Session, demands: Iterable[Any]) -> set[int]:
    """The ids of the flagged demands among ``demands`` (anything with ``id`` and
    ``requester.email``, or ``requester_email``): one query."""
    pairs = []
    for d in demands:
        email = getattr(d, "requester_email", None)
        if email is None and getattr(d, "requester", None) is not None:
            email = d.requester.email
        pairs.append((d.id, (email or "").strip().lower()))
    flagged = flagged_emails(session, (e for _, e in pairs))
    return {demand_id for demand_id, email in pairs if email in flagged}


def is_flagged(session: Session, demand: Demand) -> bool:
    return bool(flags_for(session, demand.requester.email))


def flag_snapshot(flag: FraudFlag) -> dict:
    return {"kind": flag.kind, "value": flag.value, "demand_id": flag.demand_id,
            "flagged_by_id": flag.flagged_by_id, "flagged_at": flag.flagged_at,
            "lifted_at": flag.lifted_at, "lifted_by_id": flag.lifted_by_id, "lift_reason": flag.lift_reason}


def flag_requester(session: Session, actor: User | None, demand: Demand, now: datetime) -> list[FraudFlag]:
    """Flag the requester's address and domain (``reject-fraudulent``): a new flag, or a
    lifted one restored; one already active stays as it is. Returns the flags set."""
    out = []
    for kind, value in flag_values(demand.requester.email):
        flag = session.scalar(select(FraudFlag).where(FraudFlag.kind == kind, FraudFlag.value == value))
        if flag is not None and flag.active:
            continue
        before = None if flag is None else flag_snapshot(flag)
        if flag is None:
            flag = FraudFlag(kind=kind, value=value)
            session.add(flag)
        flag.demand_id = demand.id
        flag.flagged_by_id = actor.id if actor is not None else None
        flag.flagged_at = now
        flag.lifted_at = flag.lifted_by_id = flag.lift_reason = None
        session.flush()
        audit.record(session, actor, "flag.set", "fraud_flag", flag.id, before, flag_snapshot(flag),
                     demand_id=demand.id, at=now)
        out.append(flag)
    return out


def lift_flag(session: Session, actor: User, flag_id: int, data: Any, *,
              now: datetime | None = None) -> FraudFlag:
    """Counsel lifts a flag, with a reason (``{reason}``)."""
    access.require(actor, "flag.lift", "lift a fraud flag")
    now = now or utcnow()
    flag = session.get(FraudFlag, flag_id, with_for_update=True)
    if flag is None:
        raise NotFound(f"There is no flag {flag_id}.")
    errors = FieldErrors()
    data = parsing.mapping(errors, data, "body")
    errors.raise_if_any()
    reason = parsing.text(errors, data, "reason", "reason", max_len=parsing.MAX_REASON)
    errors.raise_if_any()
    if not flag.active:
        raise Conflict(f"The flag on {flag.value} was lifted already ({flag.lifted_at:%Y-%m-%d %H:%M} UTC).")
    before = flag_snapshot(flag)
    flag.lifted_at, flag.lifted_by_id, flag.lift_reason = now, actor.id, reason
    session.flush()
    audit.record(session, actor, "flag.lift", "fraud_flag", flag.id, before, flag_snapshot(flag),
                 demand_id=flag.demand_id, at=now)
    return flag


def list_flags(session: Session) -> list[FraudFlag]:
    """Every flag: active ones first, newest first."""
    return list(session.scalars(
        select(FraudFlag).order_by(FraudFlag.lifted_at.is_not(None), FraudFlag.flagged_at.desc(), FraudFlag.id.desc())
    ))
