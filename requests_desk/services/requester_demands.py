"""A requester's demands (SPEC §9): what it submits through the portal, and the one
door through which the portal reads them back.

A submission is a demand like any other (``intake.log_demand``: the same checks, the
same audit event, the same notices, the staff queue), with channel ``portal``, the
submitting account linked and the requester row filled from the account; the
requester chooses only its type. ``own_demands`` is the only query the portal's pages
start from: another requester's demand is a 404, exactly like one that does not exist."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import NotFound
from ..models import Demand, User, parse_id
from ..notices.mail_outbox import demand_mail
from .case import lock_for_writing
from .intake import log_demand
from .requester_accounts import require_active

CHANNEL = "portal"
# What a requester's form may send besides the requester row (which comes from the account).
FIELDS = ("requester_type", "country", "process_type", "legal_reference", "issuing_authority", "emergency",
          "justification", "targets", "requested", "defer_notices")


def submission_body(session: Session, user: User, form: dict[str, Any], now: datetime) -> dict:
    """The API's demand body for a portal submission: the requester from the account
    (name, agency as registered, e-mail, phone), the rest as the form sent it."""
    account = require_active(session, user)
    body: dict[str, Any] = {
        "requester": {"agency": account.agency_name, "name": user.name, "email": user.email,
                      "phone": account.phone or None, "type": form.get("requester_type")},
        "received_at": now.replace(microsecond=0).isoformat(),
        "channel": CHANNEL,
    }
    body.update({k: v for k, v in form.items() if k in FIELDS and k != "requester_type" and v is not None})
    return body


def submit_demand(session: Session, user: User, form: dict[str, Any], *, now: datetime | None = None) -> Demand:
    """Log a requester's submission (403 when its agency is suspended or its account not
    confirmed): audited as ``demand.log`` by the requester, in the staff queue at once."""
    now = now or utcnow()
    body = submission_body(session, user, form, now)
    demand = log_demand(session, user, body, now=now, permission="demand.submit")
    demand.requester_account_id = user.id
    session.flush()
    demand_mail(session, demand, submitted=True, now=now)
    return demand


def own_demands(user: User) -> Select:
    """SELECT of the demands ``user`` submitted (nothing for anyone else)."""
    if not user.has_role("requester"):
        return select(Demand).where(False)
    return select(Demand).where(Demand.requester_account_id == user.id)


def own_demand(session: Session, user: User, demand_id: Any, *, for_update: bool = False) -> Demand:
    """One of ``user``'s demands, or 404; ``for_update`` serialises a change with staff's
    actions on it (``case.lock_for_writing``, as the desk's loader does)."""
    number = parse_id(demand_id)
    if number is None:
        raise NotFound("There is no such demand.")
    stmt = own_demands(user).where(Demand.id == number)
    if for_update:
        lock_for_writing(session)
        stmt = stmt.with_for_update(of=Demand).execution_options(populate_existing=True)
    demand = session.scalar(stmt)
    if demand is None:
        raise NotFound("There is no such demand.")
    return demand


def own_demand_page(session: Session, user: User, page: int, per_page: int) -> tuple[list[Demand], int]:
    total = session.scalar(select(func.count()).select_from(own_demands(user).subquery())) or 0
    rows = session.scalars(own_demands(user).order_by(Demand.received_at.desc(), Demand.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), total
