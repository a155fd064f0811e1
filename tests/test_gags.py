"""Gag orders and emergency deferrals: nothing reaches the customer while a gag is
active (no e-mail, nothing in the portal), delayed notices when it ends, and clear
4xx answers for bad input that change nothing."""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

import pytest

from tests.factories import login as login_as
from tests.factories import make_customer, make_customer_user, pdf_with_text, upload_pdf
from tests.smtp import attachments, text_part


def iso(dt: datetime) -> str:
    return dt.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def utc(days: float = 0, seconds: float = 0) -> datetime:
    return datetime.now(timezone.utc) + timedelta(days=days, seconds=seconds)


def long_date(d) -> str:
    return d.strftime("%d %B %Y").lstrip("0")


@pytest.fixture
def contoso(session):
    return make_customer(session, "Contoso Ltd", domains=("contoso.com",),
                         contacts=(("Ann Lee", "ann@contoso.com"), ("Bo Ma", "legal@contoso.com")))


@pytest.fixture
def portal(app, session, contoso):
    """A second browser-like client, signed in as a Contoso portal user."""
    make_customer_user(session, contoso, email="reader@contoso.com")
    client = app.test_client()
    assert login_as(client, "reader@contoso.com").status_code == 302
    return client


class PortalView:
    """What the customer sees about one demand: list entry, notice pages, downloads."""

    def __init__(self, portal, desk, demand):
        self.portal, self.desk, self.demand = portal, desk, demand

    def listed(self) -> bool:
        r = self.portal.get("/portal/")
        assert r.status_code == 200
        return self.demand["reference"] in r.get_data(as_text=True)

    def notice_status(self) -> set[int]:
        return {self.portal.get(f"/portal/notices/{n['id']}").status_code for n in self.desk.notices(self.demand["id"])}

    def document_status(self) -> set[int]:
        return {self.portal.get(f"/portal/documents/{d['id']}").status_code
                for d in self.desk.as_counsel.get(f"/api/v1/demands/{self.demand['id']}").get_json()["documents"]}

    def hidden(self) -> bool:
        return not self.listed() and self.notice_status() <= {404} and self.document_status() <= {404}

    def shown(self) -> bool:
        return self.listed() and self.notice_status() == {200} and self.document_status() == {200}


GAG = {"order_ref": "NDO-2026-7", "issued_by": "US District Court, N.D. Cal."}


# ---------------------------------------------------------------- bad input: clear 4xx, nothing changed


def _state(desk, demand_id):
    demand = desk.as_counsel.get(f"/api/v1/demands/{demand_id}").get_json()
    audit = desk.as_counsel.get(f"/api/v1/demands/{demand_id}/audit").get_json()
    return demand["gag"], len(audit), desk.notices(demand_id)


def test_gag_expiring_before_its_issue_date_is_422(desk, contoso):
    demand = desk.log(["bob@contoso.com"])
    before = _state(desk, demand["id"])
    r = desk.as_counsel.post(f"/api/v1/demands/{demand['id']}/gag",
                             json={**GAG, "issued_at": "2026-03-10", "expires_at": "2026-03-01T00:00:00Z"})
    assert r.status_code == 422
    assert r.content_type == "application/problem+json"
    assert "expires_at" in r.get_json()["errors"]
    assert _state(desk, demand["id"]) == before


def test_intake_with_a_gag_expiring_before_issue_is_422_and_logs_nothing(desk, contoso):
    from tests.factories import demand_payload

    body = demand_payload(targets=["bob@contoso.com"], gag={**GAG, "issued_at": "2026-03-10",
                                                            "expires_at": "2026-02-01T00:00:00Z"})
    r = desk.as_intake.post("/api/v1/demands", json=body)
    assert r.status_code == 422
    assert "gag.expires_at" in r.get_json()["errors"]
    assert desk.as_counsel.get("/api/v1/demands").get_json()["total"] == 0


def test_extension_that_shortens_is_422(desk, contoso):
    demand = desk.log(["bob@contoso.com"])
    end = utc(days=60)
    desk.must(demand["id"], "gag", {**GAG, "expires_at": iso(end)})
    before = _state(desk, demand["id"])
    for shorter in (iso(end - timedelta(days=1)), iso(end)):
        r = desk.act(demand["id"], "gag/extend", {"expires_at": shorter})
        assert r.status_code == 422, r.get_json()
        assert "expires_at" in r.get_json()["errors"]
    assert desk.act(demand["id"], "gag/extend", {}).status_code == 422  # expires_at is required
    assert _state(desk, demand["id"]) == before
    longer = desk.must(demand["id"], "gag/extend", {"expires_at": iso(end + timedelta(days=30))})
    assert longer["gag"]["expires_at"] == iso(end + timedelta(days=30))
    # To no end at all is longer still; after that, any date would shorten it.
    assert desk.must(demand["id"], "gag/extend", {"expires_at": None})["gag"]["expires_at"] is None
    assert desk.act(demand["id"], "gag/extend", {"expires_at": iso(utc(days=900))}).status_code == 422


def test_lift_without_a_reason_is_422(desk, contoso):
    demand = desk.log(["bob@contoso.com"])
    desk.must(demand["id"], "gag", {**GAG, "expires_at": None})
    before = _state(desk, demand["id"])
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": 7}):
        r = desk.act(demand["id"], "gag/lift", body)
        assert r.status_code == 422, (body, r.get_json())
        assert "reason" in r.get_json()["errors"]
    assert _state(desk, demand["id"]) == before
    assert before[0]["active"] is True


def test_second_active_gag_is_409(desk, contoso):
    demand = desk.log(["bob@contoso.com"])
    desk.must(demand["id"], "gag", {**GAG, "expires_at": iso(utc(days=30))})
    before = _state(desk, demand["id"])
    r = desk.act(demand["id"], "gag", {"order_ref": "NDO-2", "issued_by": "Another court", "expires_at": None})
    assert r.status_code == 409
    # 409 comes before 422 (SPEC §6): even a malformed second gag is refused as a conflict.
    assert desk.act(demand["id"], "gag", {"order_ref": ""}).status_code == 409
    assert _state(desk, demand["id"]) == before


def test_extend_or_lift_without_an_active_gag_is_409(desk, contoso):
    demand = desk.log(["bob@contoso.com"])
    assert desk.act(demand["id"], "gag/extend", {"expires_at": iso(utc(days=5))}).status_code == 409
    assert desk.act(demand["id"], "gag/lift", {"reason": "court lifted it"}).status_code == 409


@pytest.mark.parametrize("path, body", [
    ("gag", {**GAG, "expires_at": None}),
    ("gag/extend", {"expires_at": None}),
    ("gag/lift", {"reason": "lifted"}),
    ("defer-notices", {"until": "2030-01-01T00:00:00Z", "reason": "danger to life"}),
])
def test_unknown_demand_is_404(desk, path, body):
    for demand_id in ("999999", "0", "abc", str(2**70)):
        r = desk.as_counsel.post(f"/api/v1/demands/{demand_id}/{path}", json=body)
        assert r.status_code == 404, (demand_id, r.status_code)
        assert r.content_type == "application/problem+json"
    assert desk.as_counsel.get("/api/v1/demands/999999/notices").status_code == 404


def test_gags_are_for_counsel_and_bodies_must_be_json(desk, contoso):
    demand = desk.log(["bob@contoso.com"])
    assert desk.as_intake.post(f"/api/v1/demands/{demand['id']}/gag", json={**GAG, "expires_at": None}).status_code == 403
    r = desk.as_counsel.post(f"/api/v1/demands/{demand['id']}/gag", data="not json",
                             content_type="application/json")
    assert r.status_code == 400
    for body in ({}, [], {"order_ref": "x", "issued_by": "y"}, {**GAG, "expires_at": "tomorrow"},
                 {**GAG, "issued_at": "10/03/2026", "expires_at": None}):
        r = desk.as_counsel.post(f"/api/v1/demands/{demand['id']}/gag", json=body)
        assert r.status_code == 422, (body, r.status_code)
    assert _state(desk, demand["id"])[0] is None


# ---------------------------------------------------------------- nothing reaches the customer under a gag


def test_gag_at_intake_sends_nothing_and_shows_nothing(app, desk, contoso, portal, smtp_server, run_dispatch):
    demand = desk.log(["bob@contoso.com"], gag={**GAG, "issued_at": date.today().isoformat(),
                                                "expires_at": iso(utc(days=90))})
    upload_pdf(desk.as_intake, demand["id"])
    assert [n["state"] for n in desk.notices(demand["id"])] == ["held"]

    result = run_dispatch()
    assert result.exit_code == 0 and "sent 0" in result.output
    assert smtp_server.messages == []
    view = PortalView(portal, desk, demand)
    assert view.hidden()
    # Closing the demand under the gag: the notice of outcome is held too.
    desk.must(demand["id"], "withdraw", {"note": "withdrawn"})
    assert [n["state"] for n in desk.notices(demand["id"])] == ["held", "held"]
    assert "sent 0" in run_dispatch(utc(days=89)).output
    assert smtp_server.messages == [] and view.hidden()


def test_gag_set_after_a_notice_was_sent_hides_it_until_lifted(desk, contoso, portal, smtp_server, run_dispatch):
    demand = desk.log(["bob@contoso.com"])
    upload_pdf(desk.as_intake, demand["id"])
    assert "sent 1" in run_dispatch().output
    view = PortalView(portal, desk, demand)
    assert view.shown()

    desk.must(demand["id"], "gag", {**GAG, "expires_at": None})
    assert view.hidden()  # the earlier notice disappears from the portal, document too
    # The demand is closed meanwhile: its notice of outcome waits.
    desk.must(demand["id"], "withdraw", {"note": "withdrawn"})
    assert "sent 0" in run_dispatch(utc(days=400)).output  # no end date: still gagged a year on
    assert len(smtp_server.messages) == 1 and view.hidden()

    desk.must(demand["id"], "gag/lift", {"reason": "The court vacated the order."})
    assert view.listed()  # the earlier notice is back at once; the outcome is pending (shown too)
    assert view.notice_status() == {200} and view.document_status() == {200}
    result = run_dispatch()
    assert "sent 1" in result.output
    mails = smtp_server.for_reference(demand["reference"])
    assert len(mails) == 2  # the notice of demand was not sent again
    delayed = mails[1]
    assert delayed["Subject"] == f"[{demand['reference']}] Delayed notice: outcome of a legal demand"
    assert "WHY THIS NOTICE IS LATE" in text_part(delayed)
    states = {n["kind"]: (n["state"], n["delayed"]) for n in desk.notices(demand["id"])}
    assert states == {"demand": ("sent", False), "outcome": ("sent", True)}


def test_gag_expiry_is_judged_by_now_and_the_notice_is_delayed(desk, contoso, portal, smtp_server, run_dispatch):
    issued = date.today() - timedelta(days=2)
    end = (utc(days=45)).replace(hour=12, minute=0, second=0, microsecond=0)
    demand = desk.log(["bob@contoso.com"], gag={**GAG, "issued_at": issued.isoformat(), "expires_at": iso(end)})
    pdf = pdf_with_text("the order")
    upload_pdf(desk.as_intake, demand["id"], "order.pdf", pdf)

    before = run_dispatch(end - timedelta(minutes=1))
    assert before.exit_code == 0 and "released 0, sent 0" in before.output
    assert smtp_server.messages == []

    after = run_dispatch(end + timedelta(minutes=1))
    assert after.exit_code == 0
    assert "released 1, sent 1" in after.output
    [mail] = smtp_server.messages
    assert mail["Subject"] == f"[{demand['reference']}] Delayed notice of a legal demand for your data"
    text = text_part(mail)
    received = datetime.fromisoformat(demand["received_at"].replace("Z", "+00:00"))
    assert f"We received this demand on {long_date(received)}." in text
    assert f"from {long_date(issued)} until {long_date(end)} (order issued by {GAG['issued_by']})" in text
    assert attachments(mail) == [("order.pdf", pdf)]
    [notice] = desk.notices(demand["id"])
    assert notice["state"] == "sent" and notice["delayed"] is True
    # The portal uses the real clock: the gag still runs for 45 days there, so it stays hidden.
    assert PortalView(portal, desk, demand).hidden()


def test_gag_expiry_is_judged_by_the_clock(desk, contoso, portal, smtp_server, run_dispatch):
    end = utc(seconds=3)
    demand = desk.log(["bob@contoso.com"], gag={**GAG, "expires_at": end.isoformat()})
    view = PortalView(portal, desk, demand)
    assert "sent 0" in run_dispatch().output and view.hidden()
    time.sleep(max((end - utc()).total_seconds(), 0) + 0.2)
    assert view.hidden()  # expired, but still held until the dispatcher releases it
    assert "released 1, sent 1" in run_dispatch().output
    assert len(smtp_server.messages) == 1
    assert view.listed() and view.notice_status() == {200}


def test_a_gag_that_already_ended_at_intake_holds_nothing(desk, contoso, smtp_server, run_dispatch):
    demand = desk.log(["bob@contoso.com"], gag={**GAG, "issued_at": "2020-01-01",
                                                "expires_at": "2021-01-01T00:00:00Z"})
    assert [n["state"] for n in desk.notices(demand["id"])] == ["pending"]
    assert "sent 1" in run_dispatch().output
    assert "Delayed" not in smtp_server.messages[0]["Subject"]


def test_gag_changes_are_kept_as_history_in_the_audit_log(desk, contoso):
    demand = desk.log(["bob@contoso.com"])
    desk.must(demand["id"], "gag", {**GAG, "expires_at": iso(utc(days=10))})
    desk.must(demand["id"], "gag/extend", {"expires_at": iso(utc(days=20))})
    desk.must(demand["id"], "gag/lift", {"reason": "Order vacated on appeal"})
    events = desk.as_counsel.get(f"/api/v1/demands/{demand['id']}/audit").get_json()
    # The lift lets the held notice go: its release follows the lift in the same change.
    assert [e["action"] for e in events][-4:] == ["gag.set", "gag.extend", "gag.lift", "notice.released"]
    assert events[-2]["after"]["lift_reason"] == "Order vacated on appeal"
    # A new gag may be set once the first is lifted, and on a closed demand too.
    desk.must(demand["id"], "withdraw")
    assert desk.must(demand["id"], "gag", {**GAG, "order_ref": "NDO-2", "expires_at": None})["gag"]["active"]


# ---------------------------------------------------------------- emergency deferral


def test_emergency_deferral_holds_notices_until_its_date(desk, contoso, portal, smtp_server, run_dispatch):
    demand = desk.log(["bob@contoso.com"], process_type="emergency", emergency=True,
                      justification="Credible threat to life reported at 09:10.")
    until = utc(days=3).replace(microsecond=0)
    desk.must(demand["id"], "defer-notices", {"until": iso(until), "reason": "Disclosure would endanger the victim."})
    assert [n["state"] for n in desk.notices(demand["id"])] == ["held"]
    view = PortalView(portal, desk, demand)
    assert view.hidden()

    assert "sent 0" in run_dispatch(until - timedelta(hours=1)).output
    assert smtp_server.messages == []
    assert "released 1, sent 1" in run_dispatch(until + timedelta(minutes=5)).output
    [mail] = smtp_server.messages
    assert demand["reference"] in mail["Subject"] and "Delayed" not in mail["Subject"]  # a deferral is no gag
    [notice] = desk.notices(demand["id"])
    assert notice["state"] == "sent" and notice["delayed"] is False


def test_deferral_bad_input(desk, contoso):
    ordinary = desk.log(["bob@contoso.com"])
    r = desk.act(ordinary["id"], "defer-notices", {"until": iso(utc(days=2)), "reason": "why"})
    assert r.status_code == 422  # only emergency demands
    emergency = desk.log(["bob@contoso.com"], emergency=True, justification="imminent danger")
    for body in ({}, {"until": iso(utc(days=2))}, {"reason": "x"}, {"until": iso(utc(days=-1)), "reason": "x"},
                 {"until": "soon", "reason": "x"}):
        r = desk.act(emergency["id"], "defer-notices", body)
        assert r.status_code == 422, (body, r.status_code)
    assert desk.as_intake.post(f"/api/v1/demands/{emergency['id']}/defer-notices",
                               json={"until": iso(utc(days=2)), "reason": "x"}).status_code == 403
    assert [n["state"] for n in desk.notices(emergency["id"])] == ["pending"]
