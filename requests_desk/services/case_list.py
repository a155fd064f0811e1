"""The case list: its filters (from query arguments) and the query they make."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import ColumnElement, Select, bindparam, exists, func, select
from sqlalchemy.orm import Session

from .. import search_terms
from ..access import HasRoles, hidden_process_types
from ..db import utcnow
from ..errors import FieldErrors
from ..models import Demand, DemandTarget, parse_id
from ..vocabulary import OPEN_STATES, STATES
from . import demand_rows, keyset, parsing
from .case import demand_load, visible_to
from .keyset import ListPage


@dataclass
class DemandFilters:
    status: str | None = None
    country: str | None = None
    process_type: str | None = None
    customer: int | None = None
    overdue: bool = False
    q: str | None = None
    sort: str = "-received_at"
    page: int = 1
    per_page: int = 50
    # Keyset paging (services/keyset.py): the page after or before one demand, or the last.
    after: int | None = None
    before: int | None = None
    last: bool = False


SORTS = {
    "received_at": Demand.received_at,
    "due_at": Demand.due_at,
    "reference": Demand.reference,
    "status": Demand.status,
    "country": Demand.country,
}


MAX_PAGE = 1_000_000  # beyond any real list; keeps OFFSET inside what the databases take


def parse_filters(args: Any, *, max_per_page: int = 200, process_types: Any = None) -> DemandFilters:
    """Filters from query arguments; bad values are a 422 naming the parameter.

    ``process_types``: the known codes (from the rule table); an unknown one is a 422."""
    errors = FieldErrors()
    f = DemandFilters()
    status = args.get("status") or None
    if status and status not in STATES and status != "open":
        errors.add("status", "is not a known status")
    f.status = status
    country = (args.get("country") or "").strip().upper() or None
    if country:
        parsing.country(errors, country, "country")
    f.country = country
    f.process_type = args.get("process_type") or None
    if f.process_type and process_types is not None and f.process_type not in process_types:
        errors.add("process_type", "is not a known process type")
    customer = args.get("customer") or None
    if customer:
        try:
            f.customer = int(customer)
        except ValueError:
            errors.add("customer", "must be a customer id")
        else:
            if parse_id(f.customer) is None:  # beyond any id (INTEGER column): matches nothing
                f.customer = -1
    f.overdue = str(args.get("overdue", "")).lower() in {"1", "true", "yes", "on"}
    q = args.get("q") or ""
    if q and (parsing.hygiene_problem(q) or len(q) > parsing.MAX_QUERY):
        errors.add("q", parsing.hygiene_problem(q) or f"must be at most {parsing.MAX_QUERY} characters")
        q = ""
    f.q = q.strip() or None
    sort = args.get("sort") or "-received_at"
    if sort.lstrip("-") not in SORTS:
        errors.add("sort", f"must be one of {', '.join(SORTS)} (prefix - for descending)")
    f.sort = sort
    for key, default, top in (("page", 1, MAX_PAGE), ("per_page", 50, max_per_page)):
        raw = args.get(key)
        if raw in (None, ""):
            setattr(f, key, default)
            continue
        try:
            value = int(raw)
        except (TypeError, ValueError):
            errors.add(key, "must be a whole number")
            continue
        if value < 1 or value > top:
            if key == "per_page":
                errors.add(key, f"must be between 1 and {top}")
            else:
                errors.add(key, "must be at least 1" if value < 1 else f"must be at most {top}")
            continue
        setattr(f, key, value)
    for key in ("after", "before"):
        raw = args.get(key)
        if raw not in (None, ""):
            value = parse_id(raw)
            if value is None:
                errors.add(key, "must be a demand id")
            setattr(f, key, value)
    f.last = str(args.get("last", "")).lower() in {"1", "true", "yes", "on"}
    errors.raise_if_any()
    return f


def filtered_query(session: Session, f: DemandFilters, viewer: HasRoles | None,
                   now: datetime | None = None) -> Select:
    """The demands matching ``f`` that ``viewer`` may know of."""
    return select(Demand).where(*conditions(session, f, viewer, now))


def conditions(session: Session, f: DemandFilters, viewer: HasRoles | None,
               now: datetime | None = None, *, search: bool = True,
               visibility: bool = True, matches_first: bool | None = None) -> list[ColumnElement[bool]]:
    """The WHERE clauses over ``Demand`` of the filters ``f`` for ``viewer`` (``search``:
    with the clause of ``q``, when there is one; ``visibility``: with the viewer's
    compartments). Each filter's value is a parameter named as ``filter_values`` names it.

    ``matches_first`` says how ``q`` and ``customer`` are read. True: the matching
    demands' ids first, from the search index and the targets' (customer_id, demand_id)
    index, so that reading every match costs what the matches cost (an exact count, an
    export). False: each demand tested as a walk in the list's order reaches it, which
    stops at its page. None, the case list's choice: ``customer`` by the walk, ``q`` by
    how many terms it matches (``search_terms.matches``)."""
    now = now or utcnow()
    where: list[ColumnElement[bool]] = list(visible_to(viewer)) if visibility else []
    if f.status == "open":
        where.append(Demand.status.in_(OPEN_STATES))
    elif f.status:
        where.append(Demand.status == bindparam("f_status", f.status))
    if f.country:
        where.append(Demand.country == bindparam("f_country", f.country))
    if f.process_type:
        where.append(Demand.process_type == bindparam("f_process_type", f.process_type))
    if f.customer:
        customer = DemandTarget.customer_id == bindparam("f_customer", f.customer)
        where.append(Demand.id.in_(select(DemandTarget.demand_id).where(customer)) if matches_first
                     else exists().where(DemandTarget.demand_id == Demand.id, customer))
    if f.overdue:
        where += [Demand.status.in_(OPEN_STATES), Demand.due_at < bindparam("f_now", now, type_=Demand.due_at.type)]
    if f.q and search:
        # The start of a reference, a legal reference or a target identifier, any case:
        # a range of the search index (requests_desk/search_terms.py), on either database.
        where.append(search_terms.matches(session, f.q.strip()) if matches_first is None
                     else search_terms.matching(f.q.strip(), few=matches_first))
    return where


def filter_values(f: DemandFilters, now: datetime) -> tuple[tuple[str, ...], dict[str, Any]]:
    """Which filters ``f`` sets (less ``q``: the shape of ``conditions``' clauses) and the
    values of their parameters, by name."""
    shape: list[str] = []
    values: dict[str, Any] = {}
    if f.status == "open":
        shape.append("open")
    elif f.status:
        values["f_status"] = f.status
    if f.country:
        values["f_country"] = f.country
    if f.process_type:
        values["f_process_type"] = f.process_type
    if f.customer:
        values["f_customer"] = f.customer
    if f.overdue:
        values["f_now"] = now
    return (*shape, *values), values


def list_demands(session: Session, f: DemandFilters, viewer: HasRoles | None,
                 now: datetime | None = None) -> tuple[list[Demand], int]:
    # everything serialize() reads, in a few queries per page
    return page_of(session, filtered_query(session, f, viewer, now), f, demand_load())


def list_rows(session: Session, f: DemandFilters, viewer: HasRoles | None, now: datetime | None = None,
              also: Sequence[ColumnElement[bool]] = ()) -> ListPage:
    """The case list's page: plain rows (services/demand_rows.py), by key, counted up to a
    cap. ``also``: more conditions (a queue's)."""
    now = now or utcnow()
    hidden = hidden_process_types(viewer)
    shape, values = filter_values(f, now)

    def build() -> tuple[Select, list[ColumnElement[bool]], list[ColumnElement[bool]]]:
        # A search is counted from the index's side (search_terms.tally), over the
        # other filters: its own clause in the count too made SQLite test every match
        # twice; the viewer's compartments it applies to the terms' demand ids itself.
        others = conditions(session, f, viewer, now, search=False, visibility=False) + list(also)
        where = visible_to(viewer) + others  # the search's own clause: keyset.page adds it
        return demand_rows.rows_query(now, where), where, others

    # The list's statements are the same for every request with the same filters set
    # (their values are parameters, the search's prefix too): keyset.page builds them
    # once per shape. A queue's extra conditions are not named by the shape: built for
    # each request.
    raw, info = keyset.page(session, build, sort=f.sort,
                            per_page=f.per_page, after=f.after, before=f.before, last=f.last,
                            number=f.page if (f.after or f.before) else None, offset_page=f.page,
                            search=f.q.strip() if f.q else None, hidden=hidden,
                            shape=None if also else ("case-list", shape, hidden), values=values,
                            filtered=bool(shape or also))
    info.rows = demand_rows.to_rows(session, raw, now)
    return info


def page_of(session: Session, stmt: Select, f: DemandFilters, load: tuple) -> tuple[list[Demand], int]:
    """One page of ``stmt`` in the filters' sort (newest id first among equals), with
    the total of every match."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    column = SORTS[f.sort.lstrip("-")]
    order = column.desc() if f.sort.startswith("-") else column.asc()
    rows = session.scalars(
        stmt.order_by(order, Demand.id.desc())
        .offset((f.page - 1) * f.per_page)
        .limit(f.per_page)
        .options(*load)
    ).all()
    return list(rows), total or 0
