"""The API's case list (``GET /api/v1/demands``): a read model, not the demand loader.

Each demand comes as a list needs it: its own columns, the requester's and the
assignee's, the gag to show, and counts of what it holds (targets, customers, requested
items, scope, documents) with its first few customers, never the targets, items or
documents themselves. A page is five statements whatever it shows (the total, the rows,
the counts with the first customers, the gags, the fraud flags), and its size is bounded by
``per_page`` alone: a demand with 1,000 targets weighs in the list what one with one does.
``GET /api/v1/demands/{id}`` (``serialize.py``) gives everything.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, Select, String, cast, distinct, func, literal, null, select, union_all
from sqlalchemy.orm import Session

from .. import search_terms
from ..access import HasRoles, hidden_process_types
from ..db import iso
from ..models import Customer, Demand, DemandItem, DemandTarget, Document, Gag, Requester, User
from ..services import case_list, fraud_flags
from ..services.case import flags

# The customers a list item names (in the order of their first target); customers_count has them all.
CUSTOMERS_SHOWN = 5
COUNTED = ("targets", "customers", "requested", "scope", "documents")


@dataclass
class ListedDemand:
    """One row of the page: the columns of ``_COLUMNS``, then what ``_fill`` adds."""

    id: int
    reference: str
    status: str
    outcome: str | None
    received_at: datetime
    channel: str
    country: str
    process_type: str
    legal_reference: str
    issuing_authority: str | None
    emergency: bool
    due_at: datetime
    notices_released_at: datetime | None
    created_at: datetime | None
    closed_at: datetime | None
    requester_agency: str
    requester_name: str
    requester_email: str
    requester_phone: str | None
    requester_type: str
    assignee: str | None
    counts: dict[str, int] = field(default_factory=dict)
    customers: list[dict] = field(default_factory=list)
    gags: list[Gag] = field(default_factory=list)  # the active ones and the last, by id

    @property
    def is_open(self) -> bool:
        return self.status != "closed"


# How deep a page may lie and still be walked. PostgreSQL, asked for a walk to row
# 25,000 ("LD-2026", page 500, at a million demands), hash-joined every term of the desk
# (1.2-3 s), where given the matches it walks by itself when that pays (77 ms).
WALK_DEPTH = {"postgresql": 1_000}

# The assignee's row as a table alias: an ORM alias (``aliased(User)``) made at import
# configured every mapper there (about 50 ms of ``import wsgi``).
_ASSIGNEE = User.__table__.alias("assignee")
_COLUMNS = (Demand.id, Demand.reference, Demand.status, Demand.outcome, Demand.received_at, Demand.channel,
            Demand.country, Demand.process_type, Demand.legal_reference, Demand.issuing_authority,
            Demand.emergency, Demand.due_at, Demand.notices_released_at, Demand.created_at, Demand.closed_at,
            Requester.agency, Requester.name, Requester.email, Requester.phone, Requester.type,
            _ASSIGNEE.c.email)


def list_page(session: Session, f: case_list.DemandFilters, viewer: HasRoles | None, now: datetime) -> dict:
    """The body of ``GET /api/v1/demands``: ``{items, total, page, per_page}``.

    The total is exact, so every match is counted: a search and a customer are read
    from their indexes first (``matches_first``; a search on the terms' side, ``_count``),
    and the count costs what the matches cost, not the desk (tested on each demand
    instead, a search's count read the whole desk: 149 ms for 2,554 matches at 100,000
    demands on SQLite). The page itself walks the list's order testing each demand where
    that reaches its last row sooner than reading every match would: the walk passes
    about ``page * per_page * desk / total`` demands (the desk's size by its last id),
    reading the matches about ``total``; on PostgreSQL only on its first pages
    (``WALK_DEPTH``). The page's ids are found first, on the demands table alone, and
    only its rows are joined to their requesters and assignees: a deep page's OFFSET
    skips ids, not joined rows (PostgreSQL, page 1,900 at 100,000 demands: 151 → 53 ms)."""
    first = case_list.conditions(session, f, viewer, now, matches_first=True)
    total, desk = session.execute(_count(session, f, viewer, now, first)).one()
    depth = f.page * f.per_page
    walk = (bool(f.q or f.customer) and depth * (desk or 0) < total * total
            and depth <= WALK_DEPTH.get(session.get_bind().dialect.name, depth))
    where = case_list.conditions(session, f, viewer, now, matches_first=False) if walk else first
    column = case_list.SORTS[f.sort.lstrip("-")]
    order = (column.desc() if f.sort.startswith("-") else column.asc(), Demand.id.desc())
    page = (select(Demand.id).where(*where).order_by(*order)
            .offset((f.page - 1) * f.per_page).limit(f.per_page).subquery())
    stmt = (select(*_COLUMNS).select_from(page)
            .join(Demand, Demand.id == page.c.id)
            .join(Requester, Requester.id == Demand.requester_id)
            .outerjoin(_ASSIGNEE, _ASSIGNEE.c.id == Demand.assignee_id)
            .order_by(*order))
    rows = [ListedDemand(*r) for r in session.execute(stmt)]
    _fill(session, rows, now)
    flagged = fraud_flags.flagged_demand_ids(session, rows)
    return {"items": [summary(r, now, flagged=r.id in flagged) for r in rows],
            "total": total, "page": f.page, "per_page": f.per_page}


def _count(session: Session, f: case_list.DemandFilters, viewer: HasRoles | None, now: datetime,
           first: list) -> Select:
    """The statement of (the total, the desk's last id). A search is counted on the
    terms' side, distinct demands, each demand's compartment told by its terms' process
    type: looked up only when another filter asks about the demand (a lookup of each of
    25,049 matches cost 213-340 ms at a million demands on PostgreSQL)."""
    last_id = select(func.max(Demand.id)).scalar_subquery()
    if not f.q:
        return select(func.count(), last_id).select_from(Demand).where(*first)
    others = case_list.conditions(session, f, viewer, now, search=False, visibility=False, matches_first=True)
    ids = search_terms.term_demands(f.q.strip(), hidden_process_types(viewer), others).subquery()
    return select(func.count(distinct(ids.c.demand_id)), last_id)


def _fill(session: Session, rows: list[ListedDemand], now: datetime) -> None:
    """The counts and the first customers of every row (one statement), then their gags (one more)."""
    if not rows:
        return
    by_id = {r.id: r for r in rows}
    ids = list(by_id)
    t = DemandTarget
    # (demand, kind, number, customer id, name, enterprise): the counts, then the first customers
    counts = [
        select(t.demand_id, literal("targets"), func.count(t.id), *_no_customer())
        .where(t.demand_id.in_(ids)).group_by(t.demand_id),
        select(t.demand_id, literal("customers"), func.count(t.customer_id.distinct()), *_no_customer())
        .where(t.demand_id.in_(ids)).group_by(t.demand_id),
        select(DemandItem.demand_id, DemandItem.kind, func.count(DemandItem.id), *_no_customer())
        .where(DemandItem.demand_id.in_(ids), DemandItem.kind.in_(("requested", "scope")))
        .group_by(DemandItem.demand_id, DemandItem.kind),
        select(Document.demand_id, literal("documents"), func.count(Document.id), *_no_customer())
        .where(Document.demand_id.in_(ids)).group_by(Document.demand_id),
    ]
    first = (select(t.demand_id, t.customer_id, func.min(t.position).label("pos"), func.min(t.id).label("tid"))
             .where(t.demand_id.in_(ids), t.customer_id.is_not(None)).group_by(t.demand_id, t.customer_id)
             .subquery())
    ranked = select(first, func.row_number().over(partition_by=first.c.demand_id,
                                                  order_by=(first.c.pos, first.c.tid)).label("n")).subquery()
    customers = (select(ranked.c.demand_id, literal("customer"), ranked.c.n, Customer.id, Customer.name,
                        Customer.enterprise)
                 .join(Customer, Customer.id == ranked.c.customer_id).where(ranked.c.n <= CUSTOMERS_SHOWN))
    every = union_all(*counts, customers).subquery()
    for demand_id, kind, number, cid, name, enterprise in session.execute(
            select(every).order_by(every.c[0], every.c[1], every.c[2])):
        if kind == "customer":
            by_id[demand_id].customers.append({"id": cid, "name": name, "enterprise": bool(enterprise)})
        else:
            by_id[demand_id].counts[kind] = number
    # The gags a row may show: those in force and each demand's last (a handful a page).
    last = select(func.max(Gag.id)).where(Gag.demand_id.in_(ids)).group_by(Gag.demand_id)
    for gag in session.scalars(select(Gag).where(Gag.demand_id.in_(ids), Gag.active_condition(now) | Gag.id.in_(last))
                               .order_by(Gag.id)):
        by_id[gag.demand_id].gags.append(gag)


def _no_customer() -> list[Any]:
    """The customer columns of a count's row: typed NULLs (PostgreSQL matches a UNION's types)."""
    return [cast(null(), Integer).label("customer_id"), cast(null(), String).label("name"),
            cast(null(), Boolean).label("enterprise")]


def summary(row: ListedDemand, now: datetime, *, flagged: bool = False) -> dict:
    """A demand as the list gives it (the ``DemandSummary`` of the OpenAPI document)."""
    overdue, due_soon = flags(row, now)
    active = [g for g in row.gags if g.active_at(now)]
    gag = active[0] if active else (row.gags[-1] if row.gags else None)
    return {
        "id": row.id,
        "reference": row.reference,
        "status": row.status,
        "outcome": row.outcome,
        "received_at": iso(row.received_at),
        "channel": row.channel,
        "requester": {"agency": row.requester_agency, "name": row.requester_name, "email": row.requester_email,
                      "phone": row.requester_phone, "type": row.requester_type},
        "country": row.country,
        "process_type": row.process_type,
        "legal_reference": row.legal_reference,
        "issuing_authority": row.issuing_authority,
        "emergency": row.emergency,
        "customers": row.customers,
        **{f"{kind}_count": row.counts.get(kind, 0) for kind in COUNTED},
        "gag": None if gag is None else {
            "order_ref": gag.order_ref,
            "issued_by": gag.issued_by,
            "issued_at": gag.issued_at.isoformat() if gag.issued_at else None,
            "expires_at": iso(gag.expires_at),
            "lifted_at": iso(gag.lifted_at),
            "active": gag.active_at(now),
        },
        "due_at": iso(row.due_at),
        "overdue": overdue,
        "due_soon": due_soon,
        "assignee": row.assignee,
        "notices_released_at": iso(row.notices_released_at),
        "flagged": flagged,
        "created_at": iso(row.created_at),
        "closed_at": iso(row.closed_at),
    }
