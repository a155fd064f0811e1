"""Schema (issue 2, point 2): `desk init` creates or upgrades the schema and seeds the
rule tables, idempotently; the migrations match the models; foreign keys hold on
SQLite too."""
from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from requests_desk.app import create_app
from requests_desk.db import Base, make_engine
from requests_desk.migrate import alembic_config
from requests_desk.models import DataSet, Demand, DemandItem, DemandTarget, ProcessRule
from tests.factories import make_demand


@pytest.fixture
def empty_url(db_url, tmp_path):
    """An empty database of the same kind as ``db_url`` (its own PostgreSQL database)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    url = make_url(db_url)
    name = f"{url.database}_init"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _init(url, tmp_path):
    app = create_app({"TESTING": True, "DESK_DATABASE_URL": url, "SECRET_KEY": "k",
                      "DESK_UPLOAD_DIR": str(tmp_path / "up")})
    try:
        return app.test_cli_runner().invoke(args=["desk", "init"])
    finally:
        app.extensions["desk"]["engine"].dispose()


def _state(url) -> dict:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            version = conn.scalar(text("SELECT version_num FROM alembic_version")) if "alembic_version" in tables \
                else None
            counts = {}
            if "data_sets" in tables:
                counts = {"data_sets": conn.scalar(select(func.count()).select_from(DataSet)),
                          "process_rules": conn.scalar(select(func.count()).select_from(ProcessRule))}
        return {"tables": tables, "version": version, **counts}
    finally:
        engine.dispose()


def _head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_init_creates_schema_and_seeds_idempotently(empty_url, tmp_path):
    assert _state(empty_url)["tables"] == set()
    first = _init(empty_url, tmp_path)
    assert first.exit_code == 0, first.output
    assert "ready" in first.stdout.lower()
    state = _state(empty_url)
    assert state["version"] == _head()
    assert set(Base.metadata.tables) <= state["tables"]
    assert (state["data_sets"], state["process_rules"]) == (8, 11)
    # an administrator's own data set survives a second init; nothing is seeded twice
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(DataSet.__table__.insert().values(code="voice_mail", tier="content", label="Voicemail"))
    engine.dispose()
    second = _init(empty_url, tmp_path)
    assert second.exit_code == 0, second.output
    again = _state(empty_url)
    assert (again["version"], again["data_sets"], again["process_rules"]) == (_head(), 9, 11)


def test_init_upgrades_an_older_schema(empty_url, tmp_path):
    """From the oldest state (base, after a downgrade) init brings the schema to head."""
    assert _init(empty_url, tmp_path).exit_code == 0
    engine = make_engine(empty_url)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    engine.dispose()
    state = _state(empty_url)
    assert state["version"] is None and state["tables"] <= {"alembic_version"}
    for _ in range(2):
        result = _init(empty_url, tmp_path)
        assert result.exit_code == 0, result.output
    state = _state(empty_url)
    assert (state["version"], state["data_sets"], state["process_rules"]) == (_head(), 8, 11)


def test_migrations_match_the_models(app):
    engine = app.extensions["desk"]["engine"]
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_foreign_keys_are_enforced(app, session):
    with pytest.raises(IntegrityError):
        session.add(DemandTarget(demand_id=987654, identifier="x@example.org", position=0))
        session.flush()
    session.rollback()
    demand = make_demand(session)
    with pytest.raises(IntegrityError):
        session.add(DemandItem(demand_id=demand.id, kind="requested", target="alice@example.org",
                               data_set="no_such_set", date_from=demand.received_at.date(),
                               date_to=demand.received_at.date()))
        session.flush()
    session.rollback()


def test_check_constraints_hold(app, session):
    demand = make_demand(session)
    with pytest.raises(IntegrityError):
        session.execute(Demand.__table__.update().where(Demand.id == demand.id).values(status="lost"))
    session.rollback()


def test_sqlite_connections_turn_foreign_keys_on(app, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL always enforces foreign keys")
    with app.extensions["desk"]["engine"].connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_an_upgraded_desk_gives_each_gag_its_demands_process_type(app, session, db_url):
    """Migration 0013 copies each gag's demand's process type onto the gag, on a desk that
    had gags before; the queue's gag lists then count only what a reader may know of."""
    from requests_desk.models import Gag
    from requests_desk.services import gags as gag_service
    from requests_desk.services.queue import build_queue
    from tests.factories import make_user

    cleared = make_user(session, "counsel", "cleared", email="clara@desk.example")
    plain = make_user(session, "counsel", email="cam@desk.example")
    for ptype in ("national_security", "subpoena", "court_order"):
        demand = make_demand(session, cleared, process_type=ptype)
        gag_service.set_gag(session, cleared, session.get(Demand, demand.id),
                            {"order_ref": f"NDO-{ptype}", "issued_by": "Court", "expires_at": None})
    session.commit()
    session.close()
    engine = make_engine(db_url)
    config = alembic_config()
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0012")
        with engine.connect() as conn:
            assert "process_type" not in {c["name"] for c in inspect(conn).get_columns("gags")}
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        engine.dispose()
    pairs = session.execute(select(Gag.process_type, Demand.process_type).join(Gag.demand)).all()
    assert sorted(pairs) == [("court_order",) * 2, ("national_security",) * 2, ("subpoena",) * 2]
    totals = {who: {q.key: q.total for q in build_queue(session, user, scope="all").lists}["gags_review"]
              for who, user in (("cleared", cleared), ("plain", plain))}
    assert totals == {"cleared": 3, "plain": 2}
