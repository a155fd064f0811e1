"""The report summary the database keeps as rows are written (requests_desk/report_summary.py):
what the triggers keep equals a rebuild from the base tables, the compile reads the summary
and the period's demands only, a migrated desk gets its summary filled, the rules the
summary relies on hold, and two concurrent intakes of one account count it once."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError

from reports.aggregate import compile_report as aggregate
from reports.periods import Period
from requests_desk import report_summary
from requests_desk.db import make_engine
from requests_desk.migrate import alembic_config
from requests_desk.models import Demand

from .factories import counted, make_demand
from .test_reports_caseload import PERIOD, build_caseload


def _kept_and_rebuilt(session) -> tuple[dict, dict]:
    """The summary as the triggers kept it, and as a rebuild computes it (rolled back)."""
    session.commit()
    conn = session.connection()
    kept = report_summary.snapshot(conn)
    report_summary.rebuild(conn)
    rebuilt = report_summary.snapshot(conn)
    session.rollback()
    return kept, rebuilt


def test_the_triggers_keep_what_a_rebuild_computes(app, session):
    build_caseload(app, session)
    kept, rebuilt = _kept_and_rebuilt(session)
    assert kept == rebuilt
    # Not vacuous: every part of the summary has rows.
    assert {dim for _, dim, _, _ in kept["report_account_counts"]} == {"country", "process_type", "section"}
    assert {kind for _, kind, *_ in kept["report_marks"]} == {"notified", "gag_held", "gag"}
    assert {kind for _, kind, _ in kept["report_mark_counts"]} == {"notified", "gag_held", "gag"}
    # An identifier named in two demands of a country counts once there.
    counts = {(p, d, m): n for p, d, m, n in kept["report_account_counts"]}
    pairs = [r for r in kept["report_accounts"] if r[:3] == (PERIOD, "section", "main")]
    assert counts[(PERIOD, "section", "main")] == len(pairs) == len({r[3] for r in pairs})


def test_the_compile_reads_the_period_s_demands_and_the_summary_only(app, session):
    load = build_caseload(app, session)
    with counted(app) as found:
        aggregate(session, Period.parse(PERIOD), load.late_dispatch + timedelta(days=1))
    statements = [s.lower() for s in found]
    assert len(statements) == 3, statements  # process types, the scan of demands, the summary
    for table in ("demand_targets", "notices", "gags"):
        assert not any(f" {table}" in s for s in statements), f"the compile read {table}"
    scans = [s for s in statements if "from demands" in s]
    assert len(scans) == 1 and "group by" in scans[0]


def test_an_upgraded_desk_gets_its_summary_filled(app, session, db_url):
    """A desk that had data before the summary existed: the migration fills it."""
    build_caseload(app, session)
    kept, _ = _kept_and_rebuilt(session)
    session.close()
    engine = make_engine(db_url)
    config = alembic_config()
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
        with engine.begin() as conn:
            assert "report_accounts" not in {r[0] for r in conn.execute(text(
                "SELECT name FROM sqlite_master" if conn.dialect.name == "sqlite" else
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))}
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        with engine.connect() as conn:
            assert report_summary.snapshot(conn) == kept
    finally:
        engine.dispose()


def test_intake_fields_are_fixed_and_an_outcome_means_closed(app, session):
    demand = make_demand(session)
    for values in ({"received_at": demand.received_at + timedelta(days=200)}, {"country": "FR"},
                   {"process_type": "court_order"}, {"concerns_enterprise": True},
                   {"outcome": "rejected"}):  # an open demand has no outcome
        with pytest.raises(IntegrityError):
            session.execute(update(Demand).where(Demand.id == demand.id).values(**values))
        session.rollback()
    # Unchanged values and the other columns are free to write.
    session.execute(update(Demand).where(Demand.id == demand.id).values(country=demand.country, notes="n"))
    session.execute(update(Demand).where(Demand.id == demand.id).values(status="closed", outcome="withdrawn"))
    session.commit()
    with pytest.raises(IntegrityError):
        session.execute(update(Demand).where(Demand.id == demand.id).values(outcome=None))
    session.rollback()


@pytest.mark.postgres_only
def test_two_writers_naming_one_account_at_once_count_it_once(app, session, db_url):
    """Two transactions add the same account to two demands of one country at once: the
    second waits for the first on the summary's unique key, then finds the pair taken
    and does not count it again."""
    first, second = (make_demand(session, country="NL", targets=[f"own{n}@mail.example"]) for n in range(2))
    engine = make_engine(db_url)
    inserted = threading.Barrier(2)
    errors: list[BaseException] = []

    def add_target(demand_id: int, leader: bool) -> None:
        try:
            with engine.connect() as conn:
                if not leader:
                    inserted.wait(timeout=10)  # the leader's row is in, not yet committed
                conn.execute(text("INSERT INTO demand_targets (demand_id, identifier, position) "
                                  "VALUES (:d, 'shared@mail.example', 1)"), {"d": demand_id})
                if leader:
                    inserted.wait(timeout=10)
                    time.sleep(0.3)  # the other one is now waiting on the key
                conn.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=add_target, args=(d.id, d is first)) for d in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    try:
        assert not errors, errors
        with engine.connect() as conn:
            counts = {m: n for m, n in conn.execute(text(
                "SELECT member, n FROM report_account_counts WHERE dimension = 'country'"))}
            assert counts["NL"] == 3  # own0, own1, shared
            kept = report_summary.snapshot(conn)
            report_summary.rebuild(conn)
            assert report_summary.snapshot(conn) == kept
            conn.rollback()
    finally:
        engine.dispose()


def test_a_process_type_changing_section_regroups_the_summary(app, session):
    """If the rule table ever makes a type a preservation type, the summary follows."""
    from dataclasses import replace

    from requests_desk.rules import DEFAULT_RULES, load_rules

    make_demand(session, process_type="subpoena", targets=["moved@mail.example"])
    kept = report_summary.snapshot(session.connection())
    assert any(r[1:] == ("section", "main", "moved@mail.example") for r in kept["report_accounts"])
    flipped = replace(DEFAULT_RULES, process_types=tuple(
        replace(r, preservation=True) if r.code == "subpoena" else r for r in DEFAULT_RULES.process_types))
    load_rules(session, flipped)
    session.commit()
    kept, rebuilt = _kept_and_rebuilt(session)
    assert kept == rebuilt
    assert any(r[1:] == ("section", "preservation", "moved@mail.example") for r in kept["report_accounts"])
    assert not any(r[1] == "country" and r[3] == "moved@mail.example" for r in kept["report_accounts"])
