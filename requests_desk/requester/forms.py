"""The requester portal's forms, and how a submission's form becomes the demand body
``services.requester_demands.submit_demand`` takes.

``SIMPLE_FIELDS`` is the one list of the form's plain fields: each row names the form
field, the body key it fills and the error key that comes back for it. Adding a field
is a row here, a field on ``SubmitForm`` and a line in ``templates/requests/new.html``
(the ``extra_fields`` block is a place for it). A dotted body key fills a nested object,
sent only when one of its fields is filled in: ``("defer_until", "defer_notices.until",
"defer_notices.until")`` and ``("defer_reason", "defer_notices.reason", …)`` make
``{"defer_notices": {"until": …, "reason": …}}``."""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    FormField,
    MultipleFileField,
    PasswordField,
    StringField,
    TextAreaField,
)

from ..staff.forms import DATETIME, RequestedItemForm, Select, choices
from ..vocabulary import REQUESTER_TYPE_TERMS


class RegisterForm(FlaskForm):
    name = StringField("Your name")
    agency = StringField("Agency, unit or office")
    email = EmailField("Official e-mail address")
    phone = StringField("Phone")
    password = PasswordField("Password")


class SubmitForm(FlaskForm):
    requester_type = Select("Requester type", choices=choices((t.code, t.label) for t in REQUESTER_TYPE_TERMS))
    country = StringField("Country", render_kw={"list": "country-options", "maxlength": 2, "size": 4,
                                                "autocomplete": "off", "placeholder": "US"})
    process_type = Select("Process type")
    legal_reference = StringField("Legal reference (docket, case number)")
    issuing_authority = StringField("Issuing authority")
    emergency = BooleanField("Emergency (danger of death or serious injury)")
    justification = TextAreaField("Emergency justification", render_kw={"rows": 3})
    # SPEC §9: an emergency's customer-notice deferral, asked for with the submission.
    defer_until = StringField("Ask us not to tell the customer before (UTC)", render_kw=DATETIME)
    defer_reason = TextAreaField("Why the customer must not be told yet", render_kw={"rows": 2})
    targets = FieldList(StringField("Account identifier", render_kw={"autocomplete": "off"}), min_entries=1)
    requested = FieldList(FormField(RequestedItemForm), min_entries=1)
    documents = MultipleFileField("Legal-process documents (PDF, at most 20 MiB each)",
                                  render_kw={"accept": "application/pdf,.pdf"})


class ConfirmForm(FlaskForm):
    """A button without fields (withdraw)."""


# (form field, body key, error key)
SIMPLE_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("requester_type", "requester_type", "requester.type"),
    ("country", "country", "country"),
    ("process_type", "process_type", "process_type"),
    ("legal_reference", "legal_reference", "legal_reference"),
    ("issuing_authority", "issuing_authority", "issuing_authority"),
    ("emergency", "emergency", "emergency"),
    ("justification", "justification", "justification"),
    ("defer_until", "defer_notices.until", "defer_notices.until"),
    ("defer_reason", "defer_notices.reason", "defer_notices.reason"),
)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def submission(form: SubmitForm) -> tuple[dict, list[int], list[int]]:
    """The form's values by body key, with the positions of the rows that were sent."""
    target_rows = [i for i, e in enumerate(form.targets.entries) if not _blank(e.data)]
    item_rows = [
        i for i, e in enumerate(form.requested.entries)
        if not all(_blank(e.form[name].data) for name in ("target", "date_from", "date_to"))
    ]
    body: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for name, key, _ in SIMPLE_FIELDS:
        value = getattr(form, name).data
        value = bool(value) if isinstance(getattr(form, name), BooleanField) else (
            None if _blank(value) else value.strip() if isinstance(value, str) else value)
        outer, dot, inner = key.partition(".")
        if dot:
            nested.setdefault(outer, {})[inner] = value
        else:
            body[key] = value
    body.update({outer: fields for outer, fields in nested.items()
                 if any(v not in (None, False) for v in fields.values())})
    body["targets"] = [form.targets.entries[i].data for i in target_rows]
    body["requested"] = [
        {"target": form.requested.entries[i].form.target.data,
         "data_set": form.requested.entries[i].form.data_set.data,
         "from": form.requested.entries[i].form.date_from.data,
         "to": form.requested.entries[i].form.date_to.data}
        for i in item_rows
    ]
    return body, target_rows, item_rows


def error_fields(form: SubmitForm) -> dict[str, Any]:
    """Error key → the form field it is shown on."""
    fields = {error_key: getattr(form, name) for name, _, error_key in SIMPLE_FIELDS}
    # The requester row comes from the account: its other errors read as the type's.
    fields.update({"requester": form.requester_type, "file": form.documents, "documents": form.documents,
                   "defer_notices": form.defer_until})
    return fields
