"""Chromium: break-glass (SPEC §7). A counsel user who is not the demand's assignee opens
a document from the case page, gets the 403 page that says why, gives a reason, and the
PDF downloads; the grant and the download are audit events."""
from __future__ import annotations

import json

from sqlalchemy import select

from requests_desk.models import AccessGrant, AuditEvent, Demand
from tests.factories import PASSWORD, make_demand, make_token, make_user, real_pdf, upload_pdf

REASON = "Customer complaint 4411: checking what we disclosed"


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/desk/")


def test_counsel_breaks_the_glass_and_the_pdf_downloads(app, session, api, live_server, page, screenshot):
    intake = make_user(session, "intake", email="ivy@desk.example")
    make_user(session, "counsel", email="carl@desk.example")
    demand = make_demand(session, intake, legal_reference="26-SW-114")
    warrant = real_pdf("Search warrant 26-SW-114")
    doc = upload_pdf(api(make_token(session, intake)), demand.id, name="warrant.pdf", content=warrant)
    base = live_server

    sign_in(page, base, "carl@desk.example")
    page.goto(f"{base}/desk/demands/{demand.id}")
    assert "You have no standing access to this demand's files" in page.inner_text("#file-access")
    page.click("#documents a:has-text('warrant.pdf')")
    page.wait_for_url(f"{base}/desk/documents/{doc['id']}")
    body = page.inner_text("main")
    assert "You have no standing access to the files of" in body and demand.reference in body
    assert "its assignee" in body
    screenshot("break-glass-403")

    # too short: refused, said next to the field, nothing granted
    page.fill("textarea[name=reason]", "need it")
    page.click("button:has-text('Grant me the files')")
    assert "at least 10 characters" in page.inner_text("#reason-error")
    assert session.scalars(select(AccessGrant)).first() is None

    page.fill("textarea[name=reason]", REASON)
    with page.expect_download() as info:
        page.click("button:has-text('Grant me the files')")
    download = info.value
    assert download.suggested_filename == "warrant.pdf"
    assert open(download.path(), "rb").read() == warrant

    session.expire_all()
    grant = session.scalars(select(AccessGrant)).one()
    assert grant.reason == REASON and grant.demand_id == demand.id
    viewed = session.scalars(select(AuditEvent).where(AuditEvent.action == "document.viewed")).all()
    assert len(viewed) == 1 and viewed[0].actor == "carl@desk.example"
    assert json.loads(viewed[0].after)["id"] == doc["id"]

    # the case page now says why the files open, and lists the grant
    page.goto(f"{base}/desk/demands/{demand.id}")
    section = page.inner_text("#file-access")
    assert "You may open this demand's files: granted until" in section and REASON in section
    screenshot("break-glass-case-page")
    assert session.get(Demand, demand.id).assignee_id is None
