"""Spreadsheet import (SPEC §9, issue 14.5): ``desk import FILE`` and ``/desk/import``.

Every row is checked first and every problem is reported by row and column; nothing is
imported unless every row passes; imported demands have channel ``import``, keep their
external id (the same file cannot be imported twice) and one ``demand.import`` event
each; closed historical demands come in closed, count in their period's report and make
no customer notice; open ones take intake's notice path."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from reports.aggregate import compile_report
from reports.periods import Period
from requests_desk.models import AuditEvent, Demand, Gag, Notice
from requests_desk.services.import_check import COLUMN_NAMES

from .factories import csrf_from, login, make_customer, make_user, page_text

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "import-example.csv"

BASE = {
    "external_id": "X-1", "received_at": "2023-02-14T09:30:00Z", "requester_type": "law_enforcement",
    "requester_agency": "Metro Police", "requester_name": "Det. Jane Roe", "requester_email": "jane@metro.example",
    "requester_phone": "", "country": "US", "process_type": "search_warrant", "legal_reference": "SW-1",
    "issuing_authority": "", "emergency": "", "justification": "", "notes": "", "target": "alice@contoso.com",
    "data_set": "email_content", "from": "2023-01-01", "to": "2023-01-31", "outcome": "content_disclosed",
    "closed_at": "2023-03-02", "gag_order_ref": "", "gag_issued_by": "", "gag_expires_at": "",
}


def sheet(*rows: dict, header: list[str] | None = None) -> str:
    header = header or list(COLUMN_NAMES)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({**BASE, **row})
    return out.getvalue()


def more(external_id: str, **item: str) -> dict:
    """A further row of a demand: its item, the demand-level columns left blank."""
    return {**{c: "" for c in BASE}, "external_id": external_id, **item}


def run_import(app, tmp_path, text: str, *args: str, name: str = "demands.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return app.test_cli_runner().invoke(args=["desk", "import", str(path), *args])


def count(session, model=Demand) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def contoso(session):
    return make_customer(session, "Contoso", domains=("contoso.com",))


# ---------------------------------------------------------------- the happy path


def test_example_file_imports_with_channel_audit_and_notices(app, session, tmp_path, contoso):
    result = run_import(app, tmp_path, EXAMPLE.read_text(encoding="utf-8"))
    assert result.exit_code == 0, result.stderr
    assert "Imported 4 demands (3 closed, 1 open) from 6 rows" in result.stdout
    session.rollback()
    demands = {d.external_id: d for d in session.scalars(select(Demand))}
    assert set(demands) == {"OLD-2023-0017", "OLD-2023-0018", "OLD-2023-0019", "OLD-2026-0101"}
    assert {d.channel for d in demands.values()} == {"import"}
    old = demands["OLD-2023-0017"]
    assert old.reference.startswith("LD-2023-") and old.status == "closed" and old.outcome == "content_disclosed"
    assert old.closed_at == datetime(2023, 3, 2, tzinfo=timezone.utc)
    assert [t.identifier for t in old.targets] == ["alice@contoso.com", "bob@contoso.com"]
    assert [t.customer.name for t in old.targets] == ["Contoso", "Contoso"]  # resolved as intake resolves
    assert len(old.items_of("requested")) == 3
    assert old.concerns_enterprise
    # one demand.import event each (the gag of OLD-2023-0019 adds its gag.set, as at intake)
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "demand.import")).all()
    assert sorted(e.object_id for e in events) == sorted(d.id for d in demands.values())
    gag = session.scalar(select(Gag).where(Gag.demand_id == demands["OLD-2023-0019"].id))
    assert gag.order_ref == "2703(d)-2023-19"
    # history sends nothing now; the open one is held for counsel as at intake
    notices = session.scalars(select(Notice)).all()
    assert [(n.demand_id, n.state, n.held_by) for n in notices] == [(demands["OLD-2026-0101"].id, "held", "counsel")]
    assert demands["OLD-2026-0101"].status == "received" and demands["OLD-2026-0101"].emergency


def test_same_file_twice_is_refused_by_external_id(app, session, tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    assert run_import(app, tmp_path, text).exit_code == 0
    again = run_import(app, tmp_path, text)
    assert again.exit_code == 1
    assert "row 2, column external_id: OLD-2023-0017 was imported already, as LD-2023-000001" in again.stderr
    assert "nothing was imported" in again.stderr
    assert count(session) == 4


def test_closed_2023_h1_set_compiles_into_that_periods_report(app, session, tmp_path):
    rows = []
    outcomes = ["content_disclosed"] * 3 + ["non_content_disclosed"] * 2 + ["rejected", "no_data_found", "withdrawn"]
    for n, outcome in enumerate(outcomes):
        country = "DE" if n % 2 else "US"
        rows.append({"external_id": f"H1-{n}", "received_at": f"2023-0{1 + n % 6}-1{n}T10:00:00Z",
                     "country": country, "outcome": outcome, "closed_at": "2023-07-30",
                     "target": f"user{n}@example.org", "data_set": "sign_in_logs" if n % 3 else "email_content"})
        rows.append(more(f"H1-{n}", target=f"user{n}@example.org", data_set="subscriber_info",
                         **{"from": "2022-01-01", "to": "2022-12-31"}))
    rows.append({"external_id": "H2-late", "received_at": "2023-07-01T00:00:00Z", "outcome": "rejected",
                 "closed_at": "2023-07-02"})
    rows.append({"external_id": "H1-preserve", "received_at": "2023-03-03", "process_type": "preservation",
                 "outcome": "preserved", "closed_at": "2023-03-04", "data_set": "stored_files",
                 "target": "kept@example.org"})
    rows.append({"external_id": "H1-open", "received_at": "2023-05-05", "outcome": "", "closed_at": "",
                 "target": "open@example.org"})
    result = run_import(app, tmp_path, sheet(*rows))
    assert result.exit_code == 0, result.stderr
    session.commit()
    report = compile_report(session, Period.parse("2023-H1"), datetime.now(timezone.utc))
    totals = report.totals
    assert totals.requests == 9  # 8 closed and 1 open; preservation counts in its own section
    assert (totals.content_disclosed, totals.non_content_disclosed, totals.rejected, totals.no_data_found,
            totals.withdrawn, totals.pending) == (3, 2, 1, 1, 1, 1)
    assert totals.accounts_specified == 9
    assert {r.country: r.requests for r in report.by_country} == {"US": 5, "DE": 4}
    assert report.preservation.requests == 1


# ---------------------------------------------------------------- every check, by row and column

CASES = [
    ("external_id", {"external_id": ""}, "is required"),
    ("external_id", {"external_id": "x" * 101}, "at most 100 characters"),
    ("received_at", {"received_at": "14/02/2023"}, "must be a date and time"),
    ("received_at", {"received_at": "2099-01-01"}, ""),
    ("requester_type", {"requester_type": "police"}, "is not a known requester type"),
    ("requester_agency", {"requester_agency": ""}, "is required"),
    ("requester_name", {"requester_name": ""}, "is required"),
    ("requester_email", {"requester_email": "not-an-address"}, "is not a valid e-mail address"),
    ("requester_phone", {"requester_phone": "1" * 51}, "at most 50 characters"),
    ("country", {"country": "XX"}, "is not an ISO 3166-1 country code"),
    ("process_type", {"process_type": "writ"}, "is not a known process type"),
    ("legal_reference", {"legal_reference": ""}, "is required"),
    ("issuing_authority", {"issuing_authority": "a" * 201}, "at most 200 characters"),
    ("emergency", {"emergency": "maybe"}, "must be yes or no"),
    ("justification", {"emergency": "yes", "outcome": "", "closed_at": ""}, "needs a written justification"),
    ("target", {"target": "not an id!"}, "is not a valid account identifier"),
    ("data_set", {"data_set": "dna"}, "is not a known data set"),
    ("from", {"from": "2023-13-01"}, "must be a date"),
    ("to", {"to": "2022-12-31"}, "must not be before from"),
    ("outcome", {"outcome": "won"}, "is not a known outcome"),
    ("outcome", {"outcome": "preserved"}, "preservation request only"),
    ("outcome", {"outcome": "fraudulent"}, "emergency request only"),
    ("outcome", {"process_type": "preservation", "outcome": "content_disclosed"}, "discloses nothing"),
    ("closed_at", {"closed_at": ""}, "is required"),
    ("closed_at", {"closed_at": "2023-01-01"}, "must not be before received_at"),
    ("closed_at", {"outcome": "", "closed_at": "2023-03-01"}, "give its outcome too"),
    ("gag_issued_by", {"gag_order_ref": "NDO-1"}, "is required"),
    ("gag_expires_at", {"gag_order_ref": "NDO-1", "gag_issued_by": "Court", "gag_expires_at": "soon"},
     "must be a date and time"),
]


@pytest.mark.parametrize("column,change,message", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_columns_error_is_reported_by_row_and_column(app, session, tmp_path, column, change, message):
    good = {"external_id": "GOOD-1"}
    result = run_import(app, tmp_path, sheet(good, {"external_id": "BAD-1", **change}))
    assert result.exit_code == 1
    prefix = f"row 3, column {column}: "
    assert any(line.startswith(prefix) and message in line for line in result.stderr.splitlines()), result.stderr
    assert "row 2," not in result.stderr  # the good row has nothing to say
    assert count(session) == 0  # all or nothing


def test_rows_of_one_demand_must_agree_and_follow_each_other(app, session, tmp_path):
    result = run_import(app, tmp_path, sheet(
        {"external_id": "A"},
        {"external_id": "A", "country": "DE", "data_set": "sign_in_logs"},
        {"external_id": "A", "country": "", "requester_agency": "", "data_set": "subscriber_info"},  # blank: same
        {"external_id": "B"},
        {"external_id": "A", "data_set": "stored_files"},
        {"external_id": "B", "data_set": "email_content"},
    ))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert "row 3, column country: says 'DE' but row 2 says 'US': the rows of A are one demand and must agree" in lines
    assert any(line.startswith("row 6, column external_id: A is used by row 2 already, and other rows come "
                               "between") for line in lines)
    assert "row 7, column target: repeats the item of row 5" in lines
    assert not any(line.startswith("row 4,") for line in lines)
    assert count(session) == 0


def test_header_problems_and_national_security_need_clearance(app, session, tmp_path):
    result = run_import(app, tmp_path, sheet(header=[c for c in COLUMN_NAMES if c != "country"] + ["colour"]))
    assert result.exit_code == 1
    assert "row 1, column colour: is not a known column" in result.stderr
    assert "row 1, column country: the column is missing" in result.stderr
    twice = run_import(app, tmp_path, sheet(header=list(COLUMN_NAMES) + ["notes"]))
    assert "row 1, column notes: the column appears twice" in twice.stderr
    make_user(session, "intake", email="plain@desk.example")
    make_user(session, "intake", "cleared", email="cleared@desk.example")
    ns = sheet({"process_type": "national_security", "outcome": "", "closed_at": ""})
    refused = run_import(app, tmp_path, ns, "--by", "plain@desk.example")
    assert refused.exit_code == 1
    assert "row 2, column process_type: only users with role cleared may import a national security demand" \
        in refused.stderr
    assert run_import(app, tmp_path, ns, "--by", "cleared@desk.example").exit_code == 0
    assert count(session) == 1


def test_a_file_that_is_not_a_sheet_is_one_line(app, tmp_path):
    result = run_import(app, tmp_path, "not a workbook", name="demands.xlsx")
    assert result.exit_code == 1
    assert "is not a readable .xlsx workbook" in result.stderr
    assert run_import(app, tmp_path, "x", name="demands.txt").exit_code == 1


# ---------------------------------------------------------------- the upload page


def xlsx_bytes(rows: list[dict]) -> bytes:
    book = Workbook()
    ws = book.active
    ws.append(list(COLUMN_NAMES))
    for row in rows:
        values = {**BASE, **row}
        ws.append([values[c] for c in COLUMN_NAMES])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, data: bytes, name: str):
    token = csrf_from(client.get("/desk/import").get_data(as_text=True))
    return client.post("/desk/import", data={"csrf_token": token, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_page_imports_an_xlsx_with_a_progress_bar(client, session):
    make_user(session, "intake", email="intake@desk.example")
    login(client, "intake@desk.example")
    rows = [{"external_id": f"P-{n}", "received_at": datetime(2023, 2, 1, 9, 30), "from": datetime(2023, 1, 1),
             "to": datetime(2023, 1, 31), "closed_at": datetime(2023, 3, 1)} for n in range(250)]
    r = upload(client, xlsx_bytes(rows), "old.xlsx")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert html.count('class="import-step"') >= 50  # a bar per 1 % or so, the last one shown
    assert '<progress max="250" value="250">' in html
    assert "Imported 250 demands (250 closed, 0 open) from 250 rows" in page_text(html)
    assert count(session) == 250
    session.rollback()
    first = session.scalar(select(Demand).where(Demand.external_id == "P-0"))
    assert first.received_at == datetime(2023, 2, 1, 9, 30, tzinfo=timezone.utc)


def test_page_lists_every_problem_and_imports_nothing(client, session):
    make_user(session, "counsel", email="counsel@desk.example")
    login(client, "counsel@desk.example")
    text = sheet({"external_id": "A"}, {"external_id": "B", "country": "XX", "data_set": "dna"})
    r = upload(client, text.encode(), "bad.csv")
    assert r.status_code == 422
    shown = page_text(r)
    assert "2 problems in the file; nothing was imported" in shown
    assert "3 country XX is not an ISO 3166-1 country code" in shown
    assert "3 data_set is not a known data set" in shown
    assert count(session) == 0
    assert upload(client, b"a,b\n", "notes.txt").status_code == 422
    missing_token = client.post("/desk/import", data={"file": (io.BytesIO(text.encode()), "a.csv")},
                                content_type="multipart/form-data")
    assert missing_token.status_code == 400
    assert count(session) == 0


def test_templates_name_every_column(client, session):
    make_user(session, "intake", email="intake@desk.example")
    login(client, "intake@desk.example")
    page = client.get("/desk/import").get_data(as_text=True)
    assert "/desk/import/template.csv" in page and "/desk/import/template.xlsx" in page
    r = client.get("/desk/import/template.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert next(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff")))) == list(COLUMN_NAMES)
    r = client.get("/desk/import/template.xlsx")
    book = load_workbook(io.BytesIO(r.get_data()), read_only=True)
    assert [c for c in next(book["Demands"].iter_rows(values_only=True))] == list(COLUMN_NAMES)
    assert [row[0] for row in book["Columns"].iter_rows(min_row=2, values_only=True)] == list(COLUMN_NAMES)


def test_case_page_tells_the_import_in_its_timeline(app, client, session, tmp_path):
    assert run_import(app, tmp_path, EXAMPLE.read_text(encoding="utf-8")).exit_code == 0
    make_user(session, "counsel", email="counsel@desk.example")
    login(client, "counsel@desk.example")
    session.rollback()
    old = session.scalar(select(Demand).where(Demand.external_id == "OLD-2023-0018"))
    text = page_text(client.get(f"/desk/demands/{old.id}"))
    assert "Imported the demand from a spreadsheet (external id OLD-2023-0018)" in text
    assert "Closed before the import: Rejected, 2023-05-11" in text


def test_page_refuses_a_file_over_the_size_bound(client, session, monkeypatch):
    from requests_desk.staff import imports

    monkeypatch.setattr(imports, "MAX_UPLOAD", 200)
    make_user(session, "intake", email="intake@desk.example")
    login(client, "intake@desk.example")
    r = upload(client, sheet({"external_id": "A"}).encode(), "big.csv")
    assert r.status_code == 422
    assert "is larger than 20 MiB" in page_text(r)
    assert count(session) == 0


def test_a_quoted_cell_keeps_its_line_break(app, session, tmp_path):
    result = run_import(app, tmp_path, sheet({"notes": "Served by e-mail.\nCall-back done.", "outcome": "",
                                              "closed_at": ""}))
    assert result.exit_code == 0, result.stderr
    session.rollback()
    assert session.scalar(select(Demand.notes)) == "Served by e-mail.\nCall-back done."
