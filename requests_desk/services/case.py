"""Reading one demand: the loader every audience uses, and its due-date flags."""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.orm import Session, joinedload, object_session, selectinload

from ..access import HasRoles, hidden_process_types
from ..errors import NotFound
from ..models import Demand, DemandTarget, Document, PreservationHold, User

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


def preservation_hold(demand: Demand) -> PreservationHold | None:
    """The hold a ``preserve`` recorded (only preserved demands have one)."""
    session = object_session(demand)
    if demand.outcome != "preserved" or session is None:
        return None
    return session.scalar(select(PreservationHold).where(PreservationHold.demand_id == demand.id))


DEMAND_LOAD = (
    # The assignee's name and e-mail; its roles only if something asks (a statement saved).
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
    return [demand_id.not_in(select(Demand.id).where(Demand.process_type.in_(hidden)))]


@cache
def _hiding(hidden: tuple[str, ...]) -> tuple[ColumnElement[bool], ...]:
    """Built once per set of compartments (a clause is immutable; every list asks)."""
    return (Demand.process_type.not_in(hidden),) if hidden else ()


@lru_cache(maxsize=64)
def _loader(hidden: tuple[str, ...], for_update: bool, also: tuple) -> Select:
    """get_demand's statement, built once per kind of read and run with the id as a
    parameter: SQLAlchemy keys a statement's loader options anew each time one is built
    (about a third of a demand's load), and not when the same statement runs again."""
    stmt = select(Demand).where(Demand.id == bindparam("demand_id"), *_hiding(hidden)).options(*DEMAND_LOAD, *also)
    if for_update:
        stmt = stmt.with_for_update(of=Demand).execution_options(populate_existing=True)
    return stmt


def get_demand(session: Session, demand_id: int, *, viewer: HasRoles | None, for_update: bool = False,
               also: tuple = ()) -> Demand:
    """The one loader of a demand (404 when unknown, or when ``viewer`` may not know of
    it: ``access.SYSTEM`` for the desk's own reads), with what every reader needs, plus
    the loader options ``also`` names (the case page adds the gags' history)."""
    if for_update:
        lock_for_writing(session)
    demand = session.scalar(_loader(hidden_process_types(viewer), for_update, also), {"demand_id": demand_id})
    if demand is None:
        raise NotFound(f"There is no demand {demand_id}.")
    return demand
