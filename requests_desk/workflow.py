"""The workflow: SPEC §3's transition table as data, and the one function that applies it.

``apply_action`` checks, in SPEC's order, that the action exists (404), that the
actor's role may take it (403), that the demand's state allows it (409) and that the
rule holds (422); then it changes the demand, writes the audit event and makes any
notice due — all inside the caller's transaction, so a refusal changes nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import access, audit
from .db import utcnow
from .errors import Conflict, FieldErrors, Forbidden, NotFound, ValidationError
from .models import (
    Assignment,
    DataSet,
    Demand,
    DemandItem,
    DueDateChange,
    PreservationHold,
    ProcessRule,
    ProductionFile,
    User,
)
from .notices.mail_outbox import demand_mail
from .notices.outbox import make_notices_due
from .rules import needs_basis, tier_within
from .services import emergency_checks, fraud_flags, parsing
from .services.case import preservation_hold
from .services.history import changes, snapshot
from .services.items import Item, from_row, parse_items, within_any
from .services.notice_release import mark_released, released_by_action
from .services.users import counsel_users
from .vocabulary import ACTION_TERMS, OPEN_STATES, OUTCOME_TERMS, PROCESS_TERMS, STATE_TERMS, TIER_TERMS

SHA256_RE = re.compile(r"[0-9a-f]{64}")
STORED_NAME_RE = re.compile(r"[0-9a-f]{32}")
MAX_FILE_BYTES = 2**63 - 1  # what the manifest's BIGINT column holds


@dataclass
class Context:
    session: Session
    actor: User
    demand: Demand
    body: dict
    now: datetime
    rule: ProcessRule
    errors: FieldErrors = field(default_factory=FieldErrors)
    outcome: str | None = None  # set by rules that derive the outcome
    extra: dict = field(default_factory=dict)  # recorded in the audit event


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]
    outcome: str | None = None
    rule: Callable[[Context], None] | None = None
    after: Callable[[Context], None] | None = None  # once the action is recorded

    @property
    def label(self) -> str:
        """The action's name on its button (the one vocabulary)."""
        return ACTION_TERMS[self.action].label


# ---------------------------------------------------------------- rules


def _text(ctx: Context, key: str, message: str) -> str:
    value = ctx.body.get(key)
    if not isinstance(value, str) or not value.strip():
        ctx.errors.add(key, message)
        return ""
    return parsing.clean(ctx.errors, value, key, multiline=True, max_len=parsing.MAX_REASON) or ""


def _note(ctx: Context) -> tuple[str, object]:
    """The body's note (or its reason, as the forms send it): (field, value)."""
    if ctx.body.get("note"):
        return "note", ctx.body["note"]
    return "reason", ctx.body.get("reason")


def rule_redirect_note(ctx: Context) -> None:
    key, note = _note(ctx)
    if not isinstance(note, str) or not note.strip():
        ctx.errors.add("note", "say how the requester was told to go to the customer")
        return
    ctx.extra["note"] = parsing.clean(ctx.errors, note, key, multiline=True, max_len=parsing.MAX_REASON)


def rule_start_review(ctx: Context) -> None:
    d = ctx.demand
    exempt = (
        not d.concerns_enterprise
        or d.emergency
        or ctx.rule.preservation
        or d.process_type == "national_security"
    )
    reason = ctx.body.get("reason")
    if isinstance(reason, str) and reason.strip():
        ctx.extra["reason"] = parsing.clean(ctx.errors, reason, "reason", multiline=True,
                                            max_len=parsing.MAX_REASON)
    elif not exempt:
        ctx.errors.add(
            "reason",
            "this demand concerns an enterprise customer: redirect the requester to the customer "
            "first, or give a written reason for reviewing it directly",
        )


def rule_optional_note(ctx: Context) -> None:
    key, note = _note(ctx)
    if note is not None and not isinstance(note, str):
        ctx.errors.add(key, "must be text")
    elif note and note.strip():
        ctx.extra["note"] = parsing.clean(ctx.errors, note, key, multiline=True, max_len=parsing.MAX_REASON)


def rule_reason_required(ctx: Context) -> None:
    ctx.extra["reason"] = _text(ctx, "reason", "give the reason")


def _data_sets(ctx: Context) -> dict[str, DataSet]:
    return {d.code: d for d in ctx.session.scalars(select(DataSet))}


def _items(ctx: Context, key: str = "items") -> list[Item]:
    return parse_items(
        ctx.errors,
        ctx.body.get(key),
        key,
        targets=[t.identifier for t in ctx.demand.targets],
        data_sets=_data_sets(ctx),
    )


def rule_propose_scope(ctx: Context) -> None:
    d, rule = ctx.demand, ctx.rule
    if not rule.discloses:
        ctx.errors.add("", f"a {d.process_type} demand never discloses data: use preserve")
        return
    if d.emergency and not (d.justification or "").strip():
        ctx.errors.add("", "an emergency demand needs its written justification before any scope")
    blocked = emergency_checks.scope_blocked(ctx.session, d)  # SPEC §9: the four checks
    if blocked:
        ctx.errors.add("checks", blocked)
    items = _items(ctx)
    requested = [from_row(i) for i in d.items_of("requested")]
    tiers = {code: ds.tier for code, ds in _data_sets(ctx).items()}
    for index, item in enumerate(items):
        if not within_any(item, requested):
            ctx.errors.add(
                f"items[{index}]",
                "goes beyond what was requested (same account and data set, dates inside the request)",
            )
        if needs_basis(rule):
            if not item.basis:
                ctx.errors.add(f"items[{index}].basis",
                               f"{PROCESS_TERMS.label(d.process_type, 'public')} needs counsel's written legal basis")
        elif not tier_within(tiers[item.data_set], rule.max_tier):
            ctx.errors.add(
                f"items[{index}].data_set",
                f"{item.data_set} is {TIER_TERMS.label(tiers[item.data_set]).lower()} data; "
                f"{_a(PROCESS_TERMS.label(d.process_type))} reaches {TIER_TERMS.label(rule.max_tier).lower()} data "
                "at most",
            )
    if ctx.errors:
        return
    for row in d.items_of("scope"):
        d.items.remove(row)
    d.items.extend(_rows("scope", items))
    d.proposed_by_id = ctx.actor.id
    d.approved_by_id = None


def rule_approve(ctx: Context) -> None:
    if ctx.demand.proposed_by_id == ctx.actor.id:
        ctx.errors.add("", "you proposed this scope; a second person must approve it")
        return
    ctx.demand.approved_by_id = ctx.actor.id


def rule_return(ctx: Context) -> None:
    rule_reason_required(ctx)
    if not ctx.errors:
        ctx.demand.approved_by_id = None


def rule_record_production(ctx: Context) -> None:
    d = ctx.demand
    items = _items(ctx)
    approved = [from_row(i) for i in d.items_of("scope")]
    for index, item in enumerate(items):
        if not within_any(item, approved):
            ctx.errors.add(f"items[{index}]", "goes beyond the approved scope")
    files = ctx.body.get("files")
    parsed_files: list[dict] = []
    if not isinstance(files, list) or not files:
        ctx.errors.add("files", "list the files produced (name, SHA-256, size)")
    elif len(files) > parsing.MAX_LIST:
        ctx.errors.add("files", f"must have at most {parsing.MAX_LIST:,} entries")
    else:
        for index, raw in enumerate(files):
            at = f"files[{index}]"
            if not isinstance(raw, dict):
                ctx.errors.add(at, "must be an object with name, sha256 and bytes")
                continue
            name = raw.get("name")
            sha = raw.get("sha256")
            size = raw.get("bytes")
            if not isinstance(name, str) or not name.strip():
                ctx.errors.add(f"{at}.name", "is required")
            else:
                parsing.clean(ctx.errors, name, f"{at}.name", max_len=parsing.MAX_FILENAME)
            if not isinstance(sha, str) or not SHA256_RE.fullmatch(sha.lower()):
                ctx.errors.add(f"{at}.sha256", "must be a SHA-256 digest: 64 hexadecimal characters")
            if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_FILE_BYTES:
                ctx.errors.add(f"{at}.bytes", "must be a whole number of bytes")
            # A kept copy is named by the server (documents.store_document); never a path.
            stored = raw.get("stored_name")
            if stored is not None and (not isinstance(stored, str) or not STORED_NAME_RE.fullmatch(stored)):
                ctx.errors.add(f"{at}.stored_name", "is not a file kept by the desk")
            if not ctx.errors:
                parsed_files.append({"name": name.strip(), "sha256": sha.lower(), "bytes": size,
                                     "stored_name": stored})
    if ctx.errors:
        return
    tiers = {code: ds.tier for code, ds in _data_sets(ctx).items()}
    d.items.extend(_rows("production", items))
    d.production_files.extend(
        ProductionFile(name=f["name"], sha256=f["sha256"], bytes=f["bytes"], stored_name=f["stored_name"])
        for f in parsed_files
    )
    ctx.outcome = (
        "content_disclosed" if any(tiers[i.data_set] == "content" for i in items) else "non_content_disclosed"
    )


def rule_preserve(ctx: Context) -> None:
    d, rule = ctx.demand, ctx.rule
    if not rule.preservation:
        ctx.errors.add("", "only a preservation request or order can be closed as preserved")
        return
    items = _items(ctx)
    requested = [from_row(i) for i in d.items_of("requested")]
    for index, item in enumerate(items):
        if not within_any(item, requested):
            ctx.errors.add(f"items[{index}]", "goes beyond what was requested")
    if ctx.errors:
        return
    d.items.extend(_rows("preserved", items))
    ends = ctx.now + timedelta(days=rule.hold_days or 90)
    ctx.session.add(PreservationHold(demand_id=d.id, starts_at=ctx.now, ends_at=ends))
    ctx.extra["hold_ends_at"] = ends


def rule_extend_preservation(ctx: Context) -> None:
    hold = ctx.session.scalar(select(PreservationHold).where(PreservationHold.demand_id == ctx.demand.id))
    if hold is None:
        raise Conflict(f"{ctx.demand.reference} has no preservation hold.")
    if hold.extended_at is not None:
        raise Conflict(f"The hold on {ctx.demand.reference} was extended once already; it cannot be extended again.")
    if hold.ends_at <= ctx.now:
        raise Conflict(f"The hold on {ctx.demand.reference} ended on {hold.ends_at:%Y-%m-%d}; it cannot be extended.")
    before = hold.ends_at
    hold.ends_at = hold.ends_at + timedelta(days=ctx.rule.hold_extension_days or 90)
    hold.extended_at = ctx.now
    ctx.extra["hold_ends_at"] = {"before": before, "after": hold.ends_at}


def flag_requester(ctx: Context) -> None:
    fraud_flags.flag_requester(ctx.session, ctx.actor, ctx.demand, ctx.now)


def _rows(kind: str, items: list[Item]) -> list[DemandItem]:
    return [
        DemandItem(kind=kind, target=i.target, data_set=i.data_set, date_from=i.date_from,
                   date_to=i.date_to, basis=i.basis)
        for i in items
    ]


# ---------------------------------------------------------------- the table (SPEC §3)

IC = ("intake", "counsel")
C = ("counsel",)

TRANSITIONS: tuple[Transition, ...] = (
    Transition("attempt-redirect", ("received",), "redirecting", IC, rule=rule_redirect_note),
    Transition("start-review", ("received",), "in_review", C, rule=rule_start_review),
    Transition("requester-insists", ("redirecting",), "in_review", IC, rule=rule_optional_note),
    Transition("redirected", ("redirecting",), "closed", IC, outcome="redirected", rule=rule_optional_note),
    Transition("reject", ("in_review",), "closed", C, outcome="rejected", rule=rule_reason_required),
    Transition("reject-fraudulent", ("received", "redirecting", "in_review"), "closed", C, outcome="fraudulent",
               rule=rule_reason_required, after=flag_requester),
    Transition("propose-scope", ("in_review",), "scoped", C, rule=rule_propose_scope),
    Transition("approve", ("scoped",), "approved", ("approver",), rule=rule_approve),
    Transition("return", ("scoped",), "in_review", ("approver",), rule=rule_return),
    Transition("record-production", ("approved",), "closed", C, rule=rule_record_production),
    Transition("no-data", ("approved",), "closed", C, outcome="no_data_found", rule=rule_optional_note),
    Transition("preserve", ("in_review",), "closed", C, outcome="preserved", rule=rule_preserve),
    Transition("extend-preservation", ("closed",), "closed", C, outcome="preserved",
               rule=rule_extend_preservation),
    Transition("withdraw", OPEN_STATES, "closed", IC, outcome="withdrawn", rule=rule_optional_note),
)
BY_ACTION = {t.action: t for t in TRANSITIONS}

# Changes on open demands that are not state transitions (kept as history rows); their
# roles are rows of the role table.
SIDE_ACTIONS = {action: access.roles_for(f"demand.{action}") for action in ("assign", "set-due")}
ACTIONS = tuple(BY_ACTION) + tuple(SIDE_ACTIONS)
# The second person's actions on a proposed scope: the queue lists them apart ("Awaiting my approval").
FOUR_EYES = ("approve", "return")


def states_acted_on(actor: User) -> frozenset[str]:
    """The states in which ``actor`` may do something to a demand other than approve or
    return a scope: a transition of its roles, or a side action (any open state). The
    staff queue lists only such demands besides the approvals."""
    states = {s for t in TRANSITIONS if t.action not in FOUR_EYES and actor.has_role(*t.roles) for s in t.sources}
    if any(actor.has_role(*roles) for roles in SIDE_ACTIONS.values()):
        states |= set(OPEN_STATES)
    return frozenset(states)


def allowed_actions(actor: User, demand: Demand) -> list[str]:
    """What this user may do to this demand now (for the case page's buttons)."""
    out = []
    for t in TRANSITIONS:
        if not actor.has_role(*t.roles) or demand.status not in t.sources:
            continue
        if t.action == "extend-preservation" and not _hold_extendable(demand):
            continue
        if t.action == "approve" and demand.proposed_by_id == actor.id:
            continue
        out.append(t.action)
    if demand.is_open:
        out.extend(a for a, roles in SIDE_ACTIONS.items() if actor.has_role(*roles))
    return out


def _hold_extendable(demand: Demand) -> bool:
    """A preserved demand whose hold runs and was not extended yet (what the rule checks)."""
    hold = preservation_hold(demand) if demand.outcome == "preserved" else None
    return hold is not None and hold.extended_at is None and hold.ends_at > utcnow()


def apply_action(session: Session, actor: User, demand: Demand, action: str, body: Any = None,
                 *, now: datetime | None = None) -> Demand:
    """Apply one action to a demand, or raise (404 unknown action, 403, 409, 422)."""
    now = now or utcnow()
    if action in SIDE_ACTIONS:
        return _side_action(session, actor, demand, action, body, now)
    transition = BY_ACTION.get(action)
    if transition is None:
        raise NotFound(f"There is no action called {action}.")
    if not (actor.has_role(*transition.roles) or _own_submission(actor, demand, action)):
        raise Forbidden(f"Only {' or '.join(transition.roles)} users may {transition.label.lower()}.")
    if demand.status not in transition.sources or (
        action == "extend-preservation" and demand.outcome != "preserved"
    ):
        raise Conflict(_state_message(demand, transition))
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ValidationError({"": ["the body must be a JSON object"]})
    ctx = Context(session, actor, demand, body, now, session.get(ProcessRule, demand.process_type))
    before = snapshot(demand)
    if transition.rule:
        transition.rule(ctx)
    ctx.errors.raise_if_any()
    was_open, was_status = demand.is_open, demand.status
    demand.status = transition.target
    if transition.target == "closed":
        demand.outcome = ctx.outcome or transition.outcome
        if was_open:
            demand.closed_at = now
    session.flush()
    before, after = changes(action, before, snapshot(demand))
    after.update({k: v for k, v in ctx.extra.items() if v})
    audit.record(session, actor, action, "demand", demand.id, before, after, at=now)
    if transition.after:
        transition.after(ctx)
    if released_by_action(demand, action):
        mark_released(session, actor, demand, now, by=action)
    if was_open and not demand.is_open:
        make_notices_due(session, demand, "outcome", now=now)
    if demand.status != was_status:
        demand_mail(session, demand, now=now)  # a portal submission's requester hears of it
    return demand


# SPEC §9: a requester may withdraw its own open demand (the portal's button); the same
# transition, rule and audit event as staff's, and no other action.
REQUESTER_ACTIONS = ("withdraw",)


def _own_submission(actor: User, demand: Demand, action: str) -> bool:
    return (action in REQUESTER_ACTIONS and access.may(actor, "demand.submit")
            and demand.requester_account_id is not None and demand.requester_account_id == actor.id)


def _state_message(demand: Demand, transition: Transition) -> str:
    if demand.status == "closed" and transition.action != "extend-preservation":
        return (f"{demand.reference} is closed ({OUTCOME_TERMS.label(demand.outcome).lower()}); a closed demand "
                "is final.")
    if transition.action == "extend-preservation":
        return (f"Only a closed, preserved demand's hold can be extended; {demand.reference} is "
                f"{STATE_TERMS.label(demand.status).lower()}.")
    allowed = ", ".join(STATE_TERMS.label(s).lower() for s in transition.sources)
    return (f"{transition.label} is possible only when the demand is {allowed}; "
            f"{demand.reference} is {STATE_TERMS.label(demand.status).lower()}.")


def _a(words: str) -> str:
    """"a court order", "an MLAT", "an EU production order": the article before a label."""
    acronym = words.split(" ", 1)[0].isupper()
    text = words if acronym else words.lower()
    return f"an {text}" if text[:1] in "aeiouAEIOU" or words.startswith("MLAT") else f"a {text}"


def _side_action(session: Session, actor: User, demand: Demand, action: str, body: Any,
                 now: datetime) -> Demand:
    roles = SIDE_ACTIONS[action]
    if not actor.has_role(*roles):
        raise Forbidden(f"Only {' or '.join(roles)} users may {action.replace('-', ' ')}.")
    if not demand.is_open:
        raise Conflict(f"{demand.reference} is closed; a closed demand is final.")
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ValidationError({"": ["the body must be a JSON object"]})
    errors = FieldErrors()
    reason = parsing.text(errors, body, "reason", "reason", max_len=parsing.MAX_REASON)
    before = snapshot(demand)
    if action == "assign":
        email = body.get("assignee")
        assignee = None
        if not isinstance(email, str) or not email.strip():
            errors.add("assignee", "is required: a counsel user's e-mail")
        elif parsing.hygiene_problem(email):
            errors.add("assignee", parsing.hygiene_problem(email))
        else:
            assignee = next((u for u in counsel_users(session) if u.email == email.strip().lower()), None)
            if assignee is None:
                errors.add("assignee", "is not an active counsel user")
        errors.raise_if_any()
        demand.assignee_id = assignee.id
        demand.assignee = assignee
        session.add(Assignment(demand_id=demand.id, assignee_id=assignee.id, reason=reason,
                               actor_id=actor.id, at=now))
    else:
        due_at = parsing.datetime_value(errors, body.get("due_at"), "due_at", future=True)
        if due_at is not None and due_at < demand.received_at:
            errors.add("due_at", "must not be before the demand was received")  # as at intake
        errors.raise_if_any()
        session.add(DueDateChange(demand_id=demand.id, old_due_at=demand.due_at, new_due_at=due_at,
                                  reason=reason, actor_id=actor.id, at=now))
        demand.due_at = due_at
    session.flush()
    before, after = changes(action, before, snapshot(demand))
    after["reason"] = reason
    audit.record(session, actor, action, "demand", demand.id, before, after, at=now)
    return demand
