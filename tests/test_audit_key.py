"""The audit key (issue "need to know", point 5): each event's hash is an HMAC-SHA256
under a key kept outside the database, so someone who can write to the database but
lacks the key cannot rewrite history and recompute a chain that verifies. `desk init`
re-keys an older desk's unkeyed SHA-256 chain once; `desk verify-audit` prints the head
to record elsewhere and refuses a key that is not the chain's."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from requests_desk import audit
from requests_desk.app import create_app
from requests_desk.config import load_config
from requests_desk.models import AuditEvent, AuditHead
from tests.factories import make_customer, make_token, make_user

OTHER_KEY = "another-audit-key-not-the-one-of-the-chain-0000"


def _events(session) -> list[AuditEvent]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


@pytest.fixture
def chain(app, session):
    """Nine events: three users made, each given a token, three customers."""
    for n in range(3):
        make_token(session, make_user(session, "intake"))
        make_customer(session, f"Contoso {n}")
    events = _events(session)
    assert len(events) == 9
    return events


def _run(app, *args):
    result = app.test_cli_runner().invoke(args=["desk", *args])
    return result.exit_code, result.stdout, result.stderr


def _rewrite_chain(session, digest, key_id="unchanged") -> None:
    """What someone with write access to the database can do: recompute every event's
    hash (and the head) with ``digest(prev_hash, seq, fields)``, over each event's fields as
    verify reads them (its payload digest, or before/after for an event without one)."""
    prev = audit.GENESIS
    for event in _events(session):
        event.prev_hash, event.hash = prev, digest(prev, event.seq, audit.event_fields(event))
        prev = event.hash
    head = session.get(AuditHead, 1)
    head.last_hash = prev
    if key_id != "unchanged":
        head.key_id = key_id
    session.commit()


def _sha256(prev, seq, fields):
    return hashlib.sha256(f"{prev}[{seq},{fields}".encode()).hexdigest()


def _hmac_under(key: bytes):
    return lambda prev, seq, fields: hmac.new(key, f"{prev}[{seq},{fields}".encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- (1) a rewritten database


@pytest.mark.parametrize("attacker", ["sha256", "wrong-key"])
def test_rewritten_event_with_a_recomputed_chain_fails(app, session, chain, attacker):
    """The actor of event #5 is changed in the database and the whole chain and head are
    recomputed, with plain SHA-256 or with an HMAC under a key that is not the desk's."""
    session.execute(update(AuditEvent).where(AuditEvent.seq == 5).values(actor="someone-else@desk.example"))
    session.commit()
    _rewrite_chain(session, _sha256 if attacker == "sha256" else _hmac_under(OTHER_KEY.encode()))
    code, out, err = _run(app, "verify-audit")
    assert code == 1 and out == ""
    assert err.strip() == "Audit log broken: event #1 (id %d) was altered (0 events verified before it)." % chain[0].id


def test_an_unkeyed_rewrite_passed_off_as_an_old_desk_still_fails_verification(app, session, chain):
    """Setting key_id back to null to pass the rewrite off as an old unkeyed chain: verify
    says so and fails (only `desk init` re-keys, and it says when it does)."""
    _rewrite_chain(session, _sha256, key_id=None)
    code, _out, err = _run(app, "verify-audit")
    assert code == 1 and "still the unkeyed chain" in err and "desk init" in err


def test_the_same_rewrite_with_the_desk_key_passes(app, session, chain):
    """The rewrite above is a faithful recomputation: with the desk's own key it verifies
    (so the failures above come from the key, not from a clumsy rewrite)."""
    _rewrite_chain(session, _hmac_under(session.info["audit_key"]))
    code, out, _err = _run(app, "verify-audit")
    assert code == 0 and out.startswith("Audit log intact: 9 events;")


def test_the_hash_is_an_hmac_of_the_old_content(app, session, chain):
    """The hash covers the event's content, its before/after through their digest: an HMAC
    (under a key derived from the audit key) of the two canonical texts."""
    key = session.info["audit_key"]
    first = chain[0]
    payload_key = hmac.new(key, b"requests-desk audit payload digest", hashlib.sha256).digest()
    digest = hmac.new(payload_key, json.dumps([first.before, first.after], separators=(",", ":")).encode(),
                      hashlib.sha256).hexdigest()
    assert first.payload_digest == digest
    fields = audit.sealed_fields(first.at, first.actor_id, first.actor, first.action, first.object_type,
                                 first.object_id, first.demand_id, digest)
    assert fields == audit.event_fields(first)
    assert first.hash == _hmac_under(key)(audit.GENESIS, 1, fields) != _sha256(audit.GENESIS, 1, fields)


# ---------------------------------------------------------------- (2) re-keying an older desk


def _make_unkeyed(session) -> list[tuple]:
    """The desk as it was before the key: a plain SHA-256 chain over before/after (no
    payload digests yet), key_id null. Returns its events as (id, seq, actor, after, hash)."""
    session.execute(update(AuditEvent).values(payload_digest=None))
    _rewrite_chain(session, _sha256, key_id=None)
    return _snapshot(session)


def _snapshot(session) -> list[tuple]:
    return [(e.id, e.seq, e.actor, e.after, e.hash) for e in _events(session)]


def test_init_rekeys_an_unkeyed_chain_once(app, session, chain):
    old = _make_unkeyed(session)
    assert _run(app, "verify-audit")[0] == 1  # not accepted as it is

    code, out, err = _run(app, "init")
    assert (code, err) == (0, ""), err
    assert "Audit log re-keyed: 9 events" in out and "Database ready." in out

    key = session.info["audit_key"]
    events = _events(session)
    assert len(events) == 10
    assert [(e.id, e.seq, e.actor, e.after) for e in events[:9]] == [row[:4] for row in old]
    assert all(new.hash != before[4] for new, before in zip(events, old))
    rekeyed = events[-1]
    assert (rekeyed.action, rekeyed.actor, rekeyed.actor_id) == ("audit.rekeyed", "system", None)
    assert json.loads(rekeyed.after) == {"events": 9, "key_id": audit.key_id(key)}
    head = session.get(AuditHead, 1)
    assert (head.count, head.last_hash, head.key_id) == (10, rekeyed.hash, audit.key_id(key))

    code, out, _ = _run(app, "verify-audit")
    assert code == 0 and out.strip() == f"Audit log intact: 10 events; head 10 {rekeyed.hash} key {head.key_id}"

    # A second init changes nothing.
    rekeyed_once = _snapshot(session)
    code, out, _ = _run(app, "init")
    assert code == 0 and "re-keyed" not in out
    assert _snapshot(session) == rekeyed_once
    assert session.get(AuditHead, 1).last_hash == rekeyed.hash


def test_rekey_reads_and_writes_in_batches(app, session, chain):
    """Batches smaller than the chain (the demo's chain has half a million events)."""
    _make_unkeyed(session)
    assert audit.rekey(session, batch=4) == 9
    session.commit()
    result = audit.verify(session, batch=4)
    assert result.ok and result.count == 10, result.problem


def test_init_refuses_to_rekey_a_broken_unkeyed_chain(app, session, chain):
    old = _make_unkeyed(session)
    session.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(after='{"status":"closed"}'))
    session.commit()
    code, out, err = _run(app, "init")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "unkeyed chain is already broken" in lines[0] and "event #4" in lines[0]
    assert "re-keyed" not in out
    assert [row[4] for row in _snapshot(session)] == [row[4] for row in old]  # nothing re-hashed or appended
    assert session.get(AuditHead, 1).key_id is None


def test_init_on_an_empty_desk_sets_the_key_id_only(app, session):
    code, out, _ = _run(app, "init")
    assert code == 0 and "re-keyed" not in out
    head = session.get(AuditHead, 1)
    assert (head.count, head.last_hash, head.key_id) == (0, audit.GENESIS, audit.key_id(session.info["audit_key"]))
    assert _events(session) == []


def test_an_unkeyed_chain_is_not_appended_to(app, session, chain):
    """Until init re-keys it, a new event would join two kinds of hash: refused."""
    _make_unkeyed(session)
    with pytest.raises(audit.AuditKeyMismatch, match="desk init"):
        make_user(session, "intake")
    session.rollback()
    assert len(_events(session)) == 9


# ---------------------------------------------------------------- (3) the wrong key


def _app_with_key(app, key: str):
    return create_app({"TESTING": True, "DESK_DATABASE_URL": app.config["DESK_DATABASE_URL"],
                       "DESK_AUDIT_KEY": key, "DESK_UPLOAD_DIR": app.config["DESK_UPLOAD_DIR"],
                       "DESK_OUTBOX_DIR": app.config["DESK_OUTBOX_DIR"]})


def test_wrong_key_fails_verification_with_the_key_message(app, session, chain):
    other = _app_with_key(app, OTHER_KEY)
    try:
        code, out, err = _run(other, "verify-audit")
        assert code == 1 and out == ""
        assert "the audit key does not match the one this chain was made with" in err
        # nor does init accept it, nor may it write an event that would break the chain
        code, _out, err = _run(other, "init")
        assert code == 1 and "the audit key does not match the one this chain was made with" in err
        with other.extensions["desk"]["sessionmaker"]() as s:
            with pytest.raises(audit.AuditKeyMismatch):
                make_user(s, "intake")
    finally:
        other.extensions["desk"]["engine"].dispose()
    assert len(_events(session)) == 9
    assert _run(app, "verify-audit")[0] == 0


def test_a_session_without_the_key_is_a_clear_error(app, session):
    engine = app.extensions["desk"]["engine"]
    with Session(engine) as bare:
        with pytest.raises(audit.AuditKeyMissing, match="no audit key"):
            audit.record(bare, "system", "user.note", "user", None)
        with pytest.raises(audit.AuditKeyMissing):
            audit.verify(bare)
    assert _events(session) == []


def test_the_key_is_never_in_the_database(app, session, chain):
    key = session.info["audit_key"].decode()
    head = session.get(AuditHead, 1)
    assert head.key_id == hmac.new(key.encode(), b"requests-desk audit key id", hashlib.sha256).hexdigest()[:16]
    for e in chain:
        assert key not in (e.after or "") and key not in (e.before or "")


# ---------------------------------------------------------------- (4) where the key lives


def test_key_file_made_0600_in_the_instance_folder(tmp_path, monkeypatch):
    old = os.umask(0o022)  # a usual umask: the modes must not depend on it
    try:
        config = load_config(str(tmp_path / "inst"), environ={})
    finally:
        os.umask(old)
    path = tmp_path / "inst" / "audit_key"
    key = config["DESK_AUDIT_KEY"]
    assert path.read_text() == key and len(key) == 64 and set(key) <= set("0123456789abcdef")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "inst").stat().st_mode) == 0o700
    assert key != config["SECRET_KEY"]
    assert not list((tmp_path / "inst").glob(".*.tmp"))
    # kept: the next start reads the same key; another instance folder has its own
    assert load_config(str(tmp_path / "inst"), environ={})["DESK_AUDIT_KEY"] == key
    assert load_config(str(tmp_path / "other"), environ={})["DESK_AUDIT_KEY"] != key

    # the app's sessions carry it
    monkeypatch.delenv("DESK_AUDIT_KEY", raising=False)
    monkeypatch.setenv("DESK_INSTANCE_PATH", str(tmp_path / "inst"))
    app = create_app({"DESK_DATABASE_URL": f"sqlite:///{tmp_path / 'inst' / 'desk.sqlite'}"})
    with app.extensions["desk"]["sessionmaker"]() as s:
        assert s.info["audit_key"] == key.encode()
    app.extensions["desk"]["engine"].dispose()


def test_the_environment_wins_over_the_file(tmp_path, monkeypatch):
    (tmp_path / "inst").mkdir()
    (tmp_path / "inst" / "audit_key").write_text("f" * 64)
    env_key = "k" * 40
    assert load_config(str(tmp_path / "inst"), environ={"DESK_AUDIT_KEY": env_key})["DESK_AUDIT_KEY"] == env_key
    assert load_config(str(tmp_path / "new"), environ={"DESK_AUDIT_KEY": env_key})["DESK_AUDIT_KEY"] == env_key
    assert not (tmp_path / "new" / "audit_key").exists()
    monkeypatch.setenv("DESK_AUDIT_KEY", env_key)
    monkeypatch.setenv("DESK_INSTANCE_PATH", str(tmp_path / "inst"))
    app = create_app({"DESK_DATABASE_URL": f"sqlite:///{tmp_path / 'inst' / 'desk.sqlite'}"})
    with app.extensions["desk"]["sessionmaker"]() as s:
        assert s.info["audit_key"] == env_key.encode()
    app.extensions["desk"]["engine"].dispose()


@pytest.mark.parametrize("value", ["short", " " * 40 + "x"])
def test_a_short_key_is_refused(tmp_path, value):
    with pytest.raises(ValueError, match="DESK_AUDIT_KEY must be at least 32 characters"):
        load_config(str(tmp_path), environ={"DESK_AUDIT_KEY": value})


def test_an_empty_key_file_is_refused(tmp_path):
    (tmp_path / "audit_key").write_text("")
    with pytest.raises(ValueError, match="audit_key is empty"):
        load_config(str(tmp_path), environ={})
