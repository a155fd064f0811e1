"""The public report page for anonymous readers is rendered once per worker and reused for
a few seconds, and rendered again at once after a publication in this process; signed-in
staff are never served from it."""
from __future__ import annotations

from requests_desk.db import utcnow
from requests_desk.public import views
from requests_desk.services import reports as report_service

from .factories import counted, login
from .test_reports_caseload import PERIOD, build_caseload


def _statements(app, client, path: str) -> tuple[int, object]:
    with counted(app) as seen:
        response = client.get(path)
    return len(seen), response


def _publish(session, admin, note=None) -> None:
    report_service.compile_report(session, admin, PERIOD, utcnow())
    report_service.publish_report(session, admin, PERIOD, note, utcnow())
    session.commit()


def test_anonymous_readers_share_one_rendering_until_a_publication(app, session, client, monkeypatch):
    admin = build_caseload(app, session).users["admin"]
    _publish(session, admin)
    path = f"/transparency/{PERIOD}"

    n, first = _statements(app, client, path)
    assert first.status_code == 200 and n > 0
    n, second = _statements(app, client, path)
    assert n == 0, "the second reader got a page rendered again"
    assert second.data == first.data and second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["Cache-Control"] == first.headers["Cache-Control"]
    assert sorted(second.headers.items()) == sorted(first.headers.items())  # every header, once each
    assert client.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304

    # A correction published in this process shows at once.
    _publish(session, admin, "Corrected the count")
    n, third = _statements(app, client, path)
    assert n > 0 and third.headers["ETag"] != first.headers["ETag"]
    assert b"Corrected the count" in third.data

    # Past its time a kept page is rendered again.
    monkeypatch.setattr(views, "PAGE_TTL", 0.0)
    n, _ = _statements(app, client, path)
    assert n > 0


def test_signed_in_staff_get_their_own_page(app, session, client):
    admin = build_caseload(app, session).users["admin"]
    _publish(session, admin)
    path = f"/transparency/{PERIOD}"
    anonymous = client.get(path)
    staff = app.test_client()
    assert login(staff, admin.email).status_code == 302
    n, page = _statements(app, staff, path)
    assert n > 0 and page.headers["ETag"] != anonymous.headers["ETag"]
    assert "private" in page.headers["Cache-Control"]


def test_signed_in_answers_are_kept_by_no_cache(app, session, client):
    """The desk, the portal and the API answer one reader: private, no-store."""
    from .factories import Api, make_customer, make_customer_user, make_demand, make_token, make_user

    intake = make_user(session, "intake")
    demand = make_demand(session, intake)
    customer = make_customer(session, "Contoso", enterprise=True, domains=("contoso.com",))
    reader = make_customer_user(session, customer)
    token = make_token(session, intake)
    session.commit()

    assert login(client, intake.email).status_code == 302
    portal = app.test_client()
    assert login(portal, reader.email).status_code == 302
    answers = [client.get("/desk/demands"), client.get(f"/desk/demands/{demand.id}"), portal.get("/portal/"),
               Api(app.test_client(), token).get(f"/api/v1/demands/{demand.id}")]
    for answer in answers:
        assert answer.status_code == 200
        assert {"private", "no-store"} <= {d.strip() for d in answer.headers["Cache-Control"].split(",")}


def test_no_store_writes_one_cache_control_and_keeps_an_answers_own_directives():
    from flask import Response

    from requests_desk.auth import no_store

    plain = no_store(Response("x"))
    assert plain.headers.getlist("Cache-Control") == ["private, no-store"]
    own = no_store(Response("x", headers={"Cache-Control": "max-age=0, must-revalidate"}))
    assert len(own.headers.getlist("Cache-Control")) == 1
    assert {d.strip() for d in own.headers["Cache-Control"].split(",")} == {
        "max-age=0", "must-revalidate", "private", "no-store"}
