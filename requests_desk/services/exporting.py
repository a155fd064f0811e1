"""The case list as spreadsheet rows: the same filters (and queue), the same need-to-know
(``visible_to``, through the case list's own conditions), every page, streamed.

Rows come from the case list's read model (``demand_rows``) in the list's order
(``keyset.order_columns``), fetched ``CHUNK`` at a time through a server-side cursor
(``yield_per``: psycopg's named cursor; SQLite steps its cursor), and each chunk's
targets, customers and gags in one more statement: memory stays flat however many
demands match."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Collection, Iterator

from sqlalchemy.orm import Session, aliased

from ..access import HasRoles
from ..models import Demand, User
from ..vocabulary import OUTCOME_TERMS, STATE_TERMS
from . import case_list, demand_rows, keyset
from . import queue as queue_service

CHUNK = 1000
HEADER = ["Reference", "Received (UTC)", "Status", "Outcome", "Process", "Country", "Requester agency",
          "Legal reference", "Accounts", "Customers", "Emergency", "Gag in force", "Assignee", "Due (UTC)",
          "Closed (UTC)"]


def export_rows(session: Session, f: case_list.DemandFilters, viewer: HasRoles, now: datetime, *,
                queue: str | None = None, scope: str = "all",
                acts_on: Collection[str] | None = None) -> Iterator[list[Any]]:
    """Every demand the case list would show with filters ``f`` (and ``queue``), in its
    order, one list of cells per demand (``HEADER``'s columns). A search and a customer
    are read from their indexes first (``matches_first``): tested on each demand as the
    walk in the list's order reached it, an export of a search read the whole desk."""
    where = case_list.conditions(session, f, viewer, now, matches_first=True)
    if queue:
        where += queue_service.queue_narrowing(session, queue, scope, viewer, now, acts_on)
    assignee = aliased(User)
    columns, descending = keyset.order_columns(f.sort)
    stmt = (demand_rows.rows_query(now, where, assignee.email, Demand.closed_at)
            .outerjoin(assignee, assignee.id == Demand.assignee_id)
            .order_by(*[c.desc() if descending else c.asc() for c in columns])
            .execution_options(yield_per=CHUNK))
    result = session.execute(stmt)
    try:
        for raw in result.partitions():
            for row in demand_rows.to_rows(session, raw, now):
                yield cells(row)
    finally:
        result.close()


def cells(row: demand_rows.DemandRow) -> list[Any]:
    assignee, closed_at = row.extra
    closed = row.status == "closed"
    return [
        row.reference,
        row.received_at,
        STATE_TERMS.label(row.status),
        OUTCOME_TERMS.label(row.outcome, default="") if closed else "",
        row.process_label,
        row.country,
        row.agency,
        row.legal_reference,
        ", ".join(row.targets),
        ", ".join(name for name, _enterprise in row.customers),
        row.emergency,
        ", ".join(row.gags),
        assignee or "",
        None if closed else row.due_at,
        closed_at,
    ]
