"""The one door through which the portal reads notices and documents.

``portal_notices`` is every notice a customer user may see right now: their own
organisation's, not ``held``, and not about a demand whose gag is active at ``now``
(a gag hides even the notices sent before it was set). Every portal query starts
from it — the list, a notice page, a document download — so a page cannot forget a
rule. Anything outside it answers 404, exactly like something that does not exist.
A document is downloadable only when it goes to the user's organisation
(``services.document_marks.documents_for``, the rule the notice itself follows).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..models import Customer, Document, Notice, User, gag_active_clause
from ..services.document_marks import documents_for


def portal_notices(session: Session, user: User, now: datetime) -> Select:
    """SELECT of the notices ``user`` may see at ``now`` (add filters, order, limits)."""
    if user.customer_id is None or not user.has_role("customer"):
        return select(Notice).where(False)
    return select(Notice).where(
        Notice.customer_id == user.customer_id,
        Notice.state != "held",
        ~gag_active_clause(Notice.demand_id, now),
    )


def portal_notice(session: Session, user: User, notice_id: int, now: datetime) -> Notice:
    notice = session.scalar(portal_notices(session, user, now).where(Notice.id == notice_id))
    if notice is None:
        raise NotFound("There is no such notice.")
    return notice


def portal_document(session: Session, user: User, document_id: int, now: datetime) -> Document:
    """A document of a demand with a notice this user may see now, which goes to the
    user's organisation (counsel marked it for it, or it is the demand's one customer)."""
    visible = portal_notices(session, user, now).with_only_columns(Notice.demand_id)
    doc = session.scalar(
        select(Document).where(Document.id == document_id, Document.demand_id.in_(visible))
    )
    customer = session.get(Customer, user.customer_id) if doc is not None else None
    if doc is None or customer is None or doc not in documents_for(session, doc.demand, customer):
        raise NotFound("There is no such document.")
    return doc
