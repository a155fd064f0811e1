"""The notices of one replayed case, its gags and deferrals, and the modelled dispatcher
(SPEC §4): what notices.outbox does to a demand's notices in SQL and what a run of
notices.dispatcher.Dispatcher does to them, here in memory. Times are epoch seconds.

The outbox's rules are set-based UPDATEs over the notices table, with no part that could
run on a row in memory; tests/test_demo.py holds this model to them, row by row."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from ..models import Gag
from ..notices.outbox import MAX_ATTEMPTS, backoff_seconds
from .clock import at, next_run, notice_order, run_key, seconds
from .world import World


class ReplayNotice:
    __slots__ = ("customer_id", "kind", "state", "held_by", "gag_held", "delayed", "due", "attempts", "next",
                 "last_error", "sent", "order", "local")

    def __init__(self, customer_id: int, kind: str, at_s: int, held_by: str | None, gag_held: bool,
                 order: int = 0, local: int = 0):
        self.customer_id, self.kind = customer_id, kind
        self.order = order  # its place among all notices (clock.notice_order): its id's order
        self.local = local  # its number among the demand's notices
        self.state = "held" if held_by else "pending"
        self.held_by = held_by
        self.gag_held = gag_held
        self.delayed = False
        self.due = at_s
        self.attempts = 0
        self.next = None if held_by else at_s
        self.last_error = None
        self.sent = None


class ReplayGag:
    """A gag with models.Gag's attributes, so that Gag's own ``active_at`` and
    services.gags.gag_snapshot read it as they read a row; ``events`` are its history as
    (kind, expires_at, reason, actor_id, at)."""

    __slots__ = ("order_ref", "issued_by", "issued_at", "expires_at", "set_at", "lifted_at", "lift_reason", "events")
    active_at = Gag.active_at

    def __init__(self, clean: dict, now: datetime, actor_id: int):
        self.order_ref, self.issued_by = clean["order_ref"], clean["issued_by"]
        self.issued_at, self.expires_at = clean["issued_at"], clean["expires_at"]
        self.set_at, self.lifted_at, self.lift_reason = now, None, None
        self.events = [("set", self.expires_at, None, actor_id, now)]


class CaseNotices:
    """A demand's notices, gags and deferrals, and the dispatcher's runs that touch them."""

    def __init__(self, world: World, customers: list[int], record_runs: bool = False):
        self.world = world
        self.customers = customers  # the demand's customers, in target order
        self.notices: list[ReplayNotice] = []
        self.gags: list[ReplayGag] = []
        self.deferrals: list[tuple[int, str, int, int]] = []  # (until, reason, actor_id, at)
        self.clock = 0  # the replay's time: no run before it
        self.counsel = True  # awaiting counsel's release (services.notice_release)
        self.runs: set[int] | None = set() if record_runs else None
        # Writes a notice's audit event: (key, second, actor or None for the system,
        # action, notice, before, after); None when only the runs are wanted.
        self.emit: Callable[[int, int, Any, str, ReplayNotice, dict, dict], None] | None = None

    def active_gag(self, at_s: int) -> ReplayGag | None:
        """The first gag active at ``at_s`` (Demand.active_gag)."""
        if not self.gags:
            return None
        now = at(at_s)
        return next((gag for gag in self.gags if gag.active_at(now)), None)

    def deferred(self, at_s: int) -> bool:
        """The latest deferral runs past ``at_s`` (models.deferral_active_clause)."""
        return bool(self.deferrals) and self.deferrals[-1][0] > at_s

    # ------------------------------------------------------------ what the outbox does

    def make_due(self, kind: str, at_s: int, key: int = 0) -> None:
        """outbox.make_notices_due: one notice of ``kind`` per customer without one (in
        the step slot ``key``)."""
        if not self.customers:
            return
        gagged = self.active_gag(at_s) is not None
        held_by = ("counsel" if self.counsel else "gag" if gagged else
                   "deferral" if self.deferred(at_s) else None)
        existing = {n.customer_id for n in self.notices if n.kind == kind}
        for position, cid in enumerate(self.customers):
            if cid not in existing:
                self.notices.append(ReplayNotice(cid, kind, at_s, held_by, gagged, notice_order(key, position),
                                                 len(self.notices)))

    def add_gag(self, gag: ReplayGag, at_s: int) -> None:
        """A gag recorded: while it is active, notices not yet sent wait (outbox.hold_for_gag)."""
        self.gags.append(gag)
        if gag.active_at(at(at_s)):
            for n in self.notices:
                if n.state in ("pending", "failed", "held"):
                    n.state, n.gag_held, n.next = "held", True, None
                    n.held_by = "counsel" if n.held_by == "counsel" else "gag"

    def defer(self, until_s: int, reason: str, actor: Any, at_s: int, key: int) -> None:
        """outbox.hold_for_deferral, then release_held_notices (as services.gags.defer_notices;
        the deferral just made runs past now, so it only relabels what it holds)."""
        self.deferrals.append((until_s, reason, actor.id, at_s))
        for n in self.notices:
            if n.state in ("pending", "failed"):
                n.state, n.held_by, n.next = "held", "deferral", None
        self.release(at_s, key, actor)

    def release_counsel(self, at_s: int, key: int, actor: Any) -> None:
        """services.notice_release.mark_released: counsel's word (in slot ``key``), then
        what it lets go."""
        self.counsel = False
        self.release(at_s, key, actor)

    def release(self, at_s: int, key: int | None = None, actor: Any = None) -> None:
        """outbox.release_held_notices for this demand at ``at_s``: in a step's slot
        ``key`` by ``actor``, or (no key) in the dispatcher's run at ``at_s``."""
        if self.counsel:
            return
        gagged, deferred = self.active_gag(at_s) is not None, self.deferred(at_s)
        if gagged or deferred:
            for n in self.notices:
                if n.state == "held" and n.held_by in ("counsel", "gag", "deferral"):
                    n.held_by = "gag" if gagged else "deferral"
            return
        emit, position = self.emit, 0
        for n in self.notices:
            if n.state == "held":
                held_by = n.held_by
                n.state, n.held_by, n.attempts, n.last_error, n.next = "pending", None, 0, None, at_s
                n.delayed = n.delayed or n.gag_held
                if emit is not None:
                    position += 1
                    emit(run_key(at_s, n.order) if key is None else key + position, at_s, actor,
                         "notice.released", n, {"state": "held", "held_by": held_by},
                         {"state": "pending", "delayed": n.delayed})

    # ------------------------------------------------------------ the dispatcher's runs

    def next_dispatch(self) -> int | None:
        """The first dispatcher run after the clock at which something can happen to these
        notices: a pending one falls due, or what holds one ends."""
        first = next_run(self.clock + 1)
        best = None
        held = False
        for n in self.notices:
            if n.state == "pending":
                r = next_run(n.next)
                r = first if r < first else r
                if best is None or r < best:
                    best = r
            elif n.state == "held":
                held = True
        if held:
            boundaries = [seconds(g.expires_at) for g in self.gags if g.lifted_at is None and g.expires_at is not None]
            if self.deferrals:
                boundaries.append(self.deferrals[-1][0])
            for boundary in boundaries:
                r = next_run(boundary)
                if r >= first and (best is None or r < best):
                    best = r
        return best

    def dispatch_until(self, limit: int, inclusive: bool = False) -> None:
        while True:
            r = self.next_dispatch()
            if r is None or r > limit or (r == limit and not inclusive):
                return
            self.dispatch(r)

    def dispatch(self, r: int) -> None:
        """One run of notices.dispatcher.Dispatcher, as far as these notices go."""
        self.clock = r
        before = [(n.state, n.held_by, n.next) for n in self.notices] if self.runs is not None else None
        self.release(r)
        failing = self.world.failing if self.world.outages else None
        emit = self.emit
        for n in self.notices:
            if n.state != "pending" or n.next > r:
                continue
            error = failing(n.customer_id, r) if failing else None
            due = n.next
            n.attempts += 1
            if error is None:
                n.state, n.sent, n.next, n.last_error = "sent", r, None, None
                if emit is not None:
                    emit(run_key(r, n.order, due), r, None, "notice.sent", n, {"state": "pending"},
                         {"state": "sent", "attempts": n.attempts})
            else:
                n.last_error = error
                if n.attempts >= MAX_ATTEMPTS:
                    n.state, n.next = "failed", None
                    if emit is not None:
                        emit(run_key(r, n.order, due), r, None, "notice.failed", n, {"state": "pending"},
                             {"state": "failed", "attempts": n.attempts, "error": error[:1000]})
                else:
                    n.next = r + backoff_seconds(n.attempts)
        if before is not None and before != [(n.state, n.held_by, n.next) for n in self.notices]:
            self.runs.add(r)
