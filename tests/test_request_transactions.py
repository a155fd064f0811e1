"""How a request's transaction ends (db_session.close_session): a read commits (nothing
to write; on PostgreSQL this keeps the statements psycopg has prepared, which any
ROLLBACK discards), while anything written and not committed by the view is rolled back,
never committed by the teardown."""
from __future__ import annotations

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


def test_a_read_ends_with_commit_and_keeps_prepared_statements(app, session, client):
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
    assert ends and set(ends) == {"commit"}, ends
    if engine.dialect.name == "postgresql":
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
