"""Chromium, the requester portal end to end (issue 14): an officer of a verified agency
registers, confirms through the e-mail the real local SMTP server received, signs in with
two-factor (enrolling with pyotp as an authenticator app would), submits a demand with two
requested items (the second added with "+") and a PDF; staff then see it in the queue and
the verified agency on its case page."""
from __future__ import annotations

import re

import pyotp

from tests.factories import PASSWORD, make_agency, make_customer, make_user, real_pdf
from tests.smtp import SmtpServer

OFFICER = "rita.reyes@police.example.gov"
OFFICER_PASSWORD = "a long requester passphrase 7"


def test_requester_registers_confirms_signs_in_with_two_factor_and_submits(app, session, live_server, page,
                                                                           browser, screenshot, tmp_path):
    make_customer(session, "Contoso Ltd", domains=("contoso.com",), contacts=(("Ann Lee", "ann@contoso.com"),))
    make_agency(session, "police.example.gov", "Example Police Department", "US")
    counsel = make_user(session, "counsel")
    server = SmtpServer().start()
    app.config.update(DESK_SMTP_URL=server.url, DESK_BASE_URL=live_server, DESK_STAFF_2FA="required")
    try:
        # register
        page.goto(f"{live_server}/requests/register")
        page.fill("input[name=name]", "Det. Rita Reyes")
        page.fill("input[name=agency]", "Cyber Crime Unit")
        page.fill("input[name=email]", OFFICER)
        page.fill("input[name=phone]", "+1 555 0199")
        page.fill("input[name=password]", OFFICER_PASSWORD)
        screenshot("requester-register")
        page.click("button[type=submit]")
        assert page.inner_text("h1") == "Check your e-mail"

        # the confirmation e-mail, as the SMTP server received it (sent right after the commit)
        [mail] = [m for m in server.messages if m["To"] == OFFICER]
        text = mail.get_body(("plain",)).get_content()
        link = re.search(r"(http://\S+/requests/confirm/\S+)", text).group(1)
        assert link.startswith(live_server)
        page.goto(link)
        page.click("text=Confirm my address")
        assert "confirmed" in page.inner_text("h1")

        # sign in: password, then two-factor enrolment
        page.goto(f"{live_server}/login")
        page.fill("input[name=email]", OFFICER)
        page.fill("input[name=password]", OFFICER_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server}/account/two-factor")
        uri = re.search(r"(otpauth://totp/\S+)", page.inner_text("main")).group(1)
        page.fill("input[name=code]", pyotp.parse_uri(uri).now())
        page.click("button[type=submit]")
        page.click("text=Continue")
        page.wait_for_url(f"{live_server}/requests/")
        assert page.inner_text("h1") == "My demands"
        assert "You have not submitted a demand yet." in page.inner_text("main")

        # submit a demand: two items (the second added with "+") and the legal process as a PDF
        page.click("text=Submit a demand")
        page.wait_for_url(f"{live_server}/requests/new")
        assert page.input_value("input[name=country]") == "US"  # the agency's country
        page.select_option("select[name=requester_type]", "law_enforcement")
        page.select_option("select[name=process_type]", "search_warrant")
        page.fill("input[name=legal_reference]", "SW-2026-0042")
        page.fill("input[name=issuing_authority]", "U.S. District Court, S.D.N.Y.")
        page.fill("input[name=targets-0]", "alice@contoso.com")
        page.fill("input[name='requested-0-target']", "alice@contoso.com")
        page.select_option("select[name='requested-0-data_set']", "email_content")
        page.fill("input[name='requested-0-date_from']", "2026-01-01")
        page.fill("input[name='requested-0-date_to']", "2026-01-31")
        page.click("text=+ Add another item")
        page.fill("input[name='requested-1-target']", "alice@contoso.com")
        page.select_option("select[name='requested-1-data_set']", "subscriber_info")
        page.fill("input[name='requested-1-date_from']", "2025-06-01")
        page.fill("input[name='requested-1-date_to']", "2026-01-31")
        pdf = tmp_path / "SW-2026-0042.pdf"
        pdf.write_bytes(real_pdf("Search warrant SW-2026-0042"))
        page.set_input_files("input[name=documents]", str(pdf))
        screenshot("requester-new-demand")
        page.click("button.primary.big")
        page.wait_for_url(re.compile(rf"{re.escape(live_server)}/requests/demands/\d+"))
        reference = re.search(r"LD-\d{4}-\d{6}", page.inner_text("h1")).group(0)
        body = page.inner_text("main")
        assert "Received" in body and "Contoso" not in body
        assert body.count("alice@contoso.com") == 2  # the two items asked for
        screenshot("requester-demand")
        page.click("text=My demands")
        assert reference in page.inner_text("main")
    finally:
        server.stop()

    # staff see it in the queue, with the verified agency on the case page
    app.config["DESK_STAFF_2FA"] = "optional"
    staff = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    staff.goto(f"{live_server}/login")
    staff.fill("input[name=email]", counsel.email)
    staff.fill("input[name=password]", PASSWORD)
    staff.click("button[type=submit]")
    staff.wait_for_url(f"{live_server}/desk/")
    assert reference in staff.inner_text("main")
    staff.click(f"text={reference}")
    details = staff.inner_text("#details")
    assert "Verified agency" in details and "Example Police Department" in details and "Verified" in details
    assert "SW-2026-0042.pdf" in staff.inner_text("main")
    staff.screenshot(path=str(tmp_path / "staff-case.png"))
