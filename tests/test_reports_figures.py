"""The report's figures against a count made in plain Python from the seeded case load:
every section, period edges to the second, rounding, banding and the 180-day rule,
the country minimum, and published versions that do not move when live data changes."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from reports.aggregate import compile_report as aggregate
from reports.periods import Period
from requests_desk.db import utcnow
from requests_desk.models import Demand
from requests_desk.services import reports as report_service

from .test_reports_caseload import (
    CASES,
    PERIOD,
    PERIOD_END,
    Case,
    build_caseload,
    expected_report,
    log_case,
    report_sections,
)

H1 = Period.parse(PERIOD)


def _compile(session, actor, when: datetime, min_country: int = 0) -> dict:
    row = report_service.compile_report(session, actor, PERIOD, when, min_country=min_country)
    session.commit()
    return json.loads(row.body)


def test_every_section_equals_a_plain_python_count(app, session):
    load = build_caseload(app, session)
    admin = load.users["admin"]
    # Between the two dispatch runs: the late cases' notices were sent after this moment.
    when = load.first_dispatch + timedelta(hours=1)
    body = _compile(session, admin, when)
    assert body["status"] == "draft" and body["version"] is None and body["published_at"] is None
    assert body["schema_version"] == 1 and body["period"] == PERIOD
    assert report_sections(body) == expected_report(load, when)
    # The figures this case load was written to exercise, stated outright as well.
    assert body["totals"]["requests"] == 20
    assert body["by_country"][0]["country"] == "US" and body["by_country"][0]["requests"] == 8
    # One emergency found fraudulent: counted in the emergency section, and as rejected.
    assert body["emergency"]["fraudulent"] == 1 and body["emergency"]["rejected"] == 2
    assert body["enterprise"]["notice_delayed_by_gag"] == 3
    assert body["gag"]["requests_with_gag"] == 4

    # Later, once the late cases' notices went out and 180 days have passed: they count
    # as notified, and national security appears, in bands only.
    later = max(PERIOD_END + timedelta(days=180), load.late_dispatch + timedelta(minutes=1))
    body = _compile(session, admin, later)
    assert report_sections(body) == expected_report(load, later)
    assert body["national_security"] == {"requests": "0-499", "accounts_specified": "0-499"}
    assert body["enterprise"]["customer_notified"] > 0


def test_period_edges_are_exact_to_the_second(app, session):
    edges = {"2025-12-31T23:59:59Z", "2026-01-01T00:00:00Z", "2026-06-30T23:59:59Z", "2026-07-01T00:00:00Z"}
    # One microsecond before the period starts is outside; the last microsecond of June is inside.
    cases = [c for c in CASES if c.received_at in edges] + [
        Case("2025-12-31T23:59:59.999999Z", "FR", "subpoena", ["zoe@mail.example"], "rejected"),
        Case("2026-06-30T23:59:59.999999Z", "FR", "subpoena", ["zack@mail.example"], "rejected"),
    ]
    load = build_caseload(app, session, cases)
    assert load.cases[-1].demand_id is not None
    assert session.get(Demand, load.cases[-1].demand_id).received_at.microsecond == 999999
    body = _compile(session, load.users["admin"], utcnow())
    assert body["totals"]["requests"] == 3
    assert {r["country"] for r in body["by_country"]} == {"DE", "US", "FR"}
    assert body["by_process_type"][0]["process_type"] == "subpoena"
    assert body["by_process_type"][0]["requests"] == 1  # the last microsecond of June
    # alice, bob and carol (Jan 1 and Jun 30), zack (the last microsecond): not xavier, zoe or yara.
    assert body["totals"]["accounts_specified"] == 4
    h2_2025 = aggregate(session, Period.parse("2025-H2"), utcnow())
    assert (h2_2025.totals.requests, h2_2025.totals.accounts_specified) == (2, 2)


def test_country_minimum_merges_small_countries_into_a_last_other_row(app, session):
    load = build_caseload(app, session)
    when = load.late_dispatch + timedelta(minutes=5)
    body = _compile(session, load.users["admin"], when, min_country=3)
    assert report_sections(body) == expected_report(load, when, min_country=3)
    assert [r["country"] for r in body["by_country"]] == ["US", "DE", "GB", "Other"]
    other = body["by_country"][-1]
    assert other["requests"] == 6  # FR 2, IE 2, BR 1, NL 1
    # acct-9001 is named in France and in Great Britain: distinct accounts are not additive.
    assert sum(r["accounts_specified"] for r in body["by_country"]) > body["totals"]["accounts_specified"]


def test_rounding_is_half_up_to_two_decimals(app, session):
    """31 pending requests and 1 rejected: 1/32 = 3.125 % → 3.13 (half-even would say 3.12)."""
    cases = [Case(f"2025-02-{1 + i % 28:02d}T08:00:00Z", "US", "subpoena", [f"user{i}@mail.example"])
             for i in range(31)]
    cases.append(Case("2025-03-01T08:00:00Z", "US", "subpoena", ["rejected@mail.example"], "rejected"))
    load = build_caseload(app, session, cases)
    row = report_service.compile_report(session, load.users["counsel"], "2025-H1", utcnow())
    session.commit()
    body = json.loads(row.body)
    assert body["totals"]["requests"] == 32
    assert body["totals"]["pct_rejected"] == pytest.approx(3.13)
    assert '"pct_rejected": 3.13\n' in row.body and '"pct_content_disclosed": 0.00,' in row.body
    assert body["by_process_type"][0]["pct_rejected"] == pytest.approx(3.13)


def test_national_security_waits_180_days_and_never_shows_an_exact_figure(app, session):
    load = build_caseload(app, session, [c for c in CASES if c.process_type != "national_security"])
    admin = load.users["admin"]
    ready = H1.end + timedelta(days=180)
    without = _compile(session, admin, ready)
    for case in (c for c in CASES if c.process_type == "national_security"):
        log_case(session, load.users, Case(**{k: v for k, v in vars(case).items() if k != "demand_id"}))
    before = _compile(session, admin, ready - timedelta(seconds=1))
    assert before["national_security"] == "not_yet_reportable"
    with_ns = _compile(session, admin, ready)
    assert with_ns["national_security"] == {"requests": "0-499", "accounts_specified": "0-499"}
    # No figure by subtraction: every other section is the same with or without them.
    for key in ("totals", "by_country", "by_process_type", "enterprise", "emergency", "preservation", "gag"):
        assert with_ns[key] == without[key], key


def test_bands_of_500_from_a_bulk_load(app, session):
    """512 national-security demands naming 1,024 accounts, written straight into the tables."""
    from bench.bench_reports import write_demands

    engine = app.extensions["desk"]["engine"]
    with engine.begin() as conn:
        write_demands(conn, 512, start=H1.start, end=H1.end, seed=5, process_types=("national_security",),
                      targets_per_demand=2, distinct_targets=True)
    report = aggregate(session, H1, H1.end + timedelta(days=181))
    assert report.national_security.requests == "500-999"
    assert report.national_security.accounts_specified == "1000-1499"
    assert report.totals.requests == 0 and report.by_country == []
    assert aggregate(session, H1, H1.end + timedelta(days=179)).national_security == "not_yet_reportable"


def test_a_published_version_does_not_move_when_live_data_changes(app, session, client):
    load = build_caseload(app, session)
    admin = load.users["admin"]
    report_service.compile_report(session, admin, PERIOD, utcnow())
    v1 = report_service.publish_report(session, admin, PERIOD, None, utcnow())
    session.commit()
    urls = [f"/transparency/{PERIOD}/v1{ext}" for ext in ("", ".json", ".csv", ".pdf")]
    first = {u: client.get(u).data for u in urls}
    latest = client.get(f"/transparency/{PERIOD}.json").data
    assert latest == first[urls[1]] == v1.body.encode()

    # Live data changes: a new demand in the period, another one closed.
    log_case(session, load.users, Case("2026-05-20T08:00:00Z", "JP", "subpoena", ["new@mail.example"], "rejected"))
    pending = next(c for c in load.cases if c.path == "pending" and c.process_type == "subpoena")
    log_case(session, load.users, pending)  # a second copy of that case, for good measure
    session.commit()
    assert {u: client.get(u).data for u in urls} == first
    assert client.get(f"/transparency/{PERIOD}.json").data == latest

    # A new draft sees the change; the public still sees version 1 until it is published.
    draft = json.loads(report_service.compile_report(session, admin, PERIOD, utcnow()).body)
    session.commit()
    published = json.loads(latest)
    assert draft["totals"]["requests"] == published["totals"]["requests"] + 2
    assert "JP" in {r["country"] for r in draft["by_country"]} - {r["country"] for r in published["by_country"]}
    assert client.get(f"/transparency/{PERIOD}.json").data == latest
