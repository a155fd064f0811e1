"""Append-only, hash-chained audit log.

Each event's hash is an HMAC-SHA256, under the audit key, of the previous hash and the
event's canonical content: seq, time, actor, action, object and ``payload_digest`` (an
HMAC of its before/after). So a recorded redaction (retention, ``audit_redaction.py``) may
replace personal values in before/after and keep the digest: the event then carries
``redacted_at`` and a ``redaction_seal`` (an HMAC of its number, digest, redaction time and
redacted payload) that ``verify`` checks instead. Any other change breaks the chain.
Events without a digest (older desks, the demo's bulk path) are hashed over before/after
themselves; ``audit_redaction.digest_payloads`` gives them digests. The key is
kept outside the database (``DESK_AUDIT_KEY`` or the instance folder's ``audit_key``) and
reaches us on the session (``session.info["audit_key"]``, see ``db.make_sessionmaker``):
whoever can write to the database but lacks the key cannot recompute a chain that
verifies. The head (last hash, count, and ``key_id``, a fingerprint of the key) is kept in
its own table, so deleting the last event is detected too.

Desks made before the key have a plain SHA-256 chain (``key_id`` null); ``rekey``, run
by ``desk init``, checks that chain and re-hashes it under the key once.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .db import utcnow
from .errors import DeskError
from .json_text import one_shot
from .keyed_hash import hmac_sha256_hex
from .models import AuditEvent, AuditHead, User

GENESIS = "0" * 64
KEY_ID_LABEL = b"requests-desk audit key id"
PAYLOAD_LABEL = b"requests-desk audit payload digest"
SEAL_LABEL = b"requests-desk audit redaction seal"
KEY_MISMATCH = "the audit key does not match the one this chain was made with"
UNKEYED = "the audit log is still the unkeyed chain of an older desk: run desk init to re-key it"
_EVENTS = AuditEvent.__table__


class AuditKeyMissing(RuntimeError):
    """A session without the audit key tried to write or check the log: never unkeyed."""


class AuditKeyMismatch(DeskError):
    """The chain was made with another key (or is still the unkeyed one): the server's
    setting is wrong, nothing the user did; the change is refused, the chain stays whole."""

    status = 500
    title = "The audit log cannot be written"


def session_key(session: Session) -> bytes:
    """The audit key this session was made with (``db.make_sessionmaker``)."""
    key = session.info.get("audit_key")
    if not key:
        raise AuditKeyMissing("this database session has no audit key: make sessions with "
                               "db.make_sessionmaker(engine, audit_key) (the app's sessionmaker does)")
    return key


@functools.lru_cache(maxsize=8)
def key_id(key: bytes) -> str:
    """The key's fingerprint kept in ``audit_head.key_id``: it names the key, never reveals it."""
    return hmac.new(key, KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# json.dumps(value, sort_keys=True, separators=(",", ":"), default=_default), built once.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_default)
_COMPACT = json.JSONEncoder(separators=(",", ":"))
_canonical, _compact = one_shot(_CANONICAL), one_shot(_COMPACT)
_hmac_under = functools.lru_cache(maxsize=8)(hmac_sha256_hex)  # the chain's HMAC, its key padded once


def canonical(value: Any) -> str | None:
    if value is None:
        return None
    return _canonical(value)


def event_hash(key: bytes, prev_hash: str, event: AuditEvent) -> str:
    """An event's hash under ``key`` (an ``AuditEvent`` or a row of its table), over its
    stored ``payload_digest`` (or over before/after for an event without one)."""
    return chain_hash(key, prev_hash, event.seq, event_fields(event))


def unkeyed_event_hash(prev_hash: str, event: AuditEvent) -> str:
    """The hash a chain made before the audit key has (plain SHA-256 over before/after
    themselves): ``rekey`` checks it."""
    return hashlib.sha256(f"{prev_hash}[{event.seq},{_raw_fields(event)}".encode()).hexdigest()


def event_fields(event: AuditEvent) -> str:
    """What the event's hash covers besides its number (``chain_hash``): its digest form,
    or for an event without a digest its before/after themselves (``hashed_fields``)."""
    if event.payload_digest is None:
        return _raw_fields(event)
    return sealed_fields(event.at, event.actor_id, event.actor, event.action, event.object_type,
                         event.object_id, event.demand_id, event.payload_digest)


def _raw_fields(event: AuditEvent) -> str:
    return hashed_fields(event.at, event.actor_id, event.actor, event.action, event.object_type,
                         event.object_id, event.demand_id, event.before, event.after)


def _utc_text(at: datetime) -> str:
    """A UTC time as the hashes spell it (a naive time is taken as UTC already, as the
    demo's bulk path hands them)."""
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hashed_fields(at: datetime | str, actor_id: int | None, actor: str, action: str, object_type: str,
                  object_id: int | None, demand_id: int | None, before: str | None, after: str | None) -> str:
    """The hashed content of an event without a payload digest: the JSON list
    ``[seq, at, actor_id, actor, action, object_type, object_id, demand_id, before, after]``
    after ``seq,``. The demo's bulk writer prepares it for events it numbers later
    (``chain_hash``), ``at`` spelled already (``_utc_text``); ``audit_redaction.digest_payloads``
    turns such events into the digest form before any of them is redacted."""
    return _compact([at if isinstance(at, str) else _utc_text(at), actor_id, actor, action, object_type,
                     object_id, demand_id, before, after])[1:]


def sealed_fields(at: datetime, actor_id: int | None, actor: str, action: str, object_type: str,
                  object_id: int | None, demand_id: int | None, digest: str) -> str:
    """The hashed content of an event in the digest form: the JSON list ``[seq, at,
    actor_id, actor, action, object_type, object_id, demand_id, payload_digest]`` after
    ``seq,`` (one item shorter than ``hashed_fields``, so the two forms never coincide)."""
    return _compact([_utc_text(at), actor_id, actor, action, object_type, object_id, demand_id, digest])[1:]


@functools.lru_cache(maxsize=16)
def _subkey(key: bytes, label: bytes) -> bytes:
    return hmac.new(key, label, hashlib.sha256).digest()


def payload_digest(key: bytes, before: str | None, after: str | None) -> str:
    """What the chain commits to of an event's before/after (canonical JSON texts): an
    HMAC under a key derived from the audit key, so a redacted value cannot be guessed
    back from the digest the event keeps."""
    message = _compact([before, after]).encode()
    return hmac.new(_subkey(key, PAYLOAD_LABEL), message, hashlib.sha256).hexdigest()


def redaction_seal(key: bytes, seq: int, digest: str, redacted_at: datetime, before: str | None,
                   after: str | None) -> str:
    """A redacted event's seal: an HMAC of its number, its (original) payload digest, when
    it was redacted and its redacted before/after. Whoever lacks the key cannot redact an
    event, nor alter a redacted one."""
    message = _compact([seq, digest, _utc_text(redacted_at), before, after]).encode()
    return hmac.new(_subkey(key, SEAL_LABEL), message, hashlib.sha256).hexdigest()


def payload_intact(key: bytes, event: AuditEvent) -> bool:
    """The event's before/after are those its hash commits to: an unredacted payload
    matches its digest, a redacted one its seal; an event without a digest (hashed over
    its payload itself) cannot be marked redacted."""
    if event.payload_digest is None:
        return event.redacted_at is None and event.redaction_seal is None
    if event.redacted_at is None:
        return event.redaction_seal is None and hmac.compare_digest(
            payload_digest(key, event.before, event.after), event.payload_digest)
    return event.redaction_seal is not None and hmac.compare_digest(
        redaction_seal(key, event.seq, event.payload_digest, event.redacted_at, event.before, event.after),
        event.redaction_seal)


def chain_hash(key: bytes, prev_hash: str, seq: int, fields: str) -> str:
    """The hash of event number ``seq`` after ``prev_hash``: HMAC-SHA256 under ``key`` of
    ``prev_hash`` followed by the JSON list; ``fields`` from ``hashed_fields``."""
    return _hmac_under(key)(f"{prev_hash}[{seq},{fields}".encode())


def record(
    session: Session,
    actor: User | str | None,
    action: str,
    object_type: str,
    object_id: int | None,
    before: Any = None,
    after: Any = None,
    demand_id: int | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one event; the caller's transaction commits it with the change it records."""
    key = session_key(session)
    head = _locked_head(session, key)
    if isinstance(actor, User):  # a requester (an officer; retention redacts its details) is named by id
        actor_id, actor_label = actor.id, f"requester #{actor.id}" if actor.has_role("requester") else actor.email
    else:
        actor_id, actor_label = None, actor or "system"
    # The hash covers the time as UTC text; the database hands it back as UTC.
    at = (at or utcnow()).astimezone(timezone.utc)
    before_text, after_text = canonical(before), canonical(after)
    event = AuditEvent(
        seq=head.count + 1,
        at=at,
        actor_id=actor_id,
        actor=actor_label,
        action=action,
        object_type=object_type,
        object_id=object_id,
        demand_id=demand_id if demand_id is not None else (object_id if object_type == "demand" else None),
        before=before_text,
        after=after_text,
        payload_digest=payload_digest(key, before_text, after_text),
        prev_hash=head.last_hash,
    )
    event.hash = event_hash(key, head.last_hash, event)
    head.last_hash = event.hash
    head.count = event.seq
    session.add(event)
    session.flush()
    return event


def _locked_head(session: Session, key: bytes) -> AuditHead:
    """The head, locked, made with this key: a worker with another key (or a chain not yet
    re-keyed by ``desk init``) must not append events that break the chain."""
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:
        try:
            with session.begin_nested():
                session.add(AuditHead(id=1, last_hash=GENESIS, count=0, key_id=key_id(key)))
        except IntegrityError:
            pass  # a concurrent first event created it; lock that row instead
        head = session.scalars(
            select(AuditHead).where(AuditHead.id == 1).with_for_update().execution_options(populate_existing=True)
        ).one()
    if head.key_id is None and head.count == 0:
        head.key_id = key_id(key)
    check_head_key(head.key_id, head.count, key)
    return head


def check_head_key(head_key_id: str | None, count: int, key: bytes) -> None:
    """Refuse to go on with a chain made with another key, or an unkeyed one with events."""
    if head_key_id is None:
        if count:
            raise AuditKeyMismatch(UNKEYED)
    elif head_key_id != key_id(key):
        raise AuditKeyMismatch(KEY_MISMATCH)


@dataclass
class VerifyResult:
    ok: bool
    count: int
    problem: str | None = None
    last_hash: str = GENESIS
    key_id: str | None = None

    def head_line(self) -> str:
        """The head as a line to record somewhere else (a ticket, a printed log): a later
        run that prints another hash for the same count means the log was rewritten."""
        return f"head {self.count} {self.last_hash} key {self.key_id}"


def verify(session: Session, batch: int = 5000) -> VerifyResult:
    """Walk the chain in order under the session's key; name the first altered, inserted
    or missing event, or say the key is not the one the chain was made with."""
    key = session_key(session)
    head = session.get(AuditHead, 1)
    if head is not None and head.count and head.key_id is None:
        return VerifyResult(False, 0, UNKEYED)
    if head is not None and head.key_id is not None and head.key_id != key_id(key):
        return VerifyResult(False, 0, KEY_MISMATCH, key_id=key_id(key))
    result = _walk(session, head, lambda prev, event: event_hash(key, prev, event)
                   if payload_intact(key, event) else "", batch)
    result.key_id = key_id(key)
    return result


def _walk(session: Session, head: AuditHead | None, hash_of, batch: int) -> VerifyResult:
    """The chain against ``hash_of(prev_hash, event)`` (a hash that never matches for an
    event whose payload does not match its digest or seal) and the head, streamed as rows."""
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    before_prev_hash, prev_id = None, None
    stmt = select(_EVENTS).order_by(_EVENTS.c.seq).execution_options(yield_per=batch)
    for event in session.execute(stmt):
        if event.seq != expected_seq:
            if event.seq > expected_seq:
                return VerifyResult(False, checked, f"event #{expected_seq} is missing (next is #{event.seq})")
            return VerifyResult(False, checked, f"event #{event.seq} (id {event.id}) was inserted out of order")
        if event.prev_hash != prev_hash:
            # The event before this one is the first bad one: this event still points at the
            # hash that was there before. If it points two back, the one between was inserted.
            before = f"event #{event.seq - 1} (id {prev_id})"
            if prev_id is None or hash_of(prev_hash, event) == event.hash:
                # it chains from the true previous hash: only its own prev_hash was changed
                return VerifyResult(False, checked, f"event #{event.seq} (id {event.id}) was altered")
            if event.prev_hash == before_prev_hash:
                problem = f"{before} was inserted: event #{event.seq} follows the event before it"
            else:
                problem = f"{before} was altered or inserted: event #{event.seq} (id {event.id}) does not follow it"
            return VerifyResult(False, checked - 1, problem)
        if hash_of(prev_hash, event) != event.hash:
            return VerifyResult(False, checked, f"event #{event.seq} (id {event.id}) was altered")
        before_prev_hash, prev_hash, prev_id = prev_hash, event.hash, event.id
        expected_seq += 1
        checked += 1
    head_count = head.count if head else 0
    head_hash = head.last_hash if head else GENESIS
    if head_count != checked:
        if head_count > checked:
            return VerifyResult(False, checked, f"event #{checked + 1} is missing (the head counts {head_count})")
        return VerifyResult(False, checked, f"event #{head_count + 1} is not in the head (inserted after it)")
    if head_hash != prev_hash:
        return VerifyResult(False, checked, f"event #{checked} does not match the chain's head")
    return VerifyResult(True, checked, last_hash=prev_hash)


class AuditChainBroken(DeskError):
    status = 409
    title = "The audit log is broken"


def rekey(session: Session, batch: int = 5000) -> int | None:
    """``desk init``: make the chain keyed, once. An unkeyed chain (head ``key_id`` null,
    from before the audit key) is checked first (refused if broken), every event is
    hashed again under the session's key, ``key_id`` set and an ``audit.rekeyed`` event
    appended; returns how many events were re-hashed (each given its payload digest). A
    new desk just gets its ``key_id``; a keyed chain is left alone (None), or refused if
    made with another key. In the caller's transaction, a batch of events at a time."""
    key = session_key(session)
    kid = key_id(key)
    # Take the write lock first (PostgreSQL: the head's row; SQLite: the database), so no
    # event is appended between the check and the re-hashing.
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(count=AuditHead.count))
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()
                           .execution_options(populate_existing=True)).first()
    if head is not None and head.key_id is not None:
        check_head_key(head.key_id, head.count, key)
        return None
    if head is None or head.count == 0:
        if session.scalar(select(_EVENTS.c.id).limit(1)) is not None:
            raise AuditChainBroken("the audit log is broken (events without a head): not re-keying it")
        _locked_head(session, key)  # made, or given its key_id
        return None
    checked = _walk(session, head, unkeyed_event_hash, batch)
    if not checked.ok:
        raise AuditChainBroken(f"the audit log's unkeyed chain is already broken ({checked.problem}); "
                               "not re-keying it")
    done, prev_hash, _ = rehash(session, key, batch=batch, keep_digests=False)
    head.last_hash, head.key_id = prev_hash, kid
    session.flush()
    record(session, "system", "audit.rekeyed", "audit", None, None, {"events": done, "key_id": kid})
    return done


def rehash(session: Session, key: bytes, *, after_seq: int = 0, prev_hash: str = GENESIS, batch: int = 5000,
           keep_digests: bool = True) -> tuple[int, str, int]:
    """Hash the events after ``after_seq`` again in the digest form, from ``prev_hash``: each keeps its
    digest (``keep_digests``; a redacted payload no longer gives it) or is given one. Streamed; returns
    (events re-hashed, last hash, digests made). The caller has checked the chain and updates the head."""
    page = (select(_EVENTS).where(_EVENTS.c.seq > bindparam("after")).order_by(_EVENTS.c.seq).limit(batch))
    rewrite = update(_EVENTS).where(_EVENTS.c.id == bindparam("event_id")).values(
        prev_hash=bindparam("new_prev"), hash=bindparam("new_hash"), payload_digest=bindparam("new_digest"))
    last_seq, done, made = after_seq, 0, 0
    while True:
        rows = session.execute(page, {"after": last_seq}).all()
        if not rows:
            break
        changes = []
        for event in rows:
            payload = event.payload_digest if keep_digests else None
            if payload is None:
                payload, made = payload_digest(key, event.before, event.after), made + 1
            digest = chain_hash(key, prev_hash, event.seq, sealed_fields(
                event.at, event.actor_id, event.actor, event.action, event.object_type, event.object_id,
                event.demand_id, payload))
            changes.append({"event_id": event.id, "new_prev": prev_hash, "new_hash": digest, "new_digest": payload})
            prev_hash, last_seq = digest, event.seq
        session.execute(rewrite, changes)
        done += len(rows)
    return done, prev_hash, made


# Built once: a reused statement keeps its cache key (the case page reads it every time).
_DEMAND_EVENTS = select(AuditEvent).where(AuditEvent.demand_id == bindparam("demand_id")).order_by(AuditEvent.seq)


def events_for_demand(session: Session, demand_id: int) -> list[AuditEvent]:
    return list(session.scalars(_DEMAND_EVENTS, {"demand_id": demand_id}))
