"""The read model of the case list and the queue: plain rows of the columns they show.

A list page selects these columns (no ORM objects), works out the badges once per page
(active gags counted in SQL; overdue or due soon from the row's own columns) and reads
the targets and customers of the whole page in one more statement. The case page and
the API read one demand through ``services/case.py: get_demand`` instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import ColumnElement, Select, bindparam, literal, null, select, union_all
from sqlalchemy.orm import Session

from ..db import among
from ..statements import CompiledOnce
from ..models import Customer, Demand, DemandTarget, Gag, Requester
from ..vocabulary import OUTCOME_TERMS, PROCESS_TERMS, STATE_TERMS
from .case import DUE_SOON
from .fraud_flags import flagged_address, shown_flags


@dataclass(slots=True)
class DemandRow:
    """One demand as a list shows it."""

    id: int
    reference: str
    received_at: datetime
    agency: str
    requester_email: str
    legal_reference: str
    country: str
    process_type: str
    status: str
    outcome: str | None
    due_at: datetime
    emergency: bool
    extra: tuple = ()  # what a queue list adds (a hold's end; a gag's columns)
    due_state: str = ""  # "overdue", "due_soon" or "" (closed, or due later)
    status_label: str = ""
    process_label: str = ""
    targets: list[str] = field(default_factory=list)  # identifiers, in target order
    customers: list[tuple[str, bool]] = field(default_factory=list)  # (name, enterprise), distinct
    gags: list[str] = field(default_factory=list)  # order refs of the gags in force now: a badge each
    flagged: bool = False  # the requester's address or domain is flagged as fraudulent
    # The case list's words for its dates, set once per page by the view (staff/filters.py:
    # list_texts), so its rows call no filter: "2026-03-27", "2026-03-27 14:05 UTC", "in 3 days".
    received_text: str = ""
    due_title: str = ""
    due_text: str = ""
    extra_texts: tuple = ()  # the staff home's words for ``extra`` (staff/filters.py: queue_texts)

    @property
    def is_open(self) -> bool:
        return self.status != "closed"


def row_columns(now: datetime) -> list[Any]:
    """The columns of a ``DemandRow``, in its field order (``Requester`` joined)."""
    return [Demand.id, Demand.reference, Demand.received_at, Requester.agency, Requester.email,
            Demand.legal_reference, Demand.country, Demand.process_type, Demand.status, Demand.outcome,
            Demand.due_at, Demand.emergency]


def rows_query(now: datetime, conditions: Iterable[ColumnElement[bool]], *extra: Any) -> Select:
    """SELECT the row columns (and ``extra`` ones) of the demands matching ``conditions``."""
    return (select(*row_columns(now), *extra)
            # LEFT OUTER: the demands drive the plan (an inner join lets the planner start
            # from requesters, and lose the index that gives the order).
            .outerjoin(Requester, Requester.id == Demand.requester_id)
            .where(*conditions))


N_COLUMNS = 12


def to_rows(session: Session, raw: Sequence[Any], now: datetime) -> list[DemandRow]:
    """Rows from ``rows_query`` results, their badges, words, targets and customers filled
    in: one more statement for the whole page (none when it is empty)."""
    rows = [DemandRow(*r[:N_COLUMNS], extra=tuple(r[N_COLUMNS:])) for r in raw]
    fill(session, rows, now)
    return rows


@cache
def _page_details(dialect: str) -> CompiledOnce:
    """The page's targets (with their customers) and its gags in force, in one statement;
    built once per database (its parameters: ``ids`` and ``now``). Flagged senders are told from the
    rows' own addresses (``fraud_flags.shown_flags``): asked of each page's requesters,
    PostgreSQL read every requester against the flags (0.6 ms, and growing with them)."""
    now = bindparam("now", type_=Gag.expires_at.type)
    targets = (select(DemandTarget.demand_id, literal("t").label("kind"), DemandTarget.identifier,
                      Customer.name, Customer.enterprise, DemandTarget.position, DemandTarget.id)
               .outerjoin(Customer, Customer.id == DemandTarget.customer_id)
               .where(among(DemandTarget.demand_id, "ids", dialect)))
    gags = (select(Gag.demand_id, literal("g"), Gag.order_ref, null(), null(), literal(0), Gag.id)
            .where(among(Gag.demand_id, "ids", dialect), Gag.active_condition(now)))
    both = union_all(targets, gags).subquery()
    return CompiledOnce(select(both).order_by(both.c.demand_id, both.c.kind, both.c.position, both.c.id))


def fill(session: Session, rows: list[DemandRow], now: datetime) -> None:
    """Badges and words (once per page), then the targets of every row in one statement."""
    soon = now + DUE_SOON
    labels: dict[tuple[str, str | None], str] = {}
    for r in rows:
        if r.status != "closed":
            r.due_state = "overdue" if r.due_at < now else ("due_soon" if r.due_at <= soon else "")
        key = (r.status, r.outcome)
        if key not in labels:
            labels[key] = (OUTCOME_TERMS.label(r.outcome, default="Closed") if r.status == "closed"
                           else STATE_TERMS.label(r.status))
        r.status_label = labels[key]
        r.process_label = PROCESS_TERMS.label(r.process_type)
    if not rows:
        return
    flags = shown_flags(session)  # SPEC §9: the requester's address or domain flagged as fraudulent
    for r in rows:
        r.flagged = flagged_address(r.requester_email, flags)
    by_id: dict[int, list[DemandRow]] = {}
    for r in rows:  # a demand may be in two of the queue's lists
        by_id.setdefault(r.id, []).append(r)
    names: dict[int, set[str]] = {}
    connection = session.connection()
    for demand_id, kind, text, name, enterprise, _pos, _id in _page_details(connection.dialect.name).run(
            connection, {"ids": list(by_id), "now": now}):
        same = by_id[demand_id]
        if kind == "g":
            for row in same:
                row.gags.append(text)
            continue
        for row in same:
            row.targets.append(text)
        if name is not None and name not in names.setdefault(demand_id, set()):
            names[demand_id].add(name)
            for row in same:
                row.customers.append((name, bool(enterprise)))
