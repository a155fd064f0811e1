"""A notice's life in its demand's audit trail (SPEC §8, audit completeness): released,
sent and given up are audit events of the demand, written in the transaction that
changes the notice, by whoever released it (the dispatcher's runs: the system), and
the case page's timeline tells them."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from requests_desk import audit
from requests_desk.models import AuditEvent, Notice
from requests_desk.notices.outbox import MAX_ATTEMPTS
from tests.factories import login as login_as


def _events(session, demand_id: int, prefix: str = "notice") -> list[AuditEvent]:
    session.expire_all()
    return [e for e in session.scalars(select(AuditEvent).where(AuditEvent.demand_id == demand_id)
                                       .order_by(AuditEvent.seq))
            if e.action.startswith(prefix)]


def _contoso(session):
    from tests.factories import make_customer

    return make_customer(session, "Contoso Ltd", domains=("contoso.com",),
                         contacts=(("Ann Lee", "ann@contoso.com"),))


def test_counsels_release_then_the_send_are_events_of_the_demand(app, session, desk, smtp_server, run_dispatch):
    contoso = _contoso(session)
    demand = desk.log(["bob@contoso.com"], release=False)
    assert _events(session, demand["id"]) == []  # held, awaiting counsel: nothing happened to it yet
    desk.release(demand["id"])

    release, released = _events(session, demand["id"], "notice")
    assert release.action == "notices.release" and released.action == "notice.released"
    assert released.seq == release.seq + 1  # in the same transaction, right after counsel's word
    assert released.actor == desk.counsel.email and released.actor_id == desk.counsel.id
    [notice] = session.scalars(select(Notice).where(Notice.demand_id == demand["id"])).all()
    assert (released.object_type, released.object_id) == ("notice", notice.id)
    assert json.loads(released.before) == {"state": "held", "held_by": "counsel"}
    assert json.loads(released.after) == {"state": "pending", "delayed": False, "kind": "demand",
                                          "customer_id": contoso.id}

    assert run_dispatch().exit_code == 0
    sent = _events(session, demand["id"], "notice.sent")
    assert len(sent) == 1 and sent[0].actor == "system" and sent[0].actor_id is None
    assert json.loads(sent[0].after) == {"state": "sent", "attempts": 1, "kind": "demand",
                                         "customer_id": contoso.id}
    assert len(smtp_server.messages) == 1
    assert audit.verify(session).ok

    client = app.test_client()
    assert login_as(client, desk.counsel.email).status_code == 302
    page = client.get(f"/desk/demands/{demand['id']}").get_data(as_text=True)
    assert "The notice of demand to Contoso Ltd was released for sending" in page
    assert "It had been held awaiting counsel&#39;s release" in page or "It had been held awaiting counsel's" in page
    assert "Sent the notice of demand to Contoso Ltd" in page


def test_giving_up_is_one_event_and_the_attempts_before_are_none(session, desk, smtp_server, run_dispatch):
    _contoso(session)
    smtp_server.refuse_with = "550 5.1.1 Mailbox unavailable"
    demand = desk.log(["bob@contoso.com"])
    clock = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert run_dispatch(clock).exit_code == 0
        failed = _events(session, demand["id"], "notice.failed")
        assert len(failed) == (1 if attempt == MAX_ATTEMPTS else 0), attempt
        [notice] = desk.notices(demand["id"])
        if notice["next_attempt_at"]:
            clock = datetime.fromisoformat(notice["next_attempt_at"].replace("Z", "+00:00"))
    after = json.loads(failed[0].after)
    assert after["state"] == "failed" and after["attempts"] == MAX_ATTEMPTS and "550" in after["error"]
    assert failed[0].actor == "system"
    assert _events(session, demand["id"], "notice.sent") == []
    assert audit.verify(session).ok


def test_a_deferral_ending_is_released_by_the_dispatchers_run(session, desk, smtp_server, run_dispatch):
    _contoso(session)
    demand = desk.log(["bob@contoso.com"], release=False, process_type="emergency", emergency=True,
                      justification="a threat to life described in the request")
    until = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
    desk.must(demand["id"], "defer-notices", {"until": until.isoformat(), "reason": "an operation is running"})
    # Deferring released the notices from counsel's hold into the deferral's: no notice event yet.
    assert [e.action for e in _events(session, demand["id"], "notice")] == ["notices.defer", "notices.release"]

    assert run_dispatch(until - timedelta(minutes=1)).exit_code == 0
    assert _events(session, demand["id"], "notice.") == []
    assert run_dispatch(until + timedelta(minutes=1)).exit_code == 0
    released, sent = _events(session, demand["id"], "notice.")
    assert (released.action, released.actor, sent.action) == ("notice.released", "system", "notice.sent")
    assert json.loads(released.before) == {"state": "held", "held_by": "deferral"}
    assert audit.verify(session).ok


def test_lifting_a_gag_releases_by_the_one_who_lifted_it(session, desk, smtp_server, run_dispatch):
    _contoso(session)
    demand = desk.log(["bob@contoso.com"])
    [notice] = desk.notices(demand["id"])
    assert notice["state"] == "pending"
    desk.must(demand["id"], "gag", {"order_ref": "NDO-1", "issued_by": "Court", "expires_at": None})
    lifted_by = desk.counsel2
    desk.must(demand["id"], "gag/lift", {"reason": "the court lifted the order"}, who="counsel2")
    events = _events(session, demand["id"], "notice.")
    # Released once at logging (counsel's release right after), held by the gag, released again on the lift.
    assert [e.action for e in events] == ["notice.released", "notice.released"]
    assert events[-1].actor == lifted_by.email
    assert json.loads(events[-1].before) == {"state": "held", "held_by": "gag"}
    assert json.loads(events[-1].after)["delayed"] is True
    assert audit.verify(session).ok
