"""The world the case specs refer to: the demo's users and customers (made through the
services), their accounts, the rule tables, and the customer whose mail server fails."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..models import Customer, CustomerContact, RequesterAccount, User
from ..rules import data_sets, process_rules
from ..services.agencies import AgencyInput, load_agencies
from ..services.customers import create_customer, resolve_targets
from ..services.requester_accounts import mark_confirmed, register
from ..services.users import create_user
from .people import (
    CONSUMER_DOMAINS,
    CUSTOMERS,
    FIRST,
    LAST,
    OUTAGE_CUSTOMER,
    OUTAGE_DAYS,
    REQUESTER_LOGIN,
    REQUESTER_PHONE,
    STAFF_LOGINS,
    USER_KEYS,
    VERIFIED_AGENCIES,
    customer_login,
    refusal_text,
)


@dataclass(frozen=True)
class RuleInfo:
    """A process rule's values (``ProcessRule``'s attributes, so the services' functions
    that read a rule read this one too), loaded once and sent to worker processes."""

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
    create_requester_side(session, now)
    session.flush()
    return load_world(session, now, outage=outage)


def create_requester_side(session: Session, now: datetime) -> None:
    """The verified agencies and one requester who registered and confirmed its address
    (through the services; it signs in with two-factor like staff, enrolling at first)."""
    load_agencies(session, None, [AgencyInput(d, n, c) for d, n, c in VERIFIED_AGENCIES], now=now)
    login = REQUESTER_LOGIN
    done = register(session, {"name": login.name, "agency": login.agency, "email": login.email,
                              "phone": REQUESTER_PHONE, "password": login.password},
                    link_for=lambda user: "(confirmed by the demo)", hours=1, now=now)
    mark_confirmed(session, session.get(RequesterAccount, done.user.id), now)
    session.delete(done.mail)  # the demo's requester confirmed already: no mail to send


def demo_present(session: Session) -> bool:
    return session.scalar(select(User.id).where(User.email == STAFF_LOGINS[0].email)) is not None


def load_world(session: Session, now: datetime, *, outage: bool = True) -> World:
    """The world of a desk that has the demo's customers and users."""
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
