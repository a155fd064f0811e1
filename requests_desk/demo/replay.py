"""A planned case turned into what the services would have written: ``CaseReplay`` replays
a case spec in memory and stands in for the demand.

It has the attributes of a ``Demand`` that the services read, so the services' own
functions run on it: ``services.history.snapshot`` and ``changes`` make its audit events
(``audit.canonical`` writes them); the workflow's table (``workflow.BY_ACTION``) gives each
action's target state and outcome, and its rules check the bodies and say what the event
records; ``services.intake`` gives the due date and the emergency rule;
``services.gags.parse_gag`` and ``gag_snapshot`` read and record a gag.

Only what the services do in SQL is done here by hand: the workflow rules that read or
write other tables (scope, production, preservation), the side actions and gag changes,
and the notices (``dispatch``). The planner's bodies are typed and clean, so the replay
reads their fields as they are; the service path checks every one of them, and the
comparison test (tests/test_demo.py) holds the two paths to the same rows."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import NamedTuple

from ..audit import canonical
from ..errors import FieldErrors
from ..models import Demand
from ..services import parsing
from ..services.gags import gag_snapshot, parse_gag
from ..services.history import changes, snapshot
from ..services.intake import default_due_at, is_emergency
from ..services.items import Item
from ..services.notice_release import released_by_action
from ..workflow import BY_ACTION, Context
from .cases import CaseSpec, Step
from .clock import SLOT, at, order_key, seconds
from .dispatch import CaseNotices, ReplayGag, ReplayNotice
from .papers import legal_process
from .world import World


class Actor(NamedTuple):
    """A user as the workflow's rules read one (``id``) and the audit log names one."""

    id: int
    email: str


class Target(NamedTuple):
    identifier: str
    customer_id: int | None


class _Said(NamedTuple):
    """An item as services.history.snapshot reads one, its ``as_dict`` made once: a
    demand's items change a few times, its snapshot is taken at every event."""

    said: dict

    def as_dict(self) -> dict:
        return self.said


def actors_of(world: World) -> dict[str, Actor]:
    return {key: Actor(*user) for key, user in world.users.items()}


class CaseReplay:
    """One case spec replayed with the services' rules: the demand's final fields and
    rows, its audit events (canonical JSON, not yet chained) and its notices, with the
    modelled dispatcher's runs between its steps."""

    is_open = Demand.is_open

    def __init__(self, world: World, case: CaseSpec, demand_id: int, reference: str, now: datetime,
                 record_runs: bool = False, actors: dict[str, Actor] | None = None, document_id: int = 0):
        self.w = world
        self.actors = actors or actors_of(world)
        self.case = case
        self.id = demand_id
        self.reference = reference
        self.now_s = seconds(now)
        log = case.steps[0]
        p = self.p = log.body
        self.country, self.process_type, self.legal_reference = p["country"], p["process_type"], p["legal_reference"]
        self.rule = world.rules[self.process_type]
        self.emergency = is_emergency(self.process_type, bool(p.get("emergency")))
        self.justification = p.get("justification")
        self.received_at = p["received_at"]
        self.due_at = p.get("due_at") or default_due_at(self.rule, self.received_at, self.emergency)
        self.created_at = log.at
        self.created_by_id = world.users[log.actor][0]
        resolution = world.resolution
        self.targets = [Target(ident, resolution[ident][0] if ident in resolution else None)
                        for ident in map(parsing.identifier, p["targets"])]
        self.concerns_enterprise = any(resolution[t.identifier][1] for t in self.targets
                                       if t.identifier in resolution)
        customers: list[int] = []
        for t in self.targets:
            if t.customer_id is not None and t.customer_id not in customers:
                customers.append(t.customer_id)
        self.items: dict[str, list[Item]] = {}
        self._said: dict[str, list[_Said]] = {}
        for kind in ("requested", "scope", "production", "preserved"):
            self._set_items(kind, self._items(p["requested"]) if kind == "requested" else [])
        self.status, self.outcome = "received", None
        self.assignee_id = self.proposed_by_id = self.approved_by_id = self.closed_at = None
        self.notices_released_at: datetime | None = None
        self.notices_released_by_id: int | None = None
        self.files: list[dict] = []
        # The legal process it was logged with (services.documents.store_document):
        # (id, file name, PDF bytes, SHA-256, uploader id, uploaded at); none when only
        # the dispatcher's runs are wanted.
        self.document_id = document_id
        self.documents: list[tuple] = []
        self.record_runs = record_runs
        self.hold: list | None = None  # [starts_at, ends_at, extended_at]
        self.assignments: list[tuple] = []  # (assignee_id, reason, actor_id, at)
        self.checks: dict[str, tuple] = {}  # check code -> (by_id, at, note): the emergency checks
        self.due_changes: list[tuple] = []  # (old_due_at, new_due_at, reason, actor_id, at)
        self.events: list[tuple] = []  # (order key, at, actor_id, actor, action, before, after, object type, id)
        self.mail = CaseNotices(world, customers, record_runs)
        if not record_runs:
            self.mail.emit = self._notice_event
        self.snap = snapshot(self)  # the demand as the last event left it

    def items_of(self, kind: str) -> list[_Said]:
        return self._said[kind]

    def _set_items(self, kind: str, items: list[Item]) -> None:
        self.items[kind] = items
        self._said[kind] = [_Said(i.as_dict()) for i in items]

    @staticmethod
    def _items(raw: list[dict]) -> list[Item]:
        """A body's items as services.items.parse_items makes them of clean input."""
        return [Item(i["target"], i["data_set"], i["from"], i["to"], i.get("basis")) for i in raw]

    # ------------------------------------------------------------ running

    def run(self) -> "CaseReplay":
        index, mail = self.case.index, self.mail
        for number, step in enumerate(self.case.steps):  # the planner keeps them in time order
            at_s = seconds(step.at)
            if mail.notices:
                mail.dispatch_until(at_s)
            mail.clock = at_s
            self.apply(order_key(at_s, index, number), at_s, step)
        if mail.notices:
            mail.dispatch_until(self.now_s, inclusive=True)
        return self

    def apply(self, key: int, at_s: int, step: Step) -> None:
        action, body, now = step.action, step.body, step.at
        actor = self.actors[step.actor]
        if action == "log":  # services.intake.log_demand
            self._event(key, now, actor, "demand.log", None, self.snap)
            if body.get("gag") is not None:
                self._set_gag(key + SLOT, at_s, now, actor, body["gag"])
            self.mail.make_due("demand", at_s, key)
            if not self.record_runs:
                self._upload(key + 2 * SLOT, now, actor, body)
        elif action in self.OTHER:
            self.OTHER[action](self, key, at_s, now, actor, body)
        elif action in BY_ACTION:
            self._transition(key, at_s, now, actor, action, body)
        else:
            raise ValueError(f"the demo has no step called {action}")

    def _event(self, key: int, now: datetime, actor: Actor, action: str, before: dict | None, after: dict,
               object_type: str = "demand", object_id: int | None = None) -> None:
        self.events.append((key, now, actor.id, actor.email, action, canonical(before), canonical(after),
                            object_type, self.id if object_id is None else object_id))

    def _notice_event(self, key: int, at_s: int, actor: Actor | None, action: str, notice: ReplayNotice,
                      before: dict, after: dict) -> None:
        """outbox.record_notice_event; the notice is named by its number among the demand's
        notices until the loader numbers it."""
        after = {**after, "kind": notice.kind, "customer_id": notice.customer_id}
        self.events.append((key, at(at_s), actor.id if actor else None, actor.email if actor else "system", action,
                            canonical(before), canonical(after), "notice", notice.local))

    def _upload(self, key: int, now: datetime, actor: Actor, body: dict) -> None:
        """services.documents.store_document of the demand's legal process, after the log."""
        name, pdf = legal_process(body, self.reference)
        digest = hashlib.sha256(pdf).hexdigest()
        self.documents.append((self.document_id, name, pdf, digest, actor.id, now))
        self._event(key, now, actor, "document.upload", None, {"name": name, "sha256": digest, "bytes": len(pdf)},
                    "document", self.document_id)

    # ------------------------------------------------------------ workflow.apply_action

    def _transition(self, key: int, at_s: int, now: datetime, actor: Actor, action: str, body: dict) -> None:
        transition = BY_ACTION[action]
        ctx = Context(None, actor, self, body, now, self.rule)  # type: ignore[arg-type]
        own = self.RULES.get(action)
        if own is not None:
            own(self, ctx)
        elif transition.rule is not None:
            transition.rule(ctx)
        ctx.errors.raise_if_any()
        before, was_open = self.snap, self.is_open
        self.status = transition.target
        if transition.target == "closed":
            self.outcome = ctx.outcome or transition.outcome
            if was_open:
                self.closed_at = now
        self.snap = snapshot(self)
        before, after = changes(action, before, self.snap)
        after.update({k: v for k, v in ctx.extra.items() if v})
        self._event(key, now, actor, action, before, after)
        if released_by_action(self, action):  # type: ignore[arg-type]
            self._release(key + SLOT, at_s, now, actor, action)
        if was_open and not self.is_open:
            self.mail.make_due("outcome", at_s, key)

    # The workflow's rules that read or write other tables, done here on the replay's rows.

    def _propose_scope(self, ctx: Context) -> None:
        self._set_items("scope", self._items(ctx.body["items"]))
        self.proposed_by_id, self.approved_by_id = ctx.actor.id, None

    def _record_production(self, ctx: Context) -> None:
        items = self._items(ctx.body["items"])
        self._set_items("production", self.items["production"] + items)
        self.files += [{"name": f["name"].strip(), "sha256": f["sha256"].lower(), "bytes": f["bytes"],
                        "stored_name": f.get("stored_name")} for f in ctx.body["files"]]
        tiers = self.w.tiers
        ctx.outcome = ("content_disclosed" if any(tiers[i.data_set] == "content" for i in items)
                       else "non_content_disclosed")

    def _preserve(self, ctx: Context) -> None:
        self._set_items("preserved", self.items["preserved"] + self._items(ctx.body["items"]))
        ends = ctx.now + timedelta(days=self.rule.hold_days or 90)
        self.hold = [ctx.now, ends, None]
        ctx.extra["hold_ends_at"] = ends

    def _extend_preservation(self, ctx: Context) -> None:
        before = self.hold[1]
        self.hold[1] = before + timedelta(days=self.rule.hold_extension_days or 90)
        self.hold[2] = ctx.now
        ctx.extra["hold_ends_at"] = {"before": before, "after": self.hold[1]}

    RULES = {"propose-scope": _propose_scope, "record-production": _record_production, "preserve": _preserve,
             "extend-preservation": _extend_preservation}

    # ------------------------------------------------------------ side actions, gags, deferrals

    def _side_action(self, key: int, now: datetime, actor: Actor, action: str, body: dict) -> None:
        """The workflow's side actions (assign, set-due): a history row, and the event with the reason."""
        reason, before = body["reason"], self.snap
        if action == "assign":
            assignee = next(uid for uid, email in self.w.users.values() if email == body["assignee"])
            self.assignments.append((assignee, reason, actor.id, now))
            self.assignee_id = assignee
        else:
            self.due_changes.append((self.due_at, body["due_at"], reason, actor.id, now))
            self.due_at = body["due_at"]
        self.snap = snapshot(self)
        before, after = changes(action, before, self.snap)
        after["reason"] = reason
        self._event(key, now, actor, action, before, after)

    def _set_gag(self, key: int, at_s: int, now: datetime, actor: Actor, body: dict) -> None:
        """services.gags.record_gag."""
        errors = FieldErrors()
        clean = parse_gag(errors, body)
        errors.raise_if_any()
        gag = ReplayGag(clean, now, actor.id)
        self._event(key, now, actor, "gag.set", None, gag_snapshot(gag))
        self.mail.add_gag(gag, at_s)

    def _extend_gag(self, key: int, at_s: int, now: datetime, actor: Actor, body: dict) -> None:
        gag = self.mail.active_gag(at_s)
        before = gag_snapshot(gag)
        gag.expires_at = body["expires_at"]
        gag.events.append(("extend", gag.expires_at, None, actor.id, now))
        self._event(key, now, actor, "gag.extend", before, gag_snapshot(gag))

    def _lift_gag(self, key: int, at_s: int, now: datetime, actor: Actor, body: dict) -> None:
        gag = self.mail.active_gag(at_s)
        before = gag_snapshot(gag)
        gag.lifted_at, gag.lift_reason = now, body["reason"]
        gag.events.append(("lift", None, gag.lift_reason, actor.id, now))
        self._event(key, now, actor, "gag.lift", before, gag_snapshot(gag))
        self.mail.release(at_s, key, actor)

    def _defer_notices(self, key: int, at_s: int, now: datetime, actor: Actor, body: dict) -> None:
        until, reason = body["until"], body["reason"]
        self._event(key, now, actor, "notices.defer", None, {"until": until, "reason": reason})
        self.mail.defer(seconds(until), reason, actor, at_s, key)
        if released_by_action(self, "defer-notices"):  # type: ignore[arg-type]
            self._release(key + SLOT, at_s, now, actor, "defer-notices")

    def _release(self, key: int, at_s: int, now: datetime, actor: Actor, by: str,
                 reason: str | None = None) -> None:
        """services.notice_release.mark_released."""
        self.notices_released_at, self.notices_released_by_id = now, actor.id
        after: dict = {"notices_released_at": now, "by": by}
        if reason:
            after["reason"] = reason
        self._event(key, now, actor, "notices.release", {"notices_released_at": None}, after)
        self.mail.release_counsel(at_s, key, actor)

    def _release_notices(self, key: int, at_s: int, now: datetime, actor: Actor, body: dict) -> None:
        """services.notice_release.release_notices (the planner asks only while not released)."""
        self._release(key, at_s, now, actor, "release-notices", (body.get("reason") or "").strip() or None)

    def _assign(self, key: int, at_s: int, now: datetime, actor: Actor, body: dict) -> None:
        self._side_action(key, now, actor, "assign", body)

    def _set_due(self, key: int, at_s: int, now: datetime, actor: Actor, body: dict) -> None:
        self._side_action(key, now, actor, "set-due", body)

    def _record_check(self, key: int, at_s: int, now: datetime, actor: Actor, body: dict) -> None:
        """services.emergency_checks.record_check (a check recorded again replaces the first)."""
        code, note = body["check"], body["note"]
        earlier = self.checks.get(code)
        before = None if earlier is None else {"check": code, "by_id": earlier[0], "at": earlier[1], "note": earlier[2]}
        self.checks[code] = (actor.id, now, note)
        self._event(key, now, actor, "check.record", before, {"check": code, "by_id": actor.id, "at": now, "note": note})

    OTHER = {"assign": _assign, "checks": _record_check, "set-due": _set_due, "gag.set": _set_gag, "gag.extend": _extend_gag,
             "gag.lift": _lift_gag, "defer-notices": _defer_notices, "release-notices": _release_notices}

