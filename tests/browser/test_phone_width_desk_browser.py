"""Chromium, issue 16.5/16.6: the customer portal and a staff case page read on a 390 px
wide phone without scrolling the page sideways (a wide table scrolls in its own box), and
a refused action leaves the address at the case page with what was typed kept."""
from __future__ import annotations

from requests_desk.notices.dispatcher import dispatch
from tests.browser.conftest import ARTIFACTS
from tests.factories import PASSWORD, make_customer, make_customer_user, pdf_with_text, upload_pdf

PHONE = {"width": 390, "height": 844}
LONG = "alexandra.konstantinopoulou-vandermeer@research-and-development.contoso.com"


def sign_in(page, base: str, email: str, lands: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{lands}")


def wide_demand(app, session, desk) -> dict:
    """A closed demand with long identifiers, many items, a production manifest, a gag that
    was lifted and a PDF: every wide table the case page and the portal have. Contoso's
    portal user is privacy@contoso.com."""
    contoso = make_customer(session, "Contoso Ltd", domains=("contoso.com", "research-and-development.contoso.com"),
                            contacts=(("Ann Lee", "ann@contoso.com"),))
    make_customer_user(session, contoso, email="privacy@contoso.com")
    targets = [LONG, "bob@contoso.com", "+1 206 555 0142"]
    requested = [{"target": t, "data_set": ds, "from": "2025-09-01", "to": "2025-12-31"}
                 for t in targets for ds in ("subscriber_info", "sign_in_logs", "message_metadata")]
    demand = desk.log(targets, requested=requested, process_type="court_order",
                      legal_reference="2703D-2025-000000000991",
                      issuing_authority="U.S. District Court for the Southern District of New York",
                      gag={"order_ref": "2705(b) order 2703D-2025-000000000991", "issued_by": "U.S. District Court",
                           "issued_at": "2025-12-01", "expires_at": None})
    upload_pdf(desk.as_intake, demand["id"], "Order under 18 USC 2703(d) and 2705(b).pdf",
               pdf_with_text("order"))
    desk.must(demand["id"], "gag/lift", {"reason": "Order vacated"})
    desk.close_with_production(demand["id"], requested[:4])
    assert dispatch(app).sent >= 1
    return demand


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width} px wide on a 390 px phone"


def test_case_page_and_portal_read_on_a_phone(app, session, desk, live_server, browser):
    demand = wide_demand(app, session, desk)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        sign_in(page, live_server, desk.counsel.email, "/desk/")
        fits(page)
        page.goto(f"{live_server}/desk/demands/{demand['id']}")
        assert demand["reference"] in page.inner_text("h1")
        fits(page)
        # A wide table scrolls in its own box; the page does not.
        table = page.locator("#requested table.grid")
        assert table.evaluate("t => getComputedStyle(t).overflowX") == "auto"
        assert table.evaluate("t => t.scrollWidth > t.clientWidth")
        page.screenshot(path=str(ARTIFACTS / "case-page-phone.png"), full_page=True)
        page.click("button:has-text('Sign out')")
        page.wait_for_url(f"{live_server}/login")

        sign_in(page, live_server, "privacy@contoso.com", "/portal/")
        fits(page)
        page.screenshot(path=str(ARTIFACTS / "portal-phone.png"), full_page=True)
        page.click(f"text={demand['reference']} >> nth=0")
        page.wait_for_url(f"{live_server}/portal/notices/*")
        assert "Order under 18 USC 2703(d) and 2705(b).pdf" in page.inner_text("main")
        fits(page)
        page.screenshot(path=str(ARTIFACTS / "portal-notice-phone.png"), full_page=True)
    finally:
        context.close()


def test_a_refused_action_leaves_the_address_at_the_case_page(app, session, desk, live_server, page):
    demand = desk.log(["bob@example.org"], release=False)
    desk.must(demand["id"], "start-review", {})
    sign_in(page, live_server, desk.counsel.email, "/desk/")
    case_url = f"{live_server}/desk/demands/{demand['id']}"
    page.goto(case_url)
    page.click("summary:has-text('Reject')")
    body = page.locator("details.action[open] .action-body")
    body.wait_for()
    page.fill("details.action[open] textarea", "   ")  # a reason is required
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.click("details.action[open] button[type=submit]")
    assert sent.value.status == 422 and "/action/reject" in sent.value.url
    page.wait_for_load_state()
    assert page.url == f"{case_url}#act-reject"
    assert "Not done" in page.inner_text("#refusal")
    assert page.locator("details#act-reject").get_attribute("open") is not None
