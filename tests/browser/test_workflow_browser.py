"""Chromium: the whole path through the desk's pages, from logging a demand to recording
production — intake logs it, counsel starts the review (with a reason: an enterprise
customer is concerned), counsel proposes a scope with the scope builder, a different
user approves it, counsel records production with an uploaded file."""
from __future__ import annotations

import hashlib
import re

from sqlalchemy import select

from requests_desk.models import Demand, ProductionFile
from requests_desk.vocabulary import file_size
from tests.factories import MINIMAL_PDF, PASSWORD, make_customer, make_user


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/desk/")


def sign_out(page, base: str) -> None:
    page.click("button:has-text('Sign out')")
    page.wait_for_url(f"{base}/login")


def open_action(page, label: str):
    page.click(f"summary:has-text('{label}')")
    body = page.locator("details.action[open] .action-body")
    body.wait_for()
    return body


def test_from_logging_to_production(app, session, live_server, page, screenshot):
    make_user(session, "intake", email="ivy@desk.example")
    make_user(session, "counsel", email="carl@desk.example")
    make_user(session, "approver", email="abe@desk.example")
    make_customer(session, "Contoso Ltd", domains=("contoso.com",), enterprise=True)
    base = live_server

    # 1. intake logs the demand
    sign_in(page, base, "ivy@desk.example")
    page.goto(f"{base}/desk/demands/new")
    page.fill("#requester_agency", "Bundeskriminalamt")
    page.select_option("#requester_type", "law_enforcement")
    page.fill("#requester_name", "KHK Anna Weber")
    page.fill("#requester_email", "a.weber@bka.example")
    page.select_option("#process_type", "search_warrant")
    page.fill("#legal_reference", "ER-2026-4411")
    page.fill("#country", "DE")
    page.fill("#targets-0", "alice@contoso.com")
    page.fill("#requested-0-target", "alice@contoso.com")
    page.select_option("#requested-0-data_set", "sign_in_logs")
    page.fill("#requested-0-date_from", "2026-01-01")
    page.fill("#requested-0-date_to", "2026-03-31")
    page.click("text=+ Add another item")
    page.fill("#requested-1-target", "alice@contoso.com")
    page.select_option("#requested-1-data_set", "email_content")
    page.fill("#requested-1-date_from", "2026-02-01")
    page.fill("#requested-1-date_to", "2026-02-28")
    page.set_input_files("#documents", files=[{"name": "beschluss.pdf", "mimeType": "application/pdf",
                                               "buffer": MINIMAL_PDF}])
    page.click("button.primary:has-text('Log the demand')")
    page.wait_for_url(re.compile(rf"{base}/desk/demands/\d+"))
    case_url = page.url
    reference = re.search(r"LD-\d{4}-\d{6}", page.inner_text("h1")).group(0)
    screenshot("workflow-1-logged")
    sign_out(page, base)

    # 2. counsel finds it in the queue and starts the review, with a reason
    sign_in(page, base, "carl@desk.example")
    later = page.locator("section.queue-later")
    assert reference in later.inner_text()  # due in 14 days
    later.locator(f"a.ref:has-text('{reference}')").click()
    page.wait_for_url(case_url)
    body = open_action(page, "Start legal review")
    body.locator("button[type=submit]").click()  # no reason first: refused, explained
    page.wait_for_load_state()
    assert "enterprise customer" in page.inner_text("#start-review-reason-error")
    screenshot("workflow-2-review-refused")
    page.fill("#start-review-reason", "Contoso confirmed it cannot search its own tenant in time.")
    page.locator("details.action[open] button[type=submit]").click()
    page.wait_for_url(case_url + "#top")
    assert "Legal review started." in page.inner_text(".flash-success")
    assert "In review" in page.inner_text(".case-badges")
    screenshot("workflow-3-in-review")

    # 3. counsel proposes the scope with the scope builder
    body = open_action(page, "Propose scope")
    assert "search warrant reaches it?" in body.inner_text().lower()
    rows = body.locator("table.scope-builder tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("input[type=checkbox]").is_checked()
    assert "non-content" in rows.nth(0).inner_text() and "Yes" in rows.nth(0).inner_text()
    rows.nth(0).locator("input[type=date]").nth(0).fill("2026-02-01")  # narrower than requested
    rows.nth(0).locator("input[type=date]").nth(1).fill("2026-02-28")
    rows.nth(1).locator("input[type=checkbox]").uncheck()  # no e-mail content
    screenshot("workflow-4-scope-builder")
    body.locator("button[type=submit]").click()
    page.wait_for_url(case_url + "#top")
    assert "Scope proposed" in page.inner_text(".flash-success")
    scope = page.inner_text("#scope")
    assert "Sign-in logs" in scope and "2026-02-01" in scope and "E-mail content" not in scope
    screenshot("workflow-5-scoped")
    sign_out(page, base)

    # 4. a different person approves
    sign_in(page, base, "abe@desk.example")
    approvals = page.locator("section.queue-approval")
    assert reference in approvals.inner_text()
    screenshot("workflow-6-approver-queue")
    approvals.locator(f"a.ref:has-text('{reference}')").click()
    page.wait_for_url(case_url)
    body = open_action(page, "Approve scope")
    assert "Proposed by carl@desk.example" in body.inner_text()
    body.locator("button[type=submit]").click()
    page.wait_for_url(case_url + "#top")
    assert "Scope approved." in page.inner_text(".flash-success")
    screenshot("workflow-7-approved")
    sign_out(page, base)

    # 5. counsel records production with an uploaded file, kept
    sign_in(page, base, "carl@desk.example")
    page.goto(case_url)
    body = open_action(page, "Record production")
    export = b"timestamp,ip\n2026-02-03T10:00:00Z,198.51.100.7\n" * 50
    body.locator("input[type=file]").set_input_files(files=[{"name": "signins.csv", "mimeType": "text/csv",
                                                             "buffer": export}])
    body.locator("label:has-text('Keep a copy')").click()
    screenshot("workflow-8-production-form")
    body.locator("button[type=submit]:has-text('Record production')").click()
    page.wait_for_url(case_url + "#top")
    assert "Production recorded" in page.inner_text(".flash-success")
    production = page.inner_text("#production")
    assert hashlib.sha256(export).hexdigest() in production and file_size(len(export)) in production  # "2 KB"
    assert "Non-content disclosed" in page.inner_text(".case-badges")
    timeline = page.inner_text("#timeline")
    for words in ("Logged the demand", "Started the legal review", "Proposed a scope of 1 item",
                  "Approved the proposed scope", "Recorded the production"):
        assert words in timeline
    screenshot("workflow-9-closed")
    demand = session.scalars(select(Demand)).one()
    session.refresh(demand)
    assert demand.status == "closed" and demand.outcome == "non_content_disclosed"
    kept = session.scalars(select(ProductionFile)).one()
    assert kept.stored_name is not None
    with page.expect_download() as download:
        page.click("#production a:has-text('Download')")
    assert open(download.value.path(), "rb").read() == export
