"""Chromium: sign in, log a demand through the form with two targets (the second row
added with the button) and two requested items and a PDF, see it in the list."""
from __future__ import annotations

import re

from sqlalchemy import select

from requests_desk.models import Demand
from tests.factories import MINIMAL_PDF, PASSWORD, make_customer, make_user

PDF = {"name": "warrant.pdf", "mimeType": "application/pdf", "buffer": MINIMAL_PDF}


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/desk/")


def test_log_a_demand_through_the_form(app, session, live_server, page, screenshot):
    make_user(session, "intake", email="ivy@desk.example")
    make_customer(session, "Contoso Ltd", domains=("contoso.com",), enterprise=True)
    sign_in(page, live_server, "ivy@desk.example")
    page.click("nav >> text=Log a demand")
    page.wait_for_url(f"{live_server}/desk/demands/new")

    page.fill("#requester_agency", "Metropolitan Police")
    page.select_option("#requester_type", "law_enforcement")
    page.fill("#requester_name", "Det. Jane Roe")
    page.fill("#requester_email", "jane.roe@police")  # a mistake, corrected below
    page.select_option("#process_type", "search_warrant")
    page.fill("#legal_reference", "WARRANT-2026-117")
    page.fill("#issuing_authority", "District Court, Southern District")
    page.fill("#country", "US")

    # two accounts: the second row comes from the button
    page.fill("#targets-0", "alice@contoso.com")
    page.click("text=+ Add another account")
    page.fill("#targets-1", "bob@example.org")
    assert page.locator("[data-rows=targets] [data-row]").count() == 2
    # a third row added and removed again
    page.click("text=+ Add another account")
    assert page.locator("[data-rows=targets] [data-row]").count() == 3
    page.locator("[data-rows=targets] [data-row]").nth(2).locator("text=Remove").click()
    assert page.locator("[data-rows=targets] [data-row]").count() == 2

    # two requested items
    page.fill("#requested-0-target", "alice@contoso.com")
    page.select_option("#requested-0-data_set", "email_content")
    page.fill("#requested-0-date_from", "2026-01-01")
    page.fill("#requested-0-date_to", "2026-01-31")
    page.click("text=+ Add another item")
    page.fill("#requested-1-target", "bob@example.org")
    page.select_option("#requested-1-data_set", "subscriber_info")
    page.fill("#requested-1-date_from", "2025-07-01")
    page.fill("#requested-1-date_to", "2025-12-31")
    page.set_input_files("#documents", files=[PDF])
    screenshot("intake-1-form-filled")

    page.click("button.primary:has-text('Log the demand')")
    page.wait_for_load_state()
    # the e-mail mistake: shown next to the field, everything else kept (rows included)
    assert "Not a valid e-mail address" in page.inner_text("#requester_email-error")
    assert page.input_value("#targets-1") == "bob@example.org"
    assert page.input_value("#requested-1-date_to") == "2025-12-31"
    assert "attach the PDF again" in page.inner_text("#documents-error")
    screenshot("intake-2-form-with-errors")
    assert session.scalars(select(Demand)).first() is None

    page.fill("#requester_email", "jane.roe@police.example")
    page.set_input_files("#documents", files=[PDF])
    page.click("button.primary:has-text('Log the demand')")
    page.wait_for_url(re.compile(rf"{live_server}/desk/demands/\d+"))
    flash = page.inner_text(".flash-success")
    reference = re.search(r"LD-\d{4}-\d{6}", flash).group(0)
    assert reference in page.inner_text("h1")
    accounts = page.inner_text("#accounts")
    assert "alice@contoso.com" in accounts and "Contoso Ltd" in accounts and "bob@example.org" in accounts
    assert "warrant.pdf" in page.inner_text("#documents")
    requested = page.inner_text("#requested")
    assert "E-mail content" in requested and "Subscriber information" in requested
    screenshot("intake-3-case-page")

    page.click("nav >> text=Demands")
    page.wait_for_url(f"{live_server}/desk/demands")
    row = page.locator("table.demands tbody tr", has_text=reference)
    assert row.count() == 1
    assert "alice@contoso.com" in row.inner_text() and "Search warrant" in row.inner_text()
    screenshot("intake-4-list")
    page.fill("#q", "WARRANT-2026-117")
    page.click("button:has-text('Filter')")
    page.wait_for_load_state()
    assert page.locator("table.demands tbody tr", has_text=reference).count() == 1
