"""How a request's transaction ends (db_session.close_session): a read ends without a
ROLLBACK sent to PostgreSQL (its reads ran outside a transaction, or it commits the one
a locking read opened), which keeps the statements psycopg has prepared (any ROLLBACK
discards them), while anything written and not committed by the view is rolled back,
never committed by the teardown."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.exc import IntegrityError

from requests_desk.db_session import get_session
from requests_desk.models import Customer

from .factories import checkouts, login, make_user


def _routes(app):
    def flushed_not_committed():
        db = get_session()
        db.add(Customer(name="Flushed Ltd"))
        db.flush()
        return "flushed"

    def changed_not_flushed():
        db = get_session()
        customer = db.scalar(select(Customer).where(Customer.name == "Kept Ltd"))
        customer.name = "Renamed Ltd"
        return "changed"

    def failing():
        db = get_session()
        db.add(Customer(name="Failed Ltd"))
        db.flush()
        raise RuntimeError("the view failed after writing")

    def savepoints():
        # a write, then savepoints released and rolled back (as intake's reference counter
        # and the audit head do): the write is still not committed
        db = get_session()
        db.add(Customer(name="Before Savepoint Ltd"))
        db.flush()
        with db.begin_nested():
            db.add(Customer(name="Released Ltd"))
        try:
            with db.begin_nested():
                db.add(Customer(name="Kept Ltd"))  # a duplicate name: the savepoint rolls back
                db.flush()
        except IntegrityError:
            pass
        return "savepoints"

    def core_update():
        # a Core UPDATE through the session: no flush, no ORM object changed
        get_session().execute(update(Customer).where(Customer.name == "Kept Ltd").values(name="Core Ltd"))
        return "core"

    app.add_url_rule("/_t/core", view_func=core_update)
    app.add_url_rule("/_t/savepoints", view_func=savepoints)
    app.add_url_rule("/_t/flushed", view_func=flushed_not_committed)
    app.add_url_rule("/_t/changed", view_func=changed_not_flushed)
    app.add_url_rule("/_t/failing", view_func=failing)


def test_what_a_view_wrote_and_did_not_commit_is_rolled_back(app, session):
    _routes(app)
    session.add(Customer(name="Kept Ltd"))
    session.commit()
    client = app.test_client()
    assert client.get("/_t/flushed").status_code == 200
    assert client.get("/_t/changed").status_code == 200
    assert client.get("/_t/failing").status_code == 500
    assert client.get("/_t/savepoints").status_code == 200
    assert client.get("/_t/core").status_code == 200
    session.expire_all()
    names = set(session.scalars(select(Customer.name)))
    assert "Kept Ltd" in names
    assert not names & {"Flushed Ltd", "Renamed Ltd", "Failed Ltd", "Before Savepoint Ltd", "Released Ltd",
                        "Core Ltd"}


def test_a_read_keeps_prepared_statements_and_is_never_committed(app, session, client):
    # What the connection serving a request has prepared (PostgreSQL's view of it).
    app.add_url_rule("/_t/prepared", view_func=lambda: str(get_session().scalar(
        text("SELECT count(*) FROM pg_prepared_statements"))))
    user = make_user(session, "counsel")
    assert login(client, user.email).status_code == 302
    engine = app.extensions["desk"]["engine"]
    ends: list[str] = []
    event.listen(engine, "commit", lambda conn: ends.append("commit"))
    event.listen(engine, "rollback", lambda conn: ends.append("rollback"))
    for _ in range(12):  # psycopg prepares a statement on its 6th run on a connection
        assert client.get("/desk/demands").status_code == 200
    # Closed, not committed: PostgreSQL's reads ran outside a transaction, so psycopg's
    # rollback of it sends nothing; SQLite's read transaction is rolled back, which is
    # the same as committing it.
    assert ends and set(ends) == {"rollback"}, ends
    if engine.dialect.name == "postgresql":
        # still prepared: a ROLLBACK sent would have dropped them after every request
        assert int(client.get("/_t/prepared").get_data(as_text=True)) > 0


def test_a_request_that_sent_nothing_takes_no_connection(app, session, client):
    """A signed-in page that needs no SQL (the user is remembered: services/session_cache.py)
    checks no connection out of the pool, not even to end its session's transaction."""
    user = make_user(session, "counsel")
    session.commit()
    assert login(client, user.email).status_code == 302
    assert client.get("/account/password").status_code == 200  # warm: the user is remembered
    with checkouts(app) as taken:
        assert client.get("/account/password").status_code == 200
    assert taken == []


def _status() -> str:
    """The request's connection as PostgreSQL's driver sees it: IDLE outside a transaction."""
    raw = get_session().connection().connection.dbapi_connection
    return raw.info.transaction_status.name


@pytest.fixture
def pg_app(app):
    if app.config["DESK_DATABASE_URL"].split(":")[0].split("+")[0] != "postgresql":
        pytest.skip("PostgreSQL-only: SQLite's reads open no transaction of their own")
    return app


def test_reads_run_outside_a_transaction_until_the_first_write(pg_app, session):
    """On PostgreSQL a request's SELECTs run outside a transaction (no BEGIN, no COMMIT
    sent for a read); its first write opens one, which holds everything after it and is
    rolled back whole when the view fails."""
    app = pg_app
    seen: dict[str, list[str]] = {}

    def read_then_write():
        db = get_session()
        steps = seen.setdefault("write", [])
        db.scalar(select(Customer.id).limit(1))
        steps.append(_status())
        db.add(Customer(name="Written Ltd"))
        db.flush()
        steps.append(_status())
        db.scalar(select(Customer.id).limit(1))
        steps.append(_status())
        db.commit()
        return "written"

    def write_then_fail():
        db = get_session()
        db.scalar(select(Customer.id).limit(1))
        db.add(Customer(name="First Ltd"))
        db.flush()
        db.execute(update(Customer).where(Customer.name == "Kept Ltd").values(name="Second Ltd"))
        raise RuntimeError("the view failed after two writes")

    def read_only():
        db = get_session()
        db.scalar(select(Customer.id).limit(1))
        db.scalar(select(Customer.name).limit(1))
        seen["read"] = [_status()]
        return "read"

    app.add_url_rule("/_t/read-then-write", view_func=read_then_write)
    app.add_url_rule("/_t/write-then-fail", view_func=write_then_fail)
    app.add_url_rule("/_t/read-only", view_func=read_only)
    session.add(Customer(name="Kept Ltd"))
    session.commit()
    client = app.test_client()
    assert client.get("/_t/read-only").status_code == 200
    assert seen["read"] == ["IDLE"]
    assert client.get("/_t/read-then-write").status_code == 200
    assert seen["write"] == ["IDLE", "INTRANS", "INTRANS"]
    assert client.get("/_t/write-then-fail").status_code == 500
    session.expire_all()
    names = set(session.scalars(select(Customer.name)))
    assert "Written Ltd" in names and "Kept Ltd" in names
    assert not names & {"First Ltd", "Second Ltd"}


def test_a_locking_read_opens_the_transaction_and_holds_its_lock(pg_app, session):
    """``SELECT … FOR UPDATE`` (how a demand is read before it changes) opens the
    transaction: its row lock lasts until the request ends, not just the statement."""
    app = pg_app
    session.add(Customer(name="Locked Ltd"))
    session.commit()
    url = app.config["DESK_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    outcome: dict[str, str] = {}

    def locking_read():
        db = get_session()
        customer_id = db.scalar(select(Customer.id).where(Customer.name == "Locked Ltd").with_for_update())
        outcome["status"] = _status()
        with psycopg.connect(url, autocommit=True) as other:
            try:
                other.execute("SELECT id FROM customers WHERE id = %s FOR UPDATE NOWAIT", (customer_id,))
                outcome["other"] = "locked it too"
            except psycopg.errors.LockNotAvailable:
                outcome["other"] = "waits"
        return "locked"

    app.add_url_rule("/_t/locking-read", view_func=locking_read)
    engine = app.extensions["desk"]["engine"]
    ends: list[str] = []
    event.listen(engine, "commit", lambda conn: ends.append("commit"))
    assert app.test_client().get("/_t/locking-read").status_code == 200
    assert outcome == {"status": "INTRANS", "other": "waits"}
    # its transaction, which only read, is committed (a ROLLBACK would drop what
    # psycopg has prepared on the connection)
    assert ends == ["commit"]


def test_connections_leave_the_pool_in_transaction_mode(pg_app, session):
    """After a request that read outside a transaction, the same pooled connection serves
    other code (the CLI, the dispatcher) in transaction mode, as SQLAlchemy expects."""
    app = pg_app
    app.add_url_rule("/_t/read", view_func=lambda: str(get_session().scalar(select(Customer.id).limit(1))))
    assert app.test_client().get("/_t/read").status_code == 200
    engine = app.extensions["desk"]["engine"]
    raw = engine.raw_connection()
    try:
        assert raw.dbapi_connection.autocommit is False
    finally:
        raw.close()
    with app.extensions["desk"]["sessionmaker"]() as other:
        other.scalar(select(Customer.id).limit(1))
        assert other.connection().connection.dbapi_connection.info.transaction_status.name == "INTRANS"
