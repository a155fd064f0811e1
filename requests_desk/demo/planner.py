"""What the demo contains: case specs drawn at random, seeded and deterministic, over the
last three years with realistic shares (countries, process types, outcomes, gags)."""
from __future__ import annotations

import math
import random
from datetime import datetime
from typing import Any, Iterator

from ..services.intake import default_due_at
from .cases import CLOSING, NO_FATE, CaseSpec, Fate, Step, showcase
from .clock import DAY, DISPATCH_EVERY, HOUR, YEARS, at, day, midnight, seconds
from .paths import gag_steps, main_path, release_steps
from .authorities import Jurisdiction, central_authority, gag_issuer, issuer, jurisdictions, law_firms
from .people import CONSUMER_DOMAINS, FIRST, LAST
from .shares import (
    ASKS,
    ASSIGN_REASONS,
    COUNTRIES,
    DEFER_REASON,
    EU,
    JUSTIFICATIONS,
    legal_reference_of,
    PROCESS_SHARES,
)
from .world import World

def _weighted(pairs) -> tuple[list, list[float]]:
    values = [p[0] for p in pairs]
    total, cum = 0.0, []
    for _, weight in pairs:
        total += weight
        cum.append(total)
    return values, cum


class CasePlanner:
    """Draws realistic case specs. Deterministic for a seed, a world and a ``now``."""

    CHUNK = 1000  # cases share one random stream per chunk of this many

    def __init__(self, world: World, now: datetime, seed: int = 1):
        self.world = world
        self.now = now.replace(microsecond=0)
        self.now_s = seconds(self.now)
        self.seed = seed
        self.countries = _weighted(COUNTRIES)
        self.processes = {g: _weighted(p) for g, p in PROCESS_SHARES.items()}
        self._requesters: dict[tuple[str, str], list[dict]] = {}
        self.user_email = {key: email for key, (_id, email) in world.users.items()}

    # ------------------------------------------------------------ times

    def logged_times(self, n: int) -> list[tuple[int, int]]:
        """(logged, received) epoch seconds for n demands over the last three years,
        growing over time, fewer at weekends; sorted by when they were logged."""
        rng = random.Random(self.seed * 1_000_003 + 17)
        span = YEARS * 365 * DAY
        start = self.now_s - span
        growth = math.log(1.6) / span
        scale = math.expm1(growth * span)
        out = []
        for _ in range(n):
            while True:
                received = start + math.log1p(rng.random() * scale) / growth
                weekday = (int(received) // DAY + 3) % 7  # 0 = Monday
                if weekday < 5 or rng.random() < 0.35:
                    break
            received = min(int(received), self.now_s - 30 * 60)
            logged = min(received + int(180 * math.exp(rng.random() * math.log(160))), self.now_s - 20 * 60)
            if logged % DISPATCH_EVERY == 0:
                logged += 1
            out.append((logged, received))
        out.sort()
        return out

    def fates(self, times: list[tuple[int, int]], fates) -> dict[int, Fate]:
        """``fates`` as a dict of case index → Fate: a function of the planner and the
        (logged, received) times (``cases.showcase``) is called, None is none."""
        return (fates(self, times) if callable(fates) else fates) or {}

    def generate(self, n: int, fates=None) -> Iterator[CaseSpec]:
        """n case specs in the order they were logged. ``fates`` maps case indexes to
        forced choices, or is a function of the (logged, received) times that does."""
        times = self.logged_times(n)
        fates = self.fates(times, fates)
        for chunk_no in range(-(-n // self.CHUNK)):
            yield from self.chunk(chunk_no, times, fates)

    def chunk(self, chunk_no: int, times: list[tuple[int, int]], fates: dict[int, Fate]) -> Iterator[CaseSpec]:
        """The specs of one chunk of cases: each chunk has a random stream of its own, so
        chunks can be drawn apart (in worker processes) and still give the same cases."""
        rng = random.Random(self.seed * 7_919 + chunk_no)
        for index in range(chunk_no * self.CHUNK, min(len(times), (chunk_no + 1) * self.CHUNK)):
            logged, received = times[index]
            yield self.plan(rng, index, received, logged, fates.get(index, NO_FATE))

    # ------------------------------------------------------------ drawing

    @staticmethod
    def _pick(rng, table):
        values, cum = table
        x = rng.random() * cum[-1]
        lo, hi = 0, len(cum) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if cum[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return values[lo]

    def requester(self, rng, country: str, ptype: str) -> tuple[dict, Jurisdiction]:
        """The requester (as intake takes it) and the jurisdiction its process comes from."""
        if ptype == "civil_subpoena":
            kind = "civil_litigant"
        elif ptype in ("mlat", "national_security"):
            kind = "government"
        elif ptype in ("court_order", "other") and rng.random() < 0.3:
            kind = "court"
        else:
            kind = "law_enforcement"
        key = (country, kind)
        pool = self._requesters.get(key)
        if pool is None:
            pool = self._requesters[key] = self._requester_pool(country, kind)
        requester, where = pool[int(rng.random() ** 1.6 * len(pool))]
        if where is None:  # a ministry or a law firm: the case is heard in one of the country's jurisdictions
            places = self._jurisdictions(country)
            where = places[int(rng.random() * len(places))]
        return requester, where

    @staticmethod
    def _country_name(country: str) -> str:
        """"Australia", "Republic of Korea" (as a ministry's name reads, not "Korea, Republic of")."""
        import pycountry

        found = pycountry.countries.get(alpha_2=country)
        if getattr(found, "common_name", None):
            return found.common_name
        return found.official_name if "," in found.name and getattr(found, "official_name", None) else found.name

    def _jurisdictions(self, country: str) -> tuple[Jurisdiction, ...]:
        return jurisdictions(country, self._country_name(country))

    def _requester_pool(self, country: str, kind: str) -> list[tuple[dict, Jurisdiction | None]]:
        """The people of one country and kind who send demands, each with the jurisdiction
        their process comes from (None: the case picks one of the country's)."""
        rng = random.Random(f"requesters:{country}:{kind}")
        places = self._jurisdictions(country)
        name = self._country_name(country)
        tld = country.lower()
        senders: list[tuple[str, str, Jurisdiction | None]]
        if kind == "civil_litigant":
            senders = [(firm, domain, None) for firm, domain in law_firms(country)]
        elif kind == "court":
            senders = [(court, f"court{i}.example.{tld}" if country != "US" else f"court{i}.example.gov", j)
                       for j in places for i, court in enumerate(j.courts)]
        elif kind == "government":
            senders = [central_authority(country, name) + (None,)]
        else:
            senders = [(agency, domain, j) for j in places for agency, domain in j.agencies]
        pool = []
        seen: set[tuple] = set()
        for agency, domain, where in senders:
            for _ in range(rng.randint(4, 12)):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                person = {
                    "agency": agency,
                    "name": f"{first.title()} {last.title()}",
                    "email": f"{first}.{last}@{domain}",
                    "phone": f"+{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
                    if rng.random() < 0.7 else None,
                    "type": kind,
                }
                # One requester per (agency, name, email, type), as intake would find them.
                identity = (agency, person["name"], person["email"], kind)
                if identity not in seen:
                    seen.add(identity)
                    pool.append((person, where))
        return pool

    def targets(self, rng, ptype: str) -> list[str]:
        w = self.world
        rand = rng.random
        r = rand()
        count = 1 if r < 0.72 else (2 if r < 0.93 else 3)
        out: list[str] = []
        while len(out) < count:
            r = rand()
            if ptype == "emergency":
                r = 0.5 + r / 2  # emergencies concern people: mostly consumer accounts
            if r < 0.2 and w.enterprise_pool:
                ident = w.enterprise_pool[int(rand() * len(w.enterprise_pool))]
            elif r < 0.215 and w.mapped_pool:
                ident = w.mapped_pool[int(rand() * len(w.mapped_pool))]
            elif r < 0.26 and w.small_pool:
                ident = w.small_pool[int(rand() * len(w.small_pool))]
            elif r < 0.29:
                ident = (f"+{int(rand() * 98) + 1} {int(rand() * 900) + 100} {int(rand() * 900) + 100} "
                         f"{int(rand() * 9000) + 1000}")
            else:
                ident = (f"{FIRST[int(rand() * len(FIRST))]}.{LAST[int(rand() * len(LAST))]}"
                         f"{int(rand() * 999) + 1}@{CONSUMER_DOMAINS[int(rand() * 4)]}")
            if ident not in out:
                out.append(ident)
        return out

    # ------------------------------------------------------------ one case

    def plan(self, rng: random.Random, index: int, received_s: int, logged_s: int,
             fate: Fate = NO_FATE) -> CaseSpec:
        w, now_s = self.world, self.now_s
        rand = rng.random
        end = fate.end
        ptype = fate.process_type or {"preserved": "preservation",
                                      "content_disclosed": "search_warrant"}.get(end)
        country = fate.country or self._pick(rng, self.countries)
        if ptype is None:
            group = "US" if country == "US" else ("EU" if country in EU else "other")
            ptype = self._pick(rng, self.processes[group])
        elif ptype.startswith("eu_") and country not in EU:
            country = "DE"
        elif ptype == "national_security" and country != "US":  # the FISC orders it, for the U.S.
            country = "US"
        elif ptype == "mlat" and country == "US":  # assistance is asked of the U.S. by other countries
            country = "CA"
        if end is not None and fate.process_type is None:
            discloses = end in ("scoped", "approved", "no_data_found", "content_disclosed",
                                "non_content_disclosed", "redirected", "redirecting")
            if discloses and (w.rules[ptype].preservation or ptype == "national_security"):
                ptype = "subpoena"
            # An emergency is never redirected (and intake makes every emergency request one).
            if end in ("redirected", "redirecting") and ptype == "emergency":
                ptype = "subpoena"
        rule = w.rules[ptype]
        if fate.emergency is None and end in ("redirected", "redirecting"):
            emergency = False
        elif fate.emergency is not None:
            emergency = fate.emergency or ptype == "emergency"
        else:
            emergency = ptype == "emergency" or (
                not rule.preservation and ptype not in ("national_security", "civil_subpoena", "other")
                and rand() < 0.015)
        received = at(received_s)
        targets = self.targets(rng, ptype)
        forced = fate.customer or ("Contoso Ltd" if end in ("redirected", "redirecting") else None)
        if forced:
            pool = w.pools[forced]
            first = pool[int(rand() * len(pool))]
            targets = [first] + [t for t in targets if t != first][:1]
        customers: list[int] = []
        enterprise = False
        for t in targets:
            c = w.resolution.get(t)
            if c is not None:
                enterprise = enterprise or c[1]
                if c[0] not in customers:
                    customers.append(c[0])
        # Requested items: one period per demand (now and then one per target).
        requested = []
        asks = ASKS[ptype]
        to_day = received_s // DAY - int(rand() * 20)
        from_day = to_day - int(14 * math.exp(rand() * 3.7))
        period = (day(from_day), day(to_day))
        for k, t in enumerate(targets):
            if rand() < 0.25:
                to2 = to_day - int(rand() * 60)
                d_from, d_to = day(to2 - int(14 * math.exp(rand() * 3.7))), day(to2)
            else:
                d_from, d_to = period
            chosen = [ds for ds, p in asks if rand() < p] or [asks[0][0]]
            if k == 0 and end == "content_disclosed" and "email_content" not in chosen:
                chosen.append("email_content")
            if k == 0 and end == "non_content_disclosed" and "subscriber_info" not in chosen:
                chosen.insert(0, "subscriber_info")
            for ds in chosen:
                requested.append({"target": t, "data_set": ds, "from": d_from, "to": d_to})
        legal_reference = legal_reference_of(ptype, country).format(year=received.year, cc=country,
                                                                    n=int(rand() * 99999) + 1)
        requester, jurisdiction = self.requester(rng, country, ptype)
        issued_by = issuer(rng, ptype, jurisdiction, requester["agency"])
        payload: dict[str, Any] = {
            "requester": requester,
            "country": country,
            "process_type": ptype,
            "legal_reference": legal_reference,
            "issuing_authority": issued_by,
            "received_at": received,
            "channel": "email" if rand() < 0.6 else ("portal" if rand() < 0.6 else "post"),
            "emergency": emergency,
            "targets": targets,
            "requested": requested,
        }
        if emergency:
            payload["justification"] = JUSTIFICATIONS[int(rand() * len(JUSTIFICATIONS))]

        logger = "intake" if rand() < 0.85 else "counsel"
        counsel = "counsel2" if (ptype.startswith("eu_") or rand() < 0.35) else "counsel"
        secret = ptype == "national_security"
        if secret:  # only cleared staff (Ian, Cora) know of a national-security demand
            counsel = "counsel"
        if fate.quick:
            speed = 1 / 400
        else:
            speed = 1 / 12 if emergency else (0.5 if ptype == "eu_production_order" else 1.0)
        main = main_path(w, rng, fate, rule, ptype, emergency, enterprise, requested, legal_reference, logger,
                         counsel, speed)
        if main and not fate.quick and end is None and rand() < 0.05:  # a stuck case waits long
            k = int(rand() * len(main))
            main[k] = (main[k][0] * (15 + int(rand() * 60)),) + main[k][1:]
        if end is not None and main:  # a forced end is reached before now
            total, room = sum(m[0] for m in main), (now_s - 300 - logged_s) * 0.8
            if total > room:
                main = [(max(30, int(m[0] * room / total)),) + m[1:] for m in main]

        limit = now_s - 120
        steps: list[tuple[int, str, str, dict]] = [(logged_s, "log", logger, payload)]
        t = logged_s
        closes = bool(main) and main[-1][1] in CLOSING
        close_s = None
        action_times: dict[str, int] = {}
        for delay, action, actor, body in main:
            t += delay
            if t > limit:
                closes = False
                break
            steps.append((t, action, actor, body))
            action_times[action] = t
        if closes:
            close_s = t
        open_until = close_s if close_s is not None else limit  # open (for side actions) until

        # Assignment (now and then a reassignment) while the demand is open.
        assign = fate.assign if fate.assign is not None else rand() < 0.8
        if assign:
            at_s = logged_s + max(60, int(0.2 * HOUR * math.exp(rand() * 4.8) * (speed if fate.quick else 1)))
            if at_s < open_until - 60:
                actor = "admin" if rand() < 0.5 and not secret else counsel
                steps.append((at_s, "assign", actor, {"assignee": self.user_email[counsel],
                                                      "reason": ASSIGN_REASONS[int(rand() * 3)]}))
                reassign = fate.reassign if fate.reassign is not None else rand() < 0.05
                if reassign and open_until - at_s > 180 and not secret:
                    other = "counsel" if counsel == "counsel2" else "counsel2"
                    at2 = at_s + 60 + int(rand() * (open_until - at_s - 120))
                    steps.append((at2, "assign", "admin", {"assignee": self.user_email[other],
                                                           "reason": "Reassigned while on leave."}))
        # A deadline moved by agreement.
        due_s = seconds(default_due_at(rule, received, emergency))
        set_due = fate.set_due if fate.set_due is not None else rand() < 0.07
        if set_due and open_until - logged_s > 180:
            at_s = logged_s + 60 + int(rand() * (open_until - logged_s - 120))
            new_due = max(due_s, at_s) + int(7 + rand() * 21) * DAY
            steps.append((at_s, "set-due", counsel, {"due_at": at(new_due),
                                                     "reason": "The requester agreed to a later date."}))
        # Preservation holds: now and then extended once, shortly before they lapse.
        if "preserve" in action_times and rule.hold_days:
            preserved = action_times["preserve"]
            ends = preserved + rule.hold_days * DAY
            at_s = ends - int(2 * DAY * math.exp(rand() * 2.4))
            extend = fate.extend_hold if fate.extend_hold is not None else rand() < 0.35
            if extend and preserved + 60 < at_s <= limit:
                steps.append((at_s, "extend-preservation", counsel, {}))
        # Gags (non-disclosure orders).
        gag_steps(now_s, rng, fate, steps, payload, ptype, country, logged_s, received_s, limit, counsel,
                  gag_issuer(issued_by, jurisdiction))
        # Emergency demands: counsel may defer the customer's notices for a while.
        defer = fate.defer if fate.defer is not None else rand() < 0.4
        if emergency and customers and defer:
            at_s = logged_s + 30 + int(rand() * 200)
            if at_s <= limit:
                until = midnight(at_s + int(30 + rand() * 90) * DAY)
                steps.append((at_s, "defer-notices", counsel, {"until": until, "reason": DEFER_REASON}))

        release_steps(rng, steps, main, ptype, emergency, customers, logged_s, close_s, limit, counsel,
                      any(s[1] == "defer-notices" for s in steps), speed if fate.quick else 1.0)

        steps.sort(key=lambda s: s[0])
        out, last = [], None
        for at_s, action, actor, body in steps:
            if last is not None and at_s <= last:
                at_s = last + 1
            if at_s % DISPATCH_EVERY == 0:  # a step never coincides with a dispatcher run
                at_s += 1
            last = at_s
            out.append(Step(at(at_s), action, actor, body))
        return CaseSpec(index, out)


def generate_cases(world: World, n: int, seed: int, now: datetime, fates=showcase) -> Iterator[CaseSpec]:
    """n case specs (``CasePlanner.generate``), the showcase's fates forced by default."""
    return CasePlanner(world, now, seed).generate(n, fates)
