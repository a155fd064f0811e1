"""Chromium: a customer signs in, sees their notices, opens one, downloads the PDF; the
notice e-mail as a mail client would show it; the staff notices page with its retry."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from requests_desk.notices.dispatcher import dispatch
from tests.factories import PASSWORD, make_customer, make_customer_user, make_user, pdf_with_text, upload_pdf
from tests.smtp import SmtpServer, html_part


@pytest.fixture
def contoso(session):
    return make_customer(session, "Contoso Ltd", domains=("contoso.com",),
                         contacts=(("Ann Lee", "ann@contoso.com"), ("Bo Ma", "legal@contoso.com")))


def sign_in(page, live_server, email):
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_customer_reads_a_notice_and_downloads_the_pdf(app, session, desk, contoso, live_server, page,
                                                       screenshot, tmp_path):
    server = SmtpServer().start()
    app.config["DESK_SMTP_URL"] = server.url
    try:
        # An older demand, closed with a disclosure...
        old = desk.log(["bob@contoso.com"], requested=[
            {"target": "bob@contoso.com", "data_set": "sign_in_logs", "from": "2025-09-01", "to": "2025-12-31"},
            {"target": "bob@contoso.com", "data_set": "subscriber_info", "from": "2025-09-01", "to": "2025-12-31"},
        ], process_type="court_order", legal_reference="2703(d)-25-0991")
        upload_pdf(desk.as_intake, old["id"], "Court order 2703(d).pdf")
        desk.close_with_production(old["id"], [
            {"target": "bob@contoso.com", "data_set": "sign_in_logs", "from": "2025-10-01", "to": "2025-10-31"},
        ])
        # ...one that was under a gag until it was lifted (a delayed notice)...
        gagged = desk.log(["carol@contoso.com"], gag={"order_ref": "NDO-2026-3", "issued_by": "U.S. District Court",
                                                      "issued_at": "2026-02-02", "expires_at": None})
        upload_pdf(desk.as_intake, gagged["id"], "Warrant and NDO.pdf")
        desk.must(gagged["id"], "gag/lift", {"reason": "Order vacated"})
        # ...and a new search warrant with its PDF.
        warrant = pdf_with_text("search warrant for dana")
        new = desk.log(["dana@contoso.com"], requested=[
            {"target": "dana@contoso.com", "data_set": "email_content", "from": "2026-01-01", "to": "2026-03-31"},
            {"target": "dana@contoso.com", "data_set": "stored_files", "from": "2026-01-01", "to": "2026-03-31"},
        ])
        upload_pdf(desk.as_intake, new["id"], "Search warrant 26-SW-114.pdf", warrant)
        counts = dispatch(app)
        assert counts.sent == 4

        # The notice e-mail, as a mail client shows its HTML part.
        mail = next(m for m in server.for_reference(gagged["reference"]))
        page.set_content(html_part(mail))
        screenshot("notice-email-delayed")
        mail = next(m for m in server.for_reference(new["reference"]))
        page.set_content(html_part(mail))
        assert new["reference"] in page.inner_text("body")
        screenshot("notice-email")
    finally:
        server.stop()

    make_customer_user(session, contoso, email="privacy@contoso.com")
    sign_in(page, live_server, "privacy@contoso.com")
    page.wait_for_url(f"{live_server}/portal/")
    assert page.inner_text("h1") == "Notices"
    rows = page.locator("table.grid tbody tr")
    assert rows.count() == 4  # two notices for the closed demand, one each for the others
    body = page.inner_text("main")
    for ref in (old["reference"], gagged["reference"], new["reference"]):
        assert ref in body
    assert "Delayed" in body and "Data disclosed (no content)" in body
    screenshot("portal-index")

    page.click(f"text={new['reference']}")
    page.wait_for_url(f"{live_server}/portal/notices/*")
    text = page.inner_text("main")
    assert "Notice of a legal demand for your data" in text
    assert "E-mail content" in text and "Stored files" in text and "dana@contoso.com" in text
    screenshot("portal-notice")

    with page.expect_download() as info:
        page.click("text=Download")
    download = info.value
    assert download.suggested_filename == "Search warrant 26-SW-114.pdf"
    saved = tmp_path / "downloaded.pdf"
    download.save_as(str(saved))
    assert saved.read_bytes() == warrant

    page.goto(f"{live_server}/portal/")
    page.locator("tr", has_text=gagged["reference"]).locator("a").click()
    assert "Why this notice is late" in page.inner_text("main")
    screenshot("portal-notice-delayed")

    page.goto(f"{live_server}/portal/")
    page.locator("tr", has_text="Notice of outcome").locator("a").click()
    assert "What was disclosed" in page.inner_text("main")
    screenshot("portal-notice-outcome")


def test_staff_retry_a_failed_notice(app, session, desk, contoso, live_server, page, screenshot):
    app.config["DESK_SMTP_URL"] = "smtp://127.0.0.1:9"  # nothing listens: every attempt fails
    demand = desk.log(["bob@contoso.com"])
    desk.log(["erin@contoso.com"], gag={"order_ref": "NDO-7", "issued_by": "District Court",
                                        "expires_at": (datetime.now(timezone.utc) + timedelta(days=20)).isoformat()})
    dispatch(app, max_attempts=1)  # given up at once
    desk.log(["fred@contoso.com"])
    dispatch(app)  # this one fails once and waits for its retry
    make_user(session, "counsel", email="counsel@desk.example")
    sign_in(page, live_server, "counsel@desk.example")
    page.goto(f"{live_server}/desk/notices")
    assert demand["reference"] in page.inner_text("#failed")
    screenshot("staff-notices")
    page.click("#failed button:has-text('Retry')")
    page.wait_for_url(f"{live_server}/desk/notices")
    assert "will be sent on the dispatcher's next run" in page.inner_text("main")
    assert "No failed notices." in page.inner_text("#failed")
    screenshot("staff-notices-retried")
