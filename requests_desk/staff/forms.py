"""The desk's forms. They hold no queries and few validators: each view turns a form
into the same plain dict the API takes, and the services' one rulebook checks it
(their per-field errors are mapped back onto these fields, see ``errormap``).
Choices are filled in by the views."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    FileField,
    Form,
    FormField,
    HiddenField,
    MultipleFileField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from ..vocabulary import CHANNEL_TERMS, REQUESTER_TYPE_TERMS, ROLE_TERMS, STAFF_ROLES

DATE = {"type": "date"}
DATETIME = {"type": "datetime-local", "step": "60"}


def choices(pairs, blank: str | None = "Choose…") -> list[SelectChoice]:
    """Select options from (value, label) pairs, with a blank first option."""
    out = [SelectChoice(str(value), label) for value, label in pairs]
    return ([SelectChoice("", blank)] if blank is not None else []) + out


class Select(SelectField):
    """A select that keeps an unknown submitted value (the service names the error)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("validate_choice", False)
        super().__init__(*args, **kwargs)


# ---------------------------------------------------------------- log a demand


class RequestedItemForm(Form):
    target = StringField("Account", render_kw={"list": "target-options", "autocomplete": "off"})
    data_set = Select("Data set")
    date_from = StringField("From", render_kw=DATE)
    date_to = StringField("To", render_kw=DATE)


class DemandForm(FlaskForm):
    requester_agency = StringField("Agency or firm")
    requester_name = StringField("Officer or contact name")
    requester_email = StringField("E-mail", render_kw={"type": "email", "autocomplete": "off"})
    requester_phone = StringField("Phone")
    requester_type = Select("Requester type", choices=choices((t.code, t.label) for t in REQUESTER_TYPE_TERMS))
    country = StringField("Country", render_kw={"list": "country-options", "maxlength": 2, "size": 4,
                                                "autocomplete": "off", "placeholder": "US"})
    process_type = Select("Process type")
    legal_reference = StringField("Legal reference (docket, case number)")
    issuing_authority = StringField("Issuing authority")
    received_at = StringField("Received (UTC)", render_kw=DATETIME)
    channel = Select("Channel", choices=choices(((t.code, t.label) for t in CHANNEL_TERMS), blank=None))
    emergency = BooleanField("Emergency (danger of death or serious injury)")
    justification = TextAreaField("Emergency justification", render_kw={"rows": 3})
    # An emergency's notice deferral given at logging (SPEC §9): the same as counsel's later one.
    defer_until = StringField("Hold customer notices until (UTC)", render_kw=DATETIME)
    defer_reason = TextAreaField("Why the customer must not be told yet", render_kw={"rows": 2})
    due_at = StringField("Due (UTC, optional)", render_kw=DATETIME)
    notes = TextAreaField("Notes", render_kw={"rows": 3})
    targets = FieldList(StringField("Account identifier", render_kw={"autocomplete": "off"}), min_entries=1)
    requested = FieldList(FormField(RequestedItemForm), min_entries=1)
    gag_order_ref = StringField("Order reference")
    gag_issued_by = StringField("Issued by")
    gag_issued_at = StringField("Issued on", render_kw=DATE)
    gag_expires_at = StringField("Expires (UTC)", render_kw=DATETIME)
    gag_no_end = BooleanField("No end date")
    documents = MultipleFileField("Legal-process documents (PDF, at most 20 MiB each)",
                                  render_kw={"accept": "application/pdf,.pdf"})


# ---------------------------------------------------------------- the case page


class NoteForm(FlaskForm):
    note = TextAreaField("Note", render_kw={"rows": 3})


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason", render_kw={"rows": 3})


class ConfirmForm(FlaskForm):
    """An action without fields: the button is the form."""


class ItemRowForm(Form):
    """One row of the scope builder, the preservation form or the production form."""

    include = BooleanField("Include")
    target = HiddenField()
    data_set = HiddenField()
    date_from = StringField("From", render_kw=DATE)
    date_to = StringField("To", render_kw=DATE)
    basis = TextAreaField("Legal basis", render_kw={"rows": 2})


class ScopeForm(FlaskForm):
    items = FieldList(FormField(ItemRowForm))


class ManifestRowForm(Form):
    name = StringField("File name")
    sha256 = StringField("SHA-256", render_kw={"spellcheck": "false", "autocomplete": "off",
                                               "pattern": "[0-9a-fA-F]{64}"})
    size = StringField("Bytes", render_kw={"inputmode": "numeric"})


class ProductionForm(FlaskForm):
    items = FieldList(FormField(ItemRowForm))
    files = MultipleFileField("Produced files")
    keep = BooleanField("Keep a copy of the files on the desk")
    manifest = FieldList(FormField(ManifestRowForm), min_entries=1)


class AssignForm(FlaskForm):
    assignee = Select("Counsel")
    reason = TextAreaField("Reason", render_kw={"rows": 2})


class DueForm(FlaskForm):
    due_at = StringField("New due date (UTC)", render_kw=DATETIME)
    reason = TextAreaField("Reason", render_kw={"rows": 2})


class GagForm(FlaskForm):
    order_ref = StringField("Order reference")
    issued_by = StringField("Issued by")
    issued_at = StringField("Issued on", render_kw=DATE)
    expires_at = StringField("Expires (UTC)", render_kw=DATETIME)
    no_end = BooleanField("No end date")


class GagExtendForm(FlaskForm):
    expires_at = StringField("New expiry (UTC)", render_kw=DATETIME)
    no_end = BooleanField("No end date")


class DeferForm(FlaskForm):
    until = StringField("Hold the notices until (UTC)", render_kw=DATETIME)
    reason = TextAreaField("Reason", render_kw={"rows": 2})


class CheckForm(FlaskForm):
    """One of the four emergency checks (the check's code is a hidden field; the form's
    prefix is the code, so each row of the panel keeps its own input)."""

    note = TextAreaField("What was done", render_kw={"rows": 2})


class UploadForm(FlaskForm):
    documents = MultipleFileField("PDF documents (at most 20 MiB each)",
                                  render_kw={"accept": "application/pdf,.pdf"})


class MarkDocumentsForm(FlaskForm):
    """Counsel's marks: one box per document and customer, valued ``<document>-<customer>``
    (the case page draws the boxes in a table; the view reads the ticked values)."""

    goes_to = SelectMultipleField("Goes to", validate_choice=False)


class CopyForm(FlaskForm):
    customer_id = Select("Upload a redacted copy for")
    document = FileField("Redacted copy (PDF, at most 20 MiB)", render_kw={"accept": "application/pdf,.pdf"})


class BreakGlassForm(FlaskForm):
    """Break-glass: the reason (at least 10 characters) and where to go back to."""

    reason = TextAreaField("Why do you need this demand's files?", render_kw={"rows": 3})
    next = HiddenField()


# ---------------------------------------------------------------- admin


class ContactRowForm(Form):
    name = StringField("Name")
    email = StringField("E-mail", render_kw={"type": "email"})


class CustomerForm(FlaskForm):
    name = StringField("Name")
    enterprise = BooleanField("Enterprise customer (redirect requesters to it first)")
    domains = TextAreaField("Domains, one a line", render_kw={"rows": 3, "spellcheck": "false"})
    accounts = TextAreaField("Account identifiers mapped to it, one a line",
                             render_kw={"rows": 3, "spellcheck": "false"})
    contacts = FieldList(FormField(ContactRowForm), min_entries=1)


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):  # the service names unknown roles
        pass


class UserForm(FlaskForm):
    email = StringField("E-mail", render_kw={"type": "email", "autocomplete": "off"})
    name = StringField("Name")
    kind = Select("Kind of user", choices=choices([("staff", "Legal team (staff)"), ("customer", "Customer user")],
                                                  blank=None))
    roles = MultiCheckbox("Staff roles", choices=choices(((r, ROLE_TERMS.label(r)) for r in STAFF_ROLES), blank=None))
    customer = Select("Customer organisation")


class UserEditForm(FlaskForm):
    roles = MultiCheckbox("Staff roles", choices=choices(((r, ROLE_TERMS.label(r)) for r in STAFF_ROLES), blank=None))
    active = BooleanField("Active (may sign in)")
