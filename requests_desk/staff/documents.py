"""What the case page's documents section posts (counsel, on a demand about several
customers): the marks saying which documents go to which customer, and a redacted copy
for one customer. Each view loads the demand (404), calls the service and commits once;
a refusal rolls back and shows the case page again with the reason in the section."""
from __future__ import annotations

from flask import g, request

from .. import access
from ..db_session import get_session
from ..errors import DeskError, ValidationError
from ..services import document_marks
from ..services import documents as document_service
from . import forms
from .blueprint import bp
from .document_panel import COPY, MARKS, parse_ticks
from .errormap import friendly
from .views import check_page_version, done_on_case, load_demand, refused_on_case


@bp.post("/demands/<int:demand_id>/documents/marks")
def mark_documents(demand_id: int):
    demand = load_demand(demand_id, for_update=True)
    session = get_session()
    form = forms.MarkDocumentsForm()
    try:
        check_page_version(demand)
        access.require(g.user, "document.mark", "mark which documents go to which customer")
        marks, bad = parse_ticks(form.goes_to.data or [])
        if bad:
            raise ValidationError({"goes_to": [f"“{value[:40]}” is not a document and a customer of this demand"
                                               for value in bad]})
        document_marks.mark(session, g.user, demand, marks)
        session.commit()
    except DeskError as err:
        return refused_on_case(demand_id, "mark-documents", {MARKS: form}, err)
    return done_on_case(demand_id, "mark-documents", "documents")


@bp.post("/demands/<int:demand_id>/documents/copy")
def upload_copy(demand_id: int):
    demand = load_demand(demand_id, for_update=True)
    session = get_session()
    form = forms.CopyForm(prefix="copy")
    upload = request.files.get(form.document.name)
    try:
        check_page_version(demand)
        access.require(g.user, "document.mark", "add a redacted copy for one customer")
        if not form.customer_id.data:
            raise ValidationError({"customer_id": ["choose the customer the copy is for"]})
        if upload is None or not upload.filename:
            raise ValidationError({"file": ["choose the redacted copy (a PDF)"]})
        document_service.store_document(session, g.user, demand, upload.filename, upload.stream,
                                        for_customer=form.customer_id.data)
        session.commit()
    except DeskError as err:
        for key, target in (("customer_id", form.customer_id), ("file", form.document)):
            target.errors = [friendly(m) for m in err.errors.get(key, [])]
        return refused_on_case(demand_id, "upload-copy", {COPY: form}, err)
    return done_on_case(demand_id, "upload-copy", "documents")
