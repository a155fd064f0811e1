"""Publishing: API roles and errors, the CLI, versions, every public URL and output (HTML,
JSON, CSV read back, PDF read back with pypdf, Atom feed), ETags, 404s, the staff pages."""
from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from reports.periods import Period
from reports.schema import FIGURE_FIELDS
from requests_desk.db import utcnow
from requests_desk.models import AuditEvent, Report, ReportArtifact

from .factories import csrf_from, make_customer, make_token, make_user
from .test_reports_caseload import Case, build_caseload, log_case

P = "2026-H1"
PREVIOUS = "2025-H2"
SMALL = [
    Case("2025-08-01T08:00:00Z", "US", "subpoena", ["ann@mail.example"], "non_content"),
    Case("2025-09-01T08:00:00Z", "DE", "court_order", ["ben@contoso.com"], "rejected"),
    Case("2025-10-01T08:00:00Z", "US", "national_security", ["nsa1@mail.example", "nsa2@mail.example"], "pending"),
    Case("2025-10-02T08:00:00Z", "US", "national_security", ["nsa3@mail.example"], "rejected"),
    Case("2026-01-05T08:00:00Z", "US", "search_warrant", ["alice@contoso.com"], "content"),
    Case("2026-02-05T08:00:00Z", "FR", "court_order", ["bob@mail.example", "carl@mail.example"], "rejected"),
    Case("2026-03-05T08:00:00Z", "DE", "subpoena", ["dora@litware.example"], "redirected"),
    Case("2026-04-05T08:00:00Z", "US", "preservation", ["alice@contoso.com"], "preserved"),
    Case("2026-05-05T08:00:00Z", "GB", "subpoena", ["erin@mail.example"], "pending"),
]
PUBLIC_SUFFIXES = ("", ".json", ".csv", ".pdf", "/v1", "/v1.json", "/v1.csv", "/v1.pdf")


@pytest.fixture
def load(app, session):
    return build_caseload(app, session, SMALL)


@pytest.fixture
def tokens(session, load):
    users = load.users
    customer = make_customer(session, "Customer Org", enterprise=True, domains=("customer-org.example",))
    customer_user = make_user(session, "customer", customer_id=customer.id)
    return {role: make_token(session, user) for role, user in
            {**users, "customer": customer_user}.items()}


def _count(session, model, *where) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


# ---------------------------------------------------------------- API


def test_api_compile_roles_and_errors(session, api, tokens):
    current = Period.containing(utcnow())
    assert api(None).post("/api/v1/reports", json={"period": P}).status_code == 401
    for role in ("intake", "approver", "customer"):
        assert api(tokens[role]).post("/api/v1/reports", json={"period": P}).status_code == 403, role
    counsel = api(tokens["counsel"])
    for bad in ("2026-H3", "26-H1", "2026-h1", "", None, 2026):
        r = counsel.post("/api/v1/reports", json={"period": bad})
        assert r.status_code == 422, bad
        assert r.content_type == "application/problem+json" and "period" in r.get_json()["errors"]
    assert counsel.post("/api/v1/reports", json=["2026-H1"]).status_code == 422
    assert counsel.client.post("/api/v1/reports", data="period=2026-H1",
                               headers={**counsel.headers, "Content-Type": "application/json"}).status_code == 400
    r = counsel.post("/api/v1/reports", json={"period": current.next().code})
    assert r.status_code == 409 and "has not started" in r.get_json()["detail"]
    assert _count(session, Report) == 0
    assert _count(session, AuditEvent, AuditEvent.action.like("report.%")) == 0

    r = counsel.post("/api/v1/reports", json={"period": current.code})
    assert r.status_code == 201 and r.get_json()["status"] == "draft"
    r = counsel.post("/api/v1/reports", json={"period": P})
    body = r.get_json()
    assert r.status_code == 201 and r.content_type == "application/json"
    assert (body["status"], body["version"], body["published_at"], body["period"]) == ("draft", None, None, P)
    assert body["totals"]["requests"] == 4
    assert api(tokens["admin"]).post("/api/v1/reports", json={"period": P}).status_code == 201
    assert _count(session, Report, Report.period == P) == 1  # compiled again: still one draft
    assert _count(session, AuditEvent, AuditEvent.action == "report.compile") == 3


def test_api_publish_roles_errors_and_versions(session, api, tokens):
    admin, counsel = api(tokens["admin"]), api(tokens["counsel"])
    current = Period.containing(utcnow()).code
    for role in ("counsel", "intake", "approver", "customer"):
        assert api(tokens[role]).post(f"/api/v1/reports/{P}/publish", json={}).status_code == 403, role
    for bad in ("2026-H3", "26-H1"):
        r = admin.post(f"/api/v1/reports/{bad}/publish", json={})
        assert r.status_code == 422 and "period" in r.get_json()["errors"], bad
    r = admin.post(f"/api/v1/reports/{P}/publish")
    assert r.status_code == 409 and "no draft" in r.get_json()["detail"]
    assert counsel.post("/api/v1/reports", json={"period": current}).status_code == 201
    r = admin.post(f"/api/v1/reports/{current}/publish", json={})
    assert r.status_code == 409 and "has not ended" in r.get_json()["detail"]
    assert _count(session, Report, Report.status == "published") == 0

    draft = counsel.post("/api/v1/reports", json={"period": P}).get_json()
    assert admin.post(f"/api/v1/reports/{P}/publish", json={"note": 42}).status_code == 422
    assert admin.post(f"/api/v1/reports/{P}/publish", json={"note": "x" * 2001}).status_code == 422
    r = admin.post(f"/api/v1/reports/{P}/publish")  # no body at all
    v1 = r.get_json()
    assert r.status_code == 200
    assert (v1["status"], v1["version"], v1["note"]) == ("published", 1, None) and v1["published_at"]
    assert (draft["provider"], v1["provider"]) == (None, "Example Provider")  # named at publication
    published_fields = ("status", "version", "published_at", "note", "provider")
    frozen_fields = {k: v for k, v in v1.items() if k not in published_fields}
    assert frozen_fields == {k: v for k, v in draft.items() if k not in published_fields}
    r = admin.post(f"/api/v1/reports/{P}/publish", json={})
    assert r.status_code == 409  # the draft was frozen: compile again for a correction

    assert counsel.post("/api/v1/reports", json={"period": P}).status_code == 201
    v2 = admin.post(f"/api/v1/reports/{P}/publish", json={"note": "  Recounted France.  "}).get_json()
    assert (v2["version"], v2["note"]) == (2, "Recounted France.")
    assert _count(session, Report, Report.status == "published") == 2
    assert _count(session, ReportArtifact) == 8  # json, csv, html, pdf for each version
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("report.%"))
                              .order_by(AuditEvent.seq)).all()
    assert actions == ["report.compile"] * 2 + ["report.publish", "report.compile", "report.publish"]


# ---------------------------------------------------------------- CLI


def test_cli_compile_and_publish(app, session, load):
    runner = app.test_cli_runner()

    def desk(*args):
        return runner.invoke(args=["desk", "report", *args])

    current = Period.containing(utcnow())
    for args, words in [
        (("compile", "2026-H3"), "is not a period"),
        (("compile", "26-H1"), "is not a period"),
        (("compile", current.next().code), "has not started"),
        (("publish", "26-H1"), "is not a period"),
        (("publish", P), "no draft"),
        (("publish", current.code), "has not ended"),
    ]:
        result = desk(*args)
        assert result.exit_code == 1, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error:") and words in lines[0], (args, result.output)
    assert _count(session, Report) == 0

    result = desk("compile", P)
    assert result.exit_code == 0 and f"Compiled the draft of {P}" in result.output and "4 requests" in result.output
    result = desk("publish", P)
    assert result.exit_code == 0 and f"Published {P} version 1" in result.output
    assert desk("publish", P).exit_code == 1
    assert desk("compile", P).exit_code == 0
    result = desk("publish", P, "--note", "Corrected the outcome of one request.")
    assert result.exit_code == 0 and "version 2" in result.output
    rows = session.scalars(select(Report).where(Report.period == P).order_by(Report.version)).all()
    assert [(r.version, r.note) for r in rows] == [(1, None), (2, "Corrected the outcome of one request.")]
    assert session.scalar(select(AuditEvent.actor).where(AuditEvent.action == "report.publish").limit(1)) == "cli"


# ---------------------------------------------------------------- the public site


def _publish(session, load, period=P, note=None):
    from requests_desk.services import reports as report_service

    report_service.compile_report(session, load.users["counsel"], period, utcnow())
    row = report_service.publish_report(session, load.users["admin"], period, note, utcnow())
    session.commit()
    return row


def test_unpublished_and_malformed_periods_are_404_everywhere(client, session, load):
    from requests_desk.services import reports as report_service

    report_service.compile_report(session, load.users["admin"], P, utcnow())  # a draft is not public
    session.commit()
    for suffix in PUBLIC_SUFFIXES:
        assert client.get(f"/transparency/{P}{suffix}").status_code == 404, suffix
    _publish(session, load)
    for url in ("/transparency/2026-H3", "/transparency/26-H1", "/transparency/2026-H3.json", "/transparency/26-H1.csv",
                "/transparency/2026-h1", f"/transparency/{P}.xml", f"/transparency/{P}/v0", f"/transparency/{P}/v2",
                f"/transparency/{P}/v01", f"/transparency/{P}/vX", f"/transparency/{P}/v1.txt",
                "/transparency/2026-H3/v1", "/transparency/26-H1/v1.pdf", f"/transparency/{PREVIOUS}",
                f"/transparency/{PREVIOUS}/v1.json"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert b"Traceback" not in r.data
    for suffix in PUBLIC_SUFFIXES:
        assert client.get(f"/transparency/{P}{suffix}").status_code == 200, suffix


def test_versions_latest_and_vn_urls(client, session, load):
    v1 = _publish(session, load)
    log_case(session, load.users, Case("2026-06-01T08:00:00Z", "JP", "subpoena", ["new@mail.example"], "rejected"))
    v2 = _publish(session, load, note="Added a request logged late.")
    assert json.loads(v2.body)["totals"]["requests"] == json.loads(v1.body)["totals"]["requests"] + 1

    latest = client.get(f"/transparency/{P}")
    page = latest.get_data(as_text=True)
    assert latest.status_code == 200 and "Version 2 · published" in page
    assert "Correction in version 2:" in page and "Added a request logged late." in page
    assert f'href="/transparency/{P}/v1"' in page and "You are reading version" not in page
    old = client.get(f"/transparency/{P}/v1").get_data(as_text=True)
    assert "You are reading version 1" in old and "superseded by version 2" in old
    assert f'href="/transparency/{P}/v1.pdf"' in old
    assert client.get(f"/transparency/{P}.json").data == v2.body.encode()
    assert client.get(f"/transparency/{P}/v2.json").data == v2.body.encode()
    assert client.get(f"/transparency/{P}/v1.json").data == v1.body.encode()
    assert client.get(f"/transparency/{P}.csv").data == client.get(f"/transparency/{P}/v2.csv").data
    assert client.get(f"/transparency/{P}/v1.csv").data != client.get(f"/transparency/{P}/v2.csv").data


def test_page_tables_charts_methodology_and_downloads(client, session, load):
    _publish(session, load)
    r = client.get(f"/transparency/{P}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and r.content_type.startswith("text/html")
    assert html.count("<caption>") >= 9 and 'scope="col"' in html and 'scope="row"' in html
    assert len(re.findall(r'<svg[^>]+role="img"', html)) == 3
    for title in ("Requests by country, H1 2026", "Outcome of requests, H1 2026", "Requests per published period"):
        assert f">{title}" in html
    for heading in ("Methodology", "What counts", "When", "Exclusions", "Rounding", "Banding"):
        assert f">{heading}</h" in html
    for link in (f"/transparency/{P}/v1.pdf", f"/transparency/{P}/v1.csv", f"/transparency/{P}/v1.json"):
        assert f'href="{link}"' in html
    assert "United States" in html and "France" in html


def test_csv_reads_back_as_the_json(client, session, load):
    _publish(session, load)
    body = client.get(f"/transparency/{P}.json").get_json()
    r = client.get(f"/transparency/{P}.csv")
    assert r.content_type == "text/csv; charset=utf-8"
    assert r.headers["Content-Disposition"] == f'attachment; filename="transparency-report-{P}-v1.csv"'
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0] == ["country", *FIGURE_FIELDS]
    assert [row[0] for row in rows[1:]] == [c["country"] for c in body["by_country"]] + ["Total"]
    for row, expected in zip(rows[1:], body["by_country"] + [body["totals"]]):
        for name, cell in zip(FIGURE_FIELDS, row[1:]):
            if name.startswith("pct_"):
                assert re.fullmatch(r"\d{1,3}\.\d\d", cell) and cell == f"{expected[name]:.2f}", (name, cell)
            else:
                assert cell == str(expected[name]), (name, cell)


def test_pdf_reads_back(client, session, load):
    _publish(session, load)
    body = client.get(f"/transparency/{P}.json").get_json()
    r = client.get(f"/transparency/{P}.pdf")
    assert r.status_code == 200 and r.content_type == "application/pdf"
    reader = PdfReader(io.BytesIO(r.data))
    pages = [page.extract_text() for page in reader.pages]
    text = "\n".join(pages)
    assert len(pages) >= 5
    assert "Transparency Report" in pages[0] and "H1 2026" in pages[0] and "Version 1" in pages[0]
    assert "1 January – 30 June 2026" in pages[0]
    for number, page in enumerate(pages, 1):
        assert f"Page {number} of {len(pages)}" in page
    for heading in ("Summary", "Outcome of requests", "Requests by country", "Every outcome by country",
                    "Requests by type of legal process", "Requests over time", "Methodology", "Rounding", "Banding"):
        assert heading in text, heading
    assert f"we received {body['totals']['requests']} requests" in " ".join(text.split())
    for name in ("United States", "France", "Germany"):
        assert name in text
    ns = body["national_security"]
    assert ("Not yet reportable" in text) == (ns == "not_yet_reportable")
    assert reader.metadata.title == "Transparency report H1 2026, version 1"
    assert reader.metadata.author == "Example Provider"


def test_etags_cache_headers_and_304(client, session, load):
    _publish(session, load)
    for url, max_age in [(f"/transparency/{P}/v1.json", 31536000), (f"/transparency/{P}/v1.pdf", 31536000),
                         (f"/transparency/{P}.csv", 300), (f"/transparency/{P}", 300),
                         ("/transparency/feed.atom", 300)]:
        r = client.get(url)
        etag = r.headers["ETag"]
        assert r.status_code == 200 and etag and f"max-age={max_age}" in r.headers["Cache-Control"], url
        assert "public" in r.headers["Cache-Control"]
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"", url
        assert client.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200
    assert "immutable" in client.get(f"/transparency/{P}/v1.csv").headers["Cache-Control"]
    old = client.get(f"/transparency/{P}.json").headers["ETag"]
    _publish(session, load, note="Second version.")
    r = client.get(f"/transparency/{P}.json", headers={"If-None-Match": old})
    assert r.status_code == 200 and r.get_json()["version"] == 2


def test_feed_and_index_list_published_reports(app, client, session, load):
    app.config["DESK_BASE_URL"] = "https://desk.example.com"
    assert "No report has been published yet" in client.get("/transparency/").get_data(as_text=True)
    _publish(session, load, PREVIOUS)
    _publish(session, load)
    _publish(session, load, note="Corrected a country code.")
    index = client.get("/transparency/").get_data(as_text=True)
    for period in (P, PREVIOUS):
        doc = client.get(f"/transparency/{period}.json").get_json()
        assert f'href="/transparency/{period}"' in index
        assert f">{doc['totals']['requests']}</td>" in index
        assert f"{doc['totals']['pct_content_disclosed']:.2f}&nbsp;%" in index
    assert index.index(P) < index.index(PREVIOUS) and "v2," in index

    r = client.get("/transparency/feed.atom")
    assert r.content_type == "application/atom+xml; charset=utf-8"
    ns = {"a": "http://www.w3.org/2005/Atom"}
    feed = ET.fromstring(r.data)
    entries = feed.findall("a:entry", ns)
    assert len(entries) == 3
    assert entries[0].find("a:title", ns).text == "Transparency report H1 2026, version 2 (correction)"
    links = [link.get("href") for link in feed.iter("{http://www.w3.org/2005/Atom}link")]
    assert links and all(href.startswith("https://desk.example.com/transparency/") for href in links)
    assert "https://desk.example.com/transparency/2026-H1/v2.pdf" in links


def test_national_security_only_in_bands_on_every_output(client, session, load):
    """2025-H2 ended more than 180 days ago: its national-security section is banded."""
    _publish(session, load, PREVIOUS)
    doc = client.get(f"/transparency/{PREVIOUS}.json").get_json()
    assert doc["national_security"] == {"requests": "0-499", "accounts_specified": "0-499"}
    assert doc["totals"]["requests"] == 2  # the two national-security demands are in no other figure
    assert doc["totals"]["accounts_specified"] == 2
    assert [r["process_type"] for r in doc["by_process_type"]].count("national_security") == 0
    html = client.get(f"/transparency/{PREVIOUS}").get_data(as_text=True)
    section = html[html.index('id="table-national-security"'):]
    section = section[:section.index("</table>")]
    assert section.count("0-499") == 2 and not re.search(r">\s*\d+\s*<", section)
    csv_text = client.get(f"/transparency/{PREVIOUS}.csv").get_data(as_text=True)
    assert "national" not in csv_text.lower()
    pdf = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(client.get(f"/transparency/{PREVIOUS}.pdf").data)).pages)
    tail = pdf[pdf.index("National security process (bands of 500)"):]
    words = tail.split()
    assert words[6:11] == ["Requests", "0-499", "Accounts", "specified", "0-499"], words[:14]


# ---------------------------------------------------------------- staff pages


def test_staff_compile_preview_and_publish(app, client, session, load, login):
    users = load.users
    assert client.get("/desk/reports").status_code == 302  # sign in first
    login(users["intake"].email)
    page = client.get("/desk/reports").get_data(as_text=True)
    assert P in page and "Compile draft" not in page
    token = csrf_from(page)
    assert client.post(f"/desk/reports/{P}/compile", data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})

    login(users["counsel"].email)
    page = client.get("/desk/reports").get_data(as_text=True)
    r = client.post(f"/desk/reports/{P}/compile", data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    preview = r.get_data(as_text=True)
    assert r.status_code == 200 and "Draft of 2026-H1 compiled: 4 requests" in preview
    assert "Draft – not published" in preview and 'id="table-country"' in preview and "Publish version" not in preview
    assert client.post(f"/desk/reports/{P}/publish", data={"csrf_token": csrf_from(preview)}).status_code == 403
    assert client.get(f"/transparency/{P}").status_code == 404
    client.post("/logout", data={"csrf_token": csrf_from(preview)})

    login(users["admin"].email)
    preview = client.get(f"/desk/reports/{P}").get_data(as_text=True)
    assert "Publish version 1" in preview
    r = client.post(f"/desk/reports/{P}/publish", data={"csrf_token": csrf_from(preview), "note": ""},
                    follow_redirects=True)
    assert "2026-H1 published as version 1." in r.get_data(as_text=True)
    assert client.get(f"/transparency/{P}").status_code == 200
    current = Period.containing(utcnow()).code
    page = client.get(f"/desk/reports/{current}").get_data(as_text=True)
    r = client.post(f"/desk/reports/{current}/compile", data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    assert "It can be published once the period has ended" in r.get_data(as_text=True)
    r = client.post(f"/desk/reports/{current}/publish", data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    assert "has not ended yet" in r.get_data(as_text=True)
    assert client.get("/desk/reports/2026-H3").status_code == 404


def test_the_configured_country_minimum_applies_to_api_cli_and_desk(app, session, api, tokens, login, client):
    app.config["DESK_REPORT_MIN_COUNTRY"] = 2  # 2026-H1: US 1, FR 1, DE 1, GB 1 → all merge
    body = api(tokens["counsel"]).post("/api/v1/reports", json={"period": P}).get_json()
    assert [(r["country"], r["requests"]) for r in body["by_country"]] == [("Other", 4)]
    app.config["DESK_REPORT_MIN_COUNTRY"] = 0
    result = app.test_cli_runner().invoke(args=["desk", "report", "compile", P])
    assert "4 countries" in result.output
