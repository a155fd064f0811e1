"""``GET /api/v1/demands/{id}`` reads plain rows (api/demand_read.py), not ORM objects
(issue 15). It must answer exactly what the ORM's ``serialize`` answers, the ETag that a
later ``If-Match`` is checked against included: here for every demand of a demo desk
(gags, holds, checks, productions, redacted copies, marks, portal submissions, flagged
senders), on SQLite and PostgreSQL."""
from __future__ import annotations

import json
from collections import Counter

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from requests_desk.access import SYSTEM
from requests_desk.api.demand_read import read_body
from requests_desk.api.serialize import CLOCK_FIELDS, etag_of, json_and_etag, serialize
from requests_desk.db import utcnow
from requests_desk.demo import load_demo
from requests_desk.models import Demand
from requests_desk.services import document_marks, fraud_flags
from requests_desk.services.case import get_demand

from .factories import checkouts, counted, make_agency, make_requester, make_token, make_user

NS = ("national_security",)


def features(body: dict) -> set[str]:
    """What of the JSON this demand exercises (so the test knows it compared each part)."""
    gag, docs = body["gag"], body["documents"]
    return {name for name, present in {
        "hold": body["hold"] is not None,
        "active gag": bool(gag and gag["active"]),
        "ended gag": bool(gag and not gag["active"]),
        "checks": bool(body["checks"]),
        "override": body["checks_override"] is not None,
        "production files": bool(body["production"] and body["production"]["files"]),
        "portal": body["verified_agency"] is not None,
        "flagged": body["flagged"],
        "shared documents": len(body["customers"]) > 1 and bool(docs),
        "a document for some customers only": any(0 < len(d["customers"]) < len(body["customers"]) for d in docs),
        "redacted copy": any(d["for_customer_id"] for d in docs),
        "consumer only": not body["customers"],
        "assignee": body["assignee"] is not None,
        "national security": body["process_type"] == "national_security",
    }.items() if present}


def _what_the_demo_lacks(session, now) -> None:
    """A portal submission, a flagged sender and a document marked for one of two
    customers, made through the services on three demo demands."""
    demands = list(session.scalars(select(Demand).where(Demand.process_type != "national_security")
                                   .order_by(Demand.id)))
    account = make_requester(session, agency=make_agency(session, "police.plain-read.example.gov"))
    demands[0].requester_account_id = account.id  # as the portal records its submissions
    fraud_flags.flag_requester(session, None, demands[1], now)
    shared = next(d for d in demands if len(d.customers) > 1 and d.documents)
    document_marks.mark(session, None, shared, {shared.documents[0].id: {shared.customers[0].id}})
    session.commit()


def test_the_plain_read_answers_what_the_orm_does_for_every_demo_demand(app, session):
    load_demo(app, 300, seed=5)
    now = utcnow()
    _what_the_demo_lacks(session, now)
    session.expunge_all()
    seen: Counter[str] = Counter()
    ids = list(session.scalars(select(Demand.id).order_by(Demand.id)))
    assert len(ids) == 300
    for demand_id in ids:
        orm = serialize(get_demand(session, demand_id, viewer=SYSTEM), now)
        plain = read_body(session.connection(), demand_id, (), now)
        assert plain == orm, demand_id
        assert etag_of(plain) == etag_of(orm)
        hidden = read_body(session.connection(), demand_id, NS, now)
        assert (hidden is None) == (orm["process_type"] == "national_security"), demand_id
        seen.update(features(orm))
        session.expunge_all()
    wanted = {"hold", "active gag", "ended gag", "checks", "production files", "portal", "flagged",
              "shared documents", "a document for some customers only", "consumer only", "assignee",
              "national security"}
    assert wanted <= set(seen), f"the demo desk lacks {wanted - set(seen)}: {dict(seen)}"


def test_get_reads_the_demand_in_two_statements_and_404s_as_before(app, session, api):
    load_demo(app, 60, seed=2)
    uncleared = api(make_token(session, make_user(session, "counsel")))
    cleared = api(make_token(session, make_user(session, "counsel", "cleared")))
    ns_id = session.scalar(select(Demand.id).where(Demand.process_type == "national_security"))
    other_id = session.scalar(select(Demand.id).where(Demand.process_type != "national_security"))
    assert ns_id and other_id
    assert uncleared.get(f"/api/v1/demands/{ns_id}").status_code == 404
    assert cleared.get(f"/api/v1/demands/{ns_id}").status_code == 200
    assert uncleared.get("/api/v1/demands/999999").status_code == 404
    r = uncleared.get(f"/api/v1/demands/{other_id}")
    assert r.status_code == 200 and r.headers["ETag"] == etag_of(r.get_json())
    cleared.get(f"/api/v1/demands/{other_id}")  # warm
    with checkouts(app) as taken, counted(app) as statements:
        r = cleared.get(f"/api/v1/demands/{other_id}")
    # the demand's row and all its children in one more statement (the token was remembered
    # from the call before: services/session_cache.py)
    assert r.status_code == 200 and r.headers["ETag"] == etag_of(r.get_json())
    assert len(statements) == 2, "\n".join(statements)
    # one connection from the pool, the plain read's own: no ORM session is opened to
    # sign the caller in or to end the request (db_session.plain_reads)
    assert len(taken) == 1


def test_a_remembered_callers_get_opens_no_orm_session(app, session, api):
    """The caller's token remembered, the GET signs in with the remembered user and reads
    on a connection of its own: no ORM session begins (db_session.plain_reads)."""
    load_demo(app, 20, seed=3)
    client = api(make_token(session, make_user(session, "counsel")))
    demand_id = session.scalar(select(Demand.id).where(Demand.process_type != "national_security"))
    assert client.get(f"/api/v1/demands/{demand_id}").status_code == 200  # remembers the token
    begun: list[Session] = []

    def began(db, _transaction, _connection):
        begun.append(db)

    event.listen(Session, "after_begin", began)
    try:
        r = client.get(f"/api/v1/demands/{demand_id}")
    finally:
        event.remove(Session, "after_begin", began)
    assert r.status_code == 200 and r.get_json()["id"] == demand_id
    assert begun == []


def test_one_encoding_gives_the_json_and_its_etag():
    body = {"b": [1, {"z": "é", "a": None}], "a": "x", "overdue": True, "due_soon": False}
    text, etag = json_and_etag(body)
    assert json.loads(text) == body and etag == etag_of(body)
    # the ETag ignores the clock's flags, and hashes the rest's canonical JSON
    assert json_and_etag({**body, "overdue": False})[1] == etag
    assert json_and_etag({k: v for k, v in body.items() if k not in CLOCK_FIELDS}) == (
        '{"a":"x","b":[1,{"a":null,"z":"\\u00e9"}]}', etag)
    assert json.loads(json_and_etag({"overdue": True})[0]) == {"overdue": True}  # nothing but the clock
    assert json_and_etag({})[0] == "{}"
