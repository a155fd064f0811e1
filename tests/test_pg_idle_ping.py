"""PostgreSQL: a pooled connection is tested before use only after it sat idle
(db.ping_when_idle), so a busy desk does not pay a round trip per request, and a
connection that died while idle is replaced instead of failing the request."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import create_engine, text

from requests_desk.db import ping_when_idle


def _engine(url: str, after: float):
    engine = create_engine(url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, after=after)
    return engine


def _pid(engine) -> int:
    """The server process of the connection the pool hands out (checked out and back in)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]
    finally:
        raw.close()


def _kill(url: str, pid: int) -> None:
    killer = create_engine(url)
    try:
        with killer.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        killer.dispose()


@pytest.fixture
def pg_url(app) -> str:
    url = app.config["DESK_DATABASE_URL"]
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL-only test")
    return url


def test_an_idle_connection_that_died_is_replaced(pg_url):
    engine = _engine(pg_url, after=0.0)  # every checkout counts as idle: always tested
    try:
        first = _pid(engine)
        _kill(pg_url, first)
        second = _pid(engine)  # the ping failed, the pool connected anew: no error
        assert second != first
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(pg_url):
    engine = _engine(pg_url, after=3600.0)  # never idle long enough to be tested
    try:
        first = _pid(engine)
        _kill(pg_url, first)
        # No ping before this checkout: the dead connection is handed out, and the
        # statement fails; once it is discarded, the next checkout works.
        raw = engine.raw_connection()
        with pytest.raises(psycopg.OperationalError):
            raw.cursor().execute("SELECT 1")
        raw.invalidate()
        raw.close()
        assert _pid(engine) != first
    finally:
        engine.dispose()
