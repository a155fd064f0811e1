"""Which documents go to which customer (SPEC §7).

A demand's documents reach a customer with its notice of demand (attached), in its
notice's text and in its portal. On a demand that concerns one customer every document
goes to it. On a demand that concerns more than one, a document goes to no one until
counsel marks it for a customer (a ``DocumentRecipient`` row), and a redacted copy
uploaded for one customer (``Document.for_customer_id``) goes to that customer only.

``documents_for`` is that rule, and the only place it is written: the dispatcher's
attachments, the notice's content (e-mail and portal page), the portal's download and
the desk's "goes to" column all ask it. ``mark`` replaces counsel's marks.
"""
from __future__ import annotations

from typing import Collection, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .. import access, audit
from ..db import load_each, utcnow
from ..errors import Conflict, FieldErrors
from ..models import Customer, Demand, Document, DocumentRecipient, User


def shared(demand: Demand) -> bool:
    """The demand concerns more than one customer: its documents need counsel's marks."""
    return len(demand.customers) > 1


# Whom each document goes to, for documents by id (``db.load_each``: their ids as ``ids``).
RECIPIENTS = (select(DocumentRecipient).where(DocumentRecipient.document_id.in_(bindparam("ids", expanding=True)))
              .order_by(DocumentRecipient.document_id, DocumentRecipient.customer_id))


def _load_recipients(session: Session | None, demand: Demand) -> None:
    """Load every document's marks in one query (not one per document) when needed."""
    if session is not None:
        load_each(session, demand.documents, "recipients", RECIPIENTS, "document_id")


def documents_for(session: Session | None, demand: Demand, customer: Customer) -> list[Document]:
    """The documents of ``demand`` that go to ``customer``, in upload order.

    One customer: every document but a redacted copy made for another. More than one:
    the documents counsel marked for this customer, and the redacted copies made for it.
    A customer the demand does not concern gets none. ``session`` (or None) only serves
    to load the marks in one query when they are not loaded yet."""
    ids = [c.id for c in demand.customers]
    if customer.id not in ids:
        return []
    if len(ids) == 1:
        return [d for d in demand.documents if reaches(ids, d.for_customer_id, (), customer.id)]
    _load_recipients(session, demand)
    return [d for d in demand.documents
            if reaches(ids, d.for_customer_id, [r.customer_id for r in d.recipients], customer.id)]


def reaches(customer_ids: Sequence[int], for_customer_id: int | None, marked: Collection[int],
            customer_id: int) -> bool:
    """The rule of ``documents_for`` on plain values (the API's plain read asks it too):
    whether a document of a demand about ``customer_ids`` goes to ``customer_id``; it is a
    redacted copy for ``for_customer_id``, or an original counsel marked for ``marked``."""
    if customer_id not in customer_ids:
        return False
    if len(customer_ids) == 1:
        return for_customer_id in (None, customer_id)
    return for_customer_id == customer_id or (for_customer_id is None and customer_id in marked)


def destinations(session: Session | None, demand: Demand) -> dict[int, list[Customer]]:
    """For each document id of ``demand``, the customers it goes to (in target order)."""
    out: dict[int, list[Customer]] = {d.id: [] for d in demand.documents}
    for customer in demand.customers:
        for doc in documents_for(session, demand, customer):
            out[doc.id].append(customer)
    return out


def current_marks(demand: Demand) -> dict[int, set[int]]:
    """Counsel's marks: for each original document, the customers marked for it."""
    return {d.id: {r.customer_id for r in d.recipients} for d in demand.documents if d.for_customer_id is None}


def _as_audit(marks: dict[int, set[int]]) -> dict:
    return {"marks": {str(doc_id): sorted(customers) for doc_id, customers in sorted(marks.items())}}


def mark(session: Session, actor: User | None, demand: Demand, marks: dict[int, set[int]]) -> dict[int, set[int]]:
    """Replace the demand's marks with ``marks`` (document id → customer ids); a document
    left out goes to no customer. Each document must be the demand's and each customer
    one it concerns (else one 422 naming every ``marks.<document id>``); a redacted copy
    goes to its own customer only. Audited as one ``documents.marked`` event."""
    if actor is not None:
        access.require(actor, "document.mark", "mark which documents go to which customer")
    if not shared(demand):
        raise Conflict("This demand concerns one customer at most: every document goes to it with its notice, "
                       "so there is nothing to mark.")
    _load_recipients(session, demand)
    docs = {d.id: d for d in demand.documents}
    customers = {c.id: c for c in demand.customers}
    errors = FieldErrors()
    wanted: dict[int, set[int]] = {doc_id: set() for doc_id, d in docs.items() if d.for_customer_id is None}
    for doc_id, customer_ids in marks.items():
        field = f"marks.{doc_id}"
        doc = docs.get(doc_id)
        if doc is None:
            errors.add(field, f"document {doc_id} is not a document of this demand")
            continue
        for customer_id in sorted(customer_ids):
            if customer_id not in customers:
                errors.add(field, f"customer {customer_id} is not a customer of this demand")
            elif doc.for_customer_id is not None and customer_id != doc.for_customer_id:
                owner = customers.get(doc.for_customer_id)
                errors.add(field, f"{doc.filename} is a redacted copy for "
                                  f"{owner.name if owner else doc.for_customer_id}; it goes to that customer only")
            elif doc.for_customer_id is None:
                wanted[doc_id].add(customer_id)
    errors.raise_if_any()
    before = current_marks(demand)
    if before == wanted:
        return wanted
    now = utcnow()
    for doc_id, customer_ids in wanted.items():
        doc = docs[doc_id]
        for row in list(doc.recipients):
            if row.customer_id not in customer_ids:
                doc.recipients.remove(row)
        for customer_id in sorted(customer_ids - before.get(doc_id, set())):
            doc.recipients.append(DocumentRecipient(customer_id=customer_id, marked_by_id=actor.id if actor else None,
                                                    marked_at=now))
    session.flush()
    audit.record(session, actor, "documents.marked", "demand", demand.id, _as_audit(before), _as_audit(wanted),
                 demand_id=demand.id, at=now)
    return wanted
