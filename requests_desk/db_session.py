"""One session per request (on ``g``), closed at teardown; the CLI's session scope."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from flask import current_app, g
from sqlalchemy import event
from sqlalchemy.orm import Session


def get_session() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["desk"]["sessionmaker"]()
    return g.db


def close_session(exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is None:
        return
    try:
        if exc is None and db.in_transaction() and not db.info.get(UNCOMMITTED) \
                and not (db.new or db.dirty or db.deleted):
            # A read: end its transaction with COMMIT, which writes nothing. A ROLLBACK
            # would make the PostgreSQL driver drop every statement it has prepared on
            # the connection (psycopg clears them on rollback), so no statement would
            # ever be prepared and PostgreSQL would plan each one on every request.
            db.commit()
    finally:
        # close() ends what is left (rolled back: anything written and not committed)
        # without first expiring every loaded object, as rollback() would.
        db.close()


# Set when a flush writes to the session's transaction, cleared when it ends: a request
# whose transaction wrote and did not commit is rolled back at teardown, never committed.
UNCOMMITTED = "desk_uncommitted_flush"


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context) -> None:
    session.info[UNCOMMITTED] = True


@event.listens_for(Session, "after_transaction_end")
def _clear_flush(session: Session, transaction) -> None:
    # Only the outermost transaction's end (commit or rollback) settles what was flushed:
    # a savepoint released or rolled back (``begin_nested``) leaves earlier writes pending.
    if transaction.parent is None and not transaction.nested:
        session.info.pop(UNCOMMITTED, None)


@contextmanager
def session_scope() -> Iterator[Session]:
    """For the CLI: commit on success, roll everything back on any error."""
    session = current_app.extensions["desk"]["sessionmaker"]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
