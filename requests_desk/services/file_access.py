"""Who may open a demand's files (SPEC §7): least standing access, and break-glass.

A demand's legal-process documents and kept production files open without more only
for the people its work needs now:

- its assignee;
- the counsel who proposed its current scope;
- an approver, while the scope awaits approval (status ``scoped``);
- the intake user who logged it, for 24 hours after logging it (``created_at``). The
  logger must hold the intake role: a counsel who logs a demand gets no 24 hours (they
  are its assignee, or propose its scope, when the work is theirs).

Anyone else on the desk, admins included, may break the glass: a reason of at least
10 characters grants that user that demand's files for ``DESK_BREAK_GLASS_HOURS``.
The grant and every download are audit events (``access.granted``,
``document.viewed``). Need to know comes first: a demand in a compartment
(``access.COMPARTMENTS``) is a 404 to users without its role, grant or no grant.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from .. import access, audit
from ..db import iso, utcnow
from ..errors import FieldErrors, Forbidden
from ..models import AccessGrant, Demand, User
from . import parsing

INTAKE_WINDOW = timedelta(hours=24)
MIN_REASON = 10
REVIEW_DAYS = 90
FILE_KINDS = ("document", "production_file")


def standing_reason(user: User, demand: Demand, now: datetime) -> str | None:
    """Why ``user`` may open ``demand``'s files without a grant, in words for the page
    ("you are the assignee"), or None."""
    if demand.assignee_id is not None and demand.assignee_id == user.id:
        return "you are the assignee"
    if demand.proposed_by_id is not None and demand.proposed_by_id == user.id and user.has_role("counsel"):
        return "you proposed its current scope"
    if demand.status == "scoped" and user.has_role("approver"):
        return "you are an approver and its scope awaits approval"
    if (demand.created_by_id is not None and demand.created_by_id == user.id and user.has_role("intake")
            and now < demand.created_at + INTAKE_WINDOW):
        return f"you logged it (until {(demand.created_at + INTAKE_WINDOW):%Y-%m-%d %H:%M} UTC)"
    return None


def active_grant(session: Session, user: User, demand: Demand, now: datetime) -> AccessGrant | None:
    """``user``'s unexpired break-glass grant on ``demand`` (the one that lasts longest)."""
    return session.scalars(
        select(AccessGrant)
        .where(AccessGrant.demand_id == demand.id, AccessGrant.user_id == user.id,
               AccessGrant.granted_at <= now, AccessGrant.expires_at > now)
        .order_by(AccessGrant.expires_at.desc(), AccessGrant.id.desc())
        .limit(1)
    ).first()


def active_among(grants: Iterable[AccessGrant], user: User, now: datetime) -> AccessGrant | None:
    """``active_grant`` over grants already read (the case page reads them all): the
    same grant, without SQL. Change both or neither."""
    mine = [g for g in grants if g.user_id == user.id and g.granted_at <= now < g.expires_at]
    return max(mine, key=lambda g: (g.expires_at, g.id), default=None)


def has_access(session: Session, user: User | None, demand: Demand, now: datetime) -> bool:
    """May ``user`` open ``demand``'s files now: standing access or an unexpired grant
    (and the demand's compartment, if any, first)."""
    if user is None or not user.is_staff or not access.may_see(user, demand.process_type):
        return False
    return standing_reason(user, demand, now) is not None or active_grant(session, user, demand, now) is not None


def parse_reason(value: Any) -> str:
    """The reason for breaking the glass: text, trimmed, 10 to 5,000 characters, no
    control characters but tab and line breaks; else one 422 naming ``reason``."""
    errors = FieldErrors()
    reason = parsing.text(errors, {"reason": value}, "reason", "reason", max_len=parsing.MAX_REASON)
    if reason is not None and len(reason) < MIN_REASON:
        errors.add("reason", f"must be at least {MIN_REASON} characters: say why you need this demand's files")
    errors.raise_if_any()
    assert reason is not None
    return reason


def break_glass(session: Session, actor: User, demand: Demand, reason: Any, now: datetime, *,
                hours: int) -> AccessGrant:
    """Grant ``actor`` ``demand``'s files for ``hours`` (the caller passes
    ``DESK_BREAK_GLASS_HOURS``), recording why. Audited as ``access.granted``."""
    access.require(actor, "access.break-glass", "break the glass")
    text = parse_reason(reason)
    grant = AccessGrant(demand_id=demand.id, user_id=actor.id, reason=text, granted_at=now,
                        expires_at=now + timedelta(hours=hours))
    session.add(grant)
    session.flush()
    audit.record(session, actor, "access.granted", "access_grant", grant.id, None,
                 {"reason": text, "granted_at": iso(grant.granted_at), "expires_at": iso(grant.expires_at)},
                 demand_id=demand.id, at=now)
    return grant


def record_view(session: Session, actor: User, demand: Demand, kind: str, file: Any,
                now: datetime | None = None) -> None:
    """Audit one download of a file of ``demand`` (``kind``: document or production_file).
    Refuses (403) a user without access: the caller checks first to offer break-glass."""
    if kind not in FILE_KINDS:
        raise ValueError(f"unknown kind of file: {kind}")
    if not has_access(session, actor, demand, now or utcnow()):
        raise Forbidden("You have no access to this demand's files.")
    name = file.filename if kind == "document" else file.name
    audit.record(session, actor, "document.viewed", kind, file.id, None,
                 {"file": kind, "id": file.id, "name": name, "sha256": file.sha256},
                 demand_id=demand.id, at=now)


def review_grants(session: Session, user: User, now: datetime, *, page: int = 1,
                  per_page: int = 50) -> tuple[list[tuple[AccessGrant, Demand]], int]:
    """The grants of the last 90 days for /desk/access, newest first, one page of them
    and the total: every user's for those who may review access (admins), else the
    user's own. Demands of a compartment the user is not in are left out."""
    since = now - timedelta(days=REVIEW_DAYS)
    conditions = [AccessGrant.granted_at >= since]
    if not access.may(user, "access.review"):
        conditions.append(AccessGrant.user_id == user.id)
    hidden = access.hidden_process_types(user)
    if hidden:
        conditions.append(Demand.process_type.not_in(hidden))
    base = select(AccessGrant, Demand).join(Demand, Demand.id == AccessGrant.demand_id).where(*conditions)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(
        base.options(joinedload(AccessGrant.user))
        .order_by(AccessGrant.granted_at.desc(), AccessGrant.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return [(g, d) for g, d in rows], total
