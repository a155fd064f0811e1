"""Small tables every page shows, kept by each worker for a few seconds.

The case list's filters offer the process types and the customers; the case page shows
its process type's rule and the data sets' labels. These tables are small and change
rarely: the rule tables only through ``load_rules`` (``desk init``), the customers through
the admin pages. A page that only shows them reads each at most once every
``KEEP_SECONDS`` per worker and database (``kept``): on PostgreSQL each read is a round
trip, and they were three of the case list's five statements.

The list's badge for a flagged sender reads the active fraud flags the same way (a few
rows: one per fraudulent sender counsel rejected).

What decides something never reads them from here: the workflow, intake, the emergency
checks and the notices read the tables in their own transaction. A change made in this
process (any flush of the kept table's class: ``ProcessRule``, ``DataSet``, ``Customer``,
``FraudFlag``) is seen on the next request; one made in another process (``desk init``,
another worker's admin page) within ``KEEP_SECONDS``.

Kept values are plain, immutable rows (SQLAlchemy ``Row``: attribute access by column
name), never ORM objects, so requests in several threads may share them.
"""
from __future__ import annotations

import threading
import time
import weakref
from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

KEEP_SECONDS = 5.0

# engine -> {name: (read at, value)}; an engine's entries go with it (each test's app has its own).
_kept: "weakref.WeakKeyDictionary[Engine, dict[str, tuple[float, Any]]]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()
# What each kept value is read from: a flush of one of these classes forgets the values.
_SOURCES: dict[str, type] = {}


def kept(session: Session, name: str, source: type, read: Callable[[Connection], Any]) -> Any:
    """``read(connection)``'s value, as this worker read it for this database less than
    ``KEEP_SECONDS`` ago, or read now (in the request's transaction) and kept."""
    _SOURCES[name] = source
    engine = _engine_of(session)
    now = time.monotonic()
    with _lock:
        entry = _kept.get(engine, {}).get(name)
    if entry is not None and now - entry[0] < KEEP_SECONDS:
        return entry[1]
    value = read(session.connection())
    if not session.info.get(_CHANGED):  # the session's own uncommitted change is not kept
        with _lock:
            _kept.setdefault(engine, {})[name] = (now, value)
    return value


def forget(engine: Engine | None = None, source: type | None = None) -> None:
    """Forget what was kept (for ``engine``, of ``source``'s table; all by default)."""
    with _lock:
        for eng in ([engine] if engine is not None else list(_kept)):
            values = _kept.get(eng)
            if values is None:
                continue
            for name in [n for n in values if source is None or _SOURCES.get(n) is source]:
                del values[name]


_CHANGED = "kept_tables_changed"


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context) -> None:
    watched = tuple(set(_SOURCES.values()))
    if not watched:
        return
    changed = {type(obj) for obj in (*session.new, *session.dirty, *session.deleted) if isinstance(obj, watched)}
    if changed:
        session.info.setdefault(_CHANGED, set()).update(changed)
        _forget_for(session, changed)  # nothing read meanwhile by this session is kept (kept())


@event.listens_for(Session, "after_commit")
def _forget_committed(session: Session) -> None:
    changed = session.info.pop(_CHANGED, None)
    if changed:
        _forget_for(session, changed)  # read again by the next request, which sees the commit


@event.listens_for(Session, "after_rollback")
def _drop_note(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind  # a session bound to a connection: the CLI, tests


def _forget_for(session: Session, classes: set[type]) -> None:
    engine = _engine_of(session)
    for cls in classes:
        forget(engine, cls)
