"""Redacting audit events without breaking the chain (SPEC §8 retention).

An event's hash commits to its before/after through ``payload_digest`` (``audit.py``).
Redacting an event replaces personal values in its before/after, keeps the digest, and
seals the redacted payload (``audit.redaction_seal``: an HMAC of the event's number, its
digest, the redaction's time and the redacted before/after under the audit key). The
chain's hashes and its head do not change, so ``verify`` still accepts the log, and
still fails on any other change: a rewritten actor, action or time, an unredacted payload
that no longer matches its digest, a redacted one that no longer matches its seal.

Events written without a digest (older desks, the demo's bulk path) are hashed over
their before/after themselves and cannot be redacted as they are: ``digest_payloads``
(run by ``desk init`` and before a purge) checks the chain, gives them digests and hashes
the chain again from the first of them, once, recorded as ``audit.digested``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterable

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from .audit import (
    GENESIS,
    AuditChainBroken,
    check_head_key,
    payload_intact,
    record,
    redaction_seal,
    rehash,
    session_key,
    verify,
)
from .models import AuditEvent, AuditHead

_EVENTS = AuditEvent.__table__


def undigested(session: Session) -> int:
    """How many events still lack a payload digest (hashed over before/after themselves)."""
    return session.scalar(select(func.count()).select_from(_EVENTS).where(_EVENTS.c.payload_digest.is_(None))) or 0


def digest_payloads(session: Session, batch: int = 5000) -> int | None:
    """Give every event without a payload digest its digest, and hash the chain again
    from the first of them, once (idempotent: None when every event has one). The chain is
    checked first under the session's key and a broken one refused (a rewrite must not
    launder a change); then an ``audit.digested`` event is appended. In the caller's
    transaction, a batch of events at a time; returns how many digests were made."""
    key = session_key(session)
    # The write lock first (PostgreSQL: the head's row; SQLite: the database), as rekey.
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(count=AuditHead.count))
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()
                           .execution_options(populate_existing=True)).first()
    first = session.scalar(select(func.min(_EVENTS.c.seq)).where(_EVENTS.c.payload_digest.is_(None)))
    if first is None:
        return None
    if head is None:
        raise AuditChainBroken("the audit log is broken (events without a head): not giving its events digests")
    check_head_key(head.key_id, head.count, key)
    checked = verify(session, batch)
    if not checked.ok:
        raise AuditChainBroken(f"the audit log is broken ({checked.problem}); not giving its events digests")
    prev = GENESIS if first == 1 else session.scalar(select(_EVENTS.c.hash).where(_EVENTS.c.seq == first - 1))
    done, last_hash, made = rehash(session, key, after_seq=first - 1, prev_hash=prev, batch=batch)
    head.last_hash = last_hash
    session.flush()
    record(session, "system", "audit.digested", "audit", None, None, {"events": made, "rehashed": done})
    return made


Scrub = Callable[[int, str | None], str | None]


def redact_events(session: Session, demand_ids: Iterable[int], scrub: Scrub, now: datetime,
                  batch: int = 500) -> dict[int, int]:
    """Redact the events of these demands: ``scrub(demand_id, text)`` gives an event's
    before/after with the demand's personal values replaced (the same text when there is
    nothing to replace). A changed event keeps its digest and is sealed; returns how many
    events of each demand were redacted. An event whose payload does not match its digest
    or seal is refused (sealing it would launder the change), as is one without a digest
    (``digest_payloads`` first)."""
    key = session_key(session)
    ids = sorted(set(demand_ids))
    counts: dict[int, int] = {}
    columns = (_EVENTS.c.id, _EVENTS.c.seq, _EVENTS.c.demand_id, _EVENTS.c.before, _EVENTS.c.after,
               _EVENTS.c.payload_digest, _EVENTS.c.redacted_at, _EVENTS.c.redaction_seal)
    write = (update(_EVENTS).where(_EVENTS.c.id == bindparam("event_id"))
             .values(before=bindparam("new_before"), after=bindparam("new_after"),
                     redacted_at=bindparam("new_redacted_at"), redaction_seal=bindparam("new_seal")))
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        changes = []
        for event in session.execute(select(*columns).where(_EVENTS.c.demand_id.in_(chunk)).order_by(_EVENTS.c.seq)):
            before, after = scrub(event.demand_id, event.before), scrub(event.demand_id, event.after)
            if (before, after) == (event.before, event.after):
                continue
            if event.payload_digest is None:
                raise AuditChainBroken(f"event #{event.seq} has no payload digest: run desk init before a purge")
            if not payload_intact(key, event):
                raise AuditChainBroken(f"the audit log is broken (event #{event.seq} (id {event.id}) was altered); "
                                       "not redacting it")
            changes.append({"event_id": event.id, "new_before": before, "new_after": after, "new_redacted_at": now,
                            "new_seal": redaction_seal(key, event.seq, event.payload_digest, now, before, after)})
            counts[event.demand_id] = counts.get(event.demand_id, 0) + 1
        if changes:
            session.execute(write, changes)
    return counts
