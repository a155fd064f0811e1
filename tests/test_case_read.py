"""The case page reads plain rows (staff/case_read.py), not ORM objects (issue 15). What it
reads must be what the ORM loads: here, for every demand of a demo desk, every attribute
the page, its panels and its forms read, the page's history (notices, assignments,
due-date changes, gag histories, grants, deferrals, audit events, the users they name)
and the page's version (the API's ETag), on SQLite and PostgreSQL."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from requests_desk import audit
from requests_desk.access import SYSTEM
from requests_desk.api.serialize import demand_etag
from requests_desk.db import utcnow
from requests_desk.demo import load_demo
from requests_desk.models import (
    AccessGrant,
    Assignment,
    Demand,
    DueDateChange,
    Notice,
    NoticeDeferral,
    User,
)
from requests_desk.services import fraud_flags
from requests_desk.services.case import get_demand, preservation_hold
from requests_desk.services.requester_accounts import verified_agency
from requests_desk.staff.case_read import read_case
from requests_desk.staff.timeline import user_ids

from .factories import make_user
from .test_api_plain_read import NS, _what_the_demo_lacks


def _user(u) -> tuple | None:
    return None if u is None else (u.id, u.label, u.email)


def page_demand(d, now) -> dict:
    """What the page reads of a demand (an ORM Demand or a PlainDemand)."""
    return {
        "columns": {c.key: getattr(d, c.key) for c in Demand.__table__.c},
        "requester": (d.requester.agency, d.requester.name, d.requester.email, d.requester.phone, d.requester.type),
        "assignee": _user(d.assignee),
        "targets": [(t.identifier, t.customer and (t.customer.id, t.customer.name, t.customer.enterprise))
                    for t in d.targets],
        "items": {kind: [(i.target, i.data_set, i.basis, i.date_from, i.date_to) for i in d.items_of(kind)]
                  for kind in ("requested", "scope", "production", "preserved")},
        "documents": [(x.id, x.filename, x.sha256, x.bytes, x.for_customer_id, x.uploaded_at,
                       sorted(r.customer_id for r in x.recipients)) for x in d.documents],
        "files": [(f.id, f.name, f.sha256, f.bytes, f.stored_name) for f in d.production_files],
        "gags": [(g.id, g.order_ref, g.issued_by, g.issued_at, g.expires_at, g.lifted_at, g.starts_at, g.active_at(now),
                  [(e.kind, e.reason, e.at, e.expires_at, e.actor_id) for e in g.events]) for g in d.gags],
        "active gag": d.active_gag(now) and d.active_gag(now).id,
        "latest gag": d.latest_gag(now) and d.latest_gag(now).id,
        "checks": [(c.check_code, c.by_id, c.at, c.note, _user(c.by)) for c in d.emergency_checks],
        "customers": [(c.id, c.name, c.enterprise) for c in d.customers],
        "is_open": d.is_open,
        "hold": (lambda h: h and (h.starts_at, h.ends_at, h.extended_at))(preservation_hold(d)),
    }


def orm_history(session, demand: Demand) -> dict:
    """The page's history as the ORM reads it."""
    by = {"demand_id": demand.id}
    events = audit.events_for_demand(session, demand.id)
    deferral = session.scalars(select(NoticeDeferral).filter_by(**by).order_by(NoticeDeferral.id.desc())).first()
    return {
        "notices": [(n.customer_id, n.customer.name, n.kind, n.state, n.held_by, n.last_error, n.attempts, n.delayed,
                     n.sent_at) for n in session.scalars(select(Notice).filter_by(**by).order_by(Notice.id))],
        "assignments": [(a.at, a.assignee_id, a.actor_id, a.reason) for a in session.scalars(
            select(Assignment).filter_by(**by).order_by(Assignment.at, Assignment.id))],
        "due changes": [(c.at, c.old_due_at, c.new_due_at, c.actor_id, c.reason) for c in session.scalars(
            select(DueDateChange).filter_by(**by).order_by(DueDateChange.at, DueDateChange.id))],
        "grants": [(g.id, g.user_id, g.reason, g.granted_at, g.expires_at, _user(g.user)) for g in session.scalars(
            select(AccessGrant).filter_by(**by).order_by(AccessGrant.granted_at.desc(), AccessGrant.id.desc()))],
        "deferral": deferral and deferral.until,
        "events": [(e.at, e.actor_id, e.actor, e.action, e.before, e.after) for e in events],
    }


def plain_history(read) -> dict:
    return {
        "notices": [(n.customer_id, n.customer.name, n.kind, n.state, n.held_by, n.last_error, n.attempts, n.delayed,
                     n.sent_at) for n in read.notices],
        "assignments": [(a.at, a.assignee_id, a.actor_id, a.reason) for a in read.assignments],
        "due changes": [(c.at, c.old_due_at, c.new_due_at, c.actor_id, c.reason) for c in read.due_changes],
        "grants": [(g.id, g.user_id, g.reason, g.granted_at, g.expires_at, _user(g.user)) for g in read.grants],
        "deferral": read.deferral and read.deferral.until,
        "events": [(e.at, e.actor_id, e.actor, e.action, e.before, e.after) for e in read.events],
    }


def _history_the_demo_lacks(session, now) -> None:
    """A break-glass grant, an assignment, a due-date change and a deferral, on demo demands."""
    demands = list(session.scalars(select(Demand).where(Demand.process_type != "national_security")
                                   .order_by(Demand.id.desc()).limit(4)))
    admin = session.scalars(select(User).order_by(User.id)).first()
    session.add_all([
        AccessGrant(demand_id=demands[0].id, user_id=admin.id, reason="needs the files for a call",
                    granted_at=now - timedelta(hours=1), expires_at=now + timedelta(hours=3)),
        AccessGrant(demand_id=demands[0].id, user_id=admin.id, reason="an earlier grant, long expired",
                    granted_at=now - timedelta(days=3), expires_at=now - timedelta(days=2)),
        Assignment(demand_id=demands[1].id, assignee_id=admin.id, actor_id=None, reason="cover", at=now),
        DueDateChange(demand_id=demands[1].id, old_due_at=now, new_due_at=now + timedelta(days=2),
                      actor_id=admin.id, reason="the agency agreed", at=now),
        NoticeDeferral(demand_id=demands[2].id, until=now + timedelta(days=1), reason="first", actor_id=admin.id,
                       at=now - timedelta(minutes=5)),
        NoticeDeferral(demand_id=demands[2].id, until=now + timedelta(days=9), reason="the latest decides",
                       actor_id=admin.id, at=now),
    ])
    # An assignment told only by its audit event (its row gone): its assignee is named in
    # the event's JSON alone, and the page still names them.
    other = make_user(session, "counsel", email="named-in-json@desk.example")
    audit.record(session, admin, "assign", "demand", demands[3].id, {"assignee_id": None},
                 {"assignee_id": other.id}, demand_id=demands[3].id)
    session.commit()


def test_the_case_page_reads_what_the_orm_loads_for_every_demo_demand(app, session):
    load_demo(app, 300, seed=5)
    now = utcnow()
    _what_the_demo_lacks(session, now)
    _history_the_demo_lacks(session, now)
    session.expunge_all()
    seen: Counter[str] = Counter()
    for demand_id in list(session.scalars(select(Demand.id).order_by(Demand.id))):
        orm = get_demand(session, demand_id, viewer=SYSTEM)
        read = read_case(session, demand_id, (), now)
        assert page_demand(read.demand, now) == page_demand(orm, now), demand_id
        history = orm_history(session, orm)
        assert plain_history(read) == history, demand_id
        assert str(read.version) == demand_etag(orm, now), demand_id
        assert read.demand.flagged == fraud_flags.is_flagged(session, orm), demand_id
        assert read.agency == verified_agency(session, orm.requester_account_id), demand_id
        named = set(read.users)
        assert {u.id: _user(u) for u in session.scalars(select(User).where(User.id.in_(named or {0})))} == \
            {i: _user(u) for i, u in read.users.items()}
        assert user_ids(read.events) <= named, demand_id
        assert (read_case(session, demand_id, NS, now) is None) == (orm.process_type == "national_security")
        seen.update(name for name, rows in history.items() if rows)
        seen.update(name for name, present in {
            "gag events": any(g.events for g in orm.gags), "documents": bool(orm.documents),
            "marks": any(x.recipients for x in orm.documents), "checks": bool(orm.emergency_checks),
            "hold": preservation_hold(orm) is not None, "portal": read.agency is not None,
            "flagged": read.demand.flagged, "files": bool(orm.production_files)}.items() if present)
        session.expunge_all()
    wanted = {"notices", "assignments", "due changes", "grants", "deferral", "events", "gag events", "documents",
              "marks", "checks", "hold", "portal", "flagged", "files"}
    assert wanted <= set(seen), f"the demo desk lacks {wanted - set(seen)}: {dict(seen)}"
    assert read_case(session, 10**9, (), now) is None  # no such demand
