"""The public transparency pages and the staff preview in Chromium, screenshotted."""
from __future__ import annotations

from datetime import timedelta

from requests_desk.db import utcnow
from requests_desk.services import reports as report_service

from tests.factories import PASSWORD
from tests.test_reports_caseload import build_caseload


def _publish(session, load, period, note=None):
    # Compiled once the dispatcher has sent the case load's notices (it ran "later").
    when = max(utcnow(), load.late_dispatch) + timedelta(minutes=1)
    report_service.compile_report(session, load.users["counsel"], period, when)
    report_service.publish_report(session, load.users["admin"], period, note, when)
    session.commit()


def test_public_report_page(app, session, live_server, page, screenshot):
    load = build_caseload(app, session)
    _publish(session, load, "2025-H2")
    _publish(session, load, "2026-H1")
    _publish(session, load, "2026-H1", note="Added the outcome of one request reviewed after compilation.")

    page.goto(f"{live_server}/transparency/")
    rows = page.locator("table#reports tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("th").inner_text() == "H1 2026"
    assert "corrected" in rows.nth(0).inner_text()
    screenshot("transparency-index")

    page.click("table#reports >> text=H1 2026")
    page.wait_for_url(f"{live_server}/transparency/2026-H1")
    assert page.locator("h1").inner_text().startswith("H1 2026")
    assert "Correction in version 2" in page.locator(".rp-correction").inner_text()
    charts = page.locator("svg[role=img]")
    assert charts.count() == 3
    for i in range(3):
        box = charts.nth(i).bounding_box()
        assert box and box["width"] > 400 and box["height"] > 120
    assert page.locator("table caption").count() >= 9
    screenshot("transparency-report")
    # Each chart sits beside its table.
    for table_id in ("table-outcomes", "table-country", "table-time"):
        table = page.locator(f"#{table_id}").bounding_box()
        figure = page.locator(f".rp-pair:has(#{table_id}) > figure").bounding_box()
        assert figure["x"] > table["x"] + table["width"] - 1, table_id
        assert figure["y"] < table["y"] + table["height"], table_id
    us = page.locator("#table-country tbody tr").first
    assert us.locator("th").inner_text().startswith("United States")
    assert page.get_by_role("heading", name="Methodology").is_visible()
    assert not page.locator("#table-country-full").is_visible()

    page.click("text=Every outcome by country")
    assert page.locator("#table-country-full").is_visible()
    pdf_href = page.get_by_role("link", name="PDF report").get_attribute("href")
    assert pdf_href == "/transparency/2026-H1/v2.pdf"
    pdf = page.request.get(f"{live_server}{pdf_href}")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body()[:5] == b"%PDF-"

    page.click("text=Version 1")
    page.wait_for_url(f"{live_server}/transparency/2026-H1/v1")
    assert "superseded by version 2" in page.locator(".rp-superseded").inner_text()
    screenshot("transparency-report-v1", full_page=False)

    page.set_viewport_size({"width": 420, "height": 900})
    page.goto(f"{live_server}/transparency/2026-H1")
    assert page.locator("svg[role=img]").first.bounding_box()["width"] <= 420
    screenshot("transparency-report-narrow", full_page=False)


def test_staff_preview_and_publish(app, session, live_server, page, screenshot):
    load = build_caseload(app, session)
    page.goto(f"{live_server}/login?next=/desk/reports")
    page.fill("input[name=email]", load.users["admin"].email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/desk/reports")
    page.locator("#periods tr", has_text="2026-H1").get_by_role("button", name="Compile draft").click()
    page.wait_for_url(f"{live_server}/desk/reports/2026-H1")
    assert "Draft – not published" in page.locator(".rp-draft").inner_text()
    assert page.locator("svg[role=img]").count() == 3
    screenshot("staff-report-preview")
    page.get_by_role("button", name="Publish version 1").click()
    page.wait_for_url(f"{live_server}/desk/reports/2026-H1")
    assert "2026-H1 published as version 1." in page.locator(".flash").inner_text()
    page.goto(f"{live_server}/transparency/2026-H1")
    assert "Version 1 · published" in page.locator(".rp-meta").first.inner_text()
