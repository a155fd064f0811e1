"""The case page's timeline: audit events told in plain words."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..models import AuditEvent, User
from ..vocabulary import (
    ACTION_TERMS,
    EMERGENCY_CHECK_TERMS,
    FLAG_KIND_TERMS,
    NOTICE_HOLD_TERMS,
    NOTICE_KIND_TERMS,
    OUTCOME_TERMS,
    file_size,
)
from ..workflow import BY_ACTION


@dataclass
class Entry:
    at: datetime
    who: str
    title: str
    details: list[str] = field(default_factory=list)
    action: str = ""
    status_change: tuple[str, str] | None = None


def _load(raw: str | None) -> dict:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _when(value: Any, with_time: bool = True) -> str:
    if not value:
        return "no end date"
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if not with_time or (parsed.hour, parsed.minute) == (0, 0) and "T" not in str(value):
        return parsed.strftime("%Y-%m-%d")
    return parsed.strftime("%Y-%m-%d %H:%M UTC")


def _items(items: Any, labels: dict[str, str] | None = None) -> list[str]:
    labels = labels or {}
    out = []
    for item in items or []:
        if isinstance(item, dict):
            code = item.get("data_set", "")
            name = labels.get(code) or code.replace("_", " ")
            line = (f"{name} of {item.get('target')}, "
                    f"{item.get('from')} to {item.get('to')}")
            if item.get("basis"):
                line += f" — basis: {item['basis']}"
            out.append(line)
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _human(code: Any) -> str:
    return str(code or "").replace("_", " ")


def user_ids(events: list[AuditEvent]) -> set[int]:
    """Every user an event mentions (the actor, an assignee), to look them up in one query."""
    ids = {e.actor_id for e in events if e.actor_id}
    for e in events:
        if e.action == "assign":
            assignee = _load(e.after).get("assignee_id")
            if isinstance(assignee, int):
                ids.add(assignee)
    return ids


def _notice(event: AuditEvent, before: dict, after: dict, customers: dict[int, str], entry: Entry) -> None:
    """A notice released, sent or given up (``notice.*``), and ``notice.retry``."""
    kind = NOTICE_KIND_TERMS.label(after.get("kind"), default="Notice").lower()
    customer = customers.get(after.get("customer_id")) or "a customer"
    attempts = after.get("attempts")
    if event.action == "notice.released":
        entry.title = f"The {kind} to {customer} was released for sending"
        held = NOTICE_HOLD_TERMS.get(before.get("held_by"))
        if held is not None:
            entry.details.append(f"It had been held {held.label}")
        if after.get("delayed"):
            entry.details.append("It goes out as a delayed notice (a gag held it)")
    elif event.action == "notice.sent":
        entry.title = f"Sent the {kind} to {customer}"
        if isinstance(attempts, int) and attempts > 1:
            entry.details.append(f"At attempt {attempts}")
    elif event.action == "notice.failed":
        entry.title = f"Gave up sending the {kind} to {customer}"
        entry.details.append(f"After {_plural(attempts, 'attempt')}: {after.get('error') or 'no error recorded'}"
                             if isinstance(attempts, int) else str(after.get("error") or ""))
    elif event.action == "notice.retry":
        entry.title = f"Retried the {kind} to {customer}"


def describe(event: AuditEvent, users: dict[int, User], labels: dict[str, str] | None = None,
             customers: dict[int, str] | None = None) -> Entry:
    """One event in words; ``labels`` names the data sets ("Sign-in logs"), ``customers``
    the customers of the demand's notices."""
    before, after = _load(event.before), _load(event.after)
    actor = users.get(event.actor_id) if event.actor_id else None
    who = actor.label if actor else event.actor
    if event.actor.startswith("requester #"):  # the officer, through the portal (its details are on the case)
        who = "The requester (portal)"
    entry = Entry(at=event.at, who=who, title=_human(event.action).capitalize(), action=event.action)
    a = event.action
    note = after.get("note") or after.get("reason")
    if a in ("demand.log", "demand.import"):
        entry.title = "Logged the demand" if a == "demand.log" else \
            f"Imported the demand from a spreadsheet (external id {after.get('external_id', '')})"
        if a == "demand.import" and after.get("outcome"):
            entry.details.append(f"Closed before the import: {OUTCOME_TERMS.label(after['outcome'])}, "
                                 f"{_when(after.get('closed_at'))}")
        targets = after.get("targets") or []
        entry.details.append(f"{_plural(len(targets), 'account')}: {', '.join(targets)}")
        entry.details += [f"Requested: {line}" for line in _items(after.get("requested"), labels)]
    elif a == "document.upload":
        size = after.get("bytes")
        entry.title = f"Added the document {after.get('name', '')}"
        if after.get("for_customer_id"):
            entry.title = f"Added the redacted copy {after.get('name', '')}, for one customer only"
        if isinstance(size, int):
            entry.details.append(f"{file_size(size)}, SHA-256 {str(after.get('sha256', ''))[:16]}…")
    elif a == "documents.marked":
        entry.title = ACTION_TERMS["mark-documents"].history
        marks = after.get("marks") if isinstance(after.get("marks"), dict) else {}
        going = sum(1 for ids in marks.values() if ids)
        entry.details.append(f"Going to a customer: {going} of {_plural(len(marks), 'document')}")
    elif a == "access.granted":
        entry.title = "Break-glass access to the files"
        entry.details.append(f"Until {_when(after.get('expires_at'))}")
        if after.get("reason"):
            entry.details.append(f"Reason: {after['reason']}")
    elif a == "document.viewed":
        what = "production file" if after.get("file") == "production_file" else "document"
        entry.title = f"Opened the {what} {after.get('name', '')}"
    elif a == "gag.set":
        entry.title = f"Recorded a gag order ({after.get('order_ref', '')})"
        entry.details.append(f"Issued by {after.get('issued_by', '')}; in force until {_when(after.get('expires_at'))}")
    elif a == "gag.extend":
        entry.title = "Extended the gag"
        entry.details.append(f"From {_when(before.get('expires_at'))} to {_when(after.get('expires_at'))}")
    elif a == "gag.lift":
        entry.title = "Lifted the gag"
        if after.get("lift_reason"):
            entry.details.append(f"Reason: {after['lift_reason']}")
    elif a == "demand.purged":
        entry.title = "Purged at the end of the retention period"
        entry.details.append(f"Files deleted: {after.get('files_deleted', 0)}; target identifiers and the "
                             f"requester's details redacted, in {_plural(after.get('events_redacted', 0), 'audit event')} "
                             "too")
    elif a == "notices.release":
        by = after.get("by")
        entry.title = "Released the customer notices" + (
            "" if by in (None, "release-notices") else f" (by “{ACTION_TERMS.label(by)}”)")
        if after.get("reason"):
            entry.details.append(f"Reason: {after['reason']}")
    elif a.startswith("notice."):
        _notice(event, before, after, customers or {}, entry)
    elif a == "notices.defer":
        entry.title = f"Deferred the customer notices until {_when(after.get('until'))}"
        if after.get("at_intake"):
            entry.title += ", when the demand was logged"
        if after.get("reason"):
            entry.details.append(f"Reason: {after['reason']}")
    elif a == "check.record":
        check = EMERGENCY_CHECK_TERMS.label(after.get("check")).lower()
        entry.title = ACTION_TERMS["record-check"].history.format(check=check)
        if before:
            entry.title += " again"
        entry.details.append(f"Note: {after.get('note', '')}")
    elif a == "checks.override":
        entry.title = ACTION_TERMS["override-checks"].history
        entry.details.append(f"Reason: {after.get('reason', '')}")
        if after.get("missing"):
            entry.details.append("Missing then: " + ", ".join(EMERGENCY_CHECK_TERMS.label(c).lower()
                                                              for c in after["missing"]))
    elif a in ("flag.set", "flag.lift"):
        what = f"{FLAG_KIND_TERMS.label(after.get('kind')).lower()} {after.get('value', '')}"
        entry.title = (f"Flagged the {what} as fraudulent" if a == "flag.set"
                       else f"{ACTION_TERMS['lift-flag'].history} on the {what}")
        if a == "flag.lift" and after.get("lift_reason"):
            entry.details.append(f"Reason: {after['lift_reason']}")
    elif a == "assign":
        assignee = users.get(after.get("assignee_id"))
        entry.title = f"Assigned the demand to {assignee.label if assignee else 'a counsel user'}"
        if note:
            entry.details.append(f"Reason: {note}")
    elif a == "set-due":
        entry.title = "Changed the due date"
        entry.details.append(f"From {_when(before.get('due_at'))} to {_when(after.get('due_at'))}")
        if note:
            entry.details.append(f"Reason: {note}")
    elif a in BY_ACTION:
        entry.title = ACTION_TERMS[a].history.format(items=_plural(len(after.get("scope") or []), "item"))
        if a == "propose-scope":
            entry.details += _items(after.get("scope"), labels)
        elif a == "record-production":
            entry.details += [f"Produced: {line}" for line in _items(after.get("production"), labels)]
            if after.get("outcome"):
                entry.details.append(f"Outcome: {OUTCOME_TERMS.label(after['outcome'], default='Closed').lower()}")
        hold = after.get("hold_ends_at")
        if isinstance(hold, dict):
            entry.details.append(f"The hold now ends {_when(hold.get('after'))} (was {_when(hold.get('before'))})")
        elif hold:
            entry.details.append(f"The hold ends {_when(hold)}")
        if note:
            entry.details.append(("Reason: " if after.get("reason") else "Note: ") + str(note))
    if before.get("status") and after.get("status") and before["status"] != after["status"]:
        entry.status_change = (before["status"], after["status"])
    return entry
