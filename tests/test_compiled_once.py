"""db.CompiledOnce: a statement built once keeps its compiled form in a cache of its
own, out of the engine's (whose lookup hashes the statement's whole cache key on every
execution), one form per dialect and set of parameter names."""
from __future__ import annotations

from sqlalchemy import bindparam, create_engine, select

from requests_desk.db import CompiledOnce
from requests_desk.models import Demand

from .factories import make_demand, make_user


def test_runs_with_its_parameters_and_stays_out_of_the_engines_cache(app, session):
    staff = make_user(session, "counsel", email="cam@desk.example")
    a, b = make_demand(session, staff), make_demand(session, staff)
    fixed = CompiledOnce(select(Demand.reference).where(Demand.id == bindparam("id")))
    engine = app.extensions["desk"]["engine"]
    engine._compiled_cache.clear()
    with engine.connect() as conn:
        first = fixed.run(conn, {"id": a.id})
        assert first.scalar() == a.reference
        second = fixed.run(conn, {"id": b.id})
        assert second.scalar() == b.reference
        assert second.context.compiled is first.context.compiled  # compiled once
    assert len(engine._compiled_cache) == 0


def test_each_dialect_has_its_own_form(tmp_path):
    """One statement run on SQLite and PostgreSQL in one process (the test suite, or a
    restore from one to the other) is compiled for each."""
    fixed = CompiledOnce(select(bindparam("x") + 1))
    one = create_engine(f"sqlite:///{tmp_path / 'one.sqlite'}")
    two = create_engine(f"sqlite:///{tmp_path / 'two.sqlite'}")
    with one.connect() as c1, two.connect() as c2:
        r1, r2 = fixed.run(c1, {"x": 1}), fixed.run(c2, {"x": 41})
        assert (r1.scalar(), r2.scalar()) == (2, 42)
        assert r1.context.compiled is not r2.context.compiled
    one.dispose()
    two.dispose()
