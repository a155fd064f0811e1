"""The customer portal: only the user's own organisation's notices and documents, never
held ones, never while a gag is active; everything else answers 404."""
from __future__ import annotations

import re

import pytest

from requests_desk.models import Demand
from requests_desk.services import document_marks
from tests.factories import login as login_as
from tests.factories import make_customer, make_customer_user, make_user, page_text, pdf_with_text, upload_pdf


@pytest.fixture
def orgs(session):
    contoso = make_customer(session, "Contoso Ltd", domains=("contoso.com",),
                            contacts=(("Ann Lee", "ann@contoso.com"),))
    fabrikam = make_customer(session, "Fabrikam Inc", domains=("fabrikam.com",),
                             contacts=(("Cy Doe", "cy@fabrikam.com"),))
    return contoso, fabrikam


def signed_in(app, session, customer, email):
    make_customer_user(session, customer, email=email)
    client = app.test_client()
    assert login_as(client, email).status_code == 302
    return client


def notice_id(desk, demand, customer, kind="demand"):
    return next(n["id"] for n in desk.notices(demand["id"]) if n["customer_id"] == customer.id and n["kind"] == kind)


def test_portal_shows_the_demand_and_its_documents(app, session, desk, orgs, run_dispatch):
    contoso, fabrikam = orgs
    demand = desk.log(["bob@contoso.com", "eve@fabrikam.com"], requested=[
        {"target": "bob@contoso.com", "data_set": "email_content", "from": "2026-01-01", "to": "2026-03-31"},
        {"target": "eve@fabrikam.com", "data_set": "billing_records", "from": "2025-01-01", "to": "2025-12-31"},
    ])
    pdf = pdf_with_text("warrant")
    doc = upload_pdf(desk.as_intake, demand["id"], "warrant.pdf", pdf)
    # Two customers: counsel marks the warrant for Contoso (SPEC §7; tests/test_document_marks.py).
    demand_row = session.get(Demand, demand["id"])
    document_marks.mark(session, desk.counsel, demand_row, {doc["id"]: {contoso.id}})
    session.commit()
    portal = signed_in(app, session, contoso, "reader@contoso.com")

    # A pending notice (e-mail not sent yet) is shown: only held ones are not.
    index = portal.get("/portal/")
    html = index.get_data(as_text=True)
    assert index.status_code == 200
    assert demand["reference"] in html and "Metropolitan Police" in html and "Notice of demand" in html

    nid = notice_id(desk, demand, contoso)
    page = portal.get(f"/portal/notices/{nid}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # (dates as a customer reads them, as in the e-mail: issue 16.6)
    for text in (demand["reference"], "Metropolitan Police", "Det. Jane Roe", "Search warrant", "E-mail content",
                 "bob@contoso.com", "1 January 2026", "31 March 2026", "warrant.pdf",
                 "We are still handling this demand"):
        assert text in page_text(html), text
    assert "eve@fabrikam.com" not in html and "Billing records" not in html  # Fabrikam's business
    assert f'href="/portal/documents/{doc["id"]}"' in html

    download = portal.get(f"/portal/documents/{doc['id']}")
    assert download.status_code == 200
    assert download.data == pdf
    assert download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "no-store" in download.headers["Cache-Control"]

    # Closing it: the notice of outcome shows what was disclosed.
    desk.close_with_production(demand["id"], [
        {"target": "bob@contoso.com", "data_set": "email_content", "from": "2026-02-01", "to": "2026-02-28"},
    ])
    outcome_id = notice_id(desk, demand, contoso, "outcome")
    html = portal.get(f"/portal/notices/{outcome_id}").get_data(as_text=True)
    assert "Outcome: Data disclosed (including content)" in html
    assert "What was disclosed" in html and "1 February 2026" in html and "28 February 2026" in html
    assert "Data disclosed (including content)" in portal.get("/portal/").get_data(as_text=True)
    # The notice of demand now links to it.
    assert f'href="/portal/notices/{outcome_id}"' in portal.get(f"/portal/notices/{nid}").get_data(as_text=True)


def test_another_organisation_s_notice_and_document_are_404(app, session, desk, orgs):
    contoso, fabrikam = orgs
    theirs = desk.log(["eve@fabrikam.com"])
    doc = upload_pdf(desk.as_intake, theirs["id"])
    portal = signed_in(app, session, contoso, "reader@contoso.com")
    assert theirs["reference"] not in portal.get("/portal/").get_data(as_text=True)
    assert portal.get(f"/portal/notices/{notice_id(desk, theirs, fabrikam)}").status_code == 404
    assert portal.get(f"/portal/documents/{doc['id']}").status_code == 404
    for path in ("/portal/notices/999999", "/portal/notices/abc", "/portal/notices/0",
                 f"/portal/notices/{2**70}", "/portal/documents/999999", f"/portal/documents/{2**40}"):
        assert portal.get(path).status_code == 404, path
    # Fabrikam's own user sees it.
    theirs_portal = signed_in(app, session, fabrikam, "reader@fabrikam.com")
    assert theirs_portal.get(f"/portal/documents/{doc['id']}").status_code == 200


def test_documents_of_a_demand_without_a_visible_notice_are_404(app, session, desk, orgs):
    contoso, _ = orgs
    consumer = desk.log(["someone@consumer-mail.example"])  # no customer: no notice at all
    doc = upload_pdf(desk.as_intake, consumer["id"])
    held = desk.log(["bob@contoso.com"], emergency=True, justification="imminent danger to life")
    desk.must(held["id"], "defer-notices", {"until": "2099-01-01T00:00:00Z", "reason": "would endanger a person"})
    held_doc = upload_pdf(desk.as_intake, held["id"])
    portal = signed_in(app, session, contoso, "reader@contoso.com")
    assert portal.get(f"/portal/documents/{doc['id']}").status_code == 404
    assert portal.get(f"/portal/documents/{held_doc['id']}").status_code == 404
    assert portal.get(f"/portal/notices/{notice_id(desk, held, contoso)}").status_code == 404
    assert held["reference"] not in portal.get("/portal/").get_data(as_text=True)


def test_the_portal_is_for_customers_only(app, session, desk, orgs):
    anonymous = app.test_client()
    r = anonymous.get("/portal/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    staff = app.test_client()
    make_user(session, "counsel", email="c@desk.example")
    login_as(staff, "c@desk.example")
    assert staff.get("/portal/").status_code == 403
    assert anonymous.get("/portal/documents/1").status_code == 302


def test_portal_answers_a_delayed_notice_with_the_gag_period(app, session, desk, orgs, smtp_server, run_dispatch):
    contoso, _ = orgs
    demand = desk.log(["bob@contoso.com"], gag={"order_ref": "NDO-1", "issued_by": "District Court",
                                                "issued_at": "2026-01-05", "expires_at": None})
    portal = signed_in(app, session, contoso, "reader@contoso.com")
    assert demand["reference"] not in portal.get("/portal/").get_data(as_text=True)
    desk.must(demand["id"], "gag/lift", {"reason": "Order expired by its terms"})
    run_dispatch()
    html = portal.get(f"/portal/notices/{notice_id(desk, demand, contoso)}").get_data(as_text=True)
    assert "Why this notice is late" in html and "from 5 January 2026 until" in html
    assert "Delayed" in portal.get("/portal/").get_data(as_text=True)


def test_the_portal_pages_newest_first_counting_up_to_the_cap(app, session, desk, orgs, monkeypatch):
    """The list reads a page newest first, with "Older" while more follow; its count
    stops at the lists' cap (then "Page N" without "of"); a demand's outcome shows on
    its row once its notice of outcome is visible (looked up for the page's demands)."""
    from requests_desk.portal import views as portal_views

    contoso, _fabrikam = orgs
    monkeypatch.setattr(portal_views, "PER_PAGE", 2)
    demands = [desk.log([f"user{i}@contoso.com"]) for i in range(5)]
    desk.must(demands[0]["id"], "start-review", {"reason": "direct review"})
    desk.must(demands[0]["id"], "reject", {"reason": "Overbroad"})
    portal = signed_in(app, session, contoso, "reader@contoso.com")

    def page(n: int) -> tuple[list[str], str]:
        html = portal.get(f"/portal/?page={n}").get_data(as_text=True)
        return re.findall(r"LD-\d{4}-\d+", html), page_text(html.split('aria-label="Pages">')[1])

    refs = [d["reference"] for d in demands]
    # Six notices: the first demand's notice of outcome is the newest.
    assert page(1) == ([refs[0], refs[4]], "Page 1 of 3 Older")
    assert page(2) == ([refs[3], refs[2]], "Newer Page 2 of 3 Older")
    assert page(3) == ([refs[1], refs[0]], "Newer Page 3 of 3")
    monkeypatch.setattr(portal_views, "COUNT_CAP", 3)
    assert page(2) == ([refs[3], refs[2]], "Newer Page 2 Older")
    html = portal.get("/portal/?page=3").get_data(as_text=True)
    assert html.count("Rejected") == 1 and html.count("In progress") == 1
