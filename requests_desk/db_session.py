"""One session per request (on ``g``), closed at teardown; the CLI's session scope."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from flask import current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from .db import OUTSIDE_TRANSACTION


def get_session() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["desk"]["sessionmaker"]()
        g.db.info[READS_FIRST] = True
    return g.db


@contextmanager
def plain_reads() -> Iterator[Connection]:
    """A pooled connection of its own for a request that reads plain rows and nothing
    else (the API's GET of a demand): no ORM session is opened, no object loaded. On
    PostgreSQL it reads outside a transaction, as a request's session does until it
    writes (``_reads_first``); closing it sends nothing, so the statements psycopg has
    prepared on the connection stay prepared."""
    with current_app.extensions["desk"]["engine"].connect() as connection:
        if connection.dialect.name == "postgresql":
            _reads_first(connection)
        yield connection


def close_session(exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is None:
        return
    # The connection the session's transaction holds, if it ever took one: a request whose
    # session began (to hold the signed-in user, say) but sent nothing has nothing to end,
    # and asking for ``connection()`` here would check one out of the pool for nothing.
    connection = db.info.pop(CONNECTION, None)
    try:
        if exc is None and connection is not None and db.in_transaction() \
                and not (db.new or db.dirty or db.deleted) and not connection.info.get(WROTE) \
                and connection.dialect.name == "postgresql" and not connection.info.get(OUTSIDE_TRANSACTION):
            # A read inside a transaction on PostgreSQL (one that locked rows, say): end
            # it with COMMIT, which writes nothing. A ROLLBACK would make the driver drop
            # every statement it has prepared on the connection (psycopg clears them on
            # rollback), so no statement would stay prepared and PostgreSQL would plan
            # each one on every request. A read outside a transaction (``_reads_first``)
            # has nothing to end: psycopg sends no ROLLBACK for it and keeps its prepared
            # statements, so close() alone ends it, without the session's commit (a
            # tenth of a millisecond). On SQLite a read's ROLLBACK and COMMIT are alike.
            db.commit()
    finally:
        # close() ends what is left (rolled back: anything written and not committed)
        # without first expiring every loaded object, as rollback() would.
        db.close()


# Set on a connection by any statement but a SELECT (a flush, Core DML, a savepoint, a
# lock), cleared when its transaction commits or rolls back: a request whose
# transaction did anything but read, and did not commit, is rolled back at teardown,
# never committed. Savepoints released or rolled back leave it set.
WROTE = "desk_wrote"


@event.listens_for(Engine, "before_cursor_execute")
def _note_write(conn, _cursor, statement: str, _parameters, context, _executemany) -> None:
    reads = statement.lstrip()[:6].upper() == "SELECT"
    if not reads:
        conn.info[WROTE] = True
    streams = context is not None and context.execution_options.get("stream_results")  # None: statements.Plain
    if conn.info.get(OUTSIDE_TRANSACTION) and (not reads or _locks(statement) or streams):
        # The first statement that writes or locks opens the transaction (psycopg sends
        # BEGIN before it): it and everything after it commit or roll back together. So
        # does a read streamed through a server-side cursor (an export's rows), which
        # PostgreSQL declares only inside a transaction.
        del conn.info[OUTSIDE_TRANSACTION]
        conn.connection.dbapi_connection.autocommit = False


def _locks(statement: str) -> bool:
    """A SELECT that locks rows (``FOR UPDATE``, ``FOR SHARE`` …): its locks last only as
    long as its transaction. Said of the text, so a search for those words counts too:
    it then runs in a transaction, as before."""
    upper = statement.upper()
    return " FOR UPDATE" in upper or " FOR SHARE" in upper or " FOR NO KEY" in upper or " FOR KEY SHARE" in upper


CONNECTION = "desk_connection"

# A request's session on PostgreSQL reads outside a transaction until it first writes
# (``_reads_first``); on a connection, ``OUTSIDE_TRANSACTION`` says it is doing so now.
READS_FIRST = "desk_reads_first"


@event.listens_for(Session, "after_begin")
def _connected(session: Session, _transaction, connection) -> None:
    session.info[CONNECTION] = connection
    if session.info.get(READS_FIRST) and connection.dialect.name == "postgresql":
        _reads_first(connection)


def _reads_first(connection) -> None:
    """Let a request's reads run outside a transaction (psycopg's autocommit), until its
    first write or lock (``_note_write``). PostgreSQL's READ COMMITTED gives each
    statement its own snapshot inside a transaction as well, so a read sees the same
    either way; what it saves is two round trips a request, BEGIN and COMMIT (a
    read-only request used to open a transaction for its first SELECT and commit it at
    teardown; the API's read sent four statements, now two). A connection given its own
    isolation level is left as set; the pool hands every connection out in transaction
    mode again (``db.transactions_by_default``)."""
    raw = connection.connection.dbapi_connection
    if connection.get_execution_options().get("isolation_level") or raw.autocommit:
        return
    if raw.info.transaction_status != raw.info.transaction_status.IDLE:
        return
    raw.autocommit = True
    connection.info[OUTSIDE_TRANSACTION] = True


@event.listens_for(Session, "after_transaction_end")
def _released(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost: its connection went back to the pool
        session.info.pop(CONNECTION, None)


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _settled(conn) -> None:
    conn.info.pop(WROTE, None)


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
