"""Demo data: a living desk, from a few demands to a million.

Everything starts from **case specs**: a ``CaseSpec`` says what happened to one demand,
step by step, each step with its time, its actor and the body the API would take
(log it; assign; redirect; review; scope; approve; produce; set, extend or lift a gag;
defer notices …). ``generate_cases`` draws them, seeded and deterministic, over the
last three years with realistic shares (countries, process types, outcomes, gags).

Two loaders take the same specs:

* ``load_through_services`` — one step at a time through the real services
  (``log_demand``, ``workflow.apply_action``, the gag services) and the real notice
  dispatcher, in time order, committing after each step like the views do. It is
  the reference, and the tests use it.
* ``BulkLoader`` — replays each spec in memory with ``CaseReplay`` (a mirror of what
  the services do to the rows, the audit log and the notices), then writes all rows
  with ``executemany`` (SQLite) or ``COPY`` (PostgreSQL). For ``desk demo`` the specs
  are drawn and replayed in a forked worker process, chunk by chunk, while the main
  process chains the audit log (one hash chain, in time order across all demands)
  and writes; each commit leaves a consistent desk.

``tests/test_demo.py`` loads one list of specs both ways into two fresh databases and
compares the tables row by row, so the mirror cannot drift from the services unseen.

Notices follow SPEC §4 through a modelled dispatcher that ran every 15 minutes up to
now: held while a gag or deferral is in force, released (as delayed notices) at the
first run after a gag ends, sent on the first run after they fall due; one customer's
mail server has been refusing mail for the last days, so its notices are pending with
back-off or, after the last attempt, failed.
"""
from __future__ import annotations

import hashlib
import heapq
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from json.encoder import encode_basestring_ascii
from typing import Any, Callable, Iterable, Iterator, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .services.history import ALWAYS_AUDITED, SUBJECT_OF

UTC = timezone.utc
DAY = 86400
HOUR = 3600
DISPATCH_EVERY = 900  # the modelled dispatcher runs every 15 minutes
YEARS = 3


# ---------------------------------------------------------------- demo logins


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    roles: tuple[str, ...]
    name: str
    customer: str | None = None


STAFF_LOGINS = (
    DemoLogin("admin@desk.example", "demo-admin-pass", ("admin",), "Ada Admin"),
    DemoLogin("intake@desk.example", "demo-intake-pass", ("intake",), "Ian Intake"),
    DemoLogin("counsel@desk.example", "demo-counsel-pass", ("counsel",), "Cora Counsel"),
    DemoLogin("counsel2@desk.example", "demo-counsel2-pass", ("counsel",), "Carl Counsel"),
    DemoLogin("approver@desk.example", "demo-approver-pass", ("approver",), "Avery Approver"),
)
CUSTOMER_PASSWORD = "demo-customer-pass"
# Keys the case specs use for the staff users.
USER_KEYS = {"admin": 0, "intake": 1, "counsel": 2, "counsel2": 3, "approver": 4}


@dataclass(frozen=True)
class CustomerSpec:
    name: str
    enterprise: bool
    domains: tuple[str, ...]
    contacts: tuple[tuple[str, str], ...]
    accounts: tuple[str, ...] = ()
    weight: float = 1.0  # share of the targets that fall on this customer


CUSTOMERS = (
    CustomerSpec("Contoso Ltd", True, ("contoso.example", "contoso-labs.example"),
                 (("Contoso Privacy Office", "privacy@contoso.example"),
                  ("Contoso General Counsel", "legal@contoso.example")),
                 ("tenant:contoso-7781",), 3.0),
    # Fabrikam runs Northwind's help desk: the account mapping wins over Northwind's domain.
    CustomerSpec("Fabrikam Inc", True, ("fabrikam.example",),
                 (("Fabrikam Legal", "legal@fabrikam.example"),),
                 ("helpdesk@northwindtraders.example",), 2.0),
    CustomerSpec("Northwind Traders", True, ("northwindtraders.example",),
                 (("Northwind Compliance", "compliance@northwindtraders.example"),), (), 1.5),
    # Litware's mail server has been refusing the desk's mail for the last days.
    CustomerSpec("Litware Bank", True, ("litware.example",),
                 (("Litware Legal Department", "legal@litware.example"),), (), 1.0),
    CustomerSpec("Woodgrove Health", True, ("woodgrove.example",),
                 (("Woodgrove Data Protection Officer", "dpo@woodgrove.example"),), (), 1.0),
    CustomerSpec("Wide World Importers", True, ("wideworldimporters.example",),
                 (("WWI Legal", "legal@wideworldimporters.example"),),
                 ("wwi.buyer@webmail.example", "+1 206 555 0142"), 1.0),
    CustomerSpec("Blue Yonder Bakery", False, ("blueyonderbakery.example",),
                 (("Blue Yonder Bakery", "owner@blueyonderbakery.example"),), (), 0.4),
    CustomerSpec("Proseware Studio", False, ("proseware.example",),
                 (("Proseware office", "office@proseware.example"),), (), 0.4),
    CustomerSpec("Lamna Photography", False, ("lamna.example",),
                 (("Lamna Photography", "hello@lamna.example"),), (), 0.3),
)
OUTAGE_CUSTOMER = "Litware Bank"
OUTAGE_DAYS = 3


def customer_login(spec: CustomerSpec) -> DemoLogin:
    return DemoLogin(f"portal@{spec.domains[0]}", CUSTOMER_PASSWORD, ("customer",),
                     f"{spec.name} legal team", spec.name)


def demo_logins() -> list[DemoLogin]:
    return list(STAFF_LOGINS) + [customer_login(c) for c in CUSTOMERS if c.enterprise]


def refusal_text(contacts: Iterable[str]) -> str:
    """What the mailer records when a server refuses every recipient (550)."""
    return "every recipient was refused: " + "; ".join(
        f"{email} (550 5.1.1 Mailbox unavailable)" for email in contacts)


# ---------------------------------------------------------------- names and places

FIRST = ("james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "william",
         "elizabeth", "david", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah",
         "charles", "karen", "lena", "jonas", "emma", "lukas", "mia", "paul", "hannah", "oliver",
         "amelia", "harry", "isla", "louis", "chloe", "hugo", "lea", "arjun", "priya", "rafael",
         "camila", "kenji", "yuki", "sofia", "mateo", "noah", "zoe", "felix", "clara", "omar", "nina")
LAST = ("smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
        "martinez", "hernandez", "lopez", "wilson", "anderson", "taylor", "thomas", "moore",
        "jackson", "martin", "lee", "mueller", "schmidt", "schneider", "fischer", "weber", "meyer",
        "wagner", "becker", "evans", "walker", "wright", "roberts", "dubois", "bernard", "moreau",
        "laurent", "sharma", "patel", "silva", "santos", "tanaka", "sato", "rossi", "russo",
        "kowalski", "nowak", "jansen", "devries", "okafor", "novak")
CONSUMER_DOMAINS = ("mailbox.example", "webmail.example", "inbox.example", "freemail.example")

# Share of demands by requesting country (ISO 3166-1 alpha-2).
COUNTRIES = (
    ("US", 38.0), ("DE", 11.0), ("GB", 9.0), ("FR", 8.0), ("IN", 3.4), ("BR", 3.0), ("CA", 2.6),
    ("AU", 2.4), ("ES", 2.4), ("IT", 2.3), ("NL", 2.0), ("PL", 1.6), ("JP", 1.4), ("MX", 1.2),
    ("BE", 1.0), ("AR", 0.9), ("SE", 0.9), ("AT", 0.8), ("IE", 0.8), ("CH", 0.8), ("SG", 0.7),
    ("KR", 0.7), ("TR", 0.7), ("PT", 0.6), ("DK", 0.5),
)
EU = frozenset(("DE", "FR", "ES", "IT", "NL", "PL", "BE", "SE", "AT", "IE", "PT", "DK"))
PROCESS_SHARES = {
    "US": (("search_warrant", 29), ("subpoena", 33), ("court_order", 12), ("preservation", 12),
           ("emergency", 6), ("civil_subpoena", 3), ("national_security", 3), ("other", 2)),
    "EU": (("search_warrant", 27), ("subpoena", 22), ("court_order", 11), ("preservation", 7),
           ("emergency", 5), ("eu_production_order", 14), ("eu_preservation_order", 6), ("mlat", 4),
           ("civil_subpoena", 2), ("other", 2)),
    "other": (("search_warrant", 30), ("subpoena", 28), ("court_order", 12), ("preservation", 8),
              ("emergency", 6), ("mlat", 10), ("civil_subpoena", 3), ("other", 3)),
}
# Which data sets a process type tends to ask for (probability each is asked for).
ASKS = {
    "subpoena": (("subscriber_info", 0.9), ("billing_records", 0.5), ("sign_in_logs", 0.25)),
    "court_order": (("subscriber_info", 0.7), ("sign_in_logs", 0.8), ("message_metadata", 0.6),
                    ("email_content", 0.1)),
    "search_warrant": (("subscriber_info", 0.5), ("sign_in_logs", 0.4), ("email_content", 0.75),
                       ("stored_files", 0.3), ("chat_messages", 0.3), ("contacts_calendar", 0.15)),
    "emergency": (("subscriber_info", 0.8), ("sign_in_logs", 0.7), ("email_content", 0.3),
                  ("chat_messages", 0.2)),
    "preservation": (("subscriber_info", 0.5), ("sign_in_logs", 0.5), ("email_content", 0.7),
                     ("stored_files", 0.4)),
    "civil_subpoena": (("subscriber_info", 0.8), ("billing_records", 0.4), ("message_metadata", 0.2),
                       ("email_content", 0.15)),
    "mlat": (("subscriber_info", 0.7), ("sign_in_logs", 0.5), ("email_content", 0.5),
             ("stored_files", 0.2)),
    "eu_production_order": (("subscriber_info", 0.7), ("sign_in_logs", 0.6), ("email_content", 0.4),
                            ("chat_messages", 0.2)),
    "eu_preservation_order": (("subscriber_info", 0.5), ("email_content", 0.6), ("stored_files", 0.4)),
    "national_security": (("subscriber_info", 0.8), ("message_metadata", 0.6), ("sign_in_logs", 0.5),
                          ("email_content", 0.2)),
    "other": (("subscriber_info", 0.7), ("sign_in_logs", 0.4), ("billing_records", 0.2)),
}
REFERENCE_FORMAT = {
    "search_warrant": "SW-{year}-{n:05d}", "subpoena": "GJ-{year}-{n:05d}",
    "court_order": "2703D-{year}-{n:04d}", "preservation": "PRES-{year}-{n:05d}",
    "emergency": "EDR-{year}-{n:05d}", "civil_subpoena": "CV-{year}-{n:05d}",
    "mlat": "MLAT-{cc}-{year}-{n:04d}", "eu_production_order": "EPOC-{cc}-{year}-{n:05d}",
    "eu_preservation_order": "EPOC-PR-{cc}-{year}-{n:05d}", "national_security": "NSL-{year}-{n:05d}",
    "other": "REQ-{year}-{n:05d}",
}
AGENCIES = {
    "US": (("Federal Bureau of Investigation", "fbi.example.gov"),
           ("New York City Police Department", "nypd.example.gov"),
           ("Los Angeles Police Department", "lapd.example.gov"),
           ("U.S. Secret Service", "usss.example.gov"),
           ("Homeland Security Investigations", "hsi.example.gov"),
           ("Cook County Sheriff's Office", "cookcountysheriff.example.gov"),
           ("Texas Department of Public Safety", "dps.texas.example.gov")),
    "DE": (("Bundeskriminalamt", "bka.example.de"), ("Landeskriminalamt Berlin", "lka-berlin.example.de"),
           ("Staatsanwaltschaft München I", "sta-muenchen.example.de"),
           ("Polizeipräsidium Frankfurt am Main", "polizei-ffm.example.de")),
    "GB": (("Metropolitan Police Service", "met.example.uk"), ("National Crime Agency", "nca.example.uk"),
           ("Greater Manchester Police", "gmp.example.uk"), ("Police Scotland", "scotland-police.example.uk")),
    "FR": (("Police nationale — OFAC", "ofac.example.fr"), ("Gendarmerie nationale", "gendarmerie.example.fr"),
           ("Parquet de Paris", "parquet-paris.example.fr")),
}
COURTS = {
    "US": ("U.S. District Court, S.D.N.Y.", "U.S. District Court, C.D. Cal.", "U.S. District Court, N.D. Ill.",
           "Superior Court of California, Los Angeles", "U.S. District Court, D.D.C."),
    "DE": ("Amtsgericht Tiergarten", "Amtsgericht München", "Landgericht Frankfurt am Main"),
    "GB": ("Westminster Magistrates' Court", "Crown Court at Southwark", "Sheriff Court, Glasgow"),
    "FR": ("Tribunal judiciaire de Paris", "Tribunal judiciaire de Lyon"),
}
LAW_FIRMS = (("Baker Lane LLP", "bakerlane.example"), ("Whitfield & Partners", "whitfield.example"),
             ("Okafor Legal", "okaforlegal.example"), ("Marin Abogados", "marinabogados.example"),
             ("Hoffmann Rechtsanwälte", "hoffmann-law.example"))
REJECT_REASONS = (
    "The legal process is defective: it is not signed by the issuing judge.",
    "The order does not identify the accounts with enough particularity.",
    "The process was issued outside the requester's jurisdiction; use the MLAT channel.",
    "The request is overbroad; counsel asked the requester to narrow it and it did not.",
    "The date range predates our retention period.",
)
BEYOND_TIER_REASON = "The legal process cannot compel any of the data requested."
REDIRECT_NOTES = (
    "Told the requester by e-mail that the customer administers these accounts and gave the "
    "customer's legal contact.",
    "Explained on the phone that the data belongs to the enterprise customer; sent the customer's "
    "contact for legal process.",
)
REVIEW_REASONS = (
    "The customer's administrators are the subject of the investigation; redirecting would compromise it.",
    "The requester showed that the customer could not be approached without tipping off the suspect.",
)
GAG_LIFT_REASONS = ("The court lifted the order on the requester's motion.",
                    "The order was vacated on appeal.")
ASSIGN_REASONS = ("New case.", "Workload balance.", "Specialist for this kind of process.")
NS_BASIS = "Reviewed under 50 U.S.C. 1881a; the directive reaches these records."
OTHER_BASIS = "Counsel found a valid legal basis for these records under local law."
JUSTIFICATIONS = (
    "Credible threat to life: the account holder posted a suicide note.",
    "Kidnapping in progress; the account was used to send ransom demands.",
    "Imminent threat of violence against a school named in the messages.",
)


# ---------------------------------------------------------------- the world


@dataclass(frozen=True)
class RuleInfo:
    code: str
    max_tier: str | None
    discloses: bool
    preservation: bool
    due_hours: int
    emergency_due_hours: int
    hold_days: int | None
    hold_extension_days: int | None


@dataclass
class World:
    """Who and what the cases refer to: users, customers, their accounts, rules."""

    users: dict[str, tuple[int, str]]  # key → (id, email)
    customers: dict[str, tuple[int, bool]]  # name → (id, enterprise)
    contacts: dict[int, list[str]]  # customer id → contact e-mails (in id order)
    resolution: dict[str, tuple[int, bool]]  # identifier → (customer id, enterprise)
    pools: dict[str, list[str]]  # customer name → identifiers of its accounts
    enterprise_pool: list[str]  # a customer's weight is its share of this pool
    small_pool: list[str]
    mapped_pool: list[str]
    rules: dict[str, RuleInfo]
    tiers: dict[str, str]
    # customer id → [(start, end or None, error)]: the customer's mail server refuses mail
    outages: dict[int, list[tuple[datetime | None, datetime | None, str]]] = field(default_factory=dict)

    def failing(self, customer_id: int, at: int) -> str | None:
        """The error a delivery to this customer meets at ``at`` (epoch seconds), if any."""
        for start, end, error in self.outages.get(customer_id, ()):
            if (start is None or start.timestamp() <= at) and (end is None or at < end.timestamp()):
                return error
        return None


def create_world(session: Session, now: datetime, *, outage: bool = True) -> World:
    """Create the demo's customers and users through the services (audited), then
    return the world the case specs draw from."""
    from .services.customers import create_customer
    from .services.users import create_user

    ids: dict[str, int] = {}
    for spec in CUSTOMERS:
        customer = create_customer(session, None, {
            "name": spec.name, "enterprise": spec.enterprise, "domains": list(spec.domains),
            "accounts": list(spec.accounts),
            "contacts": [{"name": n, "email": e} for n, e in spec.contacts],
        })
        ids[spec.name] = customer.id
    for login in STAFF_LOGINS:
        create_user(session, None, login.email, list(login.roles), password=login.password, name=login.name)
    for spec in CUSTOMERS:
        if spec.enterprise:
            login = customer_login(spec)
            create_user(session, None, login.email, ["customer"], customer_id=ids[spec.name],
                        password=login.password, name=login.name)
    session.flush()
    return load_world(session, now, outage=outage)


def demo_present(session: Session) -> bool:
    from .models import User

    return session.scalar(select(User.id).where(User.email == STAFF_LOGINS[0].email)) is not None


def load_world(session: Session, now: datetime, *, outage: bool = True) -> World:
    """The world of a desk that has the demo's customers and users."""
    from .errors import NotFound
    from .models import Customer, CustomerContact, User
    from .rules import data_sets, process_rules
    from .services.customers import resolve_targets

    users = {}
    for key, index in USER_KEYS.items():
        email = STAFF_LOGINS[index].email
        user_id = session.scalar(select(User.id).where(User.email == email))
        if user_id is None:
            raise NotFound(f"The demo user {email} is missing; load the demo into an empty desk.")
        users[key] = (user_id, email)
    customers = {c.name: (c.id, c.enterprise) for c in session.scalars(select(Customer))}
    contacts: dict[int, list[str]] = {}
    for contact in session.scalars(select(CustomerContact).order_by(CustomerContact.id)):
        contacts.setdefault(contact.customer_id, []).append(contact.email)

    enterprise_pool, small_pool, mapped_pool = [], [], []
    pools: dict[str, list[str]] = {}
    for spec in CUSTOMERS:
        rng = random.Random(f"pool:{spec.name}")
        size = int(25 * spec.weight) + 5
        people = sorted({f"{rng.choice(FIRST)}.{rng.choice(LAST)}@{rng.choice(spec.domains)}"
                         for _ in range(size)})
        pools[spec.name] = people
        if spec.enterprise:
            enterprise_pool.extend(people)
        else:
            small_pool.extend(people)
        mapped_pool.extend(spec.accounts)
    pool = enterprise_pool + small_pool + mapped_pool
    resolved = resolve_targets(session, pool)
    resolution = {ident: (c.id, c.enterprise) for ident, c in resolved.items() if c is not None}
    # The consumer identifiers the specs invent must stay unresolved.
    probes = [f"probe@{d}" for d in CONSUMER_DOMAINS]
    owned = [p for p, c in resolve_targets(session, probes).items() if c is not None]
    if owned:
        raise ValueError(f"a customer owns the demo's consumer domain of {owned[0]}")

    rules = {
        code: RuleInfo(code, r.max_tier, r.discloses, r.preservation, r.due_hours, r.emergency_due_hours,
                       r.hold_days, r.hold_extension_days)
        for code, r in process_rules(session).items()
    }
    tiers = {code: d.tier for code, d in data_sets(session).items()}
    world = World(users, customers, contacts, resolution, pools, enterprise_pool, small_pool, mapped_pool, rules,
                  tiers)
    if outage and OUTAGE_CUSTOMER in customers:
        cid = customers[OUTAGE_CUSTOMER][0]
        start = now.replace(microsecond=0) - timedelta(days=OUTAGE_DAYS)
        world.outages[cid] = [(start, None, refusal_text(contacts.get(cid, [])))]
    return world


# ---------------------------------------------------------------- case specs


class Step(NamedTuple):
    """One thing that happened to a demand: ``action`` is ``log``, a workflow action
    (SPEC §3, ``assign`` and ``set-due`` included), ``gag.set``, ``gag.extend``,
    ``gag.lift`` or ``defer-notices``; ``body`` is what the API would take."""

    at: datetime
    action: str
    actor: str  # a key of World.users
    body: dict


@dataclass
class CaseSpec:
    index: int  # cases are loaded in index order (the order they were logged)
    steps: list[Step]  # steps[0] is the log; all in time order

    @property
    def logged_at(self) -> datetime:
        return self.steps[0].at


@dataclass(frozen=True)
class Fate:
    """Choices forced on one case (everything else is drawn at random), so that a short
    list of cases shows every state: the demo's showcase cases and the tests use it.

    ``end`` is an open state (``received`` … ``approved``) or an outcome; ``gag`` is
    ``none``, ``active``, ``no_end``, ``expired``, ``lifted``, ``extended`` or ``later``
    (set after intake, still active)."""

    end: str | None = None
    process_type: str | None = None
    country: str | None = None
    customer: str | None = None
    emergency: bool | None = None
    gag: str | None = None
    defer: bool | None = None
    returned: bool | None = None
    assign: bool | None = None
    reassign: bool | None = None
    set_due: bool | None = None
    extend_hold: bool | None = None
    quick: bool = False  # steps minutes apart: a case logged an hour ago reaches its end


NO_FATE = Fate()


def _epoch(dt: datetime) -> int:
    return int(dt.timestamp())


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return _EPOCH + timedelta(seconds=int(seconds))


def _midnight(seconds: float) -> datetime:
    return _at(int(seconds) // DAY * DAY)


def _weighted(pairs) -> tuple[list, list[float]]:
    values = [p[0] for p in pairs]
    total, cum = 0.0, []
    for _, weight in pairs:
        total += weight
        cum.append(total)
    return values, cum


def _date(day: int) -> date:
    return date.fromordinal(day + 719163)  # days since 1970-01-01


def _subset(rng, items: list[dict]) -> list[dict]:
    if len(items) == 1:
        return [dict(items[0])]
    chosen = [dict(i) for i in items if rng.random() < 0.75]
    return chosen or [dict(items[0])]


def _narrow(rng, items: list[dict], p: float) -> list[dict]:
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


class CasePlanner:
    """Draws realistic case specs. Deterministic for a seed, a world and a ``now``."""

    CHUNK = 1000  # cases share one random stream per chunk of this many

    def __init__(self, world: World, now: datetime, seed: int = 1):
        from .rules import tier_within

        self.world = world
        self.now = now.replace(microsecond=0)
        self.now_s = _epoch(self.now)
        self.seed = seed
        self.countries = _weighted(COUNTRIES)
        self.processes = {g: _weighted(p) for g, p in PROCESS_SHARES.items()}
        self._requesters: dict[tuple[str, str], list[dict]] = {}
        self.tier_within = tier_within
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

    def generate(self, n: int, fates: dict[int, Fate] | Callable | None = None) -> Iterator[CaseSpec]:
        """n case specs in the order they were logged. ``fates`` maps case indexes to
        forced choices, or is a function of the (logged, received) times that does."""
        times = self.logged_times(n)
        if callable(fates):
            fates = fates(self, times)
        fates = fates or {}
        rng = None
        for index, (logged, received) in enumerate(times):
            if index % self.CHUNK == 0:
                rng = random.Random(self.seed * 7_919 + index // self.CHUNK)
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

    def requester(self, rng, country: str, ptype: str) -> dict:
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
        return pool[int(rng.random() ** 1.6 * len(pool))]

    def _requester_pool(self, country: str, kind: str) -> list[dict]:
        import pycountry

        rng = random.Random(f"requesters:{country}:{kind}")
        name = pycountry.countries.get(alpha_2=country).name
        tld = country.lower()
        if kind == "civil_litigant":
            agencies = LAW_FIRMS
        elif kind == "court":
            agencies = tuple((c, f"court{i}.example.{tld}") for i, c in enumerate(COURTS.get(country, ())))
            agencies = agencies or ((f"District Court ({name})", f"court.example.{tld}"),)
        elif kind == "government":
            agencies = (("U.S. Department of Justice", "doj.example.gov"),) if country == "US" else (
                (f"Ministry of Justice ({name})", f"justice.example.{tld}"),)
        else:
            agencies = AGENCIES.get(country) or ((f"National Police ({name})", f"police.example.{tld}"),
                                                 (f"Public Prosecutor's Office ({name})",
                                                  f"prosecutor.example.{tld}"))
        pool = []
        for agency, domain in agencies:
            for _ in range(rng.randint(4, 12)):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                pool.append({
                    "agency": agency,
                    "name": f"{first.title()} {last.title()}",
                    "email": f"{first}.{last}@{domain}",
                    "phone": f"+{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
                    if rng.random() < 0.7 else None,
                    "type": kind,
                })
        # One requester per (agency, name, email, type), as intake would find them.
        unique = {(p["agency"], p["name"], p["email"], p["type"]): p for p in pool}
        return list(unique.values())

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
        if end is not None and fate.process_type is None:
            discloses = end in ("scoped", "approved", "no_data_found", "content_disclosed",
                                "non_content_disclosed", "redirected", "redirecting")
            if discloses and (w.rules[ptype].preservation or ptype == "national_security"):
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
        received = _at(received_s)
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
        period = (_date(from_day), _date(to_day))
        for k, t in enumerate(targets):
            if rand() < 0.25:
                to2 = to_day - int(rand() * 60)
                d_from, d_to = _date(to2 - int(14 * math.exp(rand() * 3.7))), _date(to2)
            else:
                d_from, d_to = period
            chosen = [ds for ds, p in asks if rand() < p] or [asks[0][0]]
            if k == 0 and end == "content_disclosed" and "email_content" not in chosen:
                chosen.append("email_content")
            if k == 0 and end == "non_content_disclosed" and "subscriber_info" not in chosen:
                chosen.insert(0, "subscriber_info")
            for ds in chosen:
                requested.append({"target": t, "data_set": ds, "from": d_from, "to": d_to})
        legal_reference = REFERENCE_FORMAT[ptype].format(year=received.year, cc=country,
                                                         n=int(rand() * 99999) + 1)
        courts = COURTS.get(country)
        payload: dict[str, Any] = {
            "requester": self.requester(rng, country, ptype),
            "country": country,
            "process_type": ptype,
            "legal_reference": legal_reference,
            "issuing_authority": courts[int(rand() * len(courts))] if courts else f"Competent court ({country})",
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
        if fate.quick:
            speed = 1 / 400
        else:
            speed = 1 / 12 if emergency else (0.5 if ptype == "eu_production_order" else 1.0)
        main = self._main_path(rng, fate, rule, ptype, emergency, enterprise, requested, legal_reference,
                               logger, counsel, speed)
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
            at = logged_s + max(60, int(0.2 * HOUR * math.exp(rand() * 4.8) * (speed if fate.quick else 1)))
            if at < open_until - 60:
                actor = "admin" if rand() < 0.5 else counsel
                steps.append((at, "assign", actor, {"assignee": self.user_email[counsel],
                                                    "reason": ASSIGN_REASONS[int(rand() * 3)]}))
                reassign = fate.reassign if fate.reassign is not None else rand() < 0.05
                if reassign and open_until - at > 180:
                    other = "counsel" if counsel == "counsel2" else "counsel2"
                    at2 = at + 60 + int(rand() * (open_until - at - 120))
                    steps.append((at2, "assign", "admin", {"assignee": self.user_email[other],
                                                           "reason": "Reassigned while on leave."}))
        # A deadline moved by agreement.
        due_s = received_s + (rule.emergency_due_hours if emergency else rule.due_hours) * HOUR
        set_due = fate.set_due if fate.set_due is not None else rand() < 0.07
        if set_due and open_until - logged_s > 180:
            at = logged_s + 60 + int(rand() * (open_until - logged_s - 120))
            new_due = max(due_s, at) + int(7 + rand() * 21) * DAY
            steps.append((at, "set-due", counsel, {"due_at": _at(new_due),
                                                   "reason": "The requester agreed to a later date."}))
        # Preservation holds: now and then extended once, shortly before they lapse.
        if "preserve" in action_times and rule.hold_days:
            preserved = action_times["preserve"]
            ends = preserved + rule.hold_days * DAY
            at = ends - int(2 * DAY * math.exp(rand() * 2.4))
            extend = fate.extend_hold if fate.extend_hold is not None else rand() < 0.35
            if extend and preserved + 60 < at <= limit:
                steps.append((at, "extend-preservation", counsel, {}))
        # Gags (non-disclosure orders).
        self._gag(rng, fate, steps, payload, ptype, country, logged_s, received_s, limit, counsel)
        # Emergency demands: counsel may defer the customer's notices for a while.
        defer = fate.defer if fate.defer is not None else rand() < 0.4
        if emergency and customers and defer:
            at = logged_s + 30 + int(rand() * 200)
            if at <= limit:
                until = _midnight(at + int(30 + rand() * 90) * DAY)
                steps.append((at, "defer-notices", counsel, {
                    "until": until, "reason": "Telling the account holder's organisation now could "
                                              "endanger the person at risk."}))

        steps.sort(key=lambda s: s[0])
        out, last = [], None
        for at, action, actor, body in steps:
            if last is not None and at <= last:
                at = last + 1
            if at % DISPATCH_EVERY == 0:  # a step never coincides with a dispatcher run
                at += 1
            last = at
            out.append(Step(_at(at), action, actor, body))
        return CaseSpec(index, out)

    def _main_path(self, rng, fate: Fate, rule: RuleInfo, ptype: str, emergency: bool, enterprise: bool,
                   requested: list[dict], legal_reference: str, logger: str, counsel: str,
                   speed: float) -> list[tuple[int, str, str, dict]]:
        """The workflow's steps as (delay in seconds, action, actor, body)."""
        rand = rng.random
        end = fate.end
        w = self.world
        main: list[tuple[int, str, str, dict]] = []

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
            tier_ok, tiers = self.tier_within, w.tiers
            candidates = [dict(i) for i in requested if tier_ok(tiers[i["data_set"]], rule.max_tier)]
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
            content = [i for i in scope if w.tiers[i["data_set"]] == "content"]
            other = [i for i in scope if w.tiers[i["data_set"]] != "content"]
            produced = [dict(i) for i in (content[:1] + other if end == "content_disclosed" else other)]
        else:
            produced = _narrow(rng, _subset(rng, scope), 0.25)
        slug = legal_reference.lower()
        files = [{"name": f"{slug}-{k + 1}.zip", "sha256": f"{rng.getrandbits(256):064x}",
                  "bytes": int(rand() * 800_000_000) + 20_000}
                 for k in range(1 + int(rand() * 2.5))]
        main.append((hours(24, 336), "record-production", counsel, {"items": produced, "files": files}))
        return main

    def _gag(self, rng, fate: Fate, steps, payload, ptype, country, logged_s, received_s, limit,
             counsel) -> None:
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
            expires_s = _epoch(_midnight(max((issued_day + 365) * DAY, self.now_s + 60 * DAY)))
        elif kind == "no_end":
            expires_s = None
        elif kind == "expired":
            expires_s = _epoch(_midnight(set_s + age // 2 + DAY))
        elif kind == "lifted":
            expires_s = None
            lift_at = set_s + int(age * 0.6)
        elif kind == "extended":
            expires_s = _epoch(_midnight(set_s + age // 2 + DAY))
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
            "order_ref": f"NDO {payload['legal_reference']}",
            "issued_by": payload["issuing_authority"],
            "issued_at": _date(issued_day),
            "expires_at": _at(expires_s) if expires_s is not None else None,
        }
        if at_log:
            payload["gag"] = gag
        else:
            steps.append((set_s, "gag.set", counsel, gag))
        if extend_at is not None and set_s + 60 < extend_at <= limit:
            steps.append((extend_at, "gag.extend", counsel, {"expires_at": _at(expires_s + 180 * DAY)}))
        elif lift_at is not None and set_s + 60 < lift_at <= limit:
            steps.append((lift_at, "gag.lift", counsel, {"reason": GAG_LIFT_REASONS[int(rand() * 2)]}))


CLOSING = frozenset(("redirected", "reject", "record-production", "no-data", "preserve", "withdraw"))

# The demo's showcase: cases with forced choices, placed at the age where they make
# sense, so that even a small desk shows every state, outcome, gag and notice state.
SHOWCASE: tuple[tuple[float, Fate], ...] = (  # (age in days, fate)
    (0.02, Fate(end="received", customer="Contoso Ltd", gag="none", quick=True)),
    (0.05, Fate(end="in_review", customer="Litware Bank", gag="none", quick=True)),  # notice retrying
    (0.1, Fate(end="redirecting", customer="Fabrikam Inc", quick=True)),
    (0.3, Fate(end="scoped", customer="Northwind Traders", gag="active", quick=True)),
    (0.5, Fate(end="in_review", process_type="emergency", customer="Woodgrove Health", defer=True,
               quick=True)),
    (1.0, Fate(end="approved", customer="Contoso Ltd", process_type="search_warrant", quick=True)),
    (1.6, Fate(end="content_disclosed", customer="Litware Bank", gag="none", quick=True)),  # failed
    (4, Fate(end="scoped", returned=True, set_due=True)),
    (9, Fate(end="in_review", customer="Wide World Importers", gag="later")),
    (30, Fate(end="in_review", reassign=True, assign=True)),
    (82, Fate(end="preserved", extend_hold=False, customer="Fabrikam Inc")),  # its hold lapses soon
    (120, Fate(end="redirected", customer="Contoso Ltd")),
    (150, Fate(end="preserved", process_type="eu_preservation_order", extend_hold=True)),
    (200, Fate(end="content_disclosed", customer="Contoso Ltd", gag="expired")),
    (250, Fate(end="non_content_disclosed", customer="Northwind Traders", gag="extended")),
    (300, Fate(end="non_content_disclosed", customer="Fabrikam Inc", gag="lifted")),
    (400, Fate(end="rejected", customer="Woodgrove Health")),
    (450, Fate(end="no_data_found", customer="Contoso Ltd")),
    (500, Fate(end="non_content_disclosed", process_type="national_security", customer="Contoso Ltd",
               gag="no_end")),
    (600, Fate(end="withdrawn", customer="Blue Yonder Bakery")),
    (700, Fate(end="content_disclosed", process_type="mlat", country="BR")),
    (800, Fate(end="non_content_disclosed", process_type="other", customer="Proseware Studio")),
)


def showcase(planner: CasePlanner, times: list[tuple[int, int]]) -> dict[int, Fate]:
    """Put each showcase fate on its own case, moved to the fate's age (``times`` is
    changed in place and stays sorted); returns the fates by case index."""
    from bisect import bisect_left

    logged = [t[0] for t in times]
    taken: dict[int, Fate] = {}
    for age, fate in SHOWCASE:
        if len(taken) >= len(times):
            break
        center = min(bisect_left(logged, planner.now_s - int(age * DAY)), len(times) - 1)
        i, k = center, 0
        while i in taken:  # the nearest case not taken yet
            k += 1
            i = next((c for c in (center - k, center + k) if 0 <= c < len(times) and c not in taken), i)
        taken[i] = fate
        at = planner.now_s - int(age * DAY)
        if at % DISPATCH_EVERY == 0:
            at += 1
        times[i] = (at, at - min(int(age * DAY) // 4, 2 * HOUR) - 60)
    pinned = {times[i]: fate for i, fate in taken.items()}
    times.sort()
    return {i: pinned[t] for i, t in enumerate(times) if t in pinned}


def generate_cases(world: World, n: int, seed: int, now: datetime,
                   fates: dict[int, Fate] | Callable | None = showcase) -> Iterator[CaseSpec]:
    return CasePlanner(world, now, seed).generate(n, fates)


# ---------------------------------------------------------------- the replay (mirror of the services)

_qs = encode_basestring_ascii  # a JSON string, exactly as json.dumps writes it
_DAYS: dict[int, str] = {}
_CLOCK: list[str] = []


def _day(day: int) -> str:
    text = _DAYS.get(day)
    if text is None:
        text = _DAYS[day] = _date(day).isoformat()
    return text


def _clock() -> list[str]:
    if not _CLOCK:
        _CLOCK.extend(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(DAY))
    return _CLOCK


def _iso_s(s: int | None) -> str:
    """JSON of an aware UTC datetime (whole seconds), as audit.canonical writes it."""
    return "null" if s is None else f'"{_day(s // DAY)}T{_CLOCK[s % DAY]}+00:00"'


def _dumps(value: str | None) -> str:
    return "null" if value is None else _qs(value)


_QUOTED: dict[str, str] = {}


def _quoted(value: str) -> str:
    """_qs for the few strings that recur (actors, actions): computed once each."""
    out = _QUOTED.get(value)
    if out is None:
        out = _QUOTED[value] = _qs(value)
    return out


_ISO_DATES: dict[date, str] = {}


def _iso_date(value: date) -> str:
    out = _ISO_DATES.get(value)
    if out is None:
        out = _ISO_DATES[value] = value.isoformat()
    return out


def _items_json(items: list[tuple]) -> str:
    out = []
    for target, ds, d_from, d_to, basis in items:
        head = f'{{"basis":{_qs(basis)},' if basis else "{"
        out.append(f'{head}"data_set":{_quoted(ds)},"from":"{_iso_date(d_from)}",'
                   f'"target":{_qs(target)},"to":"{_iso_date(d_to)}"}}')
    return "[" + ",".join(out) + "]"


def _item(body_item: dict) -> tuple:
    basis = (body_item.get("basis") or "").strip() or None
    return (body_item["target"], body_item["data_set"], body_item["from"], body_item["to"], basis)


def _s(dt: datetime | None) -> int | None:
    return None if dt is None else int((dt - _EPOCH).total_seconds())


def order_key(at: int, index: int, number: int = 0) -> int:
    """Where an event goes in the one audit chain: by time, then case, then step (and
    the log's own gag after the log), as the service path meets them."""
    return (at << 32) | (index << 8) | (number << 1)


class _Notice:
    __slots__ = ("customer_id", "kind", "state", "held_by", "gag_held", "delayed", "due", "attempts", "next",
                 "last_error", "sent")

    def __init__(self, customer_id: int, kind: str, at: int, held_by: str | None):
        self.customer_id, self.kind = customer_id, kind
        self.state = "held" if held_by else "pending"
        self.held_by = held_by
        self.gag_held = held_by == "gag"
        self.delayed = False
        self.due = at
        self.attempts = 0
        self.next = None if held_by else at
        self.last_error = None
        self.sent = None


class _Gag:
    __slots__ = ("order_ref", "issued_by", "issued_at", "expires", "set", "lifted", "lift_reason", "events")

    def active_at(self, at: int) -> bool:
        return self.lifted is None and (self.expires is None or self.expires > at)

    def json(self) -> str:
        issued = "null" if self.issued_at is None else f'"{self.issued_at.isoformat()}"'
        return (f'{{"expires_at":{_iso_s(self.expires)},"issued_at":{issued},"issued_by":{_qs(self.issued_by)},'
                f'"lift_reason":{_dumps(self.lift_reason)},"lifted_at":{_iso_s(self.lifted)},'
                f'"order_ref":{_qs(self.order_ref)}}}')


# The snapshot fields a demand's actions can change (the others are fixed at intake), in
# key order; values are kept as their JSON text.
_AUDITED = ("assignee_id", "due_at", "outcome", "production", "scope", "status")


def _json_object(pairs: list[tuple[str, str]]) -> str:
    """{"key":value,…} from (key, JSON text) pairs in key order: audit.canonical's form."""
    return "{" + ",".join(f'"{k}":{v}' for k, v in pairs) + "}"


class CaseReplay:
    """One case spec replayed in memory with the services' rules: the demand's final
    fields and rows, its audit events (content, not yet chained) and its notices, with
    the modelled dispatcher's runs between its steps. Times are epoch seconds."""

    def __init__(self, world: World, case: CaseSpec, demand_id: int, reference: str, requester_id: int,
                 now: datetime, record_runs: bool = False):
        _clock()
        self.w = world
        self.case = case
        self.id = demand_id
        self.reference = reference
        self.requester_id = requester_id
        self.now = _s(now)
        self.runs: set[int] | None = set() if record_runs else None
        self.events: list[tuple] = []  # (order key, at, actor_id, actor, action, before, after)
        self.notices: list[_Notice] = []
        self.gags: list[_Gag] = []
        self.deferrals: list[tuple] = []  # (until, reason, actor_id, at)
        self.assignments: list[tuple] = []
        self.due_changes: list[tuple] = []
        self.files: list[dict] = []
        self.hold: list | None = None  # [starts, ends, extended]
        self.scope: list[tuple] = []
        self.production: list[tuple] = []
        self.preserved: list[tuple] = []
        log = case.steps[0]
        p = log.body
        self.p = p
        self.rule = rule = world.rules[p["process_type"]]
        self.emergency = emergency = bool(p.get("emergency")) or p["process_type"] == "emergency"
        self.received = received = _s(p["received_at"])
        self.created = self.clock = _s(log.at)
        self.created_by = world.users[log.actor][0]
        due = p.get("due_at")
        self.due = _s(due) if due is not None else received + (
            rule.emergency_due_hours if emergency else rule.due_hours) * HOUR
        resolution = world.resolution
        self.targets = [(t, resolution.get(t, (None, False))[0]) for t in p["targets"]]
        self.concerns_enterprise = any(resolution.get(t, (None, False))[1] for t in p["targets"])
        customers: list[int] = []
        for _, cid in self.targets:
            if cid is not None and cid not in customers:
                customers.append(cid)
        self.customers = customers
        self.requested = [_item(i) for i in p["requested"]]
        self.assignee = self.proposed_by = self.approved_by = self.closed = self.outcome = None
        self.status = "received"
        # The audit snapshot (services.demands.snapshot) as JSON with the keys sorted as
        # audit.canonical sorts them: the constant parts once, the rest as they change.
        self.p_country = f',"country":{_qs(p["country"])},"due_at":'
        self.p_emergency = ',"emergency":' + ("true" if emergency else "false")
        self.p_legal = f',"legal_reference":{_qs(p["legal_reference"])}'
        self.p_process = f',"process_type":{_qs(p["process_type"])},"production":'
        self.p_received = (f',"received_at":{_iso_s(received)},"reference":{_qs(reference)},'
                           f'"requested":{_items_json(self.requested)},"scope":')
        self.p_targets = ',"targets":[' + ",".join(_qs(t) for t, _ in self.targets) + "]}"
        self.s_assignee, self.s_due, self.s_outcome = "null", _iso_s(self.due), "null"
        self.s_production, self.s_scope, self.s_status = "[]", "[]", '"received"'
        self.snap = self._snapshot()

    # ------------------------------------------------------------ running

    def run(self) -> "CaseReplay":
        index = self.case.index
        for number, step in enumerate(self.case.steps):  # the planner keeps them in time order
            at = _s(step.at)
            if self.notices:
                self._dispatch_until(at)
            self.clock = at
            self.apply(order_key(at, index, number), at, step)
        if self.notices:
            self._dispatch_until(self.now, inclusive=True)
        return self

    def _snapshot(self) -> str:
        """services.demands.snapshot as audit.canonical writes it (the demand.log event)."""
        return (f'{{"assignee_id":{self.s_assignee}{self.p_country}{self.s_due}{self.p_emergency}'
                f'{self.p_legal},"outcome":{self.s_outcome}{self.p_process}{self.s_production}'
                f'{self.p_received}{self.s_scope},"status":{self.s_status}{self.p_targets}')

    def _state(self) -> tuple[str, ...]:
        """The snapshot fields an action can change, as JSON, in the order of _AUDITED."""
        return (self.s_assignee, self.s_due, self.s_outcome, self.s_production, self.s_scope, self.s_status)

    def _changes(self, action: str, old: tuple[str, ...], extra: list[tuple[str, str]]) -> tuple[str, str]:
        """services.demands.changes as audit.canonical writes it: the fields that changed,
        with the status, the outcome and the action's subject always; then ``extra``."""
        keep = ALWAYS_AUDITED + SUBJECT_OF.get(action, ())
        new = self._state()
        before = [(k, o) for k, o, n in zip(_AUDITED, old, new) if o != n or k in keep]
        after = sorted([(k, n) for k, o, n in zip(_AUDITED, old, new) if o != n or k in keep] + extra)
        return _json_object(before), _json_object(after)

    def apply(self, key: int, at: int, step: Step) -> None:
        action, body = step.action, step.body
        actor_id, actor = self.w.users[step.actor]
        events = self.events
        if action == "log":
            events.append((key, at, actor_id, actor, "demand.log", None, self.snap))
            if body.get("gag") is not None:
                self._set_gag(key + 1, at, actor_id, actor, body["gag"])
            self._notices_due("demand", at)
            return
        if action == "gag.set":
            self._set_gag(key, at, actor_id, actor, body)
            return
        if action == "gag.extend":
            gag = self._active_gag(at)
            before = gag.json()
            gag.expires = _s(body["expires_at"])
            gag.events.append(("extend", gag.expires, None, actor_id, at))
            events.append((key, at, actor_id, actor, "gag.extend", before, gag.json()))
            return
        if action == "gag.lift":
            gag = self._active_gag(at)
            before = gag.json()
            gag.lifted, gag.lift_reason = at, body["reason"]
            gag.events.append(("lift", None, body["reason"], actor_id, at))
            events.append((key, at, actor_id, actor, "gag.lift", before, gag.json()))
            self._release(at)
            return
        if action == "defer-notices":
            until = _s(body["until"])
            self.deferrals.append((until, body["reason"], actor_id, at))
            events.append((key, at, actor_id, actor, "notices.defer", None,
                           f'{{"reason":{_qs(body["reason"])},"until":{_iso_s(until)}}}'))
            for n in self.notices:
                if n.state in ("pending", "failed"):
                    n.state, n.held_by, n.next = "held", "deferral", None
            self._release(at)
            return
        before = self._state()
        if action == "assign":
            assignee = next(uid for uid, email in self.w.users.values() if email == body["assignee"])
            self.assignments.append((assignee, body["reason"], actor_id, at))
            self.assignee, self.s_assignee = assignee, str(assignee)
            events.append((key, at, actor_id, actor, action,
                           *self._changes(action, before, [("reason", _qs(body["reason"]))])))
            return
        if action == "set-due":
            new = _s(body["due_at"])
            self.due_changes.append((self.due, new, body["reason"], actor_id, at))
            self.due, self.s_due = new, _iso_s(new)
            events.append((key, at, actor_id, actor, action,
                           *self._changes(action, before, [("reason", _qs(body["reason"]))])))
            return
        outcome = None
        closes = True
        extra: list[tuple[str, str]] = []  # after.update(ctx.extra) in the workflow
        if action in ("attempt-redirect", "requester-insists", "redirected", "no-data", "withdraw"):
            text = body.get("note") or body.get("reason")
            if text:
                extra.append(("note", _qs(text)))
        if action == "attempt-redirect":
            target = "redirecting"
        elif action == "start-review":
            target = "in_review"
            if body.get("reason"):
                extra.append(("reason", _qs(body["reason"])))
        elif action == "requester-insists":
            target = "in_review"
        elif action == "redirected":
            target, outcome = "closed", "redirected"
        elif action == "reject":
            target, outcome = "closed", "rejected"
            extra.append(("reason", _qs(body["reason"])))
        elif action == "propose-scope":
            target = "scoped"
            self.scope = [_item(i) for i in body["items"]]
            self.s_scope = _items_json(self.scope)
            self.proposed_by, self.approved_by = actor_id, None
        elif action == "approve":
            target, self.approved_by = "approved", actor_id
        elif action == "return":
            target, self.approved_by = "in_review", None
            extra.append(("reason", _qs(body["reason"])))
        elif action == "record-production":
            target = "closed"
            self.production = [_item(i) for i in body["items"]]
            self.s_production = _items_json(self.production)
            self.files = body["files"]
            tiers = self.w.tiers
            outcome = ("content_disclosed" if any(tiers[i[1]] == "content" for i in self.production)
                       else "non_content_disclosed")
        elif action == "no-data":
            target, outcome = "closed", "no_data_found"
        elif action == "preserve":
            target, outcome = "closed", "preserved"
            self.preserved = [_item(i) for i in body["items"]]
            ends = at + (self.rule.hold_days or 90) * DAY
            self.hold = [at, ends, None]
            extra.append(("hold_ends_at", _iso_s(ends)))
        elif action == "extend-preservation":
            target, outcome, closes = "closed", "preserved", False
            old = self.hold[1]
            self.hold[1] = old + (self.rule.hold_extension_days or 90) * DAY
            self.hold[2] = at
            extra.append(("hold_ends_at", f'{{"after":{_iso_s(self.hold[1])},"before":{_iso_s(old)}}}'))
        elif action == "withdraw":
            target, outcome = "closed", "withdrawn"
        else:
            raise ValueError(f"the demo has no step called {action}")
        was_open = self.status != "closed"
        self.status, self.s_status = target, _qs(target)
        if target == "closed":
            self.outcome, self.s_outcome = outcome, _qs(outcome)
            if was_open:
                self.closed = at
        events.append((key, at, actor_id, actor, action, *self._changes(action, before, extra)))
        if was_open and target == "closed" and closes:
            self._notices_due("outcome", at)

    # ------------------------------------------------------------ gags and notices

    def _active_gag(self, at: int) -> _Gag | None:
        for gag in self.gags:
            if gag.lifted is None and (gag.expires is None or gag.expires > at):
                return gag
        return None

    def _deferred(self, at: int) -> bool:
        return bool(self.deferrals) and self.deferrals[-1][0] > at

    def _set_gag(self, key: int, at: int, actor_id: int, actor: str, body: dict) -> None:
        gag = _Gag()
        gag.order_ref, gag.issued_by = body["order_ref"], body["issued_by"]
        gag.issued_at, gag.expires = body.get("issued_at"), _s(body["expires_at"])
        gag.set, gag.lifted, gag.lift_reason = at, None, None
        gag.events = [("set", gag.expires, None, actor_id, at)]
        self.gags.append(gag)
        self.events.append((key, at, actor_id, actor, "gag.set", None, gag.json()))
        if gag.active_at(at):
            for n in self.notices:
                if n.state in ("pending", "failed", "held"):
                    n.state, n.held_by, n.gag_held, n.next = "held", "gag", True, None

    def _notices_due(self, kind: str, at: int) -> None:
        if not self.customers:
            return
        gagged = self._active_gag(at) is not None
        held_by = "gag" if gagged else ("deferral" if self._deferred(at) else None)
        existing = {n.customer_id for n in self.notices if n.kind == kind}
        for cid in self.customers:
            if cid not in existing:
                self.notices.append(_Notice(cid, kind, at, held_by))

    def _release(self, at: int) -> None:
        """outbox.release_held_notices for this demand at ``at``."""
        if self._active_gag(at) is not None:
            return
        if self._deferred(at):
            for n in self.notices:
                if n.state == "held" and n.held_by == "gag":
                    n.held_by = "deferral"
            return
        for n in self.notices:
            if n.state == "held":
                n.state, n.held_by, n.attempts, n.last_error, n.next = "pending", None, 0, None, at
                n.delayed = n.delayed or n.gag_held

    def _next_run(self) -> int | None:
        """The first dispatcher run after the replay's clock at which something can
        happen to these notices: a pending one falls due, or what holds one ends."""
        first = -(-(self.clock + 1) // DISPATCH_EVERY) * DISPATCH_EVERY
        best = None
        held = False
        for n in self.notices:
            if n.state == "pending":
                r = -(-n.next // DISPATCH_EVERY) * DISPATCH_EVERY
                r = first if r < first else r
                if best is None or r < best:
                    best = r
            elif n.state == "held":
                held = True
        if held:
            boundaries = [g.expires for g in self.gags if g.lifted is None and g.expires is not None]
            if self.deferrals:
                boundaries.append(self.deferrals[-1][0])
            for boundary in boundaries:
                r = -(-boundary // DISPATCH_EVERY) * DISPATCH_EVERY
                if r >= first and (best is None or r < best):
                    best = r
        return best

    def _dispatch_until(self, limit: int, inclusive: bool = False) -> None:
        while True:
            r = self._next_run()
            if r is None or r > limit or (r == limit and not inclusive):
                return
            self._dispatch(r)

    def _dispatch(self, r: int) -> None:
        """One run of notices.dispatcher.Dispatcher, as far as these notices go."""
        from .notices.outbox import MAX_ATTEMPTS, backoff_seconds

        self.clock = r
        before = [(n.state, n.held_by, n.next) for n in self.notices] if self.runs is not None else None
        self._release(r)
        failing = self.w.failing
        for n in self.notices:
            if n.state != "pending" or n.next > r:
                continue
            error = failing(n.customer_id, r) if self.w.outages else None
            n.attempts += 1
            if error is None:
                n.state, n.sent, n.next, n.last_error = "sent", r, None, None
            else:
                n.last_error = error
                if n.attempts >= MAX_ATTEMPTS:
                    n.state, n.next = "failed", None
                else:
                    n.next = r + backoff_seconds(n.attempts)
        if before is not None and before != [(n.state, n.held_by, n.next) for n in self.notices]:
            self.runs.add(r)


# ---------------------------------------------------------------- the bulk path

TABLES: dict[str, tuple[str, ...]] = {
    "requesters": ("id", "agency", "name", "email", "phone", "type"),
    "demands": ("id", "reference", "received_at", "channel", "requester_id", "country", "process_type",
                "legal_reference", "issuing_authority", "emergency", "justification", "due_at", "assignee_id",
                "status", "outcome", "notes", "proposed_by_id", "approved_by_id", "created_by_id", "created_at",
                "closed_at", "concerns_enterprise"),
    "demand_targets": ("id", "demand_id", "identifier", "customer_id", "position"),
    "demand_items": ("id", "demand_id", "kind", "target", "data_set", "date_from", "date_to", "basis"),
    "production_files": ("id", "demand_id", "name", "sha256", "bytes", "stored_name"),
    "assignments": ("id", "demand_id", "assignee_id", "reason", "actor_id", "at"),
    "due_date_changes": ("id", "demand_id", "old_due_at", "new_due_at", "reason", "actor_id", "at"),
    "preservation_holds": ("id", "demand_id", "starts_at", "ends_at", "extended_at"),
    "gags": ("id", "demand_id", "order_ref", "issued_by", "issued_at", "expires_at", "set_at", "lifted_at",
             "lift_reason"),
    "gag_events": ("id", "gag_id", "kind", "expires_at", "reason", "actor_id", "at"),
    "notice_deferrals": ("id", "demand_id", "until", "reason", "actor_id", "at"),
    "notices": ("id", "demand_id", "customer_id", "kind", "state", "held_by", "gag_held", "delayed", "due_at",
                "created_at", "attempts", "next_attempt_at", "last_error", "claimed_until", "sent_at",
                "message_id"),
    "audit_events": ("id", "seq", "at", "actor_id", "actor", "action", "object_type", "object_id", "demand_id",
                     "before", "after", "prev_hash", "hash"),
}
# Tables whose rows a chunk brings without their own id (the writer numbers them).
NUMBERED = ("demand_targets", "demand_items", "production_files", "assignments", "due_date_changes",
            "preservation_holds", "gags", "gag_events", "notice_deferrals", "notices")


def _hashed_content(seq: int, at: int, actor_id: int, actor: str, action: str, demand_id: int,
                    before: str | None, after: str | None) -> str:
    """What audit.event_hash hashes after the previous hash, for a demand's event
    (``at`` in epoch seconds). BulkLoader._chain inlines the same expression."""
    return (f'[{seq},"{_day(at // DAY)}T{_CLOCK[at % DAY]}.000000Z",{actor_id},{_qs(actor)},'
            f'{_qs(action)},"demand",{demand_id},{demand_id},{_dumps(before)},{_dumps(after)}]')


class _Event:
    """What ``audit.event_hash`` reads of an event."""

    __slots__ = ("seq", "at", "actor_id", "actor", "action", "object_type", "object_id", "demand_id", "before",
                 "after")


def _check_hash() -> None:
    """The bulk path's chain hash is audit.event_hash's: checked on one event first."""
    from .audit import event_hash

    _clock()
    ev = _Event()
    ev.seq, ev.at, ev.actor_id, ev.actor, ev.action = 7, datetime(2024, 2, 29, 13, 5, 9, tzinfo=UTC), 3, \
        "a@b.example", "demand.log"
    ev.object_type, ev.object_id, ev.demand_id = "demand", 11, 11
    ev.before, ev.after = None, '{"x":"\\u00e9\\n"}'
    ours = hashlib.sha256(("0" * 64 + _hashed_content(7, _s(ev.at), 3, ev.actor, ev.action, 11, None, ev.after))
                          .encode()).hexdigest()
    if ours != event_hash("0" * 64, ev):
        raise RuntimeError("audit.event_hash changed; update _hashed_content in requests_desk/demo.py")


@dataclass
class LoadStats:
    demands: int = 0
    events: int = 0
    rows: int = 0
    seconds: float = 0.0
    workers: int = 0
    reports: list[str] = field(default_factory=list)


@dataclass
class _Chunk:
    """One chunk of replayed cases, as rows: demands with their ids and a requester
    key in place of the requester id; other rows without their own id (a gag event
    carries its gag's number within the chunk); audit events not yet chained."""

    first: int  # index of the chunk's first case
    count: int
    last_key: int  # order key of the chunk's last log: later chunks' events all come after
    rows: dict[str, list[tuple]]
    events: list[tuple]


class _ChunkMaker:
    """Replays case specs into chunk rows (in the loading process, or in a worker)."""

    def __init__(self, world: World, now: datetime, sqlite: bool):
        self.world = world
        self.now = now
        self.tail = ".000000" if sqlite else "+00"

    def dt(self, s: int | None) -> str | None:
        """Epoch seconds as the column takes them (SQLite: naive UTC text, as SQLAlchemy
        stores it; PostgreSQL: timestamptz text for COPY)."""
        return None if s is None else f"{_day(s // DAY)} {_CLOCK[s % DAY]}{self.tail}"

    def make(self, cases: Iterable[CaseSpec], demand_base: int, references: Callable[[CaseSpec], str],
             id_seed: int) -> _Chunk:
        _clock()
        rows: dict[str, list[tuple]] = {t: [] for t in TABLES if t != "requesters"}
        events: list[tuple] = []
        bits = random.Random(id_seed).getrandbits
        dt = self.dt
        demands, targets, items = rows["demands"], rows["demand_targets"], rows["demand_items"]
        first = count = last_key = 0
        gag_no = 0
        for case in cases:
            if not count:
                first = case.index
            count += 1
            did = demand_base + case.index
            p = case.steps[0].body
            req = p["requester"]
            r = CaseReplay(self.world, case, did, references(case), 0, self.now).run()
            last_key = order_key(r.created, case.index)
            demands.append((
                did, r.reference, dt(r.received), p.get("channel") or "email",
                (req["agency"], req["name"], req["email"], req.get("phone"), req["type"]), p["country"],
                p["process_type"], p["legal_reference"], p.get("issuing_authority") or "", r.emergency,
                p.get("justification"), dt(r.due), r.assignee, r.status, r.outcome, p.get("notes") or "",
                r.proposed_by, r.approved_by, r.created_by, dt(r.created), dt(r.closed), r.concerns_enterprise))
            for position, (ident, cid) in enumerate(r.targets):
                targets.append((did, ident, cid, position))
            for kind, its in (("requested", r.requested), ("scope", r.scope), ("production", r.production),
                              ("preserved", r.preserved)):
                for target, ds, d_from, d_to, basis in its:
                    items.append((did, kind, target, ds, _iso_date(d_from), _iso_date(d_to), basis))
            for f in r.files:
                rows["production_files"].append((did, f["name"], f["sha256"].lower(), f["bytes"],
                                                 f.get("stored_name")))
            for assignee, reason, actor_id, at in r.assignments:
                rows["assignments"].append((did, assignee, reason, actor_id, dt(at)))
            for old, new, reason, actor_id, at in r.due_changes:
                rows["due_date_changes"].append((did, dt(old), dt(new), reason, actor_id, dt(at)))
            if r.hold is not None:
                rows["preservation_holds"].append((did, dt(r.hold[0]), dt(r.hold[1]), dt(r.hold[2])))
            for g in r.gags:
                rows["gags"].append((did, g.order_ref, g.issued_by, g.issued_at and g.issued_at.isoformat(),
                                     dt(g.expires), dt(g.set), dt(g.lifted), g.lift_reason))
                for kind, expires, reason, actor_id, at in g.events:
                    rows["gag_events"].append((gag_no, kind, dt(expires), reason, actor_id, dt(at)))
                gag_no += 1
            for until, reason, actor_id, at in r.deferrals:
                rows["notice_deferrals"].append((did, dt(until), reason, actor_id, dt(at)))
            for x in r.notices:
                rows["notices"].append((
                    did, x.customer_id, x.kind, x.state, x.held_by, x.gag_held, x.delayed, dt(x.due), dt(x.due),
                    x.attempts, dt(x.next), x.last_error, None, dt(x.sent),
                    f"<notice.{bits(128):032x}@requests-desk>"))
            # Everything of an event's hashed content but its number (and the hash before
            # it) is known here: the writer only numbers, joins and hashes.
            for key, at, actor_id, actor, action, before, after in r.events:
                rest = (f',"{_day(at // DAY)}T{_CLOCK[at % DAY]}.000000Z",{actor_id},{_quoted(actor)},'
                        f'{_quoted(action)},"demand",{did},{did},{_dumps(before)},{_dumps(after)}]')
                events.append((key, dt(at), actor_id, actor, action, before, after, did, rest))
        return _Chunk(first, count, last_key, rows, events)


# What a forked worker needs; set by BulkLoader.load_generated before the pool forks.
_WORKER: dict[str, Any] = {}


def _worker_chunk(chunk_no: int) -> _Chunk:
    job = _WORKER
    return _generated_chunk(job["planner"], job["maker"], job["times"], job["fates"], job["start_counters"],
                            job["demand_base"], chunk_no)


def _generated_chunk(planner: CasePlanner, maker: _ChunkMaker, times, fates, start_counters, demand_base,
                     chunk_no: int) -> _Chunk:
    size = CasePlanner.CHUNK
    lo, hi = chunk_no * size, min(len(times), (chunk_no + 1) * size)
    rng = random.Random(planner.seed * 7_919 + chunk_no)
    counters = dict(start_counters[chunk_no])
    references: dict[int, str] = {}
    cases = []
    for index in range(lo, hi):
        logged, received = times[index]
        case = planner.plan(rng, index, received, logged, fates.get(index, NO_FATE))
        year = case.steps[0].body["received_at"].year
        counters[year] = counters.get(year, 0) + 1
        references[index] = f"LD-{year}-{counters[year]:06d}"
        cases.append(case)
    return maker.make(cases, demand_base, lambda c: references[c.index], planner.seed * 1_000_033 + chunk_no)


class BulkLoader:
    """Writes demands with executemany (SQLite) or COPY (PostgreSQL).

    PostgreSQL: some thousands of cases per transaction. After each commit the desk is
    consistent (audit chain and head, reference counters, report summary), so an
    interrupted load leaves a valid, smaller desk.

    SQLite: the whole load is one transaction, so an interrupted load leaves the desk as
    it was. Inside it the loaded tables' secondary indexes and the report summary's
    triggers are dropped; at the end the indexes are built again (a sort each, instead of
    a B-tree insert per row and index) and the new demands join the report summary in a
    few set-based statements (report_summary.ABSORB_SQL) instead of a trigger per row.
    No other connection can write meanwhile (SQLite has one writer), and none sees the
    desk without its indexes or triggers: the DDL commits with the rows or not at all.

    ``load(cases)`` replays given specs in this process; ``load_generated`` draws them
    in forked worker processes while this one chains the audit log and writes."""

    def __init__(self, engine: Engine, world: World, now: datetime, *, seed: int = 1,
                 on_progress: Callable[[int], None] | None = None, commit_every: int = 5_000):
        self.engine = engine
        self.world = world
        self.now = now.replace(microsecond=0)
        self.seed = seed
        self.on_progress = on_progress
        self.commit_every = commit_every
        self.sqlite = engine.dialect.name == "sqlite"
        self.maker = _ChunkMaker(world, self.now, self.sqlite)
        self._check_columns()
        _check_hash()

    def _check_columns(self) -> None:
        """Columns added to the models since this was written: fill their scalar defaults."""
        from . import models  # noqa: F401  (registers the tables)
        from .db import Base

        self.extra: dict[str, list[tuple[str, Any]]] = {}
        for table, columns in TABLES.items():
            model = Base.metadata.tables[table]
            for column in model.columns:
                if column.name in columns:
                    continue
                default = column.default.arg if column.default is not None and column.default.is_scalar else None
                if default is None and not column.nullable:
                    raise RuntimeError(f"the demo's bulk path does not fill {table}.{column.name}; teach it")
                self.extra.setdefault(table, []).append((column.name, default))
            unknown = [c for c in columns if c not in model.columns]
            if unknown:
                raise RuntimeError(f"{table} has no column {unknown[0]} any more; update requests_desk/demo.py")

    # ------------------------------------------------------------ the two ways in

    def load(self, cases: Iterable[CaseSpec], chunk: int = 2000) -> LoadStats:
        """Replay the given specs (in index order) here and write them."""
        def chunks(state) -> Iterator[_Chunk]:
            batch: list[CaseSpec] = []
            counters = state["counters"]

            def reference(case: CaseSpec) -> str:
                year = case.steps[0].body["received_at"].year
                counters[year] = counters.get(year, 0) + 1
                return f"LD-{year}-{counters[year]:06d}"

            for case in cases:
                batch.append(case)
                if len(batch) >= chunk:
                    yield self.maker.make(batch, state["demand_base"], reference, self.seed * 1_000_033 + case.index)
                    batch = []
            if batch:
                yield self.maker.make(batch, state["demand_base"], reference, self.seed * 1_000_033 + batch[0].index)

        return self._write(chunks, workers=0)

    def load_generated(self, count: int, fates=showcase, workers: int | None = None) -> LoadStats:
        """Draw ``count`` cases (as generate_cases would) and write them; the drawing
        and replaying runs in forked workers when the platform allows."""
        import multiprocessing
        import os

        planner = CasePlanner(self.world, self.now, self.seed)
        times = planner.logged_times(count)
        fates = (fates(planner, times) if callable(fates) else fates) or {}
        chunks_n = -(-count // CasePlanner.CHUNK)
        if workers is None:  # a worker pays off from some thousands of demands
            cpus = os.cpu_count() or 1
            workers = 0 if count < 20_000 else max(2, min(3, cpus - 1))
        if "fork" not in multiprocessing.get_all_start_methods():
            workers = 0

        def chunks(state) -> Iterator[_Chunk]:
            # Reference numbers follow the order of logging: each chunk's starting counters.
            start_counters, counters = [], dict(state["counters"])
            for c in range(chunks_n):
                start_counters.append(dict(counters))
                for _logged, received in times[c * CasePlanner.CHUNK:(c + 1) * CasePlanner.CHUNK]:
                    year = _at(received).year
                    counters[year] = counters.get(year, 0) + 1
            if not workers:
                for c in range(chunks_n):
                    yield _generated_chunk(planner, self.maker, times, fates, start_counters,
                                           state["demand_base"], c)
                return
            _WORKER.update(planner=planner, maker=self.maker, times=times, fates=fates,
                           start_counters=start_counters, demand_base=state["demand_base"])
            try:
                with multiprocessing.get_context("fork").Pool(workers) as pool:
                    # A few chunks ahead at most: the writer sets the pace, memory stays flat.
                    ahead = [pool.apply_async(_worker_chunk, (c,)) for c in range(min(chunks_n, 2 * workers))]
                    for c in range(chunks_n):
                        result = ahead.pop(0).get()
                        if c + len(ahead) + 1 < chunks_n:
                            ahead.append(pool.apply_async(_worker_chunk, (c + len(ahead) + 1,)))
                        yield result
            finally:
                _WORKER.clear()

        return self._write(chunks, workers=workers)

    # ------------------------------------------------------------ writing

    def _write(self, chunks: Callable[[dict], Iterator[_Chunk]], workers: int) -> LoadStats:
        """Number, chain and write the chunks. Every database call runs in one thread of its
        own, in order: the drivers let go of the GIL while the database works (SQLite while
        it steps, psycopg while it sends), so a batch is written while this thread numbers
        and chains the next."""
        import time
        from concurrent.futures import Future, ThreadPoolExecutor

        started = time.perf_counter()
        stats = LoadStats(workers=workers)
        if self.sqlite:
            self.engine.dispose()  # our pooled connections must not keep the database in WAL mode
        with ThreadPoolExecutor(1, thread_name_prefix="desk-bulk-writer") as db:
            conn = db.submit(self._open).result()
            try:
                state = db.submit(self._prepare, conn).result()
                self.rows: dict[str, list[tuple]] = {t: [] for t in TABLES}
                self.heap: list = []
                in_flight: list[Future] = []
                pending = 0

                def flush() -> None:
                    rows, self.rows = self.rows, {t: [] for t in TABLES}
                    in_flight.append(db.submit(self._flush, conn, rows, (self.prev_hash, self.seq),
                                               dict(self.counters)))
                    while len(in_flight) > 1:  # one batch written, the next one waiting: no more
                        stats.rows += in_flight.pop(0).result()

                for chunk in chunks(state):
                    self._absorb(chunk)
                    stats.events += self._chain(chunk.last_key)
                    stats.demands += chunk.count
                    pending += chunk.count
                    if pending >= self.commit_every:
                        flush()
                        if self.on_progress:
                            self.on_progress(pending)
                        pending = 0
                stats.events += self._chain(None)
                flush()
                for future in in_flight:
                    stats.rows += future.result()
                db.submit(self._finish, conn, state["demand_base"]).result()
                if self.on_progress and pending:
                    self.on_progress(pending)
            except BaseException:
                db.submit(self._rollback, conn).result()
                raise
            finally:
                db.submit(self._close, conn).result()
        stats.seconds = time.perf_counter() - started
        return stats

    # ------------------------------------------------------------ in the writer thread

    def _open(self) -> dict:
        raw = self.engine.raw_connection()
        conn = {"raw": raw, "cur": raw.cursor(), "journal": None, "indexes": []}
        if self.sqlite:
            cur = conn["cur"]
            # A rollback journal (crash-safe) instead of WAL while loading: pages that are
            # only appended are written once, not twice. Back to WAL at the end; if another
            # process has the database open, the mode stays WAL and the load is slower.
            cur.execute("PRAGMA journal_mode=DELETE")
            conn["journal"] = cur.fetchone()[0]
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA cache_size=-200000")
        return conn

    def _prepare(self, conn: dict) -> dict:
        """The desk as it is: next ids, the audit head, requesters, reference counters."""
        from .audit import GENESIS

        cur = conn["cur"]
        if self.sqlite:
            cur.execute("BEGIN IMMEDIATE")
        self.next_id = {t: self._scalar(cur, f"SELECT COALESCE(MAX(id), 0) FROM {t}") + 1 for t in TABLES}
        if self.sqlite:
            conn["indexes"] = self._drop_for_load(cur)
        head = self._fetch(cur, "SELECT last_hash, count FROM audit_head WHERE id = 1")
        self.prev_hash, self.seq = (head[0][0], head[0][1]) if head else (GENESIS, 0)
        self.has_head = bool(head)
        self.requesters = {tuple(r[1:]): r[0] for r in
                           self._fetch(cur, "SELECT id, agency, name, email, type FROM requesters")}
        state = {"demand_base": self.next_id["demands"],
                 "counters": dict(self._fetch(cur, "SELECT year, last_seq FROM reference_counters"))}
        self.counters = dict(state["counters"])
        return state

    def _finish(self, conn: dict, first_demand: int) -> None:
        raw, cur = conn["raw"], conn["cur"]
        if self.sqlite:
            self._restore_after_load(cur, conn["indexes"], first_demand)
        else:
            for table in TABLES:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) FROM {table} "
                            f"HAVING MAX(id) IS NOT NULL")
        raw.commit()

    @staticmethod
    def _rollback(conn: dict) -> None:
        conn["raw"].rollback()

    @staticmethod
    def _close(conn: dict) -> None:
        if conn["journal"] == "delete":
            conn["raw"].cursor().execute("PRAGMA journal_mode=WAL")
        conn["raw"].close()

    # ------------------------------------------------------------ in this thread

    def _absorb(self, chunk: _Chunk) -> None:
        """Number the chunk's rows, give its demands their requester ids (new requesters
        in order of first appearance, as intake creates them) and queue its events."""
        rows, next_id = self.rows, self.next_id
        requesters, new_requesters = self.requesters, rows["requesters"]
        out = rows["demands"]
        for row in chunk.rows["demands"]:
            req = row[4]
            key = (req[0], req[1], req[2], req[4])
            rid = requesters.get(key)
            if rid is None:
                rid = requesters[key] = next_id["requesters"]
                next_id["requesters"] = rid + 1
                new_requesters.append((rid,) + req)
            out.append(row[:4] + (rid,) + row[5:])
        # Counters: the highest reference number of each year this chunk used.
        for row in chunk.rows["demands"]:
            _, year, seq = row[1].split("-")
            if int(seq) > self.counters.get(int(year), 0):
                self.counters[int(year)] = int(seq)
        gag_base = next_id["gags"]
        for table in NUMBERED:
            src = chunk.rows[table]
            if not src:
                continue
            n = next_id[table]
            out = rows[table]
            if table == "gag_events":
                for row in src:
                    out.append((n, gag_base + row[0]) + row[1:])
                    n += 1
            else:
                for row in src:
                    out.append((n,) + row)
                    n += 1
            next_id[table] = n
        heap = self.heap
        for e in chunk.events:
            heapq.heappush(heap, e)

    def _chain(self, until_key: int | None) -> int:
        """Chain the queued events that come before ``until_key`` (all: None)."""
        heap, pop, sha256 = self.heap, heapq.heappop, hashlib.sha256
        audit_rows = self.rows["audit_events"]
        prev, seq, next_id = self.prev_hash, self.seq, self.next_id["audit_events"]
        start = seq
        while heap and (until_key is None or heap[0][0] < until_key):
            _key, at, actor_id, actor, action, before, after, demand_id, rest = pop(heap)
            seq += 1
            digest = sha256(f"{prev}[{seq}{rest}".encode()).hexdigest()
            audit_rows.append((next_id, seq, at, actor_id, actor, action, "demand", demand_id, demand_id,
                               before, after, prev, digest))
            next_id += 1
            prev = digest
        self.prev_hash, self.seq, self.next_id["audit_events"] = prev, seq, next_id
        return seq - start

    @staticmethod
    def _scalar(cur, sql: str):
        cur.execute(sql)
        return cur.fetchone()[0]

    @staticmethod
    def _fetch(cur, sql: str) -> list:
        cur.execute(sql)
        return list(cur.fetchall())

    def _flush(self, conn: dict, batch: dict[str, list[tuple]], head: tuple[str, int],
               counters: dict[int, int]) -> int:
        """Write a batch of rows with the audit head and reference counters as of its last
        row (in the writer thread)."""
        raw, cur = conn["raw"], conn["cur"]
        prev_hash, seq = head
        written = 0
        for table, columns in TABLES.items():
            rows = batch[table]
            if not rows:
                continue
            extra = self.extra.get(table)
            if extra:
                columns = columns + tuple(name for name, _ in extra)
                tail = tuple(value for _, value in extra)
                rows = [row + tail for row in rows]
            if self.sqlite:
                marks = ", ".join("?" for _ in columns)
                cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            else:
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    write = copy.write_row
                    for row in rows:
                        write(row)
            written += len(rows)
        if seq:
            if self.has_head:
                cur.execute(self._sql("UPDATE audit_head SET last_hash = ?, count = ? WHERE id = 1"),
                            (prev_hash, seq))
            else:
                cur.execute(self._sql("INSERT INTO audit_head (id, last_hash, count) VALUES (1, ?, ?)"),
                            (prev_hash, seq))
                self.has_head = True
        for year, last in counters.items():
            cur.execute(self._sql("INSERT INTO reference_counters (year, last_seq) VALUES (?, ?) "
                                  "ON CONFLICT (year) DO UPDATE SET last_seq = excluded.last_seq"), (year, last))
        if not self.sqlite:  # SQLite commits once, at the end
            raw.commit()
        return written

    def _drop_for_load(self, cur) -> list[tuple[str, str]]:
        """SQLite, inside the load's transaction: drop the loaded tables' secondary indexes
        and the report summary's triggers; returns the indexes' definitions."""
        from . import report_summary

        names = ", ".join(f"'{t}'" for t in TABLES)
        indexes = self._fetch(cur, "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                   f"AND sql IS NOT NULL AND tbl_name IN ({names}) ORDER BY name")
        for name, _sql in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        for sql in report_summary.drop_trigger_sql("sqlite"):
            cur.execute(sql)
        return indexes

    def _restore_after_load(self, cur, indexes: list[tuple[str, str]], first_demand: int) -> None:
        """Build the indexes again, add the new demands to the report summary, put its
        triggers back: still inside the load's transaction. (Adding each batch as it is
        written measured slower: the writer thread then competes with the rest.)"""
        from . import report_summary

        for _name, sql in indexes:
            cur.execute(sql)
        for sql in report_summary.ABSORB_SQL:
            cur.execute(sql, {"first": first_demand, "first_target": 0, "first_notice": 0, "first_gag": 0})
        for ddl in report_summary.trigger_ddl("sqlite"):
            cur.execute(ddl)

    def _sql(self, sql: str) -> str:
        return sql if self.sqlite else sql.replace("?", "%s")


# ---------------------------------------------------------------- the service path


def dispatcher_runs(world: World, cases: Iterable[CaseSpec], now: datetime) -> list[datetime]:
    """The modelled dispatcher's runs at which something happens to a notice."""
    runs: set[int] = set()
    for case in cases:
        runs |= CaseReplay(world, case, 0, "LD-0000-000000", 0, now, record_runs=True).run().runs
    return [_at(r) for r in sorted(runs)]


def load_through_services(app, world: World, cases: list[CaseSpec], now: datetime, *, mailer=None) -> None:
    """The reference path: every step through the services, in time order, one
    transaction each (as the views and the API do); the real dispatcher runs at the
    modelled dispatcher's times. Slow on purpose: for tests and small desks."""
    from pathlib import Path

    from . import workflow
    from .models import User
    from .notices.dispatcher import Dispatcher, MailSettings
    from .notices.mailer import mailer_from_config
    from .services import gags as gag_service
    from .services.case import get_demand
    from .services.intake import log_demand

    sessions = app.extensions["desk"]["sessionmaker"]
    config = app.config
    dispatcher = Dispatcher(sessions, mailer or mailer_from_config(config), MailSettings(
        mail_from=config["DESK_MAIL_FROM"], base_url=config["DESK_BASE_URL"],
        upload_dir=Path(config["DESK_UPLOAD_DIR"])))
    timeline: list[tuple] = [(step.at, case.index, number, case, step)
                             for case in cases for number, step in enumerate(case.steps)]
    timeline += [(r, -1, 0, None, None) for r in dispatcher_runs(world, cases, now)]
    timeline.sort(key=lambda x: (x[0], x[1], x[2]))
    ids: dict[int, int] = {}
    gag_changes = {"gag.set": gag_service.set_gag, "gag.extend": gag_service.extend_gag,
                   "gag.lift": gag_service.lift_gag, "defer-notices": gag_service.defer_notices}
    for at, index, _number, case, step in timeline:
        if case is None:
            dispatcher.run_once(at)
            continue
        session = sessions()
        try:
            actor = session.get(User, world.users[step.actor][0])
            if step.action == "log":
                ids[index] = log_demand(session, actor, step.body, now=at).id
            else:
                demand = get_demand(session, ids[index], for_update=True)
                if step.action in gag_changes:
                    gag_changes[step.action](session, actor, demand, step.body, now=at)
                else:
                    workflow.apply_action(session, actor, demand, step.action, step.body, now=at)
            session.commit()
        finally:
            session.close()


# ---------------------------------------------------------------- desk demo


def desk_state(session: Session) -> str:
    """'empty' (nothing but the rule tables), 'demo' (the demo is loaded) or 'data'."""
    from .models import Customer, Demand, User

    if demo_present(session):
        return "demo"
    for model in (Demand, User, Customer):
        if session.scalar(select(model.id).limit(1)) is not None:
            return "data"
    return "empty"


def load_demo(app, count: int, seed: int = 1, *, now: datetime | None = None,
              on_progress: Callable[[int], None] | None = None) -> LoadStats:
    """``desk demo``: the world through the services, the demands through the bulk path."""
    from .db import utcnow

    now = (now or utcnow()).replace(microsecond=0)
    sessions = app.extensions["desk"]["sessionmaker"]
    with sessions() as session:
        world = create_world(session, now)
        session.commit()
    loader = BulkLoader(app.extensions["desk"]["engine"], world, now, seed=seed, on_progress=on_progress)
    stats = loader.load_generated(count)
    with app.extensions["desk"]["engine"].begin() as conn:
        conn.exec_driver_sql("ANALYZE")  # fresh statistics for the query planner
    if count:
        stats.reports = publish_reports(app, now)
    return stats


def publish_reports(app, now: datetime) -> list[str]:
    """Compile and publish each ended half-year the demo covers in full (as the admin
    would), and compile the running half-year as a draft; returns the periods published."""
    from reports.periods import Period

    from .models import Demand, User
    from .services.reports import compile_report, publish_report

    sessions = app.extensions["desk"]["sessionmaker"]
    published = []
    with sessions() as session:
        admin = session.scalar(select(User).where(User.email == STAFF_LOGINS[0].email))
        first = session.scalar(select(func.min(Demand.received_at)))
        if first is None:
            return published
        period = Period.containing(now).previous()
        while period.start >= first:
            compile_report(session, admin, period.code, now)
            publish_report(session, admin, period.code, None, now)
            session.commit()
            published.append(period.code)
            period = period.previous()
        compile_report(session, admin, Period.containing(now).code, now)
        session.commit()
    return sorted(published)
