"""One session per request (on ``g``), closed at teardown; the CLI's session scope."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from flask import current_app, g
from sqlalchemy.orm import Session


def get_session() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["desk"]["sessionmaker"]()
    return g.db


def close_session(_exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        # close() ends the transaction (the connection rolls back what the view did not
        # commit) without first expiring every loaded object, as rollback() would: a
        # read changed nothing, and expiring a page's objects cost more than the page's SQL.
        db.close()


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
