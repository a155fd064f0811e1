"""Need to know (SPEC §4, §7): notices wait for counsel's release, and national-security
demands exist only for staff with role ``cleared``."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from requests_desk.models import AuditEvent, Notice
from requests_desk.services import role_changes
from tests.factories import (
    login,
    make_customer,
    make_token,
    make_user,
    page_text,
    post_form,
    upload_pdf,
)


def utc(days: float = 0) -> datetime:
    return datetime.now(timezone.utc) + timedelta(days=days)


@pytest.fixture
def contoso(session):
    return make_customer(session, "Contoso Ltd", domains=("contoso.com",), contacts=(("Ann Lee", "ann@contoso.com"),))


def states(desk, demand_id) -> list[tuple[str, str]]:
    return [(n["kind"], n["state"]) for n in desk.notices(demand_id)]


def held_by(session, demand_id) -> list[str | None]:
    session.expire_all()
    return list(session.scalars(select(Notice.held_by).where(Notice.demand_id == demand_id).order_by(Notice.id)))


def release_events(session, demand_id) -> list[dict]:
    session.expire_all()
    rows = session.scalars(select(AuditEvent).where(AuditEvent.demand_id == demand_id,
                                                    AuditEvent.action == "notices.release"))
    return [json.loads(e.after) for e in rows]


# ---------------------------------------------------------------- notices wait for counsel


def test_a_notice_of_demand_waits_for_counsel_and_start_review_releases_it(desk, contoso, session, smtp_server,
                                                                           run_dispatch):
    d = desk.log(["bob@contoso.com"], release=False)
    assert states(desk, d["id"]) == [("demand", "held")]
    assert held_by(session, d["id"]) == ["counsel"]
    assert d["notices_released_at"] is None
    result = run_dispatch()
    assert result.exit_code == 0 and "sent 0" in result.output
    assert smtp_server.received == []
    desk.must(d["id"], "start-review", {"reason": "reviewed directly"})
    assert states(desk, d["id"]) == [("demand", "pending")]
    assert "sent 1" in run_dispatch().output
    assert [e["by"] for e in release_events(session, d["id"])] == ["start-review"]


@pytest.mark.parametrize("path", [("start-review", "reject"), ("start-review", "preserve")])
def test_reject_and_preserve_release_too(desk, contoso, session, path):
    d = desk.log(["bob@contoso.com"], release=False, process_type="preservation",
                 requested=[{"target": "bob@contoso.com", "data_set": "email_content", "from": "2026-01-01",
                             "to": "2026-01-31"}])
    # Reach review without start-review (which releases by itself): the requester
    # insists after a redirect attempt, so reject or preserve is what releases.
    if path[1] == "reject":
        desk.must(d["id"], "attempt-redirect", {"note": "told to ask the customer"}, who="intake")
        desk.must(d["id"], "requester-insists", who="intake")
        assert states(desk, d["id"]) == [("demand", "held")]
        desk.must(d["id"], "reject", {"reason": "overbroad"})
        by = "reject"
    else:
        desk.must(d["id"], "attempt-redirect", {"note": "told to ask the customer"}, who="intake")
        desk.must(d["id"], "requester-insists", who="intake")
        desk.must(d["id"], "preserve", {"items": [{"target": "bob@contoso.com", "data_set": "email_content",
                                                   "from": "2026-01-01", "to": "2026-01-31"}]})
        by = "preserve"
    assert set(s for _k, s in states(desk, d["id"])) == {"pending"}
    assert [e["by"] for e in release_events(session, d["id"])] == [by]


def test_redirect_and_withdraw_release_nothing(desk, contoso, session, run_dispatch, smtp_server):
    d = desk.log(["bob@contoso.com"], release=False)
    desk.must(d["id"], "attempt-redirect", {"note": "asked to go to Contoso"}, who="intake")
    desk.must(d["id"], "withdraw", {"note": "withdrawn"}, who="intake")
    assert states(desk, d["id"]) == [("demand", "held"), ("outcome", "held")]
    assert held_by(session, d["id"]) == ["counsel", "counsel"]
    run_dispatch()
    assert smtp_server.received == []
    # counsel can still release them after closing: both go
    desk.release(d["id"], reason="")
    assert "sent 2" in run_dispatch().output


def test_an_emergency_is_not_released_by_start_review_but_by_a_deferral(desk, contoso, session, run_dispatch,
                                                                       smtp_server):
    d = desk.log(["bob@contoso.com"], release=False, emergency=True, justification="imminent danger to life")
    desk.must(d["id"], "start-review", {"reason": "emergency"})
    assert states(desk, d["id"]) == [("demand", "held")] and held_by(session, d["id"]) == ["counsel"]
    run_dispatch(utc(days=30))
    assert smtp_server.received == []
    until = utc(days=2).replace(microsecond=0)
    desk.must(d["id"], "defer-notices", {"until": until.isoformat(), "reason": "would endanger the victim"})
    assert held_by(session, d["id"]) == ["deferral"]
    run_dispatch(until - timedelta(hours=1))
    assert smtp_server.received == []
    assert "sent 1" in run_dispatch(until + timedelta(minutes=1)).output
    assert [e["by"] for e in release_events(session, d["id"])] == ["defer-notices"]


def test_national_security_notices_go_only_by_an_explicit_release_with_a_reason(app, session, api, contoso,
                                                                                 run_dispatch, smtp_server):
    intake = api(make_token(session, make_user(session, "intake", "cleared")))
    counsel = api(make_token(session, make_user(session, "counsel", "cleared")))
    r = intake.post("/api/v1/demands", json=_ns_payload())
    assert r.status_code == 201, r.get_json()
    demand_id = r.get_json()["id"]
    for action, body in (("start-review", {}), ("reject", {"reason": "no legal basis"})):
        assert counsel.post(f"/api/v1/demands/{demand_id}/{action}", json=body).status_code == 200
    run_dispatch()
    assert smtp_server.received == []
    r = counsel.post(f"/api/v1/demands/{demand_id}/release-notices", json={})
    assert r.status_code == 422
    assert "reason" in r.get_json()["errors"]
    assert r.get_json()["errors"]["reason"] == ["is required to release a national-security demand's notices"]
    assert release_events(session, demand_id) == []
    r = counsel.post(f"/api/v1/demands/{demand_id}/release-notices", json={"reason": "the order allows notice"})
    assert r.status_code == 200 and r.get_json()["notices_released_at"]
    assert "sent 2" in run_dispatch().output
    assert release_events(session, demand_id) == [
        {"notices_released_at": release_events(session, demand_id)[0]["notices_released_at"],
         "by": "release-notices", "reason": "the order allows notice"}]
    # once released, a second release is a 409 and changes nothing
    again = counsel.post(f"/api/v1/demands/{demand_id}/release-notices", json={"reason": "again"})
    assert again.status_code == 409
    assert len(release_events(session, demand_id)) == 1


def test_release_is_counsel_s_and_bad_input_changes_nothing(desk, contoso, session):
    d = desk.log(["bob@contoso.com"], release=False)
    assert desk.act(d["id"], "release-notices", {"reason": "x"}, who="intake").status_code == 403
    assert desk.act(d["id"], "release-notices", {"reason": "bad\x00byte"}).status_code == 422
    r = desk.as_counsel.post(f"/api/v1/demands/{d['id']}/release-notices", data="[1", content_type="application/json")
    assert r.status_code == 400
    assert desk.act(d["id"], "release-notices", {"reason": ["x"]}).status_code == 422
    assert states(desk, d["id"]) == [("demand", "held")]
    assert release_events(session, d["id"]) == []


def test_a_gag_still_holds_a_released_notice(desk, contoso, session, run_dispatch, smtp_server):
    d = desk.log(["bob@contoso.com"], release=False,
                 gag={"order_ref": "NDO-1", "issued_by": "Court", "expires_at": (utc(days=10)).isoformat()})
    assert held_by(session, d["id"]) == ["counsel"]
    desk.release(d["id"])
    assert held_by(session, d["id"]) == ["gag"]
    run_dispatch()
    assert smtp_server.received == []
    assert "sent 1" in run_dispatch(utc(days=11)).output


def test_the_dispatcher_never_sends_what_counsel_has_not_released(desk, contoso, session, app, smtp_server):
    """Even a notice that somehow became pending (an older desk, a hand edit) is put
    back on hold at sending time."""
    from requests_desk.notices.dispatcher import dispatch

    d = desk.log(["bob@contoso.com"], release=False)
    session.execute(Notice.__table__.update().where(Notice.demand_id == d["id"])
                    .values(state="pending", held_by=None, next_attempt_at=utc(-1)))
    session.commit()
    counts = dispatch(app)
    assert (counts.sent, counts.held) == (0, 1)
    assert smtp_server.received == [] and held_by(session, d["id"]) == ["counsel"]


def test_case_page_queue_and_notices_page_show_what_awaits_counsel(app, desk, contoso, session, client):
    d = desk.log(["bob@contoso.com"], release=False)
    login(client, desk.counsel.email)
    home = page_text(client.get("/desk/"))
    assert "Notices awaiting counsel's release" in home and d["reference"] in home
    notices = client.get("/desk/notices").get_data(as_text=True)
    assert 'id="counsel"' in notices and d["reference"] in notices.split('id="q-failed"')[0]
    case = client.get(f"/desk/demands/{d['id']}")
    text = page_text(case)
    assert "Awaiting counsel" in text and "Release customer notices" in text
    r = post_form(client, f"/desk/demands/{d['id']}", {"release-notices-reason": "customer may know"},
                  f"/desk/demands/{d['id']}/release-notices")
    assert r.status_code == 302
    after = page_text(client.get(f"/desk/demands/{d['id']}"))
    assert "Released by counsel" in after and "Released the customer notices" in after
    assert "Release customer notices" not in after
    assert d["reference"] not in page_text(client.get("/desk/notices")).split("Failed: given up")[0]


# ---------------------------------------------------------------- the national-security compartment


def _ns_payload(**over):
    body = {
        "requester": {"agency": "Federal Bureau", "name": "Agent Smith", "email": "smith@fbi.example",
                      "type": "law_enforcement"},
        "country": "US", "process_type": "national_security", "legal_reference": "NSL-2026-77",
        "received_at": utc(-1).replace(microsecond=0).isoformat(),
        "targets": ["bob@contoso.com", "nsl-target@consumer.example"],
        "requested": [{"target": "bob@contoso.com", "data_set": "subscriber_info", "from": "2026-01-01",
                       "to": "2026-01-31"}],
    }
    body.update(over)
    return body


@pytest.fixture
def compartment(app, session, api, contoso):
    """One national-security demand and one ordinary demand; cleared and uncleared staff."""
    cleared = make_user(session, "counsel", "cleared")
    plain = {role: make_user(session, role) for role in ("intake", "counsel", "approver", "admin")}
    as_cleared = api(make_token(session, cleared))
    ns = as_cleared.post("/api/v1/demands", json=_ns_payload())
    assert ns.status_code == 201, ns.get_json()
    other = as_cleared.post("/api/v1/demands", json=_ns_payload(process_type="subpoena", legal_reference="SUB-1"))
    assert other.status_code == 201
    upload_pdf(as_cleared, ns.get_json()["id"])
    return {"cleared": cleared, "as_cleared": as_cleared, "plain": plain, "ns": ns.get_json(),
            "other": other.get_json(), "api": {r: api(make_token(session, u)) for r, u in plain.items()}}


def test_national_security_demands_do_not_exist_for_the_uncleared_api(compartment):
    ns, other = compartment["ns"], compartment["other"]
    for role, client in compartment["api"].items():
        for path in ("", "/notices", "/audit"):
            assert client.get(f"/api/v1/demands/{ns['id']}{path}").status_code == 404, (role, path)
        assert client.post(f"/api/v1/demands/{ns['id']}/withdraw", json={}).status_code == 404
        listing = client.get("/api/v1/demands?per_page=200").get_json()
        assert [i["id"] for i in listing["items"]] == [other["id"]] and listing["total"] == 1, role
        assert client.get("/api/v1/demands?q=NSL-2026").get_json()["total"] == 0
        assert client.get("/api/v1/demands?process_type=national_security").get_json()["total"] == 0
    cleared = compartment["as_cleared"]
    assert cleared.get(f"/api/v1/demands/{ns['id']}").status_code == 200
    assert cleared.get("/api/v1/demands").get_json()["total"] == 2


def test_national_security_demands_do_not_exist_on_the_uncleared_desk(app, compartment, session):
    ns = compartment["ns"]
    doc_id = compartment["as_cleared"].get(f"/api/v1/demands/{ns['id']}").get_json()["documents"][0]["id"]
    for role, user in compartment["plain"].items():
        client = app.test_client()
        login(client, user.email)
        assert client.get(f"/desk/demands/{ns['id']}").status_code == 404, role
        assert client.get(f"/desk/documents/{doc_id}").status_code == 404, role
        for page in ("/desk/", "/desk/demands", "/desk/demands?q=NSL", "/desk/notices",
                     "/desk/demands?queue=notices_counsel&scope=all"):
            body = client.get(page).get_data(as_text=True)
            assert ns["reference"] not in body and "NSL-2026-77" not in body, (role, page)
        listing = page_text(client.get("/desk/demands?status=open"))
        assert "1 demand" in listing, (role, listing[:400])
        # a search both demands match (the same target) counts the ordinary one only
        found = page_text(client.get("/desk/demands?q=bob@contoso"))
        assert "1 demand" in found and "2 demands" not in found, (role, found[:400])
        form = client.get("/desk/demands/new").get_data(as_text=True)
        assert 'value="national_security"' not in form
        # nor does the list's filter offer the compartment
        assert 'value="national_security"' not in client.get("/desk/demands").get_data(as_text=True)
    client = app.test_client()
    login(client, compartment["cleared"].email)
    assert client.get(f"/desk/demands/{ns['id']}").status_code == 200
    assert "2 demands" in page_text(client.get("/desk/demands?q=bob@contoso"))
    assert ns["reference"] in client.get("/desk/demands").get_data(as_text=True)
    assert 'value="national_security"' in client.get("/desk/demands/new").get_data(as_text=True)
    assert 'value="national_security"' in client.get("/desk/demands").get_data(as_text=True)


def test_the_queue_counts_no_national_security_demand_for_the_uncleared(compartment, session):
    # Both demands are received, and both hold a notice for counsel to release; the queue's
    # counts (worked out as "every demand less the compartments the viewer lacks") say so
    # to the cleared counsel and count only the ordinary one for everyone else.
    from requests_desk.services.queue import build_queue

    # A gag with no end on the national-security demand: the "gags to review" list.
    r = compartment["as_cleared"].post(f"/api/v1/demands/{compartment['ns']['id']}/gag",
                                       json={"order_ref": "NSL-NDO-1", "issued_by": "FBI", "expires_at": None})
    assert r.status_code == 200, r.get_json()
    seen = build_queue(session, compartment["cleared"], scope="all")
    assert seen.status_counts == {"received": 2}
    totals = {q.key: q.total for q in seen.lists}
    assert totals["notices_counsel"] == 2 and totals["gags_review"] == 1
    for role, user in compartment["plain"].items():
        queue = build_queue(session, user, scope="all")
        assert queue.status_counts == {"received": 1}, role
        totals = {q.key: q.total for q in queue.lists}
        rows = {q.key: q.rows for q in queue.lists}
        if "notices_counsel" in totals:
            assert totals["notices_counsel"] == 1, role
        if "gags_review" in totals:
            assert totals["gags_review"] == 0 and rows["gags_review"] == [], role


def test_only_cleared_staff_log_national_security_demands(compartment):
    r = compartment["api"]["intake"].post("/api/v1/demands", json=_ns_payload(legal_reference="NSL-2"))
    assert r.status_code == 403
    assert "cleared" in r.get_json()["detail"]


def test_granting_cleared_takes_two_admins(session):
    first, second = make_user(session, "admin"), make_user(session, "admin")
    counsel = make_user(session, "counsel")
    assert role_changes.change(session, first, counsel, ["counsel", "cleared"], True) == "proposed"
    session.commit()
    assert "cleared" not in counsel.roles
    proposal = role_changes.pending_for(session, counsel)
    role_changes.confirm(session, second, proposal)
    session.commit()
    session.refresh(counsel)
    assert "cleared" in counsel.roles


def test_the_release_form_warns_of_documents_marked_for_no_customer(app, desk, contoso, session, client):
    make_customer(session, "Fabrikam Inc", domains=("fabrikam.com",), contacts=(("Cy", "cy@fabrikam.com"),))
    d = desk.log(["bob@contoso.com", "eve@fabrikam.com"], release=False)
    login(client, desk.counsel.email)
    assert "go to no customer yet" not in page_text(client.get(f"/desk/demands/{d['id']}"))
    upload_pdf(desk.as_intake, d["id"])
    assert "1 document of this demand goes to no customer yet" in page_text(client.get(f"/desk/demands/{d['id']}"))
