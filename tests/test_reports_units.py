"""The report package's pure parts: periods, half-up percentages, bands, the JSON text,
and that the package and the web app import without Flask APIs or eager heavy imports."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.periods import Period, PeriodError
from reports.schema import (
    FIGURE_FIELDS,
    CountryRow,
    Emergency,
    Enterprise,
    Figures,
    Gag,
    NationalSecurity,
    Preservation,
    ProcessTypeRow,
    Report,
    band,
    dumps,
    percent,
)
from reports.writers import report_csv

ROOT = Path(__file__).resolve().parent.parent
UTC = timezone.utc


@pytest.mark.parametrize("text", ["2026-H3", "26-H1", "2026-H0", "2026H1", "2026-h1", " 2026-H1x", "", "2026-H12",
                                  "0000-H1", "९९९९-H1", "2026-H1\n2026-H2"])
def test_malformed_periods_are_refused(text):
    with pytest.raises(PeriodError):
        Period.parse(text)


def test_period_bounds_are_exact_to_the_second():
    h1, h2 = Period.parse("2026-H1"), Period.parse("2026-H2")
    assert (h1.start, h1.end) == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
    assert h2.end == datetime(2027, 1, 1, tzinfo=UTC) and h2.next() == Period(2027, 1) and h1.previous().code == "2025-H2"
    assert Period.containing(datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)) == h1
    assert Period.containing(datetime(2026, 7, 1, 0, 0, 0, tzinfo=UTC)) == h2
    assert not h2.has_started(datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC))
    assert h2.has_started(datetime(2026, 7, 1, tzinfo=UTC))
    assert not h1.has_ended(datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=UTC))
    assert h1.has_ended(datetime(2026, 7, 1, tzinfo=UTC))
    ready = datetime(2026, 12, 28, tzinfo=UTC)  # 1 July + 180 days
    assert h1.national_security_reportable(ready)
    assert not h1.national_security_reportable(ready - timedelta(seconds=1))
    assert h1.label == "1 January – 30 June 2026" and h2.short_label == "H2 2026"


@pytest.mark.parametrize("part, whole, expected", [
    (0, 0, "0.00"), (1, 3, "33.33"), (2, 3, "66.67"), (1, 8, "12.50"), (1, 32, "3.13"), (3, 32, "9.38"),
    (1, 160, "0.63"), (1, 400, "0.25"), (1, 1, "100.00"), (7, 7000, "0.10"), (1, 200000, "0.00"),
    (1, 20000, "0.01"), (5, 1000000, "0.00"), (1234567, 1234568, "100.00"),
])
def test_percent_rounds_half_up_to_two_decimals(part, whole, expected):
    assert percent(part, whole) == Decimal(expected)
    assert str(percent(part, whole)) == expected


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=10**7).flatmap(lambda w: st.tuples(st.integers(0, w), st.just(w))))
def test_percent_matches_decimal_half_up(pair):
    part, whole = pair
    expected = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert percent(part, whole) == expected


@pytest.mark.parametrize("count, expected", [(0, "0-499"), (1, "0-499"), (499, "0-499"), (500, "500-999"),
                                              (999, "500-999"), (1000, "1000-1499"), (12345, "12000-12499")])
def test_bands_of_500(count, expected):
    assert band(count) == expected


def _report(**overrides) -> Report:
    row = dict(content_disclosed=1, non_content_disclosed=2, no_data_found=0, rejected=3, redirected=1,
               withdrawn=0, preserved=0, pending=1)
    values = dict(
        period="2026-H1", status="draft", version=None, published_at=None,
        compiled_at=datetime(2026, 7, 2, 8, 30, tzinfo=UTC), note=None,
        totals=Figures.from_counts(row, 9),
        by_country=[CountryRow.from_counts(row, 9, country="US")],
        by_process_type=[ProcessTypeRow.from_counts(row, 9, process_type="subpoena")],
        enterprise=Enterprise(requests=2, redirected=1, customer_notified=1, notice_delayed_by_gag=0,
                              content_disclosed=0, non_content_disclosed=1, rejected=0),
        emergency=Emergency(requests=1, disclosed=1, rejected=0),
        preservation=Preservation(requests=4, accounts_specified=5),
        gag=Gag(requests_with_gag=1, pct_with_gag=percent(1, 8)),
        national_security="not_yet_reportable",
    )
    values.update(overrides)
    return Report(**values)


def test_json_text_round_trips_with_two_decimal_numbers():
    report = _report()
    text = report.to_json()
    assert '"pct_rejected": 37.50\n' in text and '"pct_with_gag": 12.50\n' in text
    body = json.loads(text)
    assert list(body) == ["period", "status", "version", "published_at", "schema_version", "compiled_at", "note",
                          "provider", "totals", "by_country", "by_process_type", "enterprise", "emergency",
                          "preservation", "gag", "national_security"]
    assert body["provider"] is None  # a draft: the provider is named when a version is published
    assert list(body["totals"]) == list(FIGURE_FIELDS)
    assert list(body["by_country"][0])[:2] == ["country", "requests"]
    assert body["compiled_at"] == "2026-07-02T08:30:00Z" and body["national_security"] == "not_yet_reportable"
    assert Report.from_json(text) == report
    published = report.published(3, datetime(2026, 7, 3, tzinfo=UTC), "Fixed a typo.", "Acme Cloud")
    again = Report.from_json(published.to_json())
    assert (again.status, again.version, again.note, again.totals) == ("published", 3, "Fixed a typo.", report.totals)
    assert again.provider == "Acme Cloud"
    older = json.loads(published.to_json())
    del older["provider"]  # a version published before the provider was kept still reads
    assert Report.from_json(json.dumps(older)).provider is None
    banded = _report(national_security=NationalSecurity.from_counts(512, 1024))
    assert json.loads(banded.to_json())["national_security"] == {"requests": "500-999",
                                                                 "accounts_specified": "1000-1499"}
    assert dumps({"a": [], "b": {}, "c": "é"}) == '{\n  "a": [],\n  "b": {},\n  "c": "é"\n}'


def test_csv_columns_integers_and_percentages():
    lines = report_csv(_report()).decode().splitlines()
    assert lines[0] == "country," + ",".join(FIGURE_FIELDS)
    assert lines[1] == "US,8,9,1,2,0,3,1,0,0,1,12.50,25.00,0.00,37.50"
    assert lines[2].startswith("Total,8,9,")


def test_reports_package_uses_no_flask_and_the_app_imports_lightly(tmp_path):
    code = (
        "import sys; import reports.aggregate, reports.render, reports.schema, reports.writers;"
        "assert 'flask' not in sys.modules, 'reports imported flask';"
        "assert 'matplotlib' not in sys.modules and 'reportlab' not in sys.modules;"
        "import wsgi;"
        "assert 'matplotlib' not in sys.modules, 'the web app imported matplotlib';"
        "assert 'reportlab' not in sys.modules, 'the web app imported reportlab'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT,
                   env={"DESK_SECRET_KEY": "x", "PATH": "/usr/bin:/bin", "DESK_INSTANCE_PATH": str(tmp_path)})
    source = "\n".join(p.read_text() for p in (ROOT / "reports").glob("*.py"))
    for forbidden in ("from flask", "import flask", "current_app", "matplotlib.pyplot", "import pyplot"):
        assert forbidden not in source
