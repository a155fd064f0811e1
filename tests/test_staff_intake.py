"""The "Log a demand" form (/desk/demands/new): success, every bad input of issue 2,
uploads, and the rows without JavaScript. Real login and CSRF throughout."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from requests_desk.models import AuditEvent, Demand, Document, Gag
from tests.factories import (
    MINIMAL_PDF,
    demand_form,
    field_error,
    form_value,
    make_customer,
    make_user,
    page_text,
    post_form,
    read_page,
)

NEW = "/desk/demands/new"


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def intake(session, login):
    user = make_user(session, "intake", email="ivy.intake@desk.example")
    login(user.email)
    return user


def pdf(name="warrant.pdf", body=MINIMAL_PDF):
    return (io.BytesIO(body), name)


def test_form_shows_every_field(client, intake):
    r = client.get(NEW)
    assert r.status_code == 200
    values = read_page(r.get_data(as_text=True)).values
    for name in ("requester_agency", "requester_name", "requester_email", "requester_phone", "requester_type",
                 "country", "process_type", "legal_reference", "issuing_authority", "received_at", "channel",
                 "justification", "due_at", "notes", "targets-0", "requested-0-target", "requested-0-data_set",
                 "requested-0-date_from", "requested-0-date_to", "gag_order_ref", "gag_issued_by",
                 "gag_issued_at", "gag_expires_at"):
        assert name in values, name
    html = r.get_data(as_text=True)
    assert 'name="emergency"' in html and 'name="gag_no_end"' in html
    assert 'type="file"' in html and 'name="documents"' in html and "multiple" in html
    assert ">Search warrant</option>" in html and ">E-mail content · content</option>" in html


def test_logs_a_demand_with_two_targets_two_items_and_a_pdf(client, session, intake):
    make_customer(session, "Contoso", domains=("contoso.com",))
    data = demand_form(legal_reference="WARRANT-77", documents=pdf())
    r = post_form(client, NEW, data)
    assert r.status_code == 302
    page = client.get(r.headers["Location"])
    text = page_text(page)
    assert page.status_code == 200
    assert "Logged LD-" in text  # the flash
    demand = session.scalars(select(Demand)).one()
    assert demand.reference in text and "WARRANT-77" in text
    assert [t.identifier for t in demand.targets] == ["alice@contoso.com", "bob@example.org"]
    assert demand.targets[0].customer.name == "Contoso" and demand.targets[1].customer is None
    assert sorted((i.target, i.data_set) for i in demand.items_of("requested")) == [
        ("alice@contoso.com", "email_content"), ("bob@example.org", "subscriber_info")]
    assert "Contoso" in text and "warrant.pdf" in text
    doc = session.scalars(select(Document)).one()
    assert doc.bytes == len(MINIMAL_PDF)
    download = client.get(f"/desk/documents/{doc.id}")
    assert download.status_code == 200 and download.data == MINIMAL_PDF
    assert download.mimetype == "application/pdf"
    # the timeline tells it in words
    assert "Logged the demand" in text and "Added the document warrant.pdf" in text
    # and it is in the list
    listing = page_text(client.get("/desk/demands"))
    assert demand.reference in listing and "alice@contoso.com" in listing


def test_gag_and_emergency_fields_are_recorded(client, session, intake):
    data = demand_form(process_type="court_order", emergency="y",
                       justification="Kidnapping in progress; the victim's phone is on this account.",
                       gag_order_ref="NDO-1", gag_issued_by="Judge Hale", gag_issued_at="2026-01-02",
                       gag_no_end="y", due_at="2030-01-01T09:00")
    r = post_form(client, NEW, data)
    assert r.status_code == 302, page_text(r)
    demand = session.scalars(select(Demand)).one()
    assert demand.emergency and demand.justification.startswith("Kidnapping")
    assert demand.due_at.year == 2030
    gag = session.scalars(select(Gag)).one()
    assert gag.order_ref == "NDO-1" and gag.expires_at is None
    text = page_text(client.get(r.headers["Location"]))
    assert "NDO-1" in text and "In force" in text and "Emergency" in text


# Each bad input of issue 2: the error sits next to its field, nothing is saved,
# and the form keeps what was typed.
BAD = [
    ({"process_type": "warrantish"}, "process_type", "Not a known process type"),
    ({"requester_type": "journalist"}, "requester_type", "Not a known requester type"),
    ({"requested-1-data_set": "dna_samples"}, "requested-1-data_set", "Not a known data set"),
    ({"country": "XX"}, "country", "not an ISO 3166-1 country code"),
    ({"country": "Germany"}, "country", "ISO 3166-1 alpha-2"),
    ({"requested-1-date_from": "2026-02-01", "requested-1-date_to": "2026-01-01"}, "requested-1-date_to",
     "Must not be before from"),
    ({"requested-0-date_from": "2026-13-45"}, "requested-0-date_from", "Must be a date"),
    ({"requested-1-target": "mallory@example.org"}, "requested-1-target", "Not one of the demand's targets"),
    ({"targets-1": "ALICE@contoso.com "}, "targets-1", "Listed twice"),
    ({"requester_email": "jane.roe(at)police"}, "requester_email", "Not a valid e-mail address"),
    ({"received_at": "yesterday"}, "received_at", "Must be a date and time"),
    ({"legal_reference": ""}, "legal_reference", "Required"),
    ({"gag_order_ref": "NDO-9", "gag_issued_by": "Judge"}, "gag_expires_at", "Give the expiry date"),
    ({"emergency": "y"}, "justification", "written justification"),
]


@pytest.mark.parametrize("change,field_id,message", BAD, ids=[b[1] + ":" + b[2][:18] for b in BAD])
def test_bad_input_shows_the_error_at_the_field_and_saves_nothing(client, session, intake, change, field_id,
                                                                  message):
    before = (count(session, Demand), count(session, AuditEvent))
    data = demand_form(**{"legal_reference": "KEEP-ME-1", "notes": "Typed notes\nsecond line", **change})
    r = post_form(client, NEW, data)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert message.lower() in field_error(html, field_id).lower(), (field_error(html, field_id), page_text(html))
    assert "The demand was not saved" in page_text(html)
    assert (count(session, Demand), count(session, AuditEvent)) == before
    # what the user typed is still there, rows included
    for name, value in data.items():
        if name in ("save", "emergency", "gag_no_end"):
            continue
        if name in change and (name in ("requester_type", "process_type") or name.endswith("data_set")):
            continue  # an unknown code is not among the choices of a select
        assert form_value(html, name) == value, name


def test_non_pdf_upload_saves_nothing(client, session, intake, app):
    r = post_form(client, NEW, demand_form(documents=[pdf(), pdf("scan.pdf", b"GIF89a not a pdf at all")]))
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "scan.pdf: Not a PDF" in field_error(html, "documents")
    assert count(session, Demand) == 0 and count(session, Document) == 0
    from pathlib import Path

    stored = list(Path(app.config["DESK_UPLOAD_DIR"]).glob("*"))
    assert stored == []  # the good PDF stored before the bad one was removed again
    assert form_value(html, "targets-1") == "bob@example.org"


def test_pdf_over_20_mib_saves_nothing(client, session, intake):
    big = MINIMAL_PDF[:-6] + b"0" * (20 * 1024 * 1024) + b"\n%%EOF\n"
    r = post_form(client, NEW, demand_form(documents=pdf("huge.pdf", big)))
    assert r.status_code == 422
    assert "larger than 20 mib" in field_error(r.get_data(as_text=True), "documents").lower()
    assert count(session, Demand) == 0 and count(session, Document) == 0


def test_rows_can_be_added_and_removed_without_javascript(client, session, intake):
    data = demand_form(add_row="targets")
    data.pop("save")
    r = post_form(client, NEW, data)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and count(session, Demand) == 0
    assert form_value(html, "targets-2") == ""  # a new empty row
    assert form_value(html, "targets-1") == "bob@example.org"
    data = demand_form(remove_row="requested-0")
    data.pop("save")
    r = post_form(client, NEW, data)
    values = read_page(r.get_data(as_text=True)).values
    assert "requested-0-target" not in values and values["requested-1-target"] == ["bob@example.org"]


def test_rows_with_gaps_and_blank_rows_still_submit(client, session, intake):
    """After JavaScript removed row 1 and added row 3 (left blank), the form still saves."""
    data = demand_form(**{"targets-1": None, "targets-3": "carol@example.net", "targets-4": "",
                          "requested-1-target": "carol@example.net", "requested-5-target": "",
                          "requested-5-data_set": "", "requested-5-date_from": "", "requested-5-date_to": ""})
    r = post_form(client, NEW, data)
    assert r.status_code == 302, page_text(r)
    demand = session.scalars(select(Demand)).one()
    assert [t.identifier for t in demand.targets] == ["alice@contoso.com", "carol@example.net"]
    assert len(demand.items_of("requested")) == 2


def test_error_on_a_row_after_a_gap_lands_on_that_row(client, session, intake):
    data = demand_form(**{"targets-1": None, "targets-3": "carol@example.net",
                          "requested-1-target": "nobody@example.net"})
    r = post_form(client, NEW, data)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "Not one of the demand's targets" in field_error(html, "requested-1-target")
    # the rows come back numbered afresh, in the order they were sent
    assert form_value(html, "targets-1") == "carol@example.net"
    assert form_value(html, "requested-1-target") == "nobody@example.net"


def test_a_target_that_is_no_valid_identifier_is_marked_and_kept(client, session, intake):
    """Issue 16.6: the form names the bad account row and says why; everything typed stays."""
    data = demand_form(**{"targets-1": "not an email @@", "requested-1-target": "not an email @@"})
    r = post_form(client, NEW, data)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "not a valid e-mail address (an identifier with @ must be one)" in field_error(html, "targets-1").lower()
    assert form_value(html, "targets-1") == "not an email @@"
    assert count(session, Demand) == 0
    data = demand_form(**{"targets-1": "+1 555", "requested-1-target": "+1 555"})
    assert "not a valid phone number" in field_error(post_form(client, NEW, data).get_data(as_text=True),
                                                        "targets-1").lower()


def test_at_least_one_target_and_item(client, session, intake):
    data = demand_form(**{"targets-0": "", "targets-1": "", "requested-0-target": "", "requested-0-date_from": "",
                          "requested-0-date_to": "", "requested-1-target": "", "requested-1-date_from": "",
                          "requested-1-date_to": ""})
    r = post_form(client, NEW, data)
    text = page_text(r)
    assert r.status_code == 422
    assert "Must have at least one entry" in text and "Must have at least one item" in text
    assert count(session, Demand) == 0


def test_approver_cannot_log_demands(client, session, login):
    user = make_user(session, "approver")
    login(user.email)
    assert client.get(NEW).status_code == 403
    assert "Log a demand" not in page_text(client.get("/desk/"))
