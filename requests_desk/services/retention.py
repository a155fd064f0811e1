"""Retention (SPEC §8): ``desk purge`` forgets what a long-closed demand said about people.

A demand is purged when it was closed more than ``DESK_RETENTION_DAYS`` (730) days ago,
no gag on it is active and no preservation hold on it still runs, and it was not purged
before. Purging it

* deletes its uploaded documents (files and rows) and its kept production files (the
  manifest's lines stay, without the file), and the outbox's ``.eml`` copies of its notices;
  the e-mails the requester portal sent its requester about it (``mail_outbox``) go too;
* replaces its target identifiers, its items' targets and its requester's name, e-mail
  and phone with marks (services/redaction.py) in every row of the demand, every mention
  in its free text, and its audit events (audit_redaction.py: the chain still verifies);
  a requester still named by a demand that is kept is not changed: the purged demand is
  moved to a requester of the same agency and type whose details are the mark;
* keeps what the report needs (reference, dates, country, process type, data sets,
  outcome, customers, counts) and keeps the report summary's distinct accounts in step,
  so a report compiled after the purge equals one compiled before;
* sets ``demands.purged_at`` and appends a ``demand.purged`` event naming counts, never values.

``plan`` says what a purge would do (the dry run) and changes nothing; ``purge`` does it
in the caller's transaction and returns the files to delete: the command deletes them
just before it commits (a failed commit leaves the demand to the next run, whose files
are then already gone), and on SQLite overwrites the freed pages.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, bindparam, delete, exists, func, select, text, update
from sqlalchemy.orm import Session

from .. import audit
from ..audit_redaction import digest_payloads, redact_events, undigested
from ..models import (
    AuditEvent,
    Demand,
    DemandItem,
    DemandTarget,
    Document,
    MailMessage,
    Notice,
    PreservationHold,
    ProductionFile,
    Requester,
    gag_active_clause,
)
from .redaction import MARK, Scrubber, identifier_mark, remap_accounts, scrub_rows

BATCH = 500


@dataclass
class Plan:
    """What a purge at ``now`` would do."""

    now: datetime
    days: int
    purge: list[tuple[int, str]] = field(default_factory=list)  # (id, reference)
    gagged: list[str] = field(default_factory=list)  # closed long enough, kept: an active gag
    held: list[str] = field(default_factory=list)  # kept: a preservation hold still runs
    documents: int = 0
    kept_files: int = 0
    notices: int = 0
    events: int = 0
    undigested: int = 0  # audit events still without a payload digest (given one first)

    @property
    def cutoff(self) -> datetime:
        return self.now - timedelta(days=self.days)


@dataclass
class Result:
    purged: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)  # to delete before the commit
    documents: int = 0
    kept_files: int = 0
    identifiers: int = 0
    requesters: int = 0
    values: int = 0
    events: int = 0
    accounts: int = 0
    digested: int | None = None


def plan(session: Session, now: datetime, days: int) -> Plan:
    """The demands a purge at ``now`` would purge, those it keeps for a gag or a hold, and
    what would go with them (counts). Reads only."""
    out = Plan(now=now, days=days)
    gagged = gag_active_clause(Demand.id, now)
    held = exists().where(PreservationHold.demand_id == Demand.id, PreservationHold.ends_at > now)
    rows = session.execute(
        select(Demand.id, Demand.reference, gagged.label("gagged"), held.label("held"))
        .where(Demand.status == "closed", Demand.closed_at < out.cutoff, Demand.purged_at.is_(None))
        .order_by(Demand.id)
    )
    for row in rows:
        if row.gagged:
            out.gagged.append(row.reference)
        elif row.held:
            out.held.append(row.reference)
        else:
            out.purge.append((row.id, row.reference))
    ids = [i for i, _ in out.purge]
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        out.documents += _count(session, Document, Document.demand_id.in_(chunk))
        out.kept_files += _count(session, ProductionFile, and_(ProductionFile.demand_id.in_(chunk),
                                                               ProductionFile.stored_name.is_not(None)))
        out.notices += _count(session, Notice, Notice.demand_id.in_(chunk))
        out.events += _count(session, AuditEvent, AuditEvent.demand_id.in_(chunk))
    out.undigested = undigested(session) if ids else 0
    return out


def _count(session: Session, model, condition) -> int:
    return session.scalar(select(func.count()).select_from(model).where(condition)) or 0


def purge(session: Session, the_plan: Plan, *, upload_dir: Path, outbox_dir: Path) -> Result:
    """Purge the plan's demands in the caller's transaction (see the module's text).
    Returns what was done and the files the caller deletes before committing."""
    result = Result()
    if not the_plan.purge:
        return result
    # Every event gets its digest first (checks the chain; refuses a broken one), and a
    # chain that already had them is checked here: a redaction never seals a change.
    result.digested = digest_payloads(session)
    if result.digested is None:
        checked = audit.verify(session)
        if not checked.ok:
            raise audit.AuditChainBroken(f"the audit log is broken ({checked.problem}); nothing was purged")
    key = audit.session_key(session)
    for start in range(0, len(the_plan.purge), BATCH):
        _purge_batch(session, the_plan, the_plan.purge[start:start + BATCH], key, upload_dir, outbox_dir, result)
    return result


def _purge_batch(session: Session, the_plan: Plan, batch: list[tuple[int, str]], key: bytes, upload_dir: Path,
                 outbox_dir: Path, result: Result) -> None:
    ids = [i for i, _ in batch]
    now = the_plan.now
    # Files: documents (rows too), kept production files (the manifest line stays), the
    # outbox's copies of the notices.
    stored = session.execute(select(Document.demand_id, Document.stored_name).where(Document.demand_id.in_(ids))).all()
    kept = session.execute(select(ProductionFile.demand_id, ProductionFile.stored_name).where(
        ProductionFile.demand_id.in_(ids), ProductionFile.stored_name.is_not(None))).all()
    message_ids = session.scalars(select(Notice.message_id).where(Notice.demand_id.in_(ids))).all()
    # The requester portal's e-mails about the demand (they name the requester): rows and copies.
    message_ids += session.scalars(select(MailMessage.message_id).where(MailMessage.demand_id.in_(ids))).all()
    session.execute(delete(MailMessage).where(MailMessage.demand_id.in_(ids)))
    # A portal demand no longer names the officer's account that submitted it.
    session.execute(update(Demand).where(Demand.id.in_(ids)).values(requester_account_id=None))
    result.files += [upload_dir / name for _d, name in stored + kept]
    result.files += [outbox_dir / (hashlib.sha256(m.encode()).hexdigest()[:32] + ".eml") for m in message_ids]
    session.execute(delete(Document).where(Document.demand_id.in_(ids)))
    session.execute(update(ProductionFile).where(ProductionFile.demand_id.in_(ids)).values(stored_name=None))
    result.documents += len(stored)
    result.kept_files += len(kept)

    # Each demand's values and their marks.
    requester_of = dict(session.execute(select(Demand.id, Demand.requester_id).where(Demand.id.in_(ids))).all())
    requesters = {r.id: r for r in session.scalars(select(Requester).where(Requester.id.in_(set(requester_of.values()))))}
    targets = session.execute(select(DemandTarget.demand_id, DemandTarget.identifier)
                              .where(DemandTarget.demand_id.in_(ids))).all()
    items = session.execute(select(DemandItem.demand_id, DemandItem.target).where(DemandItem.demand_id.in_(ids))).all()
    values: dict[int, dict[str, str]] = {}
    for demand_id, requester_id in requester_of.items():
        r = requesters[requester_id]
        values[demand_id] = {v: MARK for v in (r.name, r.email, r.phone) if v}
    for demand_id, ident in targets + items:
        values[demand_id][ident] = identifier_mark(key, ident)
    scrubbers = {d: Scrubber(v) for d, v in values.items()}
    result.identifiers += len(targets)

    # The rows, the requesters, the audit events, the report summary.
    result.values += scrub_rows(session, scrubbers)
    result.requesters += _redact_requesters(session, requester_of, requesters, ids)
    redacted = redact_events(session, ids, lambda d, raw: scrubbers[d].json(raw), now)
    result.events += sum(redacted.values())
    periods = dict(session.execute(text("SELECT demand_id, period FROM report_demand_keys WHERE demand_id IN :ids")
                                   .bindparams(bindparam("ids", expanding=True)), {"ids": ids}).all())
    result.accounts += remap_accounts(session, [(periods[d], ident, identifier_mark(key, ident))
                                                for d, ident in targets])

    session.execute(update(Demand).where(Demand.id.in_(ids)).values(purged_at=now))
    files = {d: 0 for d in ids}
    for demand_id, _name in stored + kept:
        files[demand_id] += 1
    for demand_id, reference in batch:
        audit.record(session, "system", "demand.purged", "demand", demand_id, None, {
            "reference": reference, "retention_days": the_plan.days, "files_deleted": files[demand_id],
            "events_redacted": redacted.get(demand_id, 0),
        }, at=now)
        result.purged.append(reference)
    session.flush()


def _redact_requesters(session: Session, requester_of: dict[int, int], requesters: dict[int, Requester],
                       ids: list[int]) -> int:
    """A requester only purged demands name gets the marks in place; one a kept demand
    still names stays, and the purged demands move to a requester of the same agency and
    type whose details are the marks. Returns how many requesters were redacted or left."""
    shared = set(session.scalars(select(Demand.requester_id).where(
        Demand.requester_id.in_(list(requesters)), Demand.purged_at.is_(None), Demand.id.not_in(ids))).all())
    for requester_id, r in requesters.items():
        if requester_id not in shared:
            r.name, r.email, r.phone = MARK, MARK, (MARK if r.phone else None)
            continue
        stand_in = session.scalar(select(Requester).where(
            Requester.agency == r.agency, Requester.type == r.type, Requester.name == MARK,
            Requester.email == MARK).limit(1))
        if stand_in is None:
            stand_in = Requester(agency=r.agency, type=r.type, name=MARK, email=MARK, phone=None)
            session.add(stand_in)
            session.flush()
        moved = [d for d, rid in requester_of.items() if rid == requester_id]
        session.execute(update(Demand).where(Demand.id.in_(moved)).values(requester_id=stand_in.id))
    session.flush()
    return len(requesters)
