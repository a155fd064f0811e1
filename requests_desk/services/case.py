"""Reading one demand: the loader every audience uses, and its due-date flags."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, String, bindparam, literal, literal_column, select
from sqlalchemy.orm import Session, joinedload, object_session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ..access import HasRoles, hidden_process_types
from ..db import load_each
from ..errors import NotFound
from ..models import (
    Demand,
    DemandItem,
    DemandTarget,
    Document,
    EmergencyCheck,
    Gag,
    PreservationHold,
    ProductionFile,
    User,
)
from .document_marks import RECIPIENTS

DUE_SOON = timedelta(hours=48)


def flags(demand: Demand, now: datetime) -> tuple[bool, bool]:
    """(overdue, due_soon) for an open demand."""
    return due_flags(demand.status, demand.due_at, now)


def due_flags(status: str, due_at: datetime, now: datetime) -> tuple[bool, bool]:
    """``flags`` on plain values (a list's row, the API's plain read)."""
    if status == "closed":
        return False, False
    overdue = due_at < now
    return overdue, (not overdue and due_at <= now + DUE_SOON)


def preservation_hold(demand: Any) -> Any:
    """The hold a ``preserve`` recorded (only preserved demands have one). A demand read
    for its page (``staff/case_read.py: PlainDemand``) carries the hold it was read with."""
    if demand.outcome != "preserved":
        return None
    if not isinstance(demand, Demand):
        return demand.hold
    session = object_session(demand)
    if session is None:
        return None
    return session.scalar(select(PreservationHold).where(PreservationHold.demand_id == demand.id))


@cache
def demand_load() -> tuple:
    """A page of demands (services/case_list.py: list_demands) with what serialize() reads;
    one demand is read by get_demand. The assignee's name and e-mail; its roles only if
    something asks (a statement saved). Built on first use: built at import, these
    options configured every mapper there (about 40 ms of ``import wsgi``)."""
    return (
        joinedload(Demand.assignee).lazyload(User.role_rows),
        selectinload(Demand.targets).joinedload(DemandTarget.customer),
        selectinload(Demand.items),
        selectinload(Demand.documents).selectinload(Document.recipients),  # whom each goes to
        selectinload(Demand.production_files),
        selectinload(Demand.gags),
        selectinload(Demand.emergency_checks),  # with who recorded each (joined)
    )


def lock_for_writing(session: Session) -> None:
    """Changes to one demand are serialised: on PostgreSQL by the row lock the loader
    takes (``FOR UPDATE``); on SQLite, which has no row locks, by taking the database's
    write lock before the demand is read (``BEGIN IMMEDIATE``), unless this transaction
    has already written and so holds it. Two conflicting actions never both succeed:
    the second reads the demand as the first left it."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    if not connection.connection.driver_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def visible_to(viewer: HasRoles | None) -> list[ColumnElement[bool]]:
    """WHERE clauses over ``Demand``: only the demands ``viewer`` may know of (a demand
    in a compartment the viewer lacks does not exist for it: not listed, not counted)."""
    return list(_hiding(hidden_process_types(viewer)))


def visible_by_id(demand_id: Any, hidden: tuple[str, ...]) -> list[ColumnElement[bool]]:
    """``visible_to`` for rows that name their demand (a gag's or a search term's
    ``demand_id``): not one of the few demands of the compartments ``hidden``. Said of the
    demands table instead, every such row is joined to its demand to test it (PostgreSQL
    hash-joined every demand for the queue's gags, 15 ms at 100,000)."""
    if not hidden:
        return []
    return [demand_id.not_in(select(Demand.id).where(Demand.process_type.in_(fixed_codes(hidden))))]


_CODE = re.compile(r"[a-z][a-z0-9_]*")


def fixed_codes(codes: tuple[str, ...]) -> list[ColumnElement[str]]:
    """``codes`` for an ``IN``, written into the statement's text when it is compiled
    (these statements are built once per set of compartments). Not an expanding
    parameter: SQLAlchemy writes its values into the text on every execution (a pass
    over the whole text). Not parameters either: PostgreSQL, not knowing which process
    types a prepared statement leaves out, found its generic plan dearer than a custom
    one and planned the search's statements again on every execution. The desk's codes
    are lower-case words (checked: anything else stays a bound value)."""
    return [literal_column(f"'{code}'", String) if _CODE.fullmatch(code) else literal(code, String)
            for code in codes]


@cache
def _hiding(hidden: tuple[str, ...]) -> tuple[ColumnElement[bool], ...]:
    """Built once per set of compartments (a clause is immutable; every list asks)."""
    return (Demand.process_type.not_in(fixed_codes(hidden)),) if hidden else ()


@lru_cache(maxsize=64)
def _loader(hidden: tuple[str, ...], for_update: bool) -> Select:
    """get_demand's statement for the demand's own row, built once per kind of read and
    run with the id as a parameter: SQLAlchemy keys a statement's loader options anew
    each time one is built, and not when the same statement runs again."""
    stmt = select(Demand).where(Demand.id == bindparam("demand_id"), *_hiding(hidden)).options(
        joinedload(Demand.assignee).lazyload(User.role_rows))
    if for_update:
        stmt = stmt.with_for_update(of=Demand).execution_options(populate_existing=True)
    return stmt


@cache
def _collections() -> tuple[tuple[str, Select], ...]:
    """The demand's collections that every reader needs, one statement each, built once
    (in each relationship's order). ``selectinload`` builds its statement anew for every
    demand it loads, and SQLAlchemy keys it again: that was 60% of reading one demand."""
    by_demand = bindparam("demand_id")

    def of(model: Any, *order: Any) -> Select:
        return select(model).where(model.demand_id == by_demand).order_by(*order)

    return (
        ("targets", of(DemandTarget, DemandTarget.position)),  # with their customers (joined)
        ("items", of(DemandItem, DemandItem.id)),
        ("documents", of(Document, Document.id)),
        ("production_files", of(ProductionFile, ProductionFile.id)),
        ("gags", of(Gag, Gag.id)),
        # With who recorded each (joined); their roles only if something asks.
        ("emergency_checks", of(EmergencyCheck, EmergencyCheck.id).options(
            joinedload(EmergencyCheck.by).lazyload(User.role_rows))),
    )


def _load_collections(session: Session, demand: Demand, refresh: bool) -> None:
    """Fill the demand's collections (and its documents' recipients) as ``selectinload``
    would: a collection already loaded in this session is kept (with any change not yet
    flushed) unless ``refresh`` (a read for update reads everything afresh)."""
    options = {"populate_existing": True} if refresh else {}
    loaded = demand.__dict__
    for key, stmt in _collections():
        if refresh or key not in loaded:
            set_committed_value(demand, key, list(session.scalars(stmt, {"demand_id": demand.id},
                                                                  execution_options=options)))
    load_each(session, demand.documents, "recipients", RECIPIENTS, "document_id", refresh=refresh)


def get_demand(session: Session, demand_id: int, *, viewer: HasRoles | None, for_update: bool = False) -> Demand:
    """The one loader of a demand (404 when unknown, or when ``viewer`` may not know of
    it: ``access.SYSTEM`` for the desk's own reads), with what every reader needs: its
    requester, assignee, targets (and their customers), items, documents (and whom each
    goes to), production files, gags and emergency checks (and who recorded each)."""
    if for_update:
        lock_for_writing(session)
    demand = session.scalar(_loader(hidden_process_types(viewer), for_update), {"demand_id": demand_id})
    if demand is None:
        raise NotFound(f"There is no demand {demand_id}.")
    _load_collections(session, demand, for_update)
    return demand
