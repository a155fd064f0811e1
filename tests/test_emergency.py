"""Emergency verification (SPEC §9) through the API: the four checks before a scope, counsel's
override, reject-fraudulent and the flags it sets, and the report's fraudulent count (a
deferral given at logging: tests/test_intake_deferral.py).

Every refusal changes nothing: the demand's JSON and its audit trail are compared."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from requests_desk.vocabulary import EMERGENCY_CHECKS
from tests.factories import login, make_customer, make_token, make_user, page_text

WINDOW = {"from": "2026-01-01", "to": "2026-03-31"}
NOTES = {
    "callback": "Called the agency's switchboard (number from its website), put through to Det. Roe.",
    "sender": "Headers: DKIM pass for police.example; the domain is the agency's.",
    "authority": "Det. Roe is listed on the force's staff register.",
    "justification": "Missing 12-year-old, last seen 2 hours ago: imminent danger.",
}


def iso(dt: datetime) -> str:
    return dt.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def utc(**delta) -> datetime:
    return datetime.now(timezone.utc) + timedelta(**delta)


@pytest.fixture
def contoso(session):
    return make_customer(session, "Contoso Ltd", domains=("contoso.com",),
                         contacts=(("Ann Lee", "ann@contoso.com"),))


@pytest.fixture
def staff(desk, session, api):
    desk.admin = make_user(session, "admin")
    desk.as_admin = api(make_token(session, desk.admin))
    return desk


def emergency(desk, *, email="jane.roe@police.example", release=False, **extra) -> dict:
    body = {"process_type": "emergency", "emergency": True, "justification": "A child is missing.", **extra}
    body["requester"] = {"agency": "Metropolitan Police", "name": "Det. Jane Roe", "email": email,
                         "type": "law_enforcement"}
    return desk.log(["bob@contoso.com"], release=release, **body)


def ordinary(desk, *, email="jane.roe@police.example") -> dict:
    requester = {"agency": "Metropolitan Police", "name": "Det. Jane Roe", "email": email, "type": "law_enforcement"}
    return desk.log(["bob@contoso.com"], release=False, requester=requester)


def audit(desk, demand_id) -> list[dict]:
    return desk.as_counsel.get(f"/api/v1/demands/{demand_id}/audit").get_json()


def get(desk, demand_id) -> dict:
    return desk.as_counsel.get(f"/api/v1/demands/{demand_id}").get_json()


def refused(desk, demand_id, path, body, status, who="counsel") -> dict:
    """The call is refused with ``status`` and changes nothing."""
    before, trail = get(desk, demand_id), audit(desk, demand_id)
    r = getattr(desk, f"as_{who}").post(f"/api/v1/demands/{demand_id}/{path}", json=body)
    assert r.status_code == status, r.get_json()
    assert r.content_type == "application/problem+json"
    assert get(desk, demand_id) == before and audit(desk, demand_id) == trail
    return r.get_json()


def check(desk, demand_id, code, who="intake", note=None) -> dict:
    return desk.must(demand_id, "checks", {"check": code, "note": note or NOTES[code]}, who=who)


def review(desk, demand) -> dict:
    return desk.must(demand["id"], "start-review", {"reason": "emergency: straight to review"})


# ---------------------------------------------------------------- the four checks


def test_propose_scope_on_an_emergency_names_the_missing_checks(staff, contoso):
    d = emergency(staff)
    assert d["checks_required"] is True and d["checks"] == [] and d["checks_missing"] == list(EMERGENCY_CHECKS)
    review(staff, d)
    problem = refused(staff, d["id"], "propose-scope", {"items": d["requested"]}, 422)
    message = problem["errors"]["checks"][0]
    assert all(code in message for code in EMERGENCY_CHECKS)

    check(staff, d["id"], "callback")
    after = check(staff, d["id"], "sender", who="counsel")
    assert after["checks_missing"] == ["authority", "justification"]
    problem = refused(staff, d["id"], "propose-scope", {"items": d["requested"]}, 422)
    message = problem["errors"]["checks"][0]
    assert "authority" in message and "justification" in message
    assert "callback" not in message and "sender" not in message

    check(staff, d["id"], "authority")
    done = check(staff, d["id"], "justification", who="counsel")
    assert done["checks_missing"] == []
    assert [(c["check"], c["by"], c["note"]) for c in done["checks"]] == [
        ("callback", staff.intake.email, NOTES["callback"]), ("sender", staff.counsel.email, NOTES["sender"]),
        ("authority", staff.intake.email, NOTES["authority"]),
        ("justification", staff.counsel.email, NOTES["justification"])]
    assert all(c["at"] for c in done["checks"])
    assert staff.must(d["id"], "propose-scope", {"items": d["requested"]})["status"] == "scoped"


def test_a_check_recorded_again_replaces_the_first_and_the_audit_keeps_both(staff, contoso):
    d = emergency(staff)
    check(staff, d["id"], "callback", note="Left a message.")
    again = check(staff, d["id"], "callback", who="counsel", note="Called back; spoke to the duty sergeant.")
    [only] = again["checks"]
    assert only["by"] == staff.counsel.email and only["note"] == "Called back; spoke to the duty sergeant."
    events = [e for e in audit(staff, d["id"]) if e["action"] == "check.record"]
    assert [e["actor"] for e in events] == [staff.intake.email, staff.counsel.email]
    assert events[0]["before"] is None and events[0]["after"]["note"] == "Left a message."
    assert events[1]["before"]["note"] == "Left a message."
    assert events[1]["after"]["note"] == "Called back; spoke to the duty sergeant."


def test_check_bad_input_and_roles(staff, contoso):
    d = emergency(staff)
    for body, field in (({"check": "vibes", "note": "x"}, "check"), ({"note": "x"}, "check"),
                        ({"check": "callback"}, "note"), ({"check": "callback", "note": "  "}, "note"),
                        ({"check": "callback", "note": "x" * 5001}, "note"),
                        ({"check": "callback", "note": "a\x00b"}, "note")):
        problem = refused(staff, d["id"], "checks", body, 422, who="intake")
        assert field in problem["errors"], (body, problem)
    refused(staff, d["id"], "checks", ["callback"], 422, who="intake")
    for who in ("approver", "admin"):
        refused(staff, d["id"], "checks", {"check": "callback", "note": "x"}, 403, who=who)
    # An ordinary demand from an unflagged address takes no checks.
    plain = ordinary(staff)
    assert plain["checks_required"] is False and plain["flagged"] is False
    problem = refused(staff, plain["id"], "checks", {"check": "callback", "note": "x"}, 422, who="intake")
    assert "" in problem["errors"]
    # A closed demand is final.
    staff.must(d["id"], "withdraw")
    refused(staff, d["id"], "checks", {"check": "callback", "note": "x"}, 409, who="intake")
    assert staff.as_intake.post("/api/v1/demands/999999/checks", json={"check": "callback"}).status_code == 404


# ---------------------------------------------------------------- counsel's override


def test_counsel_overrides_the_missing_checks_with_a_reason(staff, contoso):
    d = emergency(staff)
    review(staff, d)
    check(staff, d["id"], "justification")
    refused(staff, d["id"], "checks/override", {"reason": "x"}, 403, who="intake")
    refused(staff, d["id"], "checks/override", {}, 422)
    refused(staff, d["id"], "checks/override", {"reason": " "}, 422)
    after = staff.must(d["id"], "checks/override",
                       {"reason": "Agency's phones are down in the flood; the sergeant came in person."})
    assert after["checks_override"]["reason"].startswith("Agency's phones")
    assert after["checks_override"]["by"] == staff.counsel.email
    assert after["checks_missing"] == ["callback", "sender", "authority"]  # still not done, and says so
    [event] = [e for e in audit(staff, d["id"]) if e["action"] == "checks.override"]
    assert event["before"] is None and event["after"]["missing"] == ["callback", "sender", "authority"]
    assert staff.must(d["id"], "propose-scope", {"items": d["requested"]})["status"] == "scoped"


# ---------------------------------------------------------------- reject-fraudulent and flags


@pytest.mark.parametrize("start", ["received", "redirecting", "in_review"])
def test_reject_fraudulent_closes_and_flags_address_and_domain(staff, contoso, start):
    d = emergency(staff, email="Duty.Officer@Hijacked-Police.example")
    if start == "redirecting":
        staff.must(d["id"], "attempt-redirect", {"note": "asked them to contact Contoso"}, who="intake")
    elif start == "in_review":
        review(staff, d)
    refused(staff, d["id"], "reject-fraudulent", {}, 422)  # a reason is required
    refused(staff, d["id"], "reject-fraudulent", {"reason": "forged"}, 403, who="intake")
    closed = staff.must(d["id"], "reject-fraudulent",
                        {"reason": "The agency says the mailbox was hijacked; no such request was sent."})
    assert closed["status"] == "closed" and closed["outcome"] == "fraudulent" and closed["flagged"] is True
    events = audit(staff, d["id"])
    assert [e["action"] for e in events[-3:]] == ["reject-fraudulent", "flag.set", "flag.set"]
    assert {(e["after"]["kind"], e["after"]["value"]) for e in events[-2:]} == {
        ("email", "duty.officer@hijacked-police.example"), ("domain", "hijacked-police.example")}
    # Counsel's release decides what the customer hears: nothing goes out by itself.
    assert {n["state"] for n in staff.notices(d["id"])} == {"held"}


def test_later_demands_from_a_flagged_address_or_domain_need_all_four_checks(staff, contoso):
    forged = emergency(staff, email="duty@hijacked-police.example")
    staff.must(forged["id"], "reject-fraudulent", {"reason": "forged"})
    same_domain = ordinary(staff, email="someone.else@hijacked-police.example")
    elsewhere = ordinary(staff, email="jane.roe@police.example")
    assert same_domain["flagged"] is True and same_domain["checks_required"] is True
    assert elsewhere["flagged"] is False and elsewhere["checks_required"] is False
    listed = {d["id"]: d["flagged"] for d in staff.as_counsel.get("/api/v1/demands").get_json()["items"]}
    assert listed[same_domain["id"]] is True and listed[elsewhere["id"]] is False

    review(staff, same_domain)
    problem = refused(staff, same_domain["id"], "propose-scope", {"items": same_domain["requested"]}, 422)
    assert "flagged" in problem["errors"]["checks"][0]
    review(staff, elsewhere)
    assert staff.must(elsewhere["id"], "propose-scope", {"items": elsewhere["requested"]})["status"] == "scoped"
    for code in EMERGENCY_CHECKS:
        check(staff, same_domain["id"], code)
    assert staff.must(same_domain["id"], "propose-scope",
                      {"items": same_domain["requested"]})["status"] == "scoped"


def test_rejecting_again_from_a_flagged_address_keeps_one_flag(staff, contoso):
    first = emergency(staff, email="duty@hijacked-police.example")
    staff.must(first["id"], "reject-fraudulent", {"reason": "forged"})
    second = emergency(staff, email="duty@hijacked-police.example")
    staff.must(second["id"], "reject-fraudulent", {"reason": "forged again"})
    assert [e["action"] for e in audit(staff, second["id"])][-1] == "reject-fraudulent"


# ---------------------------------------------------------------- the report


def test_report_counts_fraudulent_emergencies_and_as_rejected(app, staff, contoso):
    forged = emergency(staff, email="duty@hijacked-police.example")
    staff.must(forged["id"], "reject-fraudulent", {"reason": "forged"})
    plain = ordinary(staff, email="x@elsewhere.example")
    staff.must(plain["id"], "reject-fraudulent", {"reason": "forged subpoena"})  # not an emergency
    real = emergency(staff)
    review(staff, real)
    staff.must(real["id"], "reject", {"reason": "no danger described"})
    period = f"{datetime.now(timezone.utc).year}-H{1 if datetime.now(timezone.utc).month <= 6 else 2}"
    r = staff.as_counsel.post("/api/v1/reports", json={"period": period})
    assert r.status_code == 201, r.get_json()
    report = r.get_json()
    assert report["schema_version"] == 1
    assert report["emergency"] == {"requests": 2, "disclosed": 0, "rejected": 2, "fraudulent": 1}
    assert report["totals"]["requests"] == 3 and report["totals"]["rejected"] == 3
    assert "fraudulent" not in report["totals"]
    assert report["totals"]["pct_rejected"] == 100.0
    # The draft's page shows the count in the emergency table.
    client = app.test_client()
    assert login(client, staff.counsel.email).status_code == 302
    page = page_text(client.get(f"/desk/reports/{period}"))
    assert "Of which found fraudulent 1" in page
