"""Customers: organisations whose accounts may be targeted, and target resolution."""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .. import audit
from ..errors import FieldErrors, NotFound, ValidationError
from ..models import Customer, CustomerAccount, CustomerContact, CustomerDomain, User
from . import parsing

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def snapshot(customer: Customer) -> dict:
    return {
        "id": customer.id,
        "name": customer.name,
        "enterprise": customer.enterprise,
        # sorted as the relationships load them, so a new customer reads as it will later
        "domains": sorted(d.domain for d in customer.domains),
        "accounts": sorted(a.identifier for a in customer.accounts),
        "contacts": [{"name": c.name, "email": c.email} for c in customer.contacts],
    }


def parse_customer(session: Session, data: Any, *, existing: Customer | None = None) -> dict:
    errors = FieldErrors()
    if not isinstance(data, dict):
        raise ValidationError({"": ["the body must be a JSON object"]})
    name = parsing.text(errors, data, "name", "name")
    enterprise = parsing.boolean(errors, data.get("enterprise", False), "enterprise")
    domains: list[str] = []
    for i, raw in enumerate(parsing.listing(errors, data, "domains", "domains", required=False)):
        domain = raw.strip().lower() if isinstance(raw, str) else ""
        if not DOMAIN_RE.match(domain):
            errors.add(f"domains[{i}]", "is not a domain name such as contoso.com")
        elif domain in domains:
            errors.add(f"domains[{i}]", "is listed twice")
        else:
            owner = session.scalar(select(CustomerDomain).where(CustomerDomain.domain == domain))
            if owner and (existing is None or owner.customer_id != existing.id):
                errors.add(f"domains[{i}]", "already belongs to another customer")
            domains.append(domain)
    accounts: list[str] = []
    for i, ident in parsing.identifiers(errors, data, "accounts", required=False):
        owner = session.scalar(select(CustomerAccount).where(CustomerAccount.identifier == ident))
        if owner and (existing is None or owner.customer_id != existing.id):
            errors.add(f"accounts[{i}]", "is already mapped to another customer")
        accounts.append(ident)
    contacts: list[dict] = []
    for i, raw in enumerate(parsing.listing(errors, data, "contacts", "contacts", required=False)):
        raw = parsing.mapping(errors, raw, f"contacts[{i}]")
        if not raw:
            continue
        cname = parsing.text(errors, raw, "name", f"contacts[{i}].name")
        cemail = parsing.email(errors, raw.get("email"), f"contacts[{i}].email")
        contacts.append({"name": cname, "email": cemail})
    if name:
        clash = session.scalar(select(Customer).where(Customer.name == name))
        if clash and (existing is None or clash.id != existing.id):
            errors.add("name", "another customer has this name")
    errors.raise_if_any()
    return {"name": name, "enterprise": enterprise, "domains": domains, "accounts": accounts, "contacts": contacts}


def create_customer(session: Session, actor: User | None, data: Any) -> Customer:
    clean = parse_customer(session, data)
    customer = Customer(name=clean["name"], enterprise=clean["enterprise"])
    _apply(customer, clean)
    session.add(customer)
    session.flush()
    audit.record(session, actor, "customer.create", "customer", customer.id, None, snapshot(customer))
    return customer


def update_customer(session: Session, actor: User | None, customer: Customer, data: Any) -> Customer:
    before = snapshot(customer)
    clean = parse_customer(session, data, existing=customer)
    customer.name, customer.enterprise = clean["name"], clean["enterprise"]
    customer.domains.clear()
    customer.accounts.clear()
    customer.contacts.clear()
    session.flush()
    _apply(customer, clean)
    session.flush()
    audit.record(session, actor, "customer.update", "customer", customer.id, before, snapshot(customer))
    return customer


def _apply(customer: Customer, clean: dict) -> None:
    customer.domains.extend(CustomerDomain(domain=d) for d in clean["domains"])
    customer.accounts.extend(CustomerAccount(identifier=a) for a in clean["accounts"])
    customer.contacts.extend(CustomerContact(name=c["name"], email=c["email"]) for c in clean["contacts"])


def get_customer(session: Session, customer_id: int) -> Customer:
    customer = session.scalar(
        select(Customer)
        .where(Customer.id == customer_id)
        .options(selectinload(Customer.domains), selectinload(Customer.accounts), selectinload(Customer.contacts))
    )
    if customer is None:
        raise NotFound(f"There is no customer {customer_id}.")
    return customer


def resolve_targets(session: Session, identifiers: list[str]) -> dict[str, Customer | None]:
    """Map each identifier to its customer: an explicit account mapping wins, else the
    domain of an e-mail identifier (or a parent domain); unresolved means a consumer."""
    resolved: dict[str, Customer | None] = {i: None for i in identifiers}
    if not identifiers:
        return resolved
    for account in session.scalars(
        select(CustomerAccount).where(CustomerAccount.identifier.in_(identifiers))
    ):
        resolved[account.identifier] = account.customer
    wanted: dict[str, list[str]] = {}
    for ident in identifiers:
        if resolved[ident] is None and "@" in ident:
            domain = ident.rsplit("@", 1)[1]
            parts = domain.split(".")
            for k in range(len(parts) - 1):
                wanted.setdefault(".".join(parts[k:]), []).append(ident)
    if wanted:
        owners = {
            d.domain: d.customer
            for d in session.scalars(select(CustomerDomain).where(CustomerDomain.domain.in_(list(wanted))))
        }
        for ident in identifiers:
            if resolved[ident] is None and "@" in ident:
                parts = ident.rsplit("@", 1)[1].split(".")
                for k in range(len(parts) - 1):  # most specific domain first
                    owner = owners.get(".".join(parts[k:]))
                    if owner is not None:
                        resolved[ident] = owner
                        break
    return resolved
