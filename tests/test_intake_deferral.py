"""Deferral at intake (SPEC §9): an emergency's notice deferral given when it is logged
(``defer_notices`` in the demand body, the intake form's fields) is the same deferral
counsel's ``defer-notices`` makes: audited, and no real dispatcher run sends the notice
before its date."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from requests_desk.models import Demand, NoticeDeferral
from tests.factories import (
    demand_form,
    demand_payload,
    field_error,
    make_agency,
    make_requester,
    make_user,
    page_text,
    post_form,
)
from tests.test_requester_portal import _signed_in, _submit
from tests.test_emergency import audit, contoso, emergency, iso, staff, utc  # noqa: F401 (fixtures)


def test_a_deferral_given_at_logging_holds_the_notice_past_a_real_dispatcher_run(
        staff, contoso, smtp_server, run_dispatch):
    until = utc(days=2).replace(microsecond=0)
    d = emergency(staff, defer_notices={"until": iso(until), "reason": "The officer asks: telling endangers her."})
    [event] = [e for e in audit(staff, d["id"]) if e["action"] == "notices.defer"]
    assert event["actor"] == staff.intake.email and event["after"]["at_intake"] is True
    assert event["after"]["until"].startswith(iso(until)[:19])
    # Counsel releases the notices: the deferral still holds them until its date.
    staff.release(d["id"])
    assert [n["state"] for n in staff.notices(d["id"])] == ["held"]
    assert "sent 0" in run_dispatch(until - timedelta(minutes=5)).output
    assert smtp_server.messages == [] and [n["state"] for n in staff.notices(d["id"])] == ["held"]
    assert "sent 1" in run_dispatch(until + timedelta(minutes=5)).output
    [mail] = smtp_server.messages
    assert d["reference"] in mail["Subject"]


def test_deferral_at_logging_bad_input(staff, contoso):
    good = {"until": iso(utc(days=2)), "reason": "danger"}
    for defer, field in (({"until": iso(utc(days=-1)), "reason": "x"}, "defer_notices.until"),
                         ({"until": "2101-01-01T00:00:00Z", "reason": "x"}, "defer_notices.until"),
                         ({"until": "soon", "reason": "x"}, "defer_notices.until"),
                         ({"until": iso(utc(days=2))}, "defer_notices.reason"),
                         ({"until": iso(utc(days=2)), "reason": "a\x00b"}, "defer_notices.reason"),
                         ("tomorrow", "defer_notices")):
        body = {"process_type": "emergency", "emergency": True, "justification": "danger", "defer_notices": defer}
        r = staff.as_intake.post("/api/v1/demands", json=_payload(body))
        assert r.status_code == 422 and field in r.get_json()["errors"], (defer, r.get_json())
    r = staff.as_intake.post("/api/v1/demands", json=_payload({"defer_notices": good}))  # not an emergency
    assert r.status_code == 422 and "defer_notices" in r.get_json()["errors"]
    assert staff.as_counsel.get("/api/v1/demands").get_json()["total"] == 0


def _payload(extra: dict) -> dict:
    return demand_payload(targets=["bob@contoso.com"], **extra)


# ---------------------------------------------------------------- the intake form


def test_the_intake_form_defers_an_emergency_and_refuses_a_bad_deferral(client, session, login):
    user = make_user(session, "intake", email="ivy.intake@desk.example")
    login(user.email)
    until = utc(days=3).strftime("%Y-%m-%dT%H:%M")
    emergency_fields = {"emergency": "y", "justification": "Hostage situation in progress."}
    for change, field_id, message in (
            ({"defer_until": "2020-01-01T00:00", "defer_reason": "danger"}, "defer_until", "future"),
            ({"defer_until": until}, "defer_reason", "Required"),
            ({"defer_reason": "the officer asks"}, "defer_until", "Required")):
        r = post_form(client, "/desk/demands/new", demand_form(**emergency_fields, **change))
        assert r.status_code == 422, page_text(r)
        assert message.lower() in field_error(r.get_data(as_text=True), field_id).lower()
    r = post_form(client, "/desk/demands/new", demand_form(defer_until=until, defer_reason="x"))  # no emergency
    assert r.status_code == 422 and "emergency" in field_error(r.get_data(as_text=True), "defer_until")
    assert session.scalar(select(func.count()).select_from(Demand)) == 0

    r = post_form(client, "/desk/demands/new", demand_form(**emergency_fields, defer_until=until,
                                                           defer_reason="The officer asks: a tip-off risks a life."))
    assert r.status_code == 302, page_text(r)
    [deferral] = session.scalars(select(NoticeDeferral)).all()
    assert deferral.actor_id == user.id and deferral.reason.startswith("The officer asks")
    text = page_text(client.get(r.headers["Location"]))
    assert "Deferred the customer notices until" in text and "when the demand was logged" in text


# ---------------------------------------------------------------- the requester portal


def test_a_requester_asks_for_a_deferral_with_an_emergency_submission(app, session):
    agency = make_agency(session, "police.example.gov", "Example Police Department", "US")
    user = make_requester(session, "rita@police.example.gov", agency=agency)
    client = _signed_in(app, user)
    emergency_fields = {"emergency": "y", "justification": "A child is missing; the account holder may know."}
    r = _submit(client, **emergency_fields, defer_until="2020-01-01T00:00", defer_reason="danger")
    assert r.status_code == 422 and "future" in field_error(r.get_data(as_text=True), "defer_until").lower()
    r = _submit(client, defer_until=utc(days=2).strftime("%Y-%m-%dT%H:%M"), defer_reason="x")  # no emergency
    assert r.status_code == 422 and "emergency" in field_error(r.get_data(as_text=True), "defer_until")
    assert session.scalar(select(func.count()).select_from(Demand)) == 0
    r = _submit(client, **emergency_fields, defer_until=utc(days=2).strftime("%Y-%m-%dT%H:%M"),
                defer_reason="Telling the account holder could endanger the child.")
    assert r.status_code == 302, page_text(r)
    [deferral] = session.scalars(select(NoticeDeferral)).all()
    assert deferral.actor_id == user.id and deferral.reason.startswith("Telling the account holder")
