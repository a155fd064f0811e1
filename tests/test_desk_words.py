"""The desk's words (issue 16.6): every code a page shows reads as the vocabulary says, for
every process type; one date format per audience; the gag panel, the notices page and the
reports page say what is so; sizes in KB and MB; the requester named once."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from requests_desk import web
from requests_desk.notices.dispatcher import dispatch
from requests_desk.services import reports as report_service
from requests_desk.vocabulary import PROCESS_TERMS, PROCESS_TYPES, STATE_TERMS, file_size
from reports.periods import Period
from tests.factories import (
    demand_payload,
    login as login_as,
    make_customer,
    make_customer_user,
    make_token,
    make_user,
    page_text,
    pdf_with_text,
    upload_pdf,
)

ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
LONG_DATE = re.compile(r"\b\d{1,2} (January|February|March|April|May|June|July|August|September|October|"
                       r"November|December) \d{4}\b")


def _code_words() -> set[str]:
    """Words a page would show if it spelled a code out instead of using the vocabulary:
    "Mlat", "Eu production order", "Non content" (never a label's own words or their start)."""
    labels = [getattr(t, f) for terms in web.VOCABULARIES.values() for t in terms
              for f in ("label", "short", "public", "customer")]
    bad = set()
    for terms in web.VOCABULARIES.values():
        for term in terms:
            spelled = term.code.replace("_", " ").replace("-", " ").capitalize()
            if "_" not in term.code and not term.label.split(" ")[0].isupper():
                continue  # one plain word ("outcome") reads the same in a heading
            if not any(label == spelled or label.startswith(spelled + " ") for label in labels):
                bad.add(spelled)
    return bad


CODE_WORDS = _code_words()
RAW_CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")


@pytest.fixture
def contoso(session):
    return make_customer(session, "Contoso Ltd", domains=("contoso.com",),
                         contacts=(("Ann Lee", "ann@contoso.com"),))


@pytest.fixture
def cleared(session, desk, login):
    """A counsel who may see national-security demands, signed in to the desk."""
    user = make_user(session, "counsel", "cleared", "admin", email="cleo@desk.example")
    login(user.email)
    return user


def test_the_spelled_out_codes_are_known(cleared):
    assert {"Mlat", "Eu production order", "Eu preservation order", "Non content"} <= CODE_WORDS


@pytest.mark.parametrize("ptype", PROCESS_TYPES)
def test_every_page_names_codes_in_the_vocabulary_words(app, session, client, api, desk, contoso, cleared, ptype):
    """For each process type: the case page, the case list, the queue and the customer's
    portal show the vocabulary's words, never a code spelled out ("Mlat") or a raw code."""
    as_cleared = api(make_token(session, cleared))  # only cleared staff log a national-security demand
    body = {"process_type": ptype, "country": "DE" if ptype.startswith("eu_") else "US"}
    if ptype == "emergency":
        body["justification"] = "A life is at risk."
    requested = [{"target": "bob@contoso.com", "data_set": "subscriber_info", "from": "2026-01-01",
                  "to": "2026-01-31"}]
    r = as_cleared.post("/api/v1/demands", json=demand_payload(targets=["bob@contoso.com"], requested=requested,
                                                               **body))
    assert r.status_code == 201, r.get_json()
    demand = r.get_json()
    released = as_cleared.post(f"/api/v1/demands/{demand['id']}/release-notices",
                               json={"reason": "The law allows telling the customer."})
    assert released.status_code == 200, released.get_json()
    dispatch(app)

    pages = {
        "case page": client.get(f"/desk/demands/{demand['id']}"),
        "case list": client.get(f"/desk/demands?process_type={ptype}"),
        "queue": client.get("/desk/?scope=all"),
    }
    label = PROCESS_TERMS.label(ptype)
    for name, response in pages.items():
        assert response.status_code == 200, name
        text = page_text(response)
        assert label in text, (name, label)
        assert not [w for w in CODE_WORDS if re.search(rf"\b{re.escape(w)}\b", text)], (name, text)
        assert not RAW_CODE.findall(text), (name, RAW_CODE.findall(text))
    assert STATE_TERMS.label("received") in page_text(pages["case page"])

    portal = app.test_client()
    make_customer_user(session, contoso, email=f"reader-{ptype.replace('_', '-')}@contoso.com")
    assert login_as(portal, f"reader-{ptype.replace('_', '-')}@contoso.com").status_code == 302
    text = page_text(portal.get("/portal/"))
    assert PROCESS_TERMS.label(ptype, "customer") in text
    assert not [w for w in CODE_WORDS if re.search(rf"\b{re.escape(w)}\b", text)], text
    assert not RAW_CODE.findall(text)


# ---------------------------------------------------------------- dates, and the requester named once


def test_a_delayed_notice_speaks_one_date_format_in_the_portal_and_the_email(app, session, desk, contoso):
    demand = desk.log(["bob@contoso.com"], gag={"order_ref": "NDO-2026-3", "issued_by": "U.S. District Court",
                                                "issued_at": "2026-02-02", "expires_at": None},
                      requested=[{"target": "bob@contoso.com", "data_set": "email_content", "from": "2026-01-05",
                                  "to": "2026-03-27"}])
    desk.must(demand["id"], "gag/lift", {"reason": "Order vacated"})
    counts = dispatch(app)
    assert counts.sent == 1
    (eml,) = Path(app.config["DESK_OUTBOX_DIR"]).glob("*.eml")
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    for part in ("plain", "html"):
        text = re.sub(r"<[^>]+>", " ", mail.get_body(preferencelist=(part,)).get_content())
        why = text[text.lower().index("why this notice is late"):]
        assert "5 January 2026" in text and "27 March 2026" in text, part
        assert not ISO_DATE.search(why.split("http")[0]), (part, ISO_DATE.findall(why))
        assert "Det. Jane Roe, Metropolitan Police" in text and "(Det. Jane Roe)" not in text

    make_customer_user(session, contoso, email="reader@contoso.com")
    portal = app.test_client()
    assert login_as(portal, "reader@contoso.com").status_code == 302
    nid = next(n["id"] for n in desk.notices(demand["id"]) if n["kind"] == "demand")
    text = page_text(portal.get(f"/portal/notices/{nid}"))
    assert "Why this notice is late" in text
    assert not ISO_DATE.search(text), ISO_DATE.findall(text)
    assert LONG_DATE.search(text) and "5 January 2026" in text and "27 March 2026" in text
    assert "Det. Jane Roe, Metropolitan Police" in text and "(Det. Jane Roe)" not in text
    index = page_text(portal.get("/portal/"))
    assert not ISO_DATE.search(index) and LONG_DATE.search(index)


def test_the_desk_shows_dates_as_iso(client, session, desk, contoso, login):
    demand = desk.log(["bob@contoso.com"], requested=[
        {"target": "bob@contoso.com", "data_set": "email_content", "from": "2026-01-05", "to": "2026-03-27"}])
    login(desk.counsel.email)
    text = page_text(client.get(f"/desk/demands/{demand['id']}"))
    assert "2026-01-05" in text and "2026-03-27" in text and re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", text)
    assert not LONG_DATE.search(text)


# ---------------------------------------------------------------- the gag panel


def _gag_panel(client, demand_id: int) -> str:
    html = client.get(f"/desk/demands/{demand_id}").get_data(as_text=True)
    start = html.index('id="gag"')
    return page_text(html[start:html.index("</section>", start)])


def test_the_gag_panel_says_whether_the_customer_is_told(app, session, client, desk, contoso, login):
    login(desk.counsel.email)
    waiting = desk.log(["bob@contoso.com"], release=False)
    panel = _gag_panel(client, waiting["id"])
    assert "await counsel's release" in panel and "is told about this demand" not in panel

    emergency = desk.log(["bob@contoso.com"], release=False, process_type="emergency", justification="Life.")
    until = (datetime.now(timezone.utc) + timedelta(days=20)).strftime("%Y-%m-%dT00:00:00Z")
    desk.must(emergency["id"], "defer-notices", {"until": until, "reason": "Telling them endangers the person."})
    panel = _gag_panel(client, emergency["id"])
    assert "deferred until" in panel and until[:10] in panel and "is told about this demand" not in panel

    told = desk.log(["bob@contoso.com"])
    assert "The customer is told about this demand." in _gag_panel(client, told["id"])

    nobody = desk.log(["someone@consumer.example"], release=False)
    assert "No customer is concerned" in _gag_panel(client, nobody["id"])


# ---------------------------------------------------------------- notices, reports, sizes


def test_the_notices_page_names_a_gag_once(client, session, desk, contoso, login):
    desk.log(["bob@contoso.com"], gag={"order_ref": "NDO-2026-9", "issued_by": "Westminster Magistrates' Court",
                                       "expires_at": None})
    login(desk.counsel.email)
    html = client.get("/desk/notices").get_data(as_text=True)
    held = page_text(html[html.index('id="q-held"'):])
    assert "Gag order NDO-2026-9, by Westminster Magistrates' Court — in force with no end date" in held
    assert not re.search(r"\bgag gag\b", held, re.I) and "Gag NDO" not in held


def test_a_published_period_reads_published(app, session, client, login):
    admin = make_user(session, "admin", "counsel")
    now = datetime.now(timezone.utc)
    period = Period.containing(now).previous()
    report_service.compile_report(session, admin, period.code, now)
    report_service.publish_report(session, admin, period.code, None, now)
    session.commit()
    login(admin.email)
    html = client.get("/desk/reports").get_data(as_text=True)
    row = page_text(html[html.index(f">{period.code}<"):].split("</tr>")[0])
    assert "Published" in row and "Ended" not in row
    running = Period.containing(now).code
    assert "In progress" in page_text(html[html.index(f">{running}<"):].split("</tr>")[0])


@pytest.mark.parametrize("size, words", [(0, "0 bytes"), (1, "1 byte"), (850, "850 bytes"), (1024, "1 KB"),
                                         (12_345, "12 KB"), (2_411_724, "2.3 MB"), (597_939_696, "570 MB"),
                                         (3 * 1024 ** 3, "3.0 GB")])
def test_file_sizes_read_as_people_read_them(size, words):
    assert file_size(size) == words


def test_sizes_on_the_case_page_are_human(client, session, desk, contoso, login):
    demand = desk.log(["bob@contoso.com"], requested=[
        {"target": "bob@contoso.com", "data_set": "sign_in_logs", "from": "2026-01-01", "to": "2026-01-31"}])
    upload_pdf(desk.as_intake, demand["id"], "warrant.pdf", pdf_with_text("warrant " * 400))
    desk.close_with_production(demand["id"], [
        {"target": "bob@contoso.com", "data_set": "sign_in_logs", "from": "2026-01-01", "to": "2026-01-31"}])
    login(desk.counsel.email)
    text = page_text(client.get(f"/desk/demands/{demand['id']}"))
    assert re.search(r"warrant\.pdf \d+ KB", text), text
    assert re.search(r"Added the document warrant\.pdf \S+ \d+ KB, SHA-256", text), text  # the timeline (who, size)
    assert "1 KB" in text and "1,234" not in text  # the manifest's export.zip of 1,234 bytes
