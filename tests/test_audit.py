"""The audit log (SPEC §3, issue 2 point 7): every change to a demand, customer or user
writes an event (actor, time, action, before/after) in a hash chain whose head is kept
apart; `desk verify-audit` exits 0 on an intact chain and non-zero naming the first
altered, inserted or missing event — the last one included. The hashes are HMACs under
the audit key: tests/test_audit_key.py covers the key itself."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select, update

from requests_desk import audit
from requests_desk.models import AuditEvent, AuditHead, Customer, User
from requests_desk.services import customers as customer_service
from requests_desk.services import users as user_service
from tests.factories import MINIMAL_PDF, demand_payload, make_customer, make_token, make_user


def _events(app) -> list[AuditEvent]:
    with app.extensions["desk"]["sessionmaker"]() as s:
        return list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def test_every_change_writes_an_event(app, session, api):
    start = datetime.now(timezone.utc) - timedelta(seconds=5)
    admin = make_user(session, "admin", email="admin@desk.example")
    intake = make_user(session, "intake", email="intake@desk.example")
    user_service.set_roles(session, admin, session.get(User, intake.id), ["intake", "counsel"], True)
    session.commit()
    token = make_token(session, intake)
    a = api(make_token(session, admin))
    customer = a.post("/api/v1/customers", json={"name": "Contoso", "enterprise": True,
                                                  "domains": ["contoso.com"]}).get_json()
    customer_service.update_customer(session, admin, session.get(Customer, customer["id"]),
                                     {"name": "Contoso plc", "enterprise": True, "domains": ["contoso.com"]})
    session.commit()
    i = api(token)
    demand = i.post("/api/v1/demands", json=demand_payload(targets=["bob@contoso.com"])).get_json()
    import io

    i.client.post(f"/api/v1/demands/{demand['id']}/documents", headers=i.headers,
                  data={"file": (io.BytesIO(MINIMAL_PDF), "w.pdf")}, content_type="multipart/form-data")
    i.post(f"/api/v1/demands/{demand['id']}/attempt-redirect", json={"note": "phoned the agency"})
    events = _events(app)
    got = [(e.action, e.object_type, e.actor) for e in events]
    assert got == [
        ("user.create", "user", "system"),
        ("user.create", "user", "system"),
        ("user.update", "user", "admin@desk.example"),
        ("user.token", "user", "system"),
        ("user.token", "user", "system"),
        ("customer.create", "customer", "admin@desk.example"),
        ("customer.update", "customer", "admin@desk.example"),
        ("demand.log", "demand", "intake@desk.example"),
        ("document.upload", "document", "intake@desk.example"),
        ("attempt-redirect", "demand", "intake@desk.example"),
    ]
    now = datetime.now(timezone.utc)
    for e in events:
        assert start <= e.at <= now
        assert e.hash and len(e.hash) == 64
    by_action = {e.action: e for e in events}
    update_roles = by_action["user.update"]
    assert json.loads(update_roles.before)["roles"] == ["intake"]
    assert json.loads(update_roles.after)["roles"] == ["counsel", "intake"]
    assert update_roles.actor_id == admin.id
    renamed = by_action["customer.update"]
    assert (json.loads(renamed.before)["name"], json.loads(renamed.after)["name"]) == ("Contoso", "Contoso plc")
    logged = by_action["demand.log"]
    assert logged.before is None and json.loads(logged.after)["reference"] == demand["reference"]
    redirect = by_action["attempt-redirect"]
    assert (json.loads(redirect.before)["status"], json.loads(redirect.after)["status"]) == (
        "received", "redirecting")
    assert by_action["document.upload"].demand_id == demand["id"]
    # no secret ever lands in the log
    assert all("password" not in (e.after or "") and "rd_" not in (e.after or "") for e in events)
    assert audit.verify(session).ok


def test_a_refused_change_writes_no_event(app, session, api):
    token = make_token(session, make_user(session, "intake"))
    count = len(_events(app))
    assert api(token).post("/api/v1/demands", json=demand_payload(country="XX")).status_code == 422
    assert api(token).post("/api/v1/customers", json={"name": "X"}).status_code == 403
    assert len(_events(app)) == count


# ---------------------------------------------------------------- verify-audit


@pytest.fixture
def chain(app, session, api):
    """A log of ten events."""
    token = make_token(session, make_user(session, "intake"))
    make_customer(session, "Contoso")
    a = api(token)
    for _ in range(3):
        d = a.post("/api/v1/demands", json=demand_payload()).get_json()
        a.post(f"/api/v1/demands/{d['id']}/withdraw", json={})
    events = _events(app)
    assert len(events) == 9
    return events


def _verify(app):
    result = app.test_cli_runner().invoke(args=["desk", "verify-audit"])
    return result.exit_code, result.stdout, result.stderr


def _key(session) -> bytes:
    return session.info["audit_key"]


def test_intact_chain_exits_0_and_prints_the_head(app, session, chain):
    """The line names the head (count, last hash, key id) to record elsewhere."""
    code, out, err = _verify(app)
    assert (code, err) == (0, "")
    head = session.get(AuditHead, 1)
    assert (head.count, head.last_hash) == (9, chain[-1].hash)
    assert head.key_id == audit.key_id(_key(session)) and len(head.key_id) == 16
    assert out.strip() == f"Audit log intact: 9 events; head 9 {chain[-1].hash} key {head.key_id}"


def test_empty_log_is_intact(app, session):
    code, out, _ = _verify(app)
    assert code == 0
    assert out.strip() == f"Audit log intact: 0 events; head 0 {audit.GENESIS} key {audit.key_id(_key(session))}"


def _bad(app, *names: str) -> str:
    code, out, err = _verify(app)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("column,value", [
    ("after", '{"status":"closed"}'),
    ("before", None),
    ("actor", "someone-else@desk.example"),
    ("action", "demand.log"),
    ("object_id", 999),
    ("at", datetime(2020, 1, 1, tzinfo=timezone.utc)),
])
def test_altered_middle_event(app, session, chain, column, value):
    session.execute(update(AuditEvent).where(AuditEvent.seq == 5).values({column: value}))
    session.commit()
    assert _bad(app, "event #5", f"(id {chain[4].id})", "altered")


def test_altered_event_with_recomputed_hash(app, session, chain):
    """An editor who also recomputes the event's payload digest and own hash is caught by
    the next event."""
    row = session.scalar(select(AuditEvent).where(AuditEvent.seq == 5))
    row.after = '{"status":"closed","outcome":"content_disclosed"}'
    row.payload_digest = audit.payload_digest(_key(session), row.before, row.after)
    row.hash = audit.event_hash(_key(session), row.prev_hash, row)
    session.commit()
    assert _bad(app, "event #5", "altered or inserted")


def test_altered_prev_hash_column(app, session, chain):
    session.execute(update(AuditEvent).where(AuditEvent.seq == 6).values(prev_hash="f" * 64))
    session.commit()
    assert _bad(app, "event #6", "altered")


def test_deleted_middle_event(app, session, chain):
    session.execute(delete(AuditEvent).where(AuditEvent.seq == 4))
    session.commit()
    assert _bad(app, "event #4", "missing")


def test_deleted_first_event(app, session, chain):
    session.execute(delete(AuditEvent).where(AuditEvent.seq == 1))
    session.commit()
    assert _bad(app, "event #1", "missing")


def test_deleted_last_event(app, session, chain):
    session.execute(delete(AuditEvent).where(AuditEvent.seq == 9))
    session.commit()
    assert _bad(app, "event #9", "missing")


def test_deleted_last_two_events(app, session, chain):
    session.execute(delete(AuditEvent).where(AuditEvent.seq >= 8))
    session.commit()
    assert _bad(app, "event #8", "missing")


def _forge(key: bytes, prev: AuditEvent, seq: int) -> AuditEvent:
    """An event chained properly, even with the key (tests/test_audit_key.py: without it)."""
    forged = AuditEvent(seq=seq, at=prev.at, actor_id=None, actor="mallory", action="demand.log",
                        object_type="demand", object_id=1, demand_id=1, before=None, after='{"x":1}',
                        prev_hash=prev.hash)
    forged.hash = audit.event_hash(key, prev.hash, forged)
    return forged


def test_inserted_event_at_the_end(app, session, chain):
    """A well-formed event appended without the head: caught by the head."""
    session.add(_forge(_key(session), chain[-1], 10))
    session.commit()
    assert _bad(app, "event #10", "not in the head")


def test_inserted_event_in_the_middle(app, session, chain):
    """Renumber the later events to make room and chain the forged one properly."""
    for seq in range(9, 4, -1):  # one by one, from the end: seq stays unique
        session.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(seq=seq + 1))
    session.add(_forge(_key(session), chain[3], 5))
    session.commit()
    line = _bad(app, "event #5", "inserted")
    assert "mallory" not in line  # it names the event; it does not echo its content


def test_head_altered(app, session, chain):
    session.execute(update(AuditHead).values(last_hash="0" * 64))
    session.commit()
    assert _bad(app, "event #9", "head")


def test_head_deleted(app, session, chain):
    session.execute(delete(AuditHead))
    session.commit()
    assert _bad(app, "head")


def test_chain_continues_after_verification(app, session, api, chain):
    token = make_token(session, make_user(session, "counsel"))
    api(token).post("/api/v1/demands", json=demand_payload())
    code, out, _ = _verify(app)
    assert code == 0 and "12 events" in out  # user, token, demand


def test_record_normalises_time_to_utc(app, session):
    user = make_user(session, "admin")
    cet = timezone(timedelta(hours=1))
    audit.record(session, user, "user.note", "user", user.id, None, {"x": 1},
                 at=datetime(2026, 3, 1, 10, 0, tzinfo=cet))
    session.commit()
    assert _verify(app)[0] == 0
    assert _events(app)[-1].at == datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
