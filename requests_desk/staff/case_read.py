"""The case page's read: a demand and everything its page shows, from plain rows.

The ORM loader (``services/case.py: get_demand``) builds the demand and its children as
objects with change tracking, in eight statements; the page then read its notices,
assignments, due-date changes, gag histories, break-glass grants, deferrals, audit
events and the users they name in seven more. A page only reads, so it takes the API's
plain read instead (``api/demand_read.py``: the demand's row with its requester,
assignee, hold, verified agency and fraud flag) and one UNION for every child of the
demand and every row of its history, then one statement for the users named: three
statements where there were fifteen. The page's actions still load the ORM demand,
locked, and write through the services.

``PlainDemand`` has the demand's columns as attributes and answers ``items_of``,
``is_open``, ``customers``, ``active_gag`` and ``latest_gag`` with the model's own
functions, so the page's helpers (the actions offered, the panels, the forms) take
either. ``tests/test_case_read.py`` holds it equal to the ORM's on every demand of a demo
desk, and its version equal to the API's ETag.
"""
from __future__ import annotations

from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..api.demand_read import branch, demand_branches, ordered_union, parts_from, read_rows
from ..api.serialize import body, etag_of
from ..db import among
from ..statements import CompiledOnce
from ..models import (
    AccessGrant,
    Assignment,
    AuditEvent,
    Customer,
    Demand,
    DueDateChange,
    Gag,
    GagEvent,
    Notice,
    NoticeDeferral,
    User,
)
from .timeline import user_ids

# The page's own kinds of row, after the demand's children (``demand_branches``).
HISTORY = ("notices", "assignments", "due_changes", "gag_events", "grants", "deferrals", "events")
_COLUMNS = tuple(c.key for c in Demand.__table__.c)


class PlainDemand:
    """A demand as its page reads it (``read_case``): not tracked, never written."""

    items_of = Demand.items_of
    is_open = Demand.is_open
    customers = Demand.customers
    active_gag = Demand.active_gag
    latest_gag = Demand.latest_gag

    def __init__(self, row: Any, **children: Any) -> None:
        for key in _COLUMNS:
            setattr(self, key, getattr(row, key))
        self.__dict__.update(children)


class PlainGag:
    """A gag's row, with its history (``events``) and the model's own rules."""

    active_at = Gag.active_at
    starts_at = Gag.starts_at

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


class PlainUser:
    """A user as a page names them (``label``, as the model's)."""

    __slots__ = ("id", "name", "email")
    label = User.label

    def __init__(self, id: int, name: str | None, email: str) -> None:
        self.id, self.name, self.email = id, name, email


def _history_branches() -> list[Select]:
    """The rows of the demand's history that only its page shows, a branch each."""
    return [
        branch("notices", Notice, ord1=Notice.id, i1=Notice.customer_id, i3=Notice.attempts, s1=Notice.kind,
               s2=Notice.state, s3=Notice.held_by, s4=Notice.last_error, s5=Customer.name, b1=Notice.delayed,
               t1=Notice.sent_at).join(Customer, Customer.id == Notice.customer_id),
        branch("assignments", Assignment, ord1=Assignment.id, i1=Assignment.assignee_id, i3=Assignment.actor_id,
               s1=Assignment.reason, t1=Assignment.at),
        branch("due_changes", DueDateChange, ord1=DueDateChange.id, i3=DueDateChange.actor_id,
               s1=DueDateChange.reason, t1=DueDateChange.at, t2=DueDateChange.old_due_at,
               t3=DueDateChange.new_due_at),
        branch("gag_events", Gag, ord1=GagEvent.id, i1=GagEvent.gag_id, i3=GagEvent.actor_id, s1=GagEvent.kind,
               s2=GagEvent.reason, t1=GagEvent.at, t2=GagEvent.expires_at)
        .join_from(Gag, GagEvent, GagEvent.gag_id == Gag.id),
        branch("grants", AccessGrant, ord1=AccessGrant.id, i1=AccessGrant.user_id, s1=AccessGrant.reason,
               s2=User.name, s3=User.email, t1=AccessGrant.granted_at, t2=AccessGrant.expires_at)
        .join(User, User.id == AccessGrant.user_id),
        branch("deferrals", NoticeDeferral, ord1=NoticeDeferral.id, t1=NoticeDeferral.until),
        branch("events", AuditEvent, ord1=AuditEvent.seq, i1=AuditEvent.actor_id, s1=AuditEvent.action,
               s2=AuditEvent.actor, s3=AuditEvent.before, s4=AuditEvent.after, t1=AuditEvent.at),
    ]


@cache
def _everything() -> CompiledOnce:
    return ordered_union(demand_branches() + _history_branches())


@cache
def _users(dialect: str) -> CompiledOnce:
    return CompiledOnce(select(User.id, User.name, User.email).where(among(User.id, "ids", dialect)))


def _gags(rows: dict[str, list[Any]]) -> list[PlainGag]:
    events: dict[int, list[Any]] = {}
    for e in rows["gag_events"]:
        events.setdefault(e.i1, []).append(SimpleNamespace(kind=e.s1, reason=e.s2, at=e.t1, expires_at=e.t2,
                                                           actor_id=e.i3))
    return [PlainGag(id=g.i1, order_ref=g.s1, issued_by=g.s2, issued_at=g.d1, expires_at=g.t1, lifted_at=g.t2,
                     set_at=g.t3, events=events.get(g.i1, [])) for g in rows["gags"]]


def _documents(rows: dict[str, list[Any]]) -> list[Any]:
    out: dict[int, Any] = {}
    for d in rows["documents"]:
        doc = out.get(d.i1)
        if doc is None:
            doc = out[d.i1] = SimpleNamespace(id=d.i1, filename=d.s1, sha256=d.s2, bytes=d.i2, for_customer_id=d.i3,
                                              uploaded_at=d.t1, recipients=[])
        if d.ord2 is not None:
            doc.recipients.append(SimpleNamespace(customer_id=d.ord2))
    return list(out.values())


def _demand(row: Any, rows: dict[str, list[Any]]) -> PlainDemand:
    customers: dict[int, Any] = {}
    targets = []
    for t in rows["targets"]:
        customer = None
        if t.i1 is not None:
            customer = customers.get(t.i1) or customers.setdefault(
                t.i1, SimpleNamespace(id=t.i1, name=t.s2, enterprise=bool(t.b1)))
        targets.append(SimpleNamespace(identifier=t.s1, customer=customer))
    hold = (SimpleNamespace(starts_at=row.hold_starts_at, ends_at=row.hold_ends_at, extended_at=row.hold_extended_at)
            if row.hold_id is not None and row.outcome == "preserved" else None)
    return PlainDemand(
        row,
        requester=SimpleNamespace(agency=row.r_agency, name=row.r_name, email=row.r_email, phone=row.r_phone,
                                  type=row.r_type),
        assignee=None if row.assignee_id is None else PlainUser(row.assignee_id, row.assignee_name,
                                                                row.assignee_email),
        targets=targets,
        items=[SimpleNamespace(kind=i.s1, target=i.s2, data_set=i.s3, basis=i.s4, date_from=i.d1, date_to=i.d2)
               for i in rows["items"]],
        documents=_documents(rows),
        production_files=[SimpleNamespace(id=f.i1, name=f.s1, sha256=f.s2, bytes=f.i2, stored_name=f.s3)
                          for f in rows["files"]],
        gags=_gags(rows),
        emergency_checks=[SimpleNamespace(check_code=c.s1, by_id=c.i1, at=c.t1, note=c.s3,
                                          by=None if c.i1 is None else PlainUser(c.i1, c.s4, c.s2))
                          for c in rows["checks"]],
        hold=hold,
        flagged=bool(row.flagged),
    )


class Version:
    """The page's version (the API's ETag of the demand as read), worked out the first time
    a form writes it: a page with no form on it (a closed demand, a reader's role) does
    not hash the demand's JSON."""

    __slots__ = ("_make", "_text")

    def __init__(self, make: Any) -> None:
        self._make, self._text = make, None

    def __str__(self) -> str:
        if self._text is None:
            self._text = self._make()
        return self._text


class CaseRead(SimpleNamespace):
    """``read_case``'s answer: ``demand`` (a ``PlainDemand``), ``version`` (the API's ETag
    of it, as text when asked: ``Version``), ``agency`` (a portal demand's verified agency, or None), ``notices``,
    ``assignments`` and ``due_changes`` (in the page's order), ``grants`` (newest first),
    ``deferral`` (the latest, or None), ``events`` (the audit trail, oldest first) and
    ``users`` (by id: everyone these name)."""


def read_case(session: Session, demand_id: int, hidden: tuple[str, ...], now: datetime) -> CaseRead | None:
    """Demand ``demand_id`` and its page's rows, or None when there is none a viewer
    lacking the compartments ``hidden`` may know of."""
    read = read_rows(session.connection(), _everything(), demand_id, hidden, now)
    if read is None:
        return None
    row, rows = read
    for kind in HISTORY:
        rows.setdefault(kind, [])
    demand = _demand(row, rows)
    events = [SimpleNamespace(at=e.t1, actor_id=e.i1, actor=e.s2, action=e.s1, before=e.s3, after=e.s4)
              for e in rows["events"]]
    assignments = sorted((SimpleNamespace(id=a.ord1, at=a.t1, assignee_id=a.i1, actor_id=a.i3, reason=a.s1)
                          for a in rows["assignments"]), key=lambda a: (a.at, a.id))
    due_changes = sorted((SimpleNamespace(id=c.ord1, at=c.t1, old_due_at=c.t2, new_due_at=c.t3, actor_id=c.i3,
                                          reason=c.s1) for c in rows["due_changes"]), key=lambda c: (c.at, c.id))
    ids = user_ids(events)
    ids |= {a.assignee_id for a in assignments} | {a.actor_id for a in assignments if a.actor_id}
    ids |= {c.actor_id for c in due_changes if c.actor_id}
    ids |= {e.actor_id for gag in demand.gags for e in gag.events if e.actor_id}
    ids |= {i for i in (demand.created_by_id, demand.proposed_by_id, demand.approved_by_id,
                        demand.notices_released_by_id, demand.checks_override_by_id) if i}
    connection = session.connection()
    users = {u.id: PlainUser(u.id, u.name, u.email)
             for u in (_users(connection.dialect.name).run(connection, {"ids": sorted(ids)}) if ids else ())}
    grants = sorted((SimpleNamespace(id=g.ord1, user_id=g.i1, reason=g.s1, granted_at=g.t1, expires_at=g.t2,
                                     user=PlainUser(g.i1, g.s2, g.s3)) for g in rows["grants"]),
                    key=lambda g: (g.granted_at, g.id), reverse=True)
    deferral = rows["deferrals"][-1] if rows["deferrals"] else None
    return CaseRead(
        demand=demand, version=Version(lambda: etag_of(body(parts_from(row, rows), now))),
        agency=None if row.a_name is None else {
            "name": row.a_name, "domain": row.a_domain, "country": row.a_country,
            "suspended": row.a_suspended_at is not None, "suspended_at": row.a_suspended_at,
            "suspension_reason": row.a_suspension_reason, "agency_as_typed": row.a_as_typed,
            "email": row.a_email, "confirmed_at": row.a_confirmed_at},
        notices=[SimpleNamespace(customer_id=n.i1, customer=SimpleNamespace(id=n.i1, name=n.s5), kind=n.s1,
                                 state=n.s2, held_by=n.s3, last_error=n.s4, attempts=n.i3, delayed=bool(n.b1),
                                 sent_at=n.t1) for n in rows["notices"]],
        assignments=assignments, due_changes=due_changes, grants=grants,
        deferral=None if deferral is None else SimpleNamespace(until=deferral.t1),
        events=events, users=users,
    )
