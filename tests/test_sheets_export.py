"""The case list as a spreadsheet (SPEC §9, issue 14.6): ``/desk/demands.csv`` and
``/desk/demands.xlsx`` take the list's filters and give every row it would show (all
pages), in its order; formula cells are neutralised; national-security demands only for
cleared staff; a button on the case list carries the current filters."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook

from requests_desk.services.exporting import HEADER

from .factories import login, make_customer, make_demand, make_user

REF = re.compile(r"LD-\d{4}-\d{6}")


def ago(days: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days)).replace(microsecond=0).isoformat()


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel reads the file as UTF-8
    return list(csv.reader(io.StringIO(text[1:])))


def xlsx_rows(response) -> list[list]:
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]


def list_refs(client, query: str) -> list[str]:
    html = client.get(f"/desk/demands?{query}").get_data(as_text=True)
    body = html[html.index("<tbody"):html.index("</tbody>")]
    return list(dict.fromkeys(REF.findall(body)))


@pytest.fixture
def world(session):
    contoso = make_customer(session, "Contoso", domains=("contoso.com",))
    counsel = make_user(session, "counsel", email="counsel@desk.example")
    demands = {
        "de_old": make_demand(session, country="DE", received_at=ago(30), targets=["a@contoso.com"]),
        "us": make_demand(session, country="US", received_at=ago(20), targets=["b@example.org", "c@contoso.com"]),
        "de_new": make_demand(session, country="DE", received_at=ago(10), legal_reference="=HYPERLINK(\"x\")"),
        "ns": make_demand(session, country="DE", received_at=ago(5),
                          process_type="national_security", legal_reference="NSL-SECRET-1"),
    }
    return {"contoso": contoso, "counsel": counsel, **demands}


def test_csv_gives_the_case_lists_rows_on_every_page_in_its_order(client, session, world):
    login(client, "counsel@desk.example")
    rows = csv_rows(client.get("/desk/demands.csv?country=DE&per_page=1&page=2"))
    assert rows[0] == HEADER
    # every page, in the list's order (newest first), not the one page asked for
    assert [r[0] for r in rows[1:]] == list_refs(client, "country=DE&per_page=200")
    assert [r[0] for r in rows[1:]] == [world["de_new"].reference, world["de_old"].reference]
    cells = dict(zip(HEADER, rows[2]))
    assert cells["Status"] == "Received" and cells["Outcome"] == ""
    assert cells["Process"] == "Search warrant" and cells["Country"] == "DE"
    assert cells["Requester agency"] == "Metropolitan Police"
    assert cells["Accounts"] == "a@contoso.com" and cells["Customers"] == "Contoso"
    assert cells["Emergency"] == "no" and cells["Assignee"] == ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", cells["Received (UTC)"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", cells["Due (UTC)"])
    # a sort and a search are filters too
    by_ref = csv_rows(client.get("/desk/demands.csv?sort=reference"))
    assert [r[0] for r in by_ref[1:]] == sorted(r[0] for r in by_ref[1:])
    found = csv_rows(client.get("/desk/demands.csv?q=c@contoso.com"))
    assert [r[0] for r in found[1:]] == [world["us"].reference]
    assert dict(zip(HEADER, found[1]))["Accounts"] == "b@example.org, c@contoso.com"


@pytest.mark.parametrize("query", ["q=c@contoso", "customer={contoso}"])
def test_an_export_of_a_search_or_a_customer_reads_its_matches_first(app, client, session, world, monkeypatch,
                                                                      query):
    """The export's statement looks its demands up by id from the search index or the
    targets by customer, and never scans the demands table, even for a search of many
    terms (``FEW`` 0: every search has many). Tested on each demand as a walk in the
    list's order reached it, an export of a search read the whole desk."""
    from sqlalchemy import event

    from requests_desk import search_terms

    monkeypatch.setattr(search_terms, "FEW", 0)
    login(client, "counsel@desk.example")
    engine = app.extensions["desk"]["engine"]
    seen = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        rows = csv_rows(client.get(f"/desk/demands.csv?{query.format(contoso=world['contoso'].id)}"))
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert [r[0] for r in rows[1:]] == [world["us"].reference] + (
        [world["de_old"].reference] if query.startswith("customer") else [])
    statement, parameters = next((s, p) for s, p in seen if "requesters.agency" in s and "ORDER BY" in s)
    conn = session.connection()
    if conn.dialect.name == "sqlite":  # (PostgreSQL turns either form into the same join, and
        # its plan for a test's few rows follows the statistics earlier tests left)
        plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
        assert "SEARCH demands USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
        assert not any(re.search(r"\bSCAN demands\b", p) for p in plan), plan


def test_formula_cells_are_neutralised(client, session, world):
    make_demand(session, legal_reference="+1-555", targets=["d@example.org"], requester={"agency": "-2+3", "name": "N", "email": "n@police.example",
                                                  "type": "law_enforcement"})
    make_demand(session, legal_reference="@SUM(A1)", requester={"agency": "\tTabbed", "name": "N",
                                                                "email": "m@police.example",
                                                                "type": "law_enforcement"})
    login(client, "counsel@desk.example")
    rows = csv_rows(client.get("/desk/demands.csv"))
    legal = [dict(zip(HEADER, r))["Legal reference"] for r in rows[1:]]
    agencies = [dict(zip(HEADER, r))["Requester agency"] for r in rows[1:]]
    assert "'=HYPERLINK(\"x\")" in legal and "'+1-555" in legal and "'@SUM(A1)" in legal
    assert "'-2+3" in agencies
    book = xlsx_rows(client.get("/desk/demands.xlsx"))
    assert book[0] == HEADER
    legal_x = [r[HEADER.index("Legal reference")] for r in book[1:]]
    assert "'=HYPERLINK(\"x\")" in legal_x and "'@SUM(A1)" in legal_x
    assert not any(isinstance(v, str) and v.startswith(("=", "+", "-", "@")) for r in book[1:] for v in r)


def test_xlsx_has_the_same_rows_with_dates_as_cells(client, session, world):
    login(client, "counsel@desk.example")
    r = client.get("/desk/demands.xlsx?country=DE")
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = xlsx_rows(r)
    assert [row[0] for row in book[1:]] == [world["de_new"].reference, world["de_old"].reference]
    assert isinstance(book[1][HEADER.index("Received (UTC)")], datetime)


def test_national_security_rows_only_for_cleared_staff(client, session, world):
    make_user(session, "counsel", "cleared", email="cleared@desk.example")
    login(client, "counsel@desk.example")
    plain = csv_rows(client.get("/desk/demands.csv"))
    assert world["ns"].reference not in {r[0] for r in plain}
    book = xlsx_rows(client.get("/desk/demands.xlsx"))
    assert not any(world["ns"].reference == v or "NSL-SECRET-1" == v for r in book for v in r)
    assert len(book) == len(plain)
    cleared = client.application.test_client()
    login(cleared, "cleared@desk.example")
    rows = csv_rows(cleared.get("/desk/demands.csv?process_type=national_security"))
    assert [r[0] for r in rows[1:]] == [world["ns"].reference]


def test_bad_filters_are_a_422_and_the_list_carries_download_buttons(client, session, world):
    login(client, "counsel@desk.example")
    assert client.get("/desk/demands.csv?country=XX").status_code == 422
    assert client.get("/desk/demands.csv?queue=nope").status_code == 422
    # paging does not apply: every page, whatever page and per_page the list had
    assert len(csv_rows(client.get("/desk/demands.csv?per_page=999&page=0"))) == 1 + 3
    html = client.get("/desk/demands?country=DE&status=received&page=2&per_page=1").get_data(as_text=True)
    links = re.findall(r'href="(/desk/demands\.(?:csv|xlsx)[^"]*)"', html)
    assert len(links) == 2
    for link in links:
        assert "country=DE" in link and "status=received" in link and "page=" not in link
    assert "Download CSV" in html and "Download Excel" in html


def test_queue_export_follows_the_queue(client, session, world):
    login(client, "counsel@desk.example")
    rows = csv_rows(client.get("/desk/demands.csv?queue=later&scope=all"))
    assert [r[0] for r in rows[1:]] == list_refs(client, "queue=later&scope=all&per_page=200")
