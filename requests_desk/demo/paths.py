"""The paths a case takes, drawn for the planner: its workflow (review, scope, approval,
production, preservation, redirection …) its gag orders and counsel's release of the notices."""
from __future__ import annotations

import math
import random
from datetime import timedelta

from ..rules import tier_within
from ..services.notice_release import EXPLICIT_ONLY
from .cases import Fate
from .clock import DAY, HOUR, at, day, midnight, seconds
from .shares import (
    BEYOND_TIER_REASON,
    GAG_LIFT_REASONS,
    NS_BASIS,
    NS_RELEASE_REASON,
    OTHER_BASIS,
    REDIRECT_NOTES,
    REJECT_REASONS,
    REVIEW_REASONS,
    gag_reference,
)
from .world import RuleInfo, World

# (delay in seconds, action, actor, body)
MainStep = tuple[int, str, str, dict]

# The four emergency checks before an emergency's first scope (SPEC §9), a minute apart
# (no draw: the rest of the demo is drawn as before): intake calls back and reads the
# headers and the registers, counsel weighs the facts.
CHECK_STEPS = (
    ("callback", "intake", "Called the agency back on its published switchboard number; the officer confirmed "
                           "the request."),
    ("sender", "intake", "The e-mail came from the agency's own domain; its headers pass SPF and DKIM."),
    ("authority", "intake", "The officer is listed by the agency; the agency is in the directory of police forces."),
    ("justification", "counsel", "The facts describe an imminent danger to life."),
)


def check_steps(counsel: str) -> list[MainStep]:
    return [(60, "checks", counsel if actor == "counsel" else actor, {"check": code, "note": note})
            for code, actor, note in CHECK_STEPS]


def _subset(rng: random.Random, items: list[dict]) -> list[dict]:
    if len(items) == 1:
        return [dict(items[0])]
    chosen = [dict(i) for i in items if rng.random() < 0.75]
    return chosen or [dict(items[0])]


def _narrow(rng: random.Random, items: list[dict], p: float) -> list[dict]:
    """Copies of the items, some with a narrower date range (still inside)."""
    out = []
    for item in items:
        item = dict(item)
        span = (item["to"] - item["from"]).days
        if span > 4 and rng.random() < p:
            item["from"] = item["from"] + timedelta(days=int(rng.random() * span / 3))
            item["to"] = item["to"] - timedelta(days=int(rng.random() * span / 3))
        out.append(item)
    return out


def main_path(world: World, rng: random.Random, fate: Fate, rule: RuleInfo, ptype: str, emergency: bool,
              enterprise: bool, requested: list[dict], legal_reference: str, logger: str, counsel: str,
              speed: float) -> list[MainStep]:
    """The workflow's steps as (delay in seconds, action, actor, body)."""
    rand = rng.random
    end = fate.end
    main: list[MainStep] = []

    def hours(lo: float, hi: float) -> int:
        return max(60, int(lo * math.exp(rand() * math.log(hi / lo)) * HOUR * speed))

    if end == "received":
        return main
    if rule.preservation:
        if end == "withdrawn" or (end is None and rand() < 0.03):
            main.append((hours(2, 200), "withdraw", logger, {"note": "The requester withdrew the request."}))
            return main
        main.append((hours(1, 24), "start-review", counsel, {}))
        if end == "in_review":
            return main
        r = rand()
        if end == "rejected" or (end is None and r < 0.03):
            main.append((hours(2, 72), "reject", counsel, {"reason": REJECT_REASONS[int(rand() * 5)]}))
        elif end is None and r < 0.06:
            main.append((hours(2, 200), "withdraw", "intake", {}))
        else:
            items = requested if rand() < 0.8 else requested[: max(1, len(requested) // 2)]
            main.append((hours(1, 48), "preserve", counsel, {"items": [dict(i) for i in items]}))
        return main

    exempt = emergency or ptype == "national_security"
    redirect = end in ("redirected", "redirecting") or (
        end not in ("received",) and enterprise and not exempt and rand() < 0.65)
    if redirect and enterprise and not exempt:
        actor = "intake" if rand() < 0.7 else counsel
        main.append((hours(1, 48), "attempt-redirect", actor, {"note": REDIRECT_NOTES[int(rand() * 2)]}))
        if end == "redirecting":
            return main
        r = rand()
        if end == "redirected" or (end is None and r < 0.55):
            main.append((hours(72, 720), "redirected", actor,
                         {"note": "The requester confirmed it obtained the data from the customer."}))
            return main
        if end == "withdrawn" or (end is None and r < 0.62):
            main.append((hours(48, 480), "withdraw", "intake", {}))
            return main
        main.append((hours(48, 480), "requester-insists", actor,
                     {"note": "The requester will not approach the customer."}))
    else:
        body = {"reason": REVIEW_REASONS[int(rand() * 2)]} if (enterprise and not exempt) else {}
        main.append((hours(2, 96), "start-review", counsel, body))
    if end == "in_review":
        return main
    basis = NS_BASIS if ptype == "national_security" else (OTHER_BASIS if ptype == "other" else None)
    if basis:
        candidates = [dict(i, basis=basis) for i in requested]
    else:
        tiers = world.tiers
        candidates = [dict(i) for i in requested if tier_within(tiers[i["data_set"]], rule.max_tier)]
    r = rand()
    if not candidates:
        main.append((hours(24, 240), "reject", counsel, {"reason": BEYOND_TIER_REASON}))
        return main
    if end == "rejected" or (end is None and r < 0.2):
        main.append((hours(24, 240), "reject", counsel, {"reason": REJECT_REASONS[int(rand() * 5)]}))
        return main
    if end == "withdrawn" or (end is None and r < 0.23):
        main.append((hours(24, 240), "withdraw", "intake", {}))
        return main
    scope = _narrow(rng, candidates if end else _subset(rng, candidates), 0.35)
    if emergency:
        main += check_steps(counsel)
    main.append((hours(24, 240), "propose-scope", counsel, {"items": scope}))
    returned = fate.returned if fate.returned is not None else rand() < 0.1
    if returned:
        main.append((hours(2, 72), "return", "approver",
                     {"reason": "Narrow the date range to the period in the affidavit."}))
        scope = _narrow(rng, scope, 1.0)
        main.append((hours(24, 120), "propose-scope", counsel, {"items": scope}))
    if end == "scoped":
        return main
    main.append((hours(2, 72), "approve", "approver", {}))
    if end == "approved":
        return main
    if end == "no_data_found" or (end is None and rand() < 0.27):
        main.append((hours(24, 240), "no-data", counsel, {"note": "No data matched the approved scope."}))
        return main
    if end in ("content_disclosed", "non_content_disclosed"):
        content = [i for i in scope if world.tiers[i["data_set"]] == "content"]
        other = [i for i in scope if world.tiers[i["data_set"]] != "content"]
        produced = [dict(i) for i in (content[:1] + other if end == "content_disclosed" else other)]
    else:
        produced = _narrow(rng, _subset(rng, scope), 0.25)
    slug = legal_reference.lower()
    files = [{"name": f"{slug}-{k + 1}.zip", "sha256": f"{rng.getrandbits(256):064x}",
              "bytes": int(rand() * 800_000_000) + 20_000}
             for k in range(1 + int(rand() * 2.5))]
    main.append((hours(24, 336), "record-production", counsel, {"items": produced, "files": files}))
    return main


def gag_steps(now_s: int, rng: random.Random, fate: Fate, steps: list[tuple[int, str, str, dict]],
              payload: dict, ptype: str, country: str, logged_s: int, received_s: int, limit: int,
              counsel: str, issued_by: str) -> None:
    """Draw the case's gag, if any, ordered by the court ``issued_by``: with the log (in
    ``payload``) or set later, then perhaps extended or lifted (appended to ``steps`` as
    (time, action, actor, body))."""
    rand = rng.random
    kind = fate.gag
    if kind == "none":
        return
    if kind is None:
        if ptype == "national_security":
            p = 0.9
        elif payload["requester"]["type"] == "law_enforcement":
            p = 0.14 if country == "US" else 0.07
        else:
            p = 0.03
        if rand() >= p:
            return
    at_log = kind != "later" and (kind is not None or rand() < 0.75)
    set_s = logged_s if at_log else logged_s + max(300, min(int((1 + rand() * 19) * DAY),
                                                             (limit - logged_s) // 2))
    if set_s > limit:
        return
    issued_day = received_s // DAY - int(rand() * 3)
    age = limit - set_s
    lift_at = extend_at = None
    if kind in ("active", "later"):
        expires_s = seconds(midnight(max((issued_day + 365) * DAY, now_s + 60 * DAY)))
    elif kind == "no_end":
        expires_s = None
    elif kind == "expired":
        expires_s = seconds(midnight(set_s + age // 2 + DAY))
    elif kind == "lifted":
        expires_s = None
        lift_at = set_s + int(age * 0.6)
    elif kind == "extended":
        expires_s = seconds(midnight(set_s + age // 2 + DAY))
        extend_at = expires_s - DAY // 2
    else:
        if ptype == "national_security" and rand() < 0.7 or rand() < 0.15:
            expires_s = None
        else:
            expires_s = (issued_day + (90, 180, 365, 730)[min(3, int(rand() * rand() * 5))]) * DAY
            while expires_s <= set_s:
                expires_s += 180 * DAY
        r = rand()
        if r < 0.12 and expires_s is not None:  # extended before it ran out
            extend_at = expires_s - int((1 + rand() * 20) * DAY)
        elif r < 0.3:  # lifted by the court
            hi = min(expires_s if expires_s is not None else limit, limit) - DAY
            lo = set_s + 7 * DAY
            if hi > lo:
                lift_at = lo + int(rand() * (hi - lo))
    gag = {
        "order_ref": gag_reference(payload["legal_reference"], country, ptype),
        "issued_by": issued_by,
        "issued_at": day(issued_day),
        "expires_at": at(expires_s) if expires_s is not None else None,
    }
    if at_log:
        payload["gag"] = gag
    else:
        steps.append((set_s, "gag.set", counsel, gag))
    if extend_at is not None and set_s + 60 < extend_at <= limit:
        steps.append((extend_at, "gag.extend", counsel, {"expires_at": at(expires_s + 180 * DAY)}))
    elif lift_at is not None and set_s + 60 < lift_at <= limit:
        steps.append((lift_at, "gag.lift", counsel, {"reason": GAG_LIFT_REASONS[int(rand() * 2)]}))


def release_steps(rng, steps: list, main: list, ptype: str, emergency: bool, customers: list, logged_s: int,
                  close_s: int | None, limit: int, counsel: str, deferred: bool, speed: float = 1.0) -> None:
    """Counsel's explicit release of the notices (services.notice_release), where the
    main path's actions do not release them: an emergency not deferred is released
    right after logging; a case closed without review (redirected, withdrawn) is
    released a day or two later, one still open now and then early (a quick case's
    steps, ``speed`` < 1, minutes apart: its release too); a national-security case,
    now and then after it closed, with the reason the law requires. The rest waits,
    awaiting counsel."""
    if not customers:
        return
    rand = rng.random
    actions = [m[1] for m in main]
    if ptype in EXPLICIT_ONLY:
        if close_s is not None and rand() < 0.3:
            at_s = close_s + int((1 + rand() * 9) * DAY)
            if at_s <= limit:
                steps.append((at_s, "release-notices", counsel, {"reason": NS_RELEASE_REASON}))
        return
    if emergency:
        if not deferred:
            first = main[0][0] if main else 3600
            at_s = logged_s + max(1, min(60, first // 2))
            if at_s <= limit:
                steps.append((at_s, "release-notices", counsel, {}))
        return
    reviewed = any(a in ("start-review", "reject", "preserve") for a in actions)
    if reviewed:
        return
    if close_s is not None and rand() < 0.9:
        at_s = close_s + max(60, int((0.5 + rand() * 2) * DAY * speed))
    elif close_s is None and rand() < 0.5:  # counsel looked early and let the customer know
        at_s = logged_s + max(60, int((1 + rand() * 47) * HOUR * speed))
    else:
        return
    if at_s <= limit:
        steps.append((at_s, "release-notices", counsel, {}))
