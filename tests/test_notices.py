"""Notices of demand and of outcome: what the customer's contacts receive by e-mail
(a real SMTP server), one e-mail per notice to all contacts, with the PDFs attached."""
from __future__ import annotations

import re
from email.utils import getaddresses

import pytest

from requests_desk.models import Demand
from requests_desk.services import document_marks
from tests.factories import make_customer, pdf_with_text, upload_pdf
from tests.smtp import attachments, html_part, text_part

CREDENTIAL_WORDS = re.compile(r"password|passcode|log ?in|credential|verify your|confirm your account|username",
                              re.IGNORECASE)


@pytest.fixture
def contoso(session):
    return make_customer(session, "Contoso Ltd", domains=("contoso.com",),
                         contacts=(("Ann Lee", "ann@contoso.com"), ("Bo Ma", "legal@contoso.com")))


@pytest.fixture
def fabrikam(session):
    return make_customer(session, "Fabrikam Inc", domains=("fabrikam.com",),
                         contacts=(("Cy Doe", "cy@fabrikam.com"),))


def to_addresses(message) -> set[str]:
    return {addr for _name, addr in getaddresses(message.get_all("To", []))}


def test_notice_of_demand_reaches_every_contact_with_the_pdf(app, desk, contoso, fabrikam, smtp_server,
                                                             run_dispatch):
    demand = desk.log(["bob@contoso.com", "eve@fabrikam.com"], requested=[
        {"target": "bob@contoso.com", "data_set": "email_content", "from": "2026-01-01", "to": "2026-03-31"},
        {"target": "eve@fabrikam.com", "data_set": "sign_in_logs", "from": "2025-06-01", "to": "2025-06-30"},
    ])
    warrant = pdf_with_text("warrant for bob and eve")
    doc = upload_pdf(desk.as_intake, demand["id"], "Search warrant 2026-17.pdf", warrant)
    # Two customers: the warrant goes to each once counsel marks it so (SPEC §7).
    mark_for_every_customer(desk, demand["id"], doc["id"])

    result = run_dispatch()
    assert result.exit_code == 0, result.output
    assert "sent 2" in result.output

    ref = demand["reference"]
    mails = smtp_server.for_reference(ref)
    assert len(mails) == 2  # one per customer concerned
    to_contoso = next(m for m in mails if "ann@contoso.com" in to_addresses(m))
    to_fabrikam = next(m for m in mails if "cy@fabrikam.com" in to_addresses(m))
    # One e-mail per notice, addressed to all of the customer's contacts (and only theirs).
    assert to_addresses(to_contoso) == {"ann@contoso.com", "legal@contoso.com"}
    envelope = next(r for r in smtp_server.received if r.message is to_contoso)
    assert sorted(envelope.rcpt_tos) == ["ann@contoso.com", "legal@contoso.com"]
    assert to_addresses(to_fabrikam) == {"cy@fabrikam.com"}

    assert ref in to_contoso["Subject"]
    assert to_contoso["From"] == app.config["DESK_MAIL_FROM"]
    assert to_contoso["Message-ID"].startswith("<notice.")
    text, html = text_part(to_contoso), html_part(to_contoso)
    for part in (text, html):
        assert ref in part
        assert "Metropolitan Police" in part
        assert "Search warrant" in part
        assert "E-mail content" in part and "bob@contoso.com" in part
        assert "1 January 2026" in part and "31 March 2026" in part
        # Fabrikam's account is none of Contoso's business.
        assert "eve@fabrikam.com" not in part and "Sign-in logs" not in part
        assert not CREDENTIAL_WORDS.search(part), CREDENTIAL_WORDS.search(part)
    notice_id = next(n["id"] for n in desk.notices(demand["id"]) if n["customer_id"] == _customer_id(desk, to_contoso))
    assert f"{app.config['DESK_BASE_URL']}/portal/notices/{notice_id}" in text
    assert f'href="{app.config["DESK_BASE_URL"]}/portal/notices/{notice_id}"' in html
    assert attachments(to_contoso) == [("Search warrant 2026-17.pdf", warrant)]
    assert attachments(to_fabrikam) == [("Search warrant 2026-17.pdf", warrant)]

    # The API shows both sent; a second run sends nothing more.
    assert {n["state"] for n in desk.notices(demand["id"])} == {"sent"}
    again = run_dispatch()
    assert again.exit_code == 0 and "sent 0" in again.output
    assert len(smtp_server.for_reference(ref)) == 2


def mark_for_every_customer(desk, demand_id: int, doc_id: int) -> None:
    desk.session.expire_all()
    demand = desk.session.get(Demand, demand_id)
    document_marks.mark(desk.session, desk.counsel, demand, {doc_id: {c.id for c in demand.customers}})
    desk.session.commit()


def _customer_id(desk, message) -> int:
    from sqlalchemy import select

    from requests_desk.models import CustomerContact

    addr = sorted(to_addresses(message))[0]
    return desk.session.scalar(select(CustomerContact.customer_id).where(CustomerContact.email == addr))


def test_documents_are_attached_at_sending_time(desk, contoso, smtp_server, run_dispatch):
    """The notice is due at intake; the PDFs uploaded before the dispatcher runs go with it."""
    demand = desk.log(["bob@contoso.com"])
    first, second = pdf_with_text("order"), pdf_with_text("annex")
    upload_pdf(desk.as_intake, demand["id"], "order.pdf", first)
    upload_pdf(desk.as_intake, demand["id"], "annex.pdf", second)
    assert run_dispatch().exit_code == 0
    [mail] = smtp_server.for_reference(demand["reference"])
    assert attachments(mail) == [("order.pdf", first), ("annex.pdf", second)]


def test_a_demand_about_nobody_s_customer_sends_nothing(desk, smtp_server, run_dispatch):
    demand = desk.log(["someone@consumer-mail.example"])
    assert desk.notices(demand["id"]) == []
    result = run_dispatch()
    assert result.exit_code == 0 and "sent 0" in result.output
    assert smtp_server.messages == []


def test_notice_of_outcome_states_what_was_disclosed(desk, contoso, smtp_server, run_dispatch):
    demand = desk.log(["bob@contoso.com"], requested=[
        {"target": "bob@contoso.com", "data_set": "email_content", "from": "2026-01-01", "to": "2026-03-31"},
        {"target": "bob@contoso.com", "data_set": "sign_in_logs", "from": "2026-01-01", "to": "2026-03-31"},
    ])
    upload_pdf(desk.as_intake, demand["id"])
    assert run_dispatch().exit_code == 0
    closed = desk.close_with_production(demand["id"], [
        {"target": "bob@contoso.com", "data_set": "sign_in_logs", "from": "2026-02-01", "to": "2026-02-14"},
    ])
    assert closed["outcome"] == "non_content_disclosed"
    result = run_dispatch()
    assert result.exit_code == 0 and "sent 1" in result.output

    outcome_mails = [m for m in smtp_server.for_reference(demand["reference"]) if "outcome" in m["Subject"].lower()]
    assert len(outcome_mails) == 1
    mail = outcome_mails[0]
    assert attachments(mail) == []  # the copy of the demand went with the notice of demand
    text = text_part(mail)
    assert demand["reference"] in text
    assert "Data disclosed (no content)" in text
    assert "Sign-in logs of bob@contoso.com, 1 February 2026 to 14 February 2026" in text
    assert "E-mail content of bob@contoso.com" in text  # what was requested
    assert "What was disclosed" in html_part(mail)
    assert not CREDENTIAL_WORDS.search(text)
    # A notice of demand and a notice of outcome: two distinct Message-IDs, each once.
    assert all(count == 1 for count in smtp_server.by_message_id().values())
    assert len(smtp_server.for_reference(demand["reference"])) == 2


@pytest.mark.parametrize("steps, phrase, label", [
    ([("start-review", {"reason": "direct"}), ("reject", {"reason": "overbroad"})],
     "We rejected the demand. Nothing was disclosed.", "Rejected"),
    ([("attempt-redirect", {"note": "told them to ask Contoso"}), ("redirected", {})],
     "obtain the data from your organisation directly", "Requester referred to you"),
    ([("withdraw", {"note": "requester withdrew"})],
     "The requester withdrew the demand. Nothing was disclosed.", "Withdrawn by the requester"),
])
def test_notice_of_outcome_for_closings_without_disclosure(desk, contoso, smtp_server, run_dispatch,
                                                          steps, phrase, label):
    demand = desk.log(["bob@contoso.com"])
    for action, body in steps:
        desk.must(demand["id"], action, body)
    assert run_dispatch().exit_code == 0
    mails = smtp_server.for_reference(demand["reference"])
    assert len(mails) == 2
    outcome = next(m for m in mails if "outcome" in m["Subject"].lower())
    text = text_part(outcome)
    assert phrase in text
    assert f"OUTCOME: {label}" in text


def test_no_data_found_outcome(desk, contoso, smtp_server, run_dispatch):
    demand = desk.log(["bob@contoso.com"])
    items = [{"target": "bob@contoso.com", "data_set": "email_content", "from": "2026-01-01", "to": "2026-01-31"}]
    desk.must(demand["id"], "start-review", {"reason": "direct"})
    desk.must(demand["id"], "propose-scope", {"items": items})
    desk.must(demand["id"], "approve", who="approver")
    desk.must(demand["id"], "no-data")
    assert run_dispatch().exit_code == 0
    outcome = next(m for m in smtp_server.for_reference(demand["reference"]) if "outcome" in m["Subject"].lower())
    assert "found none. Nothing was disclosed." in text_part(outcome)


def test_preserved_outcome_lists_what_is_preserved(desk, contoso, smtp_server, run_dispatch):
    demand = desk.log(["bob@contoso.com"], process_type="preservation", requested=[
        {"target": "bob@contoso.com", "data_set": "stored_files", "from": "2026-01-01", "to": "2026-02-28"},
    ])
    desk.must(demand["id"], "start-review")
    desk.must(demand["id"], "preserve", {"items": [
        {"target": "bob@contoso.com", "data_set": "stored_files", "from": "2026-01-01", "to": "2026-02-28"},
    ]})
    assert run_dispatch().exit_code == 0
    outcome = next(m for m in smtp_server.for_reference(demand["reference"]) if "outcome" in m["Subject"].lower())
    text = text_part(outcome)
    assert "Data preserved, not disclosed" in text
    assert "Stored files of bob@contoso.com, 1 January 2026 to 28 February 2026" in text


def test_without_smtp_the_notice_is_an_eml_file(app, desk, contoso, run_dispatch, tmp_path):
    import email
    import email.policy
    from pathlib import Path

    assert not app.config.get("DESK_SMTP_URL")
    demand = desk.log(["bob@contoso.com"])
    upload_pdf(desk.as_intake, demand["id"])
    assert run_dispatch().exit_code == 0
    files = list(Path(app.config["DESK_OUTBOX_DIR"]).glob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert demand["reference"] in message["Subject"]
    assert to_addresses(message) == {"ann@contoso.com", "legal@contoso.com"}
    assert [name for name, _ in attachments(message)] == ["warrant.pdf"]
