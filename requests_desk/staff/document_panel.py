"""The case page's documents section: which customers each document goes to and, for
counsel on a demand about several customers, the form marking them and the form adding
a redacted copy for one. ``documents.py`` posts those forms; a refused one comes back
in ``submitted`` under ``MARKS`` or ``COPY`` (not an action's name: these are no actions
of the actions panel)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import access
from ..models import Customer, Demand, Document, User, parse_id
from ..services.document_marks import current_marks, destinations, shared
from . import forms

MARKS = "documents:marks"
COPY = "documents:copy"


@dataclass
class DocumentRow:
    doc: Document
    copy_for: Customer | None  # a redacted copy's customer
    goes_to: list[Customer]
    ticked: set[int] = field(default_factory=set)  # the customers ticked in the mark form


@dataclass
class DocumentPanel:
    customers: list[Customer]
    shared: bool
    rows: list[DocumentRow]
    unmarked: list[Document]  # originals that go to no customer yet
    mark_form: Any = None
    copy_form: Any = None


def tick_value(doc_id: int, customer_id: int) -> str:
    return f"{doc_id}-{customer_id}"


def parse_ticks(values: list[str]) -> tuple[dict[int, set[int]], list[str]]:
    """The ticked ``<document>-<customer>`` values as marks, and the values that are not."""
    marks: dict[int, set[int]] = {}
    bad = []
    for value in values:
        doc, _, customer = (value or "").partition("-")
        doc_id, customer_id = parse_id(doc), parse_id(customer)
        if doc_id is None or customer_id is None:
            bad.append(value)
        else:
            marks.setdefault(doc_id, set()).add(customer_id)
    return marks, bad


def document_panel(demand: Demand, user: User, submitted: dict[str, Any]) -> DocumentPanel:
    customers = demand.customers
    is_shared = shared(demand)
    goes_to = destinations(None, demand)
    by_id = {c.id: c for c in customers}
    mark_form = copy_form = None
    if is_shared and access.may(user, "document.mark"):
        mark_form = submitted.get(MARKS)
        if mark_form is not None:  # refused: show what was ticked, not what is kept
            ticked, _ = parse_ticks(mark_form.goes_to.data or [])
        else:
            mark_form = forms.MarkDocumentsForm(formdata=None)
            ticked = current_marks(demand)
        copy_form = submitted.get(COPY) or forms.CopyForm(prefix="copy", formdata=None)
        copy_form.customer_id.choices = forms.choices(((c.id, c.name) for c in customers))
    else:
        ticked = {}
    rows = [DocumentRow(d, by_id.get(d.for_customer_id) if d.for_customer_id else None, goes_to[d.id],
                        ticked.get(d.id, set())) for d in demand.documents]
    unmarked = [r.doc for r in rows if is_shared and r.doc.for_customer_id is None and not r.goes_to]
    return DocumentPanel(customers, is_shared, rows, unmarked,
                         mark_form if any(r.doc.for_customer_id is None for r in rows) else None, copy_form)
