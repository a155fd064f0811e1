"""Database plumbing: declarative base, UTC datetime type, engine and sessions."""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import DateTime, Integer, MetaData, any_, bindparam, create_engine, event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import TypeDecorator

from .private_files import FILE_MODE, private_dir, tighten

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The app's one clock (real UTC now). Dispatch may pass its own ``now``."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Time-zone-aware UTC on every backend (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; the desk stores UTC-aware datetimes only")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; on SQLite enforce foreign keys and wait on locks, and keep the
    database file readable by the service's user only."""
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = kwargs.pop("connect_args", {})
    # No parallel plans: the desk serves many short requests at once, and a LIMITed walk
    # of an index planned in parallel at a million demands started two workers that each
    # walked a third of it (a search: 18 ms against 5, and 26 req/s against 90). Index
    # pages read at random cost about what read in order do (PLANNER_COSTS). The URL's
    # own ``options`` come after, so an operator's setting there wins.
    own = make_url(url).query.get("options")
    connect_args.setdefault("options", " ".join(filter(None, [SERIAL_PLANS, PLANNER_COSTS,
                                                              own if isinstance(own, str) else None])))
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    ping_when_idle(engine)
    transactions_by_default(engine)
    return engine


# Set on a pooled connection while a request's session reads outside a transaction
# (``db_session._reads_first``).
OUTSIDE_TRANSACTION = "desk_outside_transaction"


def transactions_by_default(engine: Engine) -> None:
    """Every connection leaves the pool in transaction mode (not autocommit), whatever a
    request's session did with it (``db_session._reads_first``), and with no mark left
    from that request."""

    @event.listens_for(engine, "checkout")
    def _in_transaction_mode(dbapi_connection, record, _proxy) -> None:
        record.info.pop(OUTSIDE_TRANSACTION, None)
        if dbapi_connection.autocommit:
            dbapi_connection.autocommit = False


SERIAL_PLANS = "-c max_parallel_workers_per_gather=0"
# A desk's tables are read from memory or an SSD, where a page read at random costs about
# what one read in order does; PostgreSQL's default (4.0) is a spinning disk's. With it,
# the filtered list (country, process type, status) walked the date index and read 2,829
# demands to find 51 (1.2 ms) rather than take them from its own index (0.1 ms).
PLANNER_COSTS = "-c random_page_cost=1.1"

# A pooled connection unused for this long is tested before a request gets it (a server
# restarted or a connection dropped by a firewall meanwhile: the pool opens a new one).
PING_AFTER_IDLE = 5.0
_IDLE_SINCE = "desk_idle_since"


def ping_when_idle(engine: Engine, after: float = PING_AFTER_IDLE) -> None:
    """SQLAlchemy's ``pool_pre_ping``, but only for a connection idle ``after`` seconds or
    more: pinging on every checkout cost each request one more round trip to PostgreSQL
    (8% of an API read's CPU under load), for connections that had answered a moment ago.
    A connection that fails the ping is discarded and the pool hands out another."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _test_if_idle(dbapi_connection, record, _proxy) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < after:
            return  # fresh from connect, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as err:
            raise DisconnectionError(f"a pooled connection failed its ping: {err}") from err


def _private_sqlite_file(url: str) -> None:
    """Create a new SQLite file 0600 (its folder 0700 if missing) before SQLite opens it,
    or tighten an existing one. SQLite gives the ``-wal``, ``-shm`` and ``-journal`` files
    the database file's mode; ones left from before are tightened too. Opens no connection."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.exists():
        private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    for suffix in ("", "-wal", "-shm", "-journal"):
        tighten(f"{path}{suffix}")


def make_sessionmaker(engine: Engine, audit_key: bytes) -> sessionmaker[Session]:
    """Sessions carry the audit key in ``info`` (``audit.record`` reads it there): the key
    is kept outside the database and no session writes the audit log without it."""
    if not audit_key:
        raise ValueError("an audit key is required (DESK_AUDIT_KEY or the instance folder's audit_key file)")
    return sessionmaker(bind=engine, expire_on_commit=False, info={"audit_key": bytes(audit_key)})


def iso(value: datetime | None) -> str | None:
    """A UTC time as the API and exports write it: ISO 8601 with ``Z``."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def load_each(session: Session, parents: Iterable[Any], key: str, statement: Any, parent_id: str, *,
              refresh: bool = False) -> None:
    """Load the collection ``key`` of each of ``parents`` not holding it yet (of all of
    them when ``refresh``, and afresh) with one statement for all: ``statement`` selects
    the children of the parents' ids (its expanding parameter ``ids``) in the
    relationship's order, and each child names its parent in ``parent_id``."""
    todo = {parent.id: parent for parent in parents if refresh or key not in parent.__dict__}
    if not todo:
        return
    found: dict[Any, list[Any]] = {parent: [] for parent in todo}
    options = {"populate_existing": True} if refresh else {}
    for child in session.scalars(statement, {"ids": list(todo)}, execution_options=options):
        found[getattr(child, parent_id)].append(child)
    for parent_key, parent in todo.items():
        set_committed_value(parent, key, found[parent_key])


def among(column: Any, name: str, dialect: str) -> Any:
    """``column IN`` the integers of the list parameter ``name``. On PostgreSQL one
    parameter whatever the list's length (``= ANY(array)``): an expanding ``IN`` is
    written with a parameter per value, and psycopg parses a statement of more than 50
    parameters anew on every execution (no cache), 0.33 ms for the list's page of 50.
    SQLite keeps the expanding ``IN`` (as fast there as ``json_each``, measured). The
    statement differs by database: build it per ``dialect`` (a dialect's name)."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(Integer)))
    return column.in_(bindparam(name, expanding=True))
