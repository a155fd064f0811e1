"""``GET /api/v1/demands/{id}`` from plain rows: the same JSON as ``serialize``, without
building ORM objects.

The ORM loader (``services/case.py: get_demand``) builds a demand, its targets,
customers, items, documents and their marks, files, gags and checks as objects with
change tracking: about 3 ms at any size, most of a GET's time. A read changes nothing,
so it selects the columns the JSON shows instead: one statement for the demand with
its requester, assignee, hold, verified agency and fraud flag, then one for all its
children, each kind a branch of a UNION ALL. The parts go through the same
``serialize.body`` as the ORM's, and a test holds the two equal on every demand of a
demo desk (tests/test_api_plain_read.py); writes still load the ORM demand, locked.
"""
from __future__ import annotations

from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Integer,
    Select,
    String,
    Text,
    bindparam,
    cast,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from ..db import UTCDateTime
from ..statements import CompiledOnce
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
from ..services.case import fixed_codes
from ..services.document_marks import reaches
from ..services.fraud_flags import flagged_clause
from .serialize import Parts, body

CHILDREN = ("targets", "items", "documents", "files", "gags", "checks")


@cache
def _main(hidden: tuple[str, ...]) -> CompiledOnce:
    """The demand's row (by ``id``, among those a viewer lacking ``hidden`` may know)."""
    assignee, override_by, submitter = aliased(User), aliased(User), aliased(User)
    stmt = (
        select(
            *Demand.__table__.c,
            Requester.agency.label("r_agency"), Requester.name.label("r_name"), Requester.email.label("r_email"),
            Requester.phone.label("r_phone"), Requester.type.label("r_type"),
            assignee.email.label("assignee_email"), assignee.name.label("assignee_name"),
            override_by.email.label("override_email"),
            PreservationHold.starts_at.label("hold_starts_at"), PreservationHold.ends_at.label("hold_ends_at"),
            PreservationHold.extended_at.label("hold_extended_at"), PreservationHold.id.label("hold_id"),
            Agency.name.label("a_name"), Agency.domain.label("a_domain"), Agency.country.label("a_country"),
            Agency.suspended_at.label("a_suspended_at"), Agency.suspension_reason.label("a_suspension_reason"),
            submitter.email.label("a_email"), RequesterAccount.agency_name.label("a_as_typed"),
            RequesterAccount.confirmed_at.label("a_confirmed_at"),
            flagged_clause(Requester.email).label("flagged"),
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
        stmt = stmt.where(Demand.process_type.not_in(fixed_codes(hidden)))
    return CompiledOnce(stmt)


# The children's UNION: every branch gives these columns, in this order (NULL where a kind
# has nothing); the first branch's types decide how each column is read back. The case
# page's read (staff/case_read.py) adds its own kinds over the same slots.
SLOTS = (("kind", String), ("ord1", BigInteger), ("ord2", Integer), ("i1", Integer), ("i2", BigInteger),
         ("i3", Integer), ("s1", Text), ("s2", Text), ("s3", Text), ("s4", Text), ("s5", Text),
         ("b1", Boolean), ("d1", Date), ("d2", Date), ("t1", UTCDateTime), ("t2", UTCDateTime),
         ("t3", UTCDateTime))


def branch(kind: str, model: Any, **columns: Any) -> Select:
    """One kind's SELECT over the slots: ``columns`` fills some, the rest are NULL."""
    unknown = set(columns) - {name for name, _ in SLOTS}
    if unknown:
        raise ValueError(f"no such slot: {sorted(unknown)}")
    return select(*(
        literal(kind, String).label("kind") if name == "kind"
        else type_coerce(columns[name], kind_type).label(name) if name in columns
        else cast(null(), kind_type).label(name)  # typed: PostgreSQL's UNION needs it
        for name, kind_type in SLOTS
    )).where(model.demand_id == bindparam("id"))


def demand_branches() -> list[Select]:
    """The demand's own children, a branch each: targets (with their customers), items,
    documents (a row per mark), production files, gags (active at ``now`` or not) and
    checks (with who recorded each)."""
    by = aliased(User)
    now = bindparam("now", type_=Gag.expires_at.type)
    return [
        branch("checks", EmergencyCheck, ord1=EmergencyCheck.id, i1=EmergencyCheck.by_id, s1=EmergencyCheck.check_code,
               s2=by.email, s3=EmergencyCheck.note, s4=by.name, t1=EmergencyCheck.at)
        .outerjoin(by, by.id == EmergencyCheck.by_id),
        branch("documents", Document, ord1=Document.id, ord2=DocumentRecipient.customer_id, i1=Document.id,
               i2=Document.bytes, i3=Document.for_customer_id, s1=Document.filename, s2=Document.sha256,
               t1=Document.uploaded_at)
        .outerjoin(DocumentRecipient, DocumentRecipient.document_id == Document.id),
        branch("files", ProductionFile, ord1=ProductionFile.id, i1=ProductionFile.id, i2=ProductionFile.bytes,
               s1=ProductionFile.name, s2=ProductionFile.sha256, s3=ProductionFile.stored_name),
        branch("gags", Gag, ord1=Gag.id, i1=Gag.id, s1=Gag.order_ref, s2=Gag.issued_by, d1=Gag.issued_at,
               t1=Gag.expires_at, t2=Gag.lifted_at, t3=Gag.set_at, b1=Gag.active_condition(now)),
        branch("items", DemandItem, ord1=DemandItem.id, s1=DemandItem.kind, s2=DemandItem.target,
               s3=DemandItem.data_set, s4=DemandItem.basis, d1=DemandItem.date_from, d2=DemandItem.date_to),
        branch("targets", DemandTarget, ord1=DemandTarget.position, ord2=DemandTarget.id, i1=Customer.id,
               s1=DemandTarget.identifier, s2=Customer.name, b1=Customer.enterprise)
        .outerjoin(Customer, Customer.id == DemandTarget.customer_id),
    ]


def ordered_union(branches: list[Select]) -> CompiledOnce:
    """The branches as one statement, by kind and then in each kind's order."""
    both = union_all(*branches).subquery()
    return CompiledOnce(select(both).order_by(both.c.kind, both.c.ord1, both.c.ord2))


@cache
def _children() -> CompiledOnce:
    """Every child of demand ``id`` in one statement (``demand_branches``)."""
    return ordered_union(demand_branches())


def read_rows(db: Connection, children: CompiledOnce, demand_id: int, hidden: tuple[str, ...],
              now: datetime) -> tuple[Any, dict[str, list[Any]]] | None:
    """Demand ``demand_id``'s row (``_main``) and its children's rows by kind (from
    ``children``, a union over ``SLOTS``), or None when there is none the viewer (who
    lacks the compartments ``hidden``) may know of. ``db`` is a connection (a session's,
    or ``db_session.plain_reads``): plain rows, as the ORM's execution path adds a tenth
    of a millisecond a statement."""
    row = _main(hidden).run(db, {"id": demand_id}).first()
    if row is None:
        return None
    rows: dict[str, list[Any]] = {kind: [] for kind in CHILDREN}
    for child in children.run(db, {"id": demand_id, "now": now}):
        rows.setdefault(child.kind, []).append(child)
    return row, rows


def read_body(db: Connection, demand_id: int, hidden: tuple[str, ...], now: datetime) -> dict | None:
    """The API's JSON of demand ``demand_id``, or None when there is none the viewer (who
    lacks the compartments ``hidden``) may know of."""
    read = read_rows(db, _children(), demand_id, hidden, now)
    return None if read is None else body(parts_from(*read), now)


def parts_from(row: Any, rows: dict[str, list[Any]]) -> Parts:
    """``serialize.Parts`` from the demand's row and its children's rows (``read_rows``)."""
    customers: dict[int, tuple[int, str, bool]] = {}
    for t in rows["targets"]:
        if t.i1 is not None and t.i1 not in customers:
            customers[t.i1] = (t.i1, t.s2, bool(t.b1))
    ids = list(customers)
    documents: list[tuple[Any, list[int]]] = []
    marks: dict[int, list[int]] = {}
    for d in rows["documents"]:
        if d.i1 not in marks:
            marks[d.i1] = []
            documents.append((SimpleNamespace(id=d.i1, filename=d.s1, sha256=d.s2, bytes=d.i2,
                                              for_customer_id=d.i3), []))
        if d.ord2 is not None:
            marks[d.i1].append(d.ord2)
    for doc, to in documents:
        to.extend(cid for cid in ids if reaches(ids, doc.for_customer_id, marks[doc.id], cid))
    gags = [SimpleNamespace(order_ref=g.s1, issued_by=g.s2, issued_at=g.d1, expires_at=g.t1, lifted_at=g.t2,
                            active=bool(g.b1)) for g in rows["gags"]]
    gag = next((g for g in gags if g.active), gags[-1] if gags else None)
    return Parts(
        demand=row,
        requester=SimpleNamespace(agency=row.r_agency, name=row.r_name, email=row.r_email, phone=row.r_phone,
                                  type=row.r_type),
        customers=list(customers.values()),
        targets=[t.s1 for t in rows["targets"]],
        items=[SimpleNamespace(kind=i.s1, target=i.s2, data_set=i.s3, basis=i.s4, date_from=i.d1, date_to=i.d2)
               for i in rows["items"]],
        files=[SimpleNamespace(name=f.s1, sha256=f.s2, bytes=f.i2) for f in rows["files"]],
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
        checks=[(c.s1, c.s2, c.t1, c.s3) for c in rows["checks"]],
        override_by=row.override_email,
    )
