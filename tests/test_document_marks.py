"""Per-customer documents (SPEC §7): on a demand that concerns more than one customer a
document goes to no customer until counsel marks it for one (or uploads a redacted copy
for one). The notice e-mail's attachments, its text, the portal's list and the portal's
download all follow the one rule; a demand with one customer needs no marks."""
from __future__ import annotations

import io
import json
import os
import re

import pytest
from sqlalchemy import func, select

from requests_desk.models import AuditEvent, DocumentRecipient
from tests.factories import (
    csrf_from,
    login,
    make_customer,
    make_customer_user,
    page_text,
    pdf_with_text,
    read_page,
    upload_pdf,
)
from tests.smtp import attachments, html_part, text_part

ATTACHED = "A copy of the legal process we received is attached"
UNMARKED = "Not yet marked: these documents go to no customer"


@pytest.fixture
def orgs(session):
    contoso = make_customer(session, "Contoso Ltd", domains=("contoso.com",),
                            contacts=(("Ann Lee", "ann@contoso.com"),))
    fabrikam = make_customer(session, "Fabrikam Inc", domains=("fabrikam.com",),
                             contacts=(("Cy Doe", "cy@fabrikam.com"),))
    return contoso, fabrikam


def signed_in(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def portal_of(app, session, customer, email: str):
    make_customer_user(session, customer, email=email)
    return signed_in(app, email)


def case_page(client, demand_id: int):
    page = client.get(f"/desk/demands/{demand_id}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def post_marks(client, demand_id: int, pairs) -> object:
    """Counsel's form on the case page: one ticked box per (document, customer)."""
    token = csrf_from(case_page(client, demand_id))
    return client.post(f"/desk/demands/{demand_id}/documents/marks",
                       data={"csrf_token": token, "goes_to": [f"{d}-{c}" for d, c in pairs]})


def post_copy(client, demand_id: int, customer_id, name: str, content: bytes):
    token = csrf_from(case_page(client, demand_id))
    return client.post(f"/desk/demands/{demand_id}/documents/copy", content_type="multipart/form-data",
                       data={"csrf_token": token, "copy-customer_id": str(customer_id),
                             "copy-document": (io.BytesIO(content), name)})


def mail_to(smtp_server, reference: str, address: str):
    [mail] = [m for m in smtp_server.for_reference(reference) if address in m["To"]]
    return mail


def portal_notice(portal, desk, demand, customer) -> str:
    nid = next(n["id"] for n in desk.notices(demand["id"])
               if n["customer_id"] == customer.id and n["kind"] == "demand")
    page = portal.get(f"/portal/notices/{nid}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def marks_events(session, demand_id: int) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.demand_id == demand_id,
                                                         AuditEvent.action == "documents.marked")))


def recipient_rows(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(DocumentRecipient))


def test_nothing_goes_to_anyone_on_a_two_customer_demand_until_marked(app, session, desk, orgs, smtp_server,
                                                                      run_dispatch):
    contoso, fabrikam = orgs
    demand = desk.log(["bob@contoso.com", "eve@fabrikam.com"])
    doc1 = upload_pdf(desk.as_intake, demand["id"], "order.pdf", pdf_with_text("order"))
    doc2 = upload_pdf(desk.as_intake, demand["id"], "annex.pdf", pdf_with_text("annex"))

    staff = signed_in(app, desk.counsel.email)
    text = page_text(case_page(staff, demand["id"]))
    assert UNMARKED in text and "order.pdf" in text and "annex.pdf" in text

    portal = portal_of(app, session, contoso, "reader@contoso.com")
    html = portal_notice(portal, desk, demand, contoso)
    assert "order.pdf" not in html and "annex.pdf" not in html
    for doc in (doc1, doc2):
        assert portal.get(f"/portal/documents/{doc['id']}").status_code == 404

    result = run_dispatch()
    assert result.exit_code == 0 and "sent 2" in result.output, result.output
    for address in ("ann@contoso.com", "cy@fabrikam.com"):
        mail = mail_to(smtp_server, demand["reference"], address)
        assert attachments(mail) == []
        for part in (text_part(mail), html_part(mail)):
            assert ATTACHED not in part and "order.pdf" not in part and "annex.pdf" not in part

    body = desk.as_counsel.get(f"/api/v1/demands/{demand['id']}").get_json()
    assert [(d["for_customer_id"], d["customers"]) for d in body["documents"]] == [(None, []), (None, [])]


def test_each_customer_gets_only_the_documents_marked_for_it(app, session, desk, orgs, smtp_server, run_dispatch):
    contoso, fabrikam = orgs
    demand = desk.log(["bob@contoso.com", "eve@fabrikam.com"])
    pdf1, pdf2 = pdf_with_text("order for bob"), pdf_with_text("order for eve")
    doc1 = upload_pdf(desk.as_intake, demand["id"], "order-bob.pdf", pdf1)
    doc2 = upload_pdf(desk.as_intake, demand["id"], "order-eve.pdf", pdf2)

    staff = signed_in(app, desk.counsel.email)
    html = case_page(staff, demand["id"])
    for doc in (doc1, doc2):
        for customer in orgs:
            assert f'value="{doc["id"]}-{customer.id}"' in html
    answer = post_marks(staff, demand["id"], [(doc1["id"], contoso.id), (doc2["id"], fabrikam.id)])
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    html = case_page(staff, demand["id"])
    assert UNMARKED not in page_text(html)
    assert read_page(html).values["goes_to"] == [f"{doc1['id']}-{contoso.id}", f"{doc2['id']}-{fabrikam.id}"]

    # The one audit event, with the marks before and after.
    [event] = marks_events(session, demand["id"])
    assert json.loads(event.before) == {"marks": {str(doc1["id"]): [], str(doc2["id"]): []}}
    assert json.loads(event.after) == {"marks": {str(doc1["id"]): [contoso.id], str(doc2["id"]): [fabrikam.id]}}
    assert "Marked which documents go to which customer" in page_text(html)

    result = run_dispatch()
    assert result.exit_code == 0 and "sent 2" in result.output, result.output
    to_contoso = mail_to(smtp_server, demand["reference"], "ann@contoso.com")
    to_fabrikam = mail_to(smtp_server, demand["reference"], "cy@fabrikam.com")
    assert attachments(to_contoso) == [("order-bob.pdf", pdf1)]
    assert attachments(to_fabrikam) == [("order-eve.pdf", pdf2)]
    assert ATTACHED in text_part(to_contoso)
    assert "order-bob.pdf" in text_part(to_contoso) and "order-eve.pdf" not in text_part(to_contoso)
    assert "order-eve.pdf" in html_part(to_fabrikam) and "order-bob.pdf" not in html_part(to_fabrikam)

    portal_a = portal_of(app, session, contoso, "reader@contoso.com")
    page = portal_notice(portal_a, desk, demand, contoso)
    assert f'href="/portal/documents/{doc1["id"]}"' in page and "order-eve.pdf" not in page
    assert portal_a.get(f"/portal/documents/{doc1['id']}").data == pdf1
    assert portal_a.get(f"/portal/documents/{doc2['id']}").status_code == 404
    portal_b = portal_of(app, session, fabrikam, "reader@fabrikam.com")
    assert portal_b.get(f"/portal/documents/{doc2['id']}").data == pdf2
    assert portal_b.get(f"/portal/documents/{doc1['id']}").status_code == 404

    body = desk.as_counsel.get(f"/api/v1/demands/{demand['id']}").get_json()
    assert [(d["id"], d["for_customer_id"], d["customers"]) for d in body["documents"]] == [
        (doc1["id"], None, [contoso.id]), (doc2["id"], None, [fabrikam.id])]

    # Marks are replaced as a whole: unticking doc2 takes it from Fabrikam's portal.
    assert post_marks(staff, demand["id"], [(doc1["id"], contoso.id), (doc1["id"], fabrikam.id)]).status_code == 302
    assert portal_b.get(f"/portal/documents/{doc2['id']}").status_code == 404
    assert portal_b.get(f"/portal/documents/{doc1['id']}").data == pdf1
    assert len(marks_events(session, demand["id"])) == 2


def test_a_redacted_copy_goes_to_its_customer_only(app, session, desk, orgs, smtp_server, run_dispatch):
    contoso, fabrikam = orgs
    demand = desk.log(["bob@contoso.com", "eve@fabrikam.com"])
    original, copy_b, copy_a = pdf_with_text("full order"), pdf_with_text("redacted B"), pdf_with_text("redacted A")
    doc = upload_pdf(desk.as_intake, demand["id"], "order.pdf", original)
    staff = signed_in(app, desk.counsel.email)
    assert post_marks(staff, demand["id"], [(doc["id"], contoso.id)]).status_code == 302

    # Counsel uploads a redacted copy for Fabrikam on the case page, and one for Contoso by the API.
    html = case_page(staff, demand["id"])
    assert "Upload a redacted copy for" in page_text(html)
    answer = post_copy(staff, demand["id"], fabrikam.id, "order-redacted.pdf", copy_b)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    r = desk.as_counsel.post(f"/api/v1/demands/{demand['id']}/documents", content_type="multipart/form-data",
                             data={"file": (io.BytesIO(copy_a), "order-for-contoso.pdf"),
                                   "customer_id": str(contoso.id)})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["for_customer_id"] == contoso.id

    body = desk.as_counsel.get(f"/api/v1/demands/{demand['id']}").get_json()
    assert [(d["name"], d["for_customer_id"], d["customers"]) for d in body["documents"]] == [
        ("order.pdf", None, [contoso.id]),
        ("order-redacted.pdf", fabrikam.id, [fabrikam.id]),
        ("order-for-contoso.pdf", contoso.id, [contoso.id]),
    ]
    copy_b_id = body["documents"][1]["id"]
    text = page_text(case_page(staff, demand["id"]))
    assert "Redacted copy for Fabrikam Inc" in text and UNMARKED not in text
    audit = desk.as_counsel.get(f"/api/v1/demands/{demand['id']}/audit").get_json()
    uploads = [e["after"] for e in audit if e["action"] == "document.upload"]
    assert [u.get("for_customer_id") for u in uploads] == [None, fabrikam.id, contoso.id]

    assert run_dispatch().exit_code == 0
    assert attachments(mail_to(smtp_server, demand["reference"], "ann@contoso.com")) == [
        ("order.pdf", original), ("order-for-contoso.pdf", copy_a)]
    assert attachments(mail_to(smtp_server, demand["reference"], "cy@fabrikam.com")) == [
        ("order-redacted.pdf", copy_b)]

    portal_b = portal_of(app, session, fabrikam, "reader@fabrikam.com")
    assert portal_b.get(f"/portal/documents/{copy_b_id}").data == copy_b
    assert portal_b.get(f"/portal/documents/{doc['id']}").status_code == 404
    portal_a = portal_of(app, session, contoso, "reader@contoso.com")
    assert portal_a.get(f"/portal/documents/{copy_b_id}").status_code == 404

    # A copy made for Fabrikam cannot be marked for Contoso; nothing changes.
    rows = recipient_rows(session)
    refused = post_marks(staff, demand["id"], [(doc["id"], contoso.id), (copy_b_id, contoso.id)])
    assert refused.status_code == 422
    assert "redacted copy for Fabrikam Inc" in page_text(refused)
    assert recipient_rows(session) == rows and len(marks_events(session, demand["id"])) == 1


def test_one_customer_gets_every_document_without_marks(app, session, desk, orgs, smtp_server, run_dispatch):
    contoso, _ = orgs
    demand = desk.log(["bob@contoso.com"])
    first, second = pdf_with_text("order"), pdf_with_text("annex")
    doc1 = upload_pdf(desk.as_intake, demand["id"], "order.pdf", first)
    doc2 = upload_pdf(desk.as_intake, demand["id"], "annex.pdf", second)

    staff = signed_in(app, desk.counsel.email)
    html = case_page(staff, demand["id"])
    assert "goes to Contoso Ltd with its notice" in page_text(html)
    assert UNMARKED not in page_text(html) and 'name="goes_to"' not in html
    assert "Upload a redacted copy" not in page_text(html)
    # Nothing to mark, and no redacted copy: the one customer gets every document.
    assert post_marks(staff, demand["id"], [(doc1["id"], contoso.id)]).status_code == 409
    r = desk.as_counsel.post(f"/api/v1/demands/{demand['id']}/documents", content_type="multipart/form-data",
                             data={"file": (io.BytesIO(first), "copy.pdf"), "customer_id": str(contoso.id)})
    assert r.status_code == 422 and "customer_id" in r.get_json()["errors"]

    assert run_dispatch().exit_code == 0
    mail = mail_to(smtp_server, demand["reference"], "ann@contoso.com")
    assert attachments(mail) == [("order.pdf", first), ("annex.pdf", second)]
    portal = portal_of(app, session, contoso, "reader@contoso.com")
    assert portal.get(f"/portal/documents/{doc2['id']}").data == second
    body = desk.as_counsel.get(f"/api/v1/demands/{demand['id']}").get_json()
    assert [d["customers"] for d in body["documents"]] == [[contoso.id], [contoso.id]]
    assert recipient_rows(session) == 0


def test_bad_marks_are_refused_and_change_nothing(app, session, desk, orgs):
    contoso, fabrikam = orgs
    stranger = make_customer(session, "Northwind")
    demand = desk.log(["bob@contoso.com", "eve@fabrikam.com"])
    other = desk.log(["bob@contoso.com", "eve@fabrikam.com"])
    doc = upload_pdf(desk.as_intake, demand["id"], "order.pdf")
    foreign = upload_pdf(desk.as_intake, other["id"], "other.pdf")
    staff = signed_in(app, desk.counsel.email)
    assert post_marks(staff, demand["id"], [(doc["id"], fabrikam.id)]).status_code == 302
    rows = recipient_rows(session)

    shown = []
    for pairs, words in (
        ([(doc["id"], contoso.id), (foreign["id"], contoso.id)], "is not a document of this demand"),
        ([(doc["id"], stranger.id)], "is not a customer of this demand"),
        ([(doc["id"], "x")], "is not a document and a customer of this demand"),
        ([(999999, contoso.id)], "is not a document of this demand"),
    ):
        refused = post_marks(staff, demand["id"], pairs)
        assert refused.status_code == 422, pairs
        assert words in page_text(refused), (pairs, page_text(refused))
        assert recipient_rows(session) == rows
        assert len(marks_events(session, demand["id"])) == 1
        shown.append(read_page(refused.get_data(as_text=True)).values.get("goes_to"))
    # After a refusal the boxes show what was ticked (not the marks kept), so nothing is lost.
    assert shown[0] == [f"{doc['id']}-{contoso.id}"]
    body = desk.as_counsel.get(f"/api/v1/demands/{demand['id']}").get_json()
    assert body["documents"][0]["customers"] == [fabrikam.id]

    # A redacted copy for a customer the demand does not concern: refused, nothing stored.
    r = post_copy(staff, demand["id"], stranger.id, "copy.pdf", pdf_with_text("copy"))
    assert r.status_code == 422 and "is not a customer of this demand" in page_text(r)
    r = desk.as_counsel.post(f"/api/v1/demands/{demand['id']}/documents", content_type="multipart/form-data",
                             data={"file": (io.BytesIO(pdf_with_text("copy")), "copy.pdf"), "customer_id": "abc"})
    assert r.status_code == 422 and "customer_id" in r.get_json()["errors"]
    body = desk.as_counsel.get(f"/api/v1/demands/{demand['id']}").get_json()
    assert [d["name"] for d in body["documents"]] == ["order.pdf"]


def test_intake_uploads_originals_but_neither_marks_nor_uploads_copies(app, session, desk, orgs):
    contoso, fabrikam = orgs
    demand = desk.log(["bob@contoso.com", "eve@fabrikam.com"])
    doc = upload_pdf(desk.as_intake, demand["id"], "order.pdf")
    intake = signed_in(app, desk.intake.email)
    html = case_page(intake, demand["id"])
    assert UNMARKED in page_text(html)
    assert 'name="goes_to"' not in html and "Upload a redacted copy" not in page_text(html)

    assert post_marks(intake, demand["id"], [(doc["id"], contoso.id)]).status_code == 403
    assert post_copy(intake, demand["id"], fabrikam.id, "copy.pdf", pdf_with_text("copy")).status_code == 403
    r = desk.as_intake.post(f"/api/v1/demands/{demand['id']}/documents", content_type="multipart/form-data",
                            data={"file": (io.BytesIO(pdf_with_text("copy")), "copy.pdf"),
                                  "customer_id": str(fabrikam.id)})
    assert r.status_code == 403
    assert recipient_rows(session) == 0 and marks_events(session, demand["id"]) == []
    body = desk.as_counsel.get(f"/api/v1/demands/{demand['id']}").get_json()
    assert [d["name"] for d in body["documents"]] == ["order.pdf"]
    uploads = app.config["DESK_UPLOAD_DIR"]
    assert len(os.listdir(uploads)) == 1  # the refused copies left no file behind
    assert re.fullmatch(r"[0-9a-f]{32}", os.listdir(uploads)[0])
