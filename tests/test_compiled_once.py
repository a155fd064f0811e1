"""statements.CompiledOnce: a statement built once and always run as built.

A SELECT whose parameters are plain values runs on the driver's own cursor (``statements.Plain``),
compiled once per dialect, and reads back what SQLAlchemy's execution reads: the same
rows, the same column names, each value processed by its column's type. Anything else
(an expanding or literal parameter) goes through SQLAlchemy, with a compiled cache of its
own, out of the engine's."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import bindparam, create_engine, literal_column, select, union_all
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound

from requests_desk.statements import CompiledOnce, Plain, Rows
from requests_desk.models import Demand, DemandItem, Gag

from .factories import counted, make_demand, make_user


def _typed_rows(rows):
    """Rows as (value, its type, its time zone) tuples: equal only if read back alike."""
    return [tuple((value, type(value), getattr(value, "tzinfo", None)) for value in row) for row in rows]


@pytest.fixture
def demands(session):
    staff = make_user(session, "counsel", email="cam@desk.example")
    made = [make_demand(session, staff, emergency=i % 2 == 0, justification="Life at risk" if i % 2 == 0 else None,
                        gag={"order_ref": f"G-{i}", "issued_by": "Court", "expires_at": None} if i == 1 else None)
            for i in range(3)]
    return [d.id for d in made]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pick=st.integers(0, 3), at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                                               timezones=st.just(timezone.utc)))
def test_a_plain_select_reads_what_sqlalchemy_reads(app, session, demands, pick, at):
    """Times (UTC-aware on both databases), dates, booleans, text, NULLs and the union's
    literal columns come back as SQLAlchemy's own execution gives them, under the same names."""
    demand_id = demands[pick] if pick < len(demands) else 0
    by_id = bindparam("id")
    one = select(Demand.id, Demand.reference, Demand.received_at, Demand.emergency, Demand.due_at,
                 Demand.closed_at, Demand.assignee_id, (Demand.received_at < bindparam("at", type_=Demand.received_at.type)
                                                       ).label("before")).where(Demand.id >= by_id)
    both = union_all(
        select(literal_column("'items'").label("kind"), DemandItem.date_from.label("day"), DemandItem.data_set.label("text"))
        .where(DemandItem.demand_id >= by_id),
        select(literal_column("'gags'"), Gag.issued_at, Gag.order_ref).where(Gag.demand_id >= by_id)).subquery()
    children = select(both).order_by(both.c.kind, both.c.day, both.c.text)
    engine = app.extensions["desk"]["engine"]
    with engine.connect() as conn:
        for statement in (one.order_by(Demand.id), children):
            fixed = CompiledOnce(statement)
            params = {"id": demand_id, "at": at}
            plain = fixed.run(conn, params)
            assert isinstance(plain, Rows)  # run on the driver's cursor
            own = conn.execute(statement, params).all()
            assert _typed_rows(plain) == _typed_rows(own)
            assert [row._fields for row in plain] == [tuple(row._fields) for row in own]
    if demand_id == demands[0]:
        assert any(isinstance(row[1], date) for row in own)  # the dates were compared, not only NULLs


def test_a_plain_select_is_seen_by_the_engines_cursor_events(app, session, demands):
    """Whatever counts statements (tests/factories.counted, bench/breakdown.py) sees the
    plain ones too."""
    fixed = CompiledOnce(select(Demand.reference).where(Demand.id == bindparam("id")))
    with counted(app) as statements, app.extensions["desk"]["engine"].connect() as conn:
        assert fixed.run(conn, {"id": demands[0]}).scalar().startswith("LD-")
    assert statements == [" ".join(str(fixed.statement.compile(dialect=conn.dialect)).split())]


def test_rows_answer_as_a_result_does():
    rows = Rows([("a", 1), ("b", 2)])
    assert rows.first() == ("a", 1) and rows.scalar() == "a" and rows.all() == [("a", 1), ("b", 2)]
    assert Rows().first() is None and Rows().scalar() is None
    assert Rows([("a", 1)]).one() == ("a", 1)
    with pytest.raises(NoResultFound):
        Rows().one()
    with pytest.raises(MultipleResultsFound):
        rows.one()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.integers(0, 3), max_size=5), prefix=st.sampled_from(["LD-", "ld-", "LD-2", "X", "'", "%"]))
def test_an_expanding_parameter_and_a_written_in_value_are_finished_on_each_run(app, session, demands, picks,
                                                                                   prefix):
    """An expanding IN (``db.among`` on SQLite) is written out for each run's list, and a
    ``literal_execute`` value (the search's prefix) into the text, as SQLAlchemy writes them."""
    from sqlalchemy import String, func

    ids = [demands[p] if p < len(demands) else 0 for p in picks]
    statement = (select(Demand.id, Demand.received_at)
                 .where(Demand.id.in_(bindparam("ids", expanding=True)),
                        func.lower(Demand.reference) >= func.lower(bindparam("q", prefix, type_=String,
                                                                                  literal_execute=True)))
                 .order_by(Demand.id))
    fixed = CompiledOnce(statement)
    with app.extensions["desk"]["engine"].connect() as conn:
        plain = fixed.run(conn, {"ids": ids})
        assert isinstance(plain, Rows)
        assert _typed_rows(plain) == _typed_rows(conn.execute(statement, {"ids": ids}).all())
        again = fixed.run(conn, {"ids": ids[:1]})  # the compiled form is not changed by a run
        assert [row.id for row in again] == [row.id for row in plain if row.id in ids[:1]]


def test_a_statement_other_than_a_select_goes_through_sqlalchemy(app, session, demands):
    from sqlalchemy import update

    fixed = CompiledOnce(update(Demand).where(Demand.id == bindparam("did")).values(notes=bindparam("notes")))
    engine = app.extensions["desk"]["engine"]
    engine._compiled_cache.clear()
    with engine.connect() as conn:
        first = fixed.run(conn, {"did": demands[0], "notes": "one"})
        second = fixed.run(conn, {"did": demands[1], "notes": "two"})
        assert first.rowcount == second.rowcount == 1 and not isinstance(first, Rows)
        assert second.context.compiled is first.context.compiled  # compiled once, in its own cache
        assert len(engine._compiled_cache) == 0
        assert conn.execute(select(Demand.notes).where(Demand.id == demands[1])).scalar() == "two"
        conn.rollback()


def test_a_failing_plain_select_raises_as_sqlalchemy_does_and_leaves_the_connection_usable(app, session):
    fixed = CompiledOnce(select(literal_column("no_such_column")).where(Demand.id == bindparam("id")))
    with app.extensions["desk"]["engine"].connect() as conn:
        with pytest.raises(DBAPIError) as raised:
            fixed.run(conn, {"id": 1})
        assert "no_such_column" in str(raised.value)
        conn.rollback()
        assert CompiledOnce(select(bindparam("x") + 1)).run(conn, {"x": 1}).scalar() == 2


def test_each_dialect_has_its_own_form(tmp_path):
    """One statement run on SQLite and PostgreSQL in one process (the test suite, or a
    restore from one to the other) is compiled for each."""
    fixed = CompiledOnce(select(bindparam("x") + 1))
    one = create_engine(f"sqlite:///{tmp_path / 'one.sqlite'}")
    two = create_engine(f"sqlite:///{tmp_path / 'two.sqlite'}")
    with one.connect() as c1, two.connect() as c2:
        assert (fixed.run(c1, {"x": 1}).scalar(), fixed.run(c2, {"x": 41}).scalar()) == (2, 42)
    assert len(fixed._plain) == 2
    one.dispose()
    two.dispose()


def test_the_hot_reads_run_plain_on_both_databases():
    """The API's read of a demand, the case page's and the list's page details run on the
    driver's cursor."""
    from sqlalchemy.dialects import postgresql, sqlite

    from requests_desk.api.demand_read import _children, _main
    from requests_desk.services.demand_rows import _page_details
    from requests_desk.staff.case_read import _everything

    for dialect in (sqlite.dialect(), postgresql.psycopg.dialect()):
        for fixed in (_main(()), _main(("national_security",)), _children(), _everything(),
                      _page_details(dialect.name)):
            plain = Plain.of(fixed.statement, dialect)
            assert plain is not None
            # On PostgreSQL with its own placeholders: psycopg parses nothing (the case
            # page's read, 8 KB, is past what it keeps of its parses).
            assert (plain.native is not None) == (dialect.name == "postgresql")


def test_placeholders_become_postgresqls_own_once():
    from requests_desk.statements import _native_placeholders

    sql = "SELECT %(a)s::INTEGER, %(b_1)s, %(a)s, '100%%', x %% 2, '%%(a)s' FROM t WHERE y = %(c)s"
    assert _native_placeholders(sql) == (b"SELECT $1::INTEGER, $2, $1, '100%', x % 2, '%(a)s' FROM t WHERE y = $3",
                                         ["a", "b_1", "c"])
