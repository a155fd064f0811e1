"""Concurrent edits (SPEC §8): a demand's version is its ETag; ``If-Match`` with a stale
one is a 412 that changes nothing; without it, actions on one demand are serialised,
so two conflicting ones sent at once never both succeed — shown against a live
gunicorn with several worker processes, on SQLite and PostgreSQL alike."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

from sqlalchemy import func, select

from requests_desk.models import AuditEvent
from tests.factories import make_customer, make_demand, make_token, make_user
from tests.live import gunicorn

RACES = 12


def _post(url: str, token: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_get_gives_an_etag_and_a_stale_if_match_is_412(api, session):
    counsel = make_user(session, "counsel")
    client = api(make_token(session, counsel))
    demand = make_demand(session, counsel)
    first = client.get(f"/api/v1/demands/{demand.id}")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and len(etag) == 34
    assert client.get(f"/api/v1/demands/{demand.id}").headers["ETag"] == etag  # stable while unchanged
    changed = client.post(f"/api/v1/demands/{demand.id}/set-due",
                          json={"due_at": "2099-01-01T00:00:00Z", "reason": "agreed"},
                          headers={"If-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    count = session.scalar(select(func.count()).select_from(AuditEvent))
    stale = client.post(f"/api/v1/demands/{demand.id}/start-review", json={"reason": "direct"},
                        headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.content_type == "application/problem+json"
    assert "changed since you read it" in stale.get_json()["detail"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == count
    assert client.get(f"/api/v1/demands/{demand.id}").get_json()["status"] == "received"
    # the current version (or *) goes through
    fresh = client.post(f"/api/v1/demands/{demand.id}/start-review", json={"reason": "direct"},
                        headers={"If-Match": changed.headers["ETag"]})
    assert fresh.status_code == 200
    assert client.post(f"/api/v1/demands/{demand.id}/set-due", json={"due_at": "2099-02-01T00:00:00Z",
                       "reason": "again"}, headers={"If-Match": "*"}).status_code == 200


def test_two_conflicting_actions_at_once_never_both_succeed(app, session, tmp_path):
    make_customer(session, "Contoso", enterprise=False, domains=("contoso.com",))
    intake, counsel = make_user(session, "intake"), make_user(session, "counsel")
    tokens = {"intake": make_token(session, intake), "counsel": make_token(session, counsel)}
    demands = [make_demand(session, intake, targets=["bob@contoso.com"]).id for _ in range(RACES)]
    session.commit()
    # From `received` both are allowed; whichever goes first, the other is then refused.
    moves = (("intake", "attempt-redirect", {"note": "told to ask the customer"}),
             ("counsel", "start-review", {"reason": "reviewed directly"}))
    results: dict[int, list[int]] = {}
    with gunicorn(app, tmp_path, workers=4) as base:
        for demand_id in demands:
            barrier = threading.Barrier(len(moves))
            answers: list[int] = []

            def send(who, action, body, demand_id=demand_id, barrier=barrier, answers=answers):
                barrier.wait()
                status, _ = _post(f"{base}/api/v1/demands/{demand_id}/{action}", tokens[who], body)
                answers.append(status)

            threads = [threading.Thread(target=send, args=move) for move in moves]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            results[demand_id] = sorted(answers)
    assert all(answers == [200, 409] for answers in results.values()), results
    session.expire_all()
    # and the log agrees: one of the two actions per demand, never both
    for demand_id in demands:
        actions = session.scalars(select(AuditEvent.action).where(
            AuditEvent.demand_id == demand_id, AuditEvent.action.in_(("attempt-redirect", "start-review")))).all()
        assert len(actions) == 1, (demand_id, actions)


def test_a_case_page_form_from_before_a_change_is_refused_and_keeps_what_was_typed(app, client, session):
    from tests.factories import csrf_from, form_value, login, page_text, read_page

    counsel, other = make_user(session, "counsel"), make_user(session, "counsel")
    demand = make_demand(session, counsel)
    session.commit()
    login(client, counsel.email)
    page = client.get(f"/desk/demands/{demand.id}").get_data(as_text=True)
    version = form_value(page, "version")
    assert version and version.startswith('"')
    # meanwhile a colleague changes the demand through the API
    colleague = app.test_client()
    r = colleague.post(f"/api/v1/demands/{demand.id}/set-due", headers={
        "Authorization": f"Bearer {make_token(session, other)}"},
        json={"due_at": "2099-01-01T00:00:00Z", "reason": "agreed with the requester"})
    assert r.status_code == 200
    count = session.scalar(select(func.count()).select_from(AuditEvent))
    stale = client.post(f"/desk/demands/{demand.id}/action/start-review", data={
        "csrf_token": csrf_from(page), "version": version, "start-review-reason": "Reviewed it myself"})
    assert stale.status_code == 409
    text = page_text(stale)
    assert "changed while you had the page open" in text
    assert read_page(stale.get_data(as_text=True)).values["start-review-reason"] == ["Reviewed it myself"]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == count
    # the page shown again carries the new version: sending it now goes through
    again = stale.get_data(as_text=True)
    assert form_value(again, "version") != version
    done = client.post(f"/desk/demands/{demand.id}/action/start-review", data={
        "csrf_token": csrf_from(again), "version": form_value(again, "version"),
        "start-review-reason": "Reviewed it myself"})
    assert done.status_code == 302
