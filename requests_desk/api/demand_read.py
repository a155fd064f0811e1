"""``GET /api/v1/demands/{id}`` from plain rows: the same JSON as ``serialize``, without
building ORM objects.

The ORM loader (``services/case.py: get_demand``) builds a demand, its targets,
customers, items, documents and their marks, files, gags and checks as objects with
change tracking: about 3 ms at any size, most of a GET's time. A read changes nothing,
so it selects the columns the JSON shows instead: one statement for the demand with
its requester, assignee, hold, verified agency and fraud flag (and how many children of
each kind it has), then one per kind of child it has. The parts go through the same
``serialize.body`` as the ORM's, and a test holds the two equal on every demand of a
demo desk (tests/test_api_plain_read.py); writes still load the ORM demand, locked.
"""
from __future__ import annotations

from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from ..models import (
    Agency,
    Customer,
    Demand,
    DemandItem,
    DemandTarget,
    Document,
    DocumentRecipient,
    EmergencyCheck,
    Gag,
    PreservationHold,
    ProductionFile,
    Requester,
    RequesterAccount,
    User,
)
from ..services.document_marks import reaches
from ..services.fraud_flags import flagged_clause
from .serialize import Parts, body

CHILDREN = ("targets", "items", "documents", "files", "gags", "checks")


def _count(model: Any) -> Any:
    return (select(func.count()).select_from(model).where(model.demand_id == Demand.id)
            .scalar_subquery())


@cache
def _main(hidden: tuple[str, ...]) -> Select:
    """The demand's row (by ``id``, among those a viewer lacking ``hidden`` may know)."""
    assignee, override_by, submitter = aliased(User), aliased(User), aliased(User)
    stmt = (
        select(
            *Demand.__table__.c,
            Requester.agency.label("r_agency"), Requester.name.label("r_name"), Requester.email.label("r_email"),
            Requester.phone.label("r_phone"), Requester.type.label("r_type"),
            assignee.email.label("assignee_email"), override_by.email.label("override_email"),
            PreservationHold.starts_at.label("hold_starts_at"), PreservationHold.ends_at.label("hold_ends_at"),
            PreservationHold.extended_at.label("hold_extended_at"), PreservationHold.id.label("hold_id"),
            Agency.name.label("a_name"), Agency.domain.label("a_domain"), Agency.country.label("a_country"),
            Agency.suspended_at.label("a_suspended_at"), submitter.email.label("a_email"),
            flagged_clause(Requester.email).label("flagged"),
            *(_count(m).label(f"n_{name}") for name, m in (
                ("targets", DemandTarget), ("items", DemandItem), ("documents", Document),
                ("files", ProductionFile), ("gags", Gag), ("checks", EmergencyCheck))),
        )
        .join(Requester, Requester.id == Demand.requester_id)
        .outerjoin(assignee, assignee.id == Demand.assignee_id)
        .outerjoin(override_by, override_by.id == Demand.checks_override_by_id)
        .outerjoin(PreservationHold, PreservationHold.demand_id == Demand.id)
        .outerjoin(RequesterAccount, RequesterAccount.user_id == Demand.requester_account_id)
        .outerjoin(Agency, Agency.id == RequesterAccount.agency_id)
        .outerjoin(submitter, submitter.id == RequesterAccount.user_id)
        .where(Demand.id == bindparam("id"))
    )
    if hidden:
        stmt = stmt.where(Demand.process_type.not_in(hidden))
    return stmt


@cache
def _children() -> dict[str, Select]:
    """One statement per kind of child, each by ``id`` (the demand's), in the ORM's order."""
    by = aliased(User)
    now = bindparam("now", type_=Gag.expires_at.type)
    return {
        "targets": select(DemandTarget.identifier, Customer.id, Customer.name, Customer.enterprise)
        .outerjoin(Customer, Customer.id == DemandTarget.customer_id)
        .where(DemandTarget.demand_id == bindparam("id")).order_by(DemandTarget.position, DemandTarget.id),
        "items": select(DemandItem.kind, DemandItem.target, DemandItem.data_set, DemandItem.date_from,
                        DemandItem.date_to, DemandItem.basis)
        .where(DemandItem.demand_id == bindparam("id")).order_by(DemandItem.id),
        "documents": select(Document.id, Document.filename, Document.sha256, Document.bytes,
                            Document.for_customer_id, DocumentRecipient.customer_id.label("marked"))
        .outerjoin(DocumentRecipient, DocumentRecipient.document_id == Document.id)
        .where(Document.demand_id == bindparam("id")).order_by(Document.id, DocumentRecipient.customer_id),
        "files": select(ProductionFile.name, ProductionFile.sha256, ProductionFile.bytes)
        .where(ProductionFile.demand_id == bindparam("id")).order_by(ProductionFile.id),
        "gags": select(Gag.order_ref, Gag.issued_by, Gag.issued_at, Gag.expires_at, Gag.lifted_at,
                       Gag.active_condition(now).label("active"))
        .where(Gag.demand_id == bindparam("id")).order_by(Gag.id),
        "checks": select(EmergencyCheck.check_code, by.email, EmergencyCheck.at, EmergencyCheck.note)
        .outerjoin(by, by.id == EmergencyCheck.by_id)
        .where(EmergencyCheck.demand_id == bindparam("id")).order_by(EmergencyCheck.id),
    }


def read_body(session: Session, demand_id: int, hidden: tuple[str, ...], now: datetime) -> dict | None:
    """The API's JSON of demand ``demand_id``, or None when there is none the viewer (who
    lacks the compartments ``hidden``) may know of."""
    row = session.execute(_main(hidden), {"id": demand_id}).first()
    if row is None:
        return None
    statements = _children()
    rows: dict[str, list[Any]] = {
        kind: list(session.execute(statements[kind], {"id": demand_id, "now": now}))
        if getattr(row, f"n_{kind}") else []
        for kind in CHILDREN
    }
    customers: dict[int, tuple[int, str, bool]] = {}
    for _ident, cid, name, enterprise in rows["targets"]:
        if cid is not None and cid not in customers:
            customers[cid] = (cid, name, bool(enterprise))
    ids = list(customers)
    documents: list[tuple[Any, list[int]]] = []
    marks: dict[int, list[int]] = {}
    for doc in rows["documents"]:
        if doc.id not in marks:
            marks[doc.id] = []
            documents.append((doc, []))
        if doc.marked is not None:
            marks[doc.id].append(doc.marked)
    for doc, to in documents:
        to.extend(cid for cid in ids if reaches(ids, doc.for_customer_id, marks[doc.id], cid))
    gags = rows["gags"]
    gag = next((g for g in gags if g.active), gags[-1] if gags else None)
    return body(Parts(
        demand=row,
        requester=SimpleNamespace(agency=row.r_agency, name=row.r_name, email=row.r_email, phone=row.r_phone,
                                  type=row.r_type),
        customers=list(customers.values()),
        targets=[t.identifier for t in rows["targets"]],
        items=rows["items"], files=rows["files"],
        hold=SimpleNamespace(starts_at=row.hold_starts_at, ends_at=row.hold_ends_at,
                             extended_at=row.hold_extended_at)
        if row.hold_id is not None and row.outcome == "preserved" else None,
        documents=documents,
        gag=gag, gag_active=bool(gag is not None and gag.active),
        assignee=row.assignee_email,
        verified_agency=None if row.a_name is None else {
            "name": row.a_name, "domain": row.a_domain, "country": row.a_country,
            "suspended": row.a_suspended_at is not None, "submitted_by": row.a_email},
        flagged=bool(row.flagged),
        checks=[(c[0], c[1], c[2], c[3]) for c in rows["checks"]],
        override_by=row.override_email,
    ), now)
