"""What the report's charts and breakdowns show: every period published by then on the
requests-over-time chart and table (the demo publishes oldest first so that its latest
report shows them all), a country chart that says how many countries it shows, and no
outcome column that can only be zero."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone

from markupsafe import escape
from sqlalchemy import select

from reports.charts import MAX_COUNTRY_BARS, HistoryPoint, country_bars, country_chart_caption, render_charts
from reports.render import render_html
from reports.schema import OTHER, CountryRow, Figures, Report as ReportDoc
from requests_desk import demo
from requests_desk.db import utcnow
from requests_desk.models import Report
from requests_desk.services import reports as report_service

from .test_reports_caseload import Case, build_caseload
from .test_reports_units import _report

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)
CASES = [
    Case("2025-02-01T08:00:00Z", "US", "subpoena", ["ann@mail.example"], "non_content"),
    Case("2025-03-01T08:00:00Z", "DE", "court_order", ["ben@mail.example"], "rejected"),
    Case("2025-08-01T08:00:00Z", "US", "subpoena", ["cat@mail.example"], "non_content"),
    Case("2026-01-05T08:00:00Z", "US", "search_warrant", ["dan@mail.example"], "content"),
    Case("2026-02-05T08:00:00Z", "FR", "court_order", ["eva@mail.example"], "rejected"),
    Case("2026-03-05T08:00:00Z", "DE", "subpoena", ["fay@mail.example"], "no_data"),
]
NAMES = {"2025-H1": "H1 2025", "2025-H2": "H2 2025", "2026-H1": "H1 2026"}


def _publish(session, load, period, note=None):
    report_service.compile_report(session, load.users["counsel"], period, utcnow())
    row = report_service.publish_report(session, load.users["admin"], period, note, utcnow())
    session.commit()
    return row


def _over_time(client, url) -> list[tuple[str, str]]:
    """(period, requests) of the page's requests-over-time table."""
    html = client.get(url).get_data(as_text=True)
    table = html[html.index('id="table-time"'):]
    table = table[:table.index("</table>")]
    return re.findall(r'<th scope="row">([^<]+)</th><td class="num">([^<]+)</td>', table)


def _bar_labels(client, url) -> list[str]:
    """The x labels of the timeline chart (its SVG keeps text as text)."""
    html = client.get(url).get_data(as_text=True)
    svg = html[html.index('aria-labelledby="chart-timeline-title"'):]
    svg = svg[:svg.index("</svg>")]
    return re.findall(r">\s*([HQ][12] \d{4})\s*<", svg)


def test_every_published_period_is_on_the_over_time_chart_and_table(app, client, session):
    load = build_caseload(app, session, CASES)
    for period in ("2025-H1", "2025-H2", "2026-H1"):
        _publish(session, load, period)
    latest = ReportDoc.from_json(session.scalar(select(Report.body).where(Report.period == "2026-H1")))
    points = report_service.history(session, latest)
    assert [(p.period, p.requests) for p in points] == [("2025-H1", 2), ("2025-H2", 1), ("2026-H1", 3)]
    assert _over_time(client, "/transparency/2026-H1") == [("H1 2025", "2"), ("H2 2025", "1"), ("H1 2026", "3")]
    assert _bar_labels(client, "/transparency/2026-H1") == ["H1 2025", "H2 2025", "H1 2026"]
    # A report shows the periods published up to it, never later ones (it is frozen).
    assert _over_time(client, "/transparency/2025-H1") == [("H1 2025", "2")]


def test_a_period_published_late_joins_the_next_correction(app, client, session):
    load = build_caseload(app, session, CASES)
    _publish(session, load, "2026-H1")  # newest first: its version 1 has no earlier period yet
    _publish(session, load, "2025-H2")
    assert _over_time(client, "/transparency/2026-H1/v1") == [("H1 2026", "3")]
    _publish(session, load, "2026-H1", note="Added the requests over time since H2 2025.")
    assert _over_time(client, "/transparency/2026-H1") == [("H2 2025", "1"), ("H1 2026", "3")]


def test_the_demo_publishes_oldest_first_so_its_latest_report_shows_every_period(app, client, monkeypatch):
    monkeypatch.setattr(demo, "utcnow", lambda: NOW)
    result = app.test_cli_runner().invoke(args=["desk", "demo", "--demands", "400", "--seed", "3"])
    assert result.exit_code == 0, result.output
    with app.extensions["desk"]["sessionmaker"]() as s:
        published = sorted(s.scalars(select(Report.period).where(Report.status == "published")).all())
    assert len(published) >= 4
    names = [f"H{code[-1]} {code[:4]}" for code in published]
    rows = _over_time(client, f"/transparency/{published[-1]}")
    assert [name for name, _ in rows] == names
    assert all(int(n.replace(",", "")) > 0 for _, n in rows)
    assert _bar_labels(client, f"/transparency/{published[-1]}") == names
    assert [name for name, _ in _over_time(client, f"/transparency/{published[1]}")] == names[:2]


def _countries(n: int, *, other: bool = False) -> ReportDoc:
    rows = [CountryRow.from_counts({"rejected": 100 - i}, 1, country=code)
            for i, code in enumerate(["US", "DE", "GB", "FR", "IN", "AU", "CA", "BR", "ES", "NL", "MX", "IT",
                                      "PL", "AR", "IE", "JP", "AT", "KR", "SE", "SG", "PT", "TR", "BE", "CH",
                                      "DK"][:n])]
    if other:
        rows.append(CountryRow.from_counts({"rejected": 3}, 3, country=OTHER))
    return _report(by_country=rows)


def test_the_country_chart_says_how_many_countries_it_shows():
    every = _countries(9)
    assert len(country_bars(every)) == 9
    assert country_chart_caption(every).startswith("Requests from every country in the table")

    many = _countries(25)
    assert len(country_bars(many)) == MAX_COUNTRY_BARS == 12
    caption = country_chart_caption(many)
    assert caption.startswith("The 12 countries with most requests, of 25; the table lists all 25")
    charts = render_charts(many, [HistoryPoint("2026-H1", 9)], png=False)
    assert charts["country"].title == "Requests by country, H1 2026, top 12 of 25 countries"
    assert charts["country"].svg.count(">South Korea<") == 0 and ">Italy<" in charts["country"].svg
    body = render_html(many, [HistoryPoint("2026-H1", 9)])
    assert f"<figcaption>{escape(caption)}</figcaption>" in body

    merged = _countries(20, other=True)
    assert [c for c, _ in country_bars(merged)][-1] == OTHER
    assert country_chart_caption(merged).startswith("The 11 countries with most requests, of 20, and Other countries")


def test_no_outcome_column_that_can_only_be_zero():
    report = _report()
    assert report.totals.preserved == 0  # preservation demands count only in their own section
    body = render_html(report, [HistoryPoint("2026-H1", 8)])
    process = body[body.index('id="table-process"'):body.index("</table>", body.index('id="table-process"'))]
    heads = re.findall(r'<th scope="col" class="num">([^<]+)</th>', process)
    assert "Preserved" not in heads and "Withdrawn" in heads and "Pending" in heads
    assert process.count('<td class="num">') == 2 * (2 + 7 + 4)  # one row and the total, no zero column

    # Were a counted request ever closed as preserved, the column would be there.
    row = dict(rejected=1, preserved=1)
    odd = replace(report, totals=Figures.from_counts(row, 2),
                  by_process_type=[replace(report.by_process_type[0], preserved=1)])
    odd_body = render_html(odd, [HistoryPoint("2026-H1", 2)])
    assert '<th scope="col" class="num">Preserved</th>' in odd_body
