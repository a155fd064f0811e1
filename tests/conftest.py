"""Fixtures: every database test runs on SQLite and on PostgreSQL.

SQLite: the schema is migrated once into a template file, copied for each test.
PostgreSQL: migrated once; each test starts from truncated tables.
PostgreSQL comes from DESK_TEST_DATABASE_URL, or the local server on 127.0.0.1:5432
when it answers; otherwise its tests skip (and fail under CI=true).
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.security import generate_password_hash

os.environ.setdefault("DESK_SECRET_KEY", "test-secret-key")
# Like the secret key: one audit key for the tests, so no test writes a key file into the
# repository's instance folder (tests/test_audit_key.py checks the generated file).
os.environ.setdefault("DESK_AUDIT_KEY", "test-audit-key-0123456789abcdef0123456789abcdef")
# The login helper signs in with a password alone; tests/test_two_factor.py sets "required".
os.environ.setdefault("DESK_STAFF_2FA", "optional")
for _key in ("DESK_DATABASE_URL", "DESK_SMTP_URL", "DESK_UPLOAD_DIR", "DESK_BASE_URL"):
    os.environ.pop(_key, None)

from requests_desk.app import create_app  # noqa: E402
from requests_desk.db import make_engine  # noqa: E402
from requests_desk.migrate import upgrade_schema  # noqa: E402
from requests_desk.rules import load_rules  # noqa: E402
from requests_desk.services import passwords  # noqa: E402

from .factories import Api, login as _login  # noqa: E402

CI = os.environ.get("CI", "").lower() == "true"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/desk_test"


@pytest.fixture(autouse=True)
def _cheaper_password_hashing(request, monkeypatch):
    """Users made by a test get their passwords hashed with PBKDF2 at 1,000 rounds, a real
    hash that werkzeug checks as it checks scrypt, instead of the desk's scrypt (about
    0.1-0.15 s a hash here; it was about a fifth of the suite's time). Sign-in checks
    each stored hash by its own method, so signing in works the same. A module that
    tests the hashing itself, or times sign-in, is marked ``real_password_hashing``."""
    if request.node.get_closest_marker("real_password_hashing"):
        return
    monkeypatch.setattr(passwords, "hash_password",
                        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1000"))


def _pg_url() -> tuple[str | None, str]:
    url = os.environ.get("DESK_TEST_DATABASE_URL") or DEFAULT_PG
    try:
        target = make_url(url)
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker:  # pytest -n: each worker gets its own database
            target = target.set(database=f"{target.database}_{worker}")
            url = target.render_as_string(hide_password=False)
        admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
        admin.dispose()
        return url, ""
    except Exception as exc:  # the server is not there: say why the tests skip
        return None, f"PostgreSQL not reachable at {url} ({type(exc).__name__}); set DESK_TEST_DATABASE_URL"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    _seed(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database():
    url, reason = _pg_url()
    if url is None:
        if CI:
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    engine = make_engine(url)
    with engine.begin() as conn:  # start from nothing, then migrate once
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    upgrade_schema(engine)
    with engine.connect() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))]
    engine.dispose()
    return url, tables


def _seed(engine) -> None:
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        load_rules(session)
        session.commit()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        if "postgres_only" in request.keywords:
            pytest.skip("PostgreSQL-only test")
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "desk.sqlite"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url, tables = request.getfixturevalue("pg_database")
    engine = make_engine(url)
    with engine.begin() as conn:
        _empty(conn, tables)
    _seed(engine)
    engine.dispose()
    return url


def _empty(conn, tables: list[str]) -> None:
    """Every table emptied and every id sequence restarted, as ``TRUNCATE … RESTART
    IDENTITY`` would. A superuser deletes the rows instead, foreign keys' triggers off for
    it (``session_replication_role``): on tables this small that takes milliseconds,
    where TRUNCATE gave all 43 tables new files, 0.2-0.5 s a test (about two minutes of
    the suite on two workers)."""
    if not conn.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")):
        conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        return
    conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
    for table in tables:
        conn.exec_driver_sql(f'DELETE FROM "{table}"')
    conn.exec_driver_sql("SELECT setval(s.seqrelid, s.seqstart, false) FROM pg_sequence s "
                         "JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                         "WHERE n.nspname = 'public'")


@pytest.fixture
def app(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DESK_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({
        "TESTING": True,
        "DESK_DATABASE_URL": db_url,
        "DESK_UPLOAD_DIR": str(tmp_path / "uploads"),
        "DESK_OUTBOX_DIR": str(tmp_path / "outbox"),
        "SECRET_KEY": "test-secret-key",
    })
    yield app
    app.extensions["desk"]["engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    """A session of the app's own sessionmaker (commit to make rows visible to requests)."""
    s = app.extensions["desk"]["sessionmaker"]()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def login(client):
    def do(email: str, password: str = "correct horse battery", next_path: str | None = None):
        return _login(client, email, password, next_path)

    return do


@pytest.fixture
def api(client):
    def make(token: str | None) -> Api:
        return Api(client, token)

    return make


def pytest_collection_modifyitems(items):
    for item in items:
        if re.search(r"browser", str(item.fspath)):
            item.add_marker(pytest.mark.browser)


# ---------------------------------------------------------------- notices (SMTP, dispatcher)


@pytest.fixture
def smtp_server(app):
    """A real SMTP server (aiosmtpd) on a free port; the app sends its notices there."""
    from .smtp import SmtpServer

    server = SmtpServer().start()
    app.config["DESK_SMTP_URL"] = server.url
    yield server
    server.stop()


@pytest.fixture
def run_dispatch(app):
    """``run_dispatch(now=None, *more_args)`` runs ``flask desk dispatch [--now ISO]`` through
    the real CLI; returns click's result (``exit_code``, ``output``)."""

    def run(now=None, *more: str):
        args = ["desk", "dispatch"]
        if now is not None:
            args += ["--now", now if isinstance(now, str) else now.isoformat()]
        args += list(more)
        return app.test_cli_runner().invoke(args=args)

    return run


@pytest.fixture
def desk(session, api):
    """Staff users with tokens and demand steps through the API (tests/factories.py NoticeDesk)."""
    from .factories import NoticeDesk

    return NoticeDesk(session, api)
