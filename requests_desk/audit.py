"""Append-only, hash-chained audit log.

Each event's hash is SHA-256 over the previous hash and the event's canonical content
(seq, time, actor, action, object, before, after). The head (last hash, count) is kept
in its own table, so deleting the last event is detected too.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .db import utcnow
from .models import AuditEvent, AuditHead, User

GENESIS = "0" * 64


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# json.dumps(value, sort_keys=True, separators=(",", ":"), default=_default), without
# building an encoder per call (the demo's bulk path writes half a million events).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_default)
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def canonical(value: Any) -> str | None:
    if value is None:
        return None
    return _CANONICAL.encode(value)


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    fields = hashed_fields(event.at, event.actor_id, event.actor, event.action, event.object_type,
                           event.object_id, event.demand_id, event.before, event.after)
    return chain_hash(prev_hash, event.seq, fields)


def hashed_fields(at: datetime, actor_id: int | None, actor: str, action: str, object_type: str,
                  object_id: int | None, demand_id: int | None, before: str | None, after: str | None) -> str:
    """What an event's hash covers besides its number: the hashed content is the JSON list
    ``[seq, at, actor_id, actor, action, object_type, object_id, demand_id, before, after]``
    and this is that list after ``seq,``. A bulk writer prepares it for events it numbers
    later (``chain_hash``)."""
    content = _COMPACT.encode([at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), actor_id, actor, action, object_type,
                               object_id, demand_id, before, after])
    return content[1:]


def chain_hash(prev_hash: str, seq: int, fields: str) -> str:
    """The hash of event number ``seq`` after ``prev_hash``; ``fields`` from ``hashed_fields``."""
    return hashlib.sha256(f"{prev_hash}[{seq},{fields}".encode()).hexdigest()


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
    head = _locked_head(session)
    if isinstance(actor, User):
        actor_id, actor_label = actor.id, actor.email
    else:
        actor_id, actor_label = None, actor or "system"
    # The hash covers the time as UTC text; the database hands it back as UTC.
    at = (at or utcnow()).astimezone(timezone.utc)
    event = AuditEvent(
        seq=head.count + 1,
        at=at,
        actor_id=actor_id,
        actor=actor_label,
        action=action,
        object_type=object_type,
        object_id=object_id,
        demand_id=demand_id if demand_id is not None else (object_id if object_type == "demand" else None),
        before=canonical(before),
        after=canonical(after),
        prev_hash=head.last_hash,
    )
    event.hash = event_hash(head.last_hash, event)
    head.last_hash = event.hash
    head.count = event.seq
    session.add(event)
    session.flush()
    return event


def _locked_head(session: Session) -> AuditHead:
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:
        try:
            with session.begin_nested():
                session.add(AuditHead(id=1, last_hash=GENESIS, count=0))
        except IntegrityError:
            pass  # a concurrent first event created it; lock that row instead
        head = session.scalars(
            select(AuditHead).where(AuditHead.id == 1).with_for_update().execution_options(populate_existing=True)
        ).one()
    return head


@dataclass
class VerifyResult:
    ok: bool
    count: int
    problem: str | None = None


def verify(session: Session, batch: int = 5000) -> VerifyResult:
    """Walk the chain in order; name the first altered, inserted or missing event."""
    head = session.get(AuditHead, 1)
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    before_prev_hash, prev_id = None, None
    stmt = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch)
    for event in session.scalars(stmt):
        if event.seq != expected_seq:
            if event.seq > expected_seq:
                return VerifyResult(False, checked, f"event #{expected_seq} is missing (next is #{event.seq})")
            return VerifyResult(False, checked, f"event #{event.seq} (id {event.id}) was inserted out of order")
        if event.prev_hash != prev_hash:
            # The event before this one is the first bad one: this event still points at the
            # hash that was there before. If it points two back, the one between was inserted.
            before = f"event #{event.seq - 1} (id {prev_id})"
            if prev_id is None or event_hash(prev_hash, event) == event.hash:
                # it chains from the true previous hash: only its own prev_hash was changed
                return VerifyResult(False, checked, f"event #{event.seq} (id {event.id}) was altered")
            if event.prev_hash == before_prev_hash:
                problem = f"{before} was inserted: event #{event.seq} follows the event before it"
            else:
                problem = f"{before} was altered or inserted: event #{event.seq} (id {event.id}) does not follow it"
            return VerifyResult(False, checked - 1, problem)
        if event_hash(prev_hash, event) != event.hash:
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
    return VerifyResult(True, checked)


def events_for_demand(session: Session, demand_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.demand_id == demand_id).order_by(AuditEvent.seq))
    )
