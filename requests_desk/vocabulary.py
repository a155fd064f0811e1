"""The desk's one vocabulary: every code the database, the API, the CSV and the reports
use, each with the words shown to people.

Flask-free and SQLAlchemy-free (``reports/`` imports it as it is). A code's words may
differ by audience, and each audience's words are a field of the same ``Term``:

- ``label``: the desk's name for it (pages, timeline, e-mails to staff);
- ``short``: a column heading or a chart legend where space is tight;
- ``public``: the published report's name, and ``public_help`` its definition there;
- ``customer`` and ``customer_help``: what a notice to a customer says.

Add a code here first; the model's CHECK constraints, the forms' choices and the
report's tables all read it from here.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator


@dataclass(frozen=True)
class Term:
    code: str
    label: str
    short: str = ""
    help: str = ""
    public: str = ""
    public_help: str = ""
    customer: str = ""
    customer_help: str = ""

    def __post_init__(self) -> None:  # unset words fall back to the desk's label
        for name in ("short", "public", "customer"):
            if not getattr(self, name):
                object.__setattr__(self, name, self.label)


class Terms:
    """An ordered set of terms: iterate for the terms, ``.codes`` for the codes."""

    def __init__(self, *terms: Term) -> None:
        self._terms = terms
        self._by_code = {t.code: t for t in terms}
        self.codes: tuple[str, ...] = tuple(t.code for t in terms)

    def __iter__(self) -> Iterator[Term]:
        return iter(self._terms)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __getitem__(self, code: str) -> Term:
        return self._by_code[code]

    def get(self, code: str | None) -> Term | None:
        return self._by_code.get(code or "")

    def label(self, code: str | None, field: str = "label", *, default: str = "—") -> str:
        """The term's words in ``field``; an unknown code reads as itself in words, and
        no code at all as ``default``."""
        if not code:
            return default
        term = self.get(code)
        if term is None:
            return code.replace("_", " ").capitalize()
        return getattr(term, field)

    def words(self, field: str = "label") -> dict[str, str]:
        """``{code: words}`` for every term (templates take it as a table)."""
        return {t.code: getattr(t, field) for t in self._terms}


# ---------------------------------------------------------------- people

ROLE_TERMS = Terms(
    Term("intake", "Intake", help="logs demands and records redirect attempts"),
    Term("counsel", "Counsel", help="reviews, scopes, records production, manages gags"),
    Term("approver", "Approver", help="approves a proposed scope (never their own)"),
    Term("admin", "Admin", help="users, customers, the data-set catalogue, report publication"),
    Term("cleared", "Cleared", help="sees national-security demands (granted by two admins, like approver)"),
    Term("customer", "Customer", help="a user of one customer organisation: the portal only"),
    Term("requester", "Requester", help="an officer of a verified agency: the requester portal only"),
)
STAFF_ROLES = ("intake", "counsel", "approver", "admin", "cleared")
ROLES = ROLE_TERMS.codes

REQUESTER_TYPE_TERMS = Terms(
    Term("law_enforcement", "Law enforcement"),
    Term("government", "Government body"),
    Term("court", "Court"),
    Term("civil_litigant", "Civil litigant"),
)
REQUESTER_TYPES = REQUESTER_TYPE_TERMS.codes

# ---------------------------------------------------------------- data

TIER_TERMS = Terms(
    Term("subscriber", "Subscriber", help="who the account holder is: name, address, billing"),
    Term("non_content", "Non-content", help="records about use: sign-in logs, message metadata"),
    Term("content", "Content", help="what was written or stored: messages, files, contacts"),
)
TIERS = TIER_TERMS.codes

# A notice tells the customer the full name of its legal process (``customer``).
PROCESS_TERMS = Terms(
    Term("subpoena", "Subpoena", public="Subpoena (criminal or administrative)",
         customer="Subpoena (criminal or administrative)"),
    Term("court_order", "Court order", public="Court order for records", customer="Court order for records"),
    Term("search_warrant", "Search warrant"),
    Term("emergency", "Emergency request", public="Emergency disclosure request",
         customer="Emergency disclosure request"),
    Term("preservation", "Preservation", public="Preservation request", customer="Preservation request"),
    Term("civil_subpoena", "Civil subpoena"),
    Term("mlat", "MLAT", public="Mutual legal assistance request", customer="Mutual legal assistance request (MLAT)"),
    Term("eu_production_order", "EU production order", public="EU production order (EPOC)",
         customer="EU production order (EPOC)"),
    Term("eu_preservation_order", "EU preservation order", public="EU preservation order (EPOC-PR)",
         customer="EU preservation order (EPOC-PR)"),
    Term("national_security", "National security", public="National security process",
         customer="National security process"),
    Term("other", "Other", public="Other legal process", customer="Other legal process"),
)
PROCESS_TYPES = PROCESS_TERMS.codes

# ---------------------------------------------------------------- the workflow

STATE_TERMS = Terms(
    Term("received", "Received"),
    Term("redirecting", "Redirecting"),
    Term("in_review", "In review"),
    Term("scoped", "Scoped"),
    Term("approved", "Approved"),
    Term("closed", "Closed"),
)
STATES = STATE_TERMS.codes
OPEN_STATES = STATES[:-1]

_DISCLOSED = ("We disclosed data to the requester. The disclosure was limited to the data sets and date "
              "ranges listed below, after review by our legal team and approval by a second person.")
OUTCOME_TERMS = Terms(
    Term("content_disclosed", "Content disclosed", short="Content",
         public_help="we produced content (such as e-mail, stored files, chat messages, contacts or "
                     "calendar entries) for at least one account.",
         customer="Data disclosed (including content)", customer_help=_DISCLOSED),
    Term("non_content_disclosed", "Non-content disclosed", short="Non-content",
         public_help="we produced only subscriber information or non-content records (such as billing "
                     "records, sign-in logs or message metadata).",
         customer="Data disclosed (no content)",
         customer_help=_DISCLOSED + " No content (such as messages or files) was disclosed."),
    Term("no_data_found", "No data found", short="No data",
         public_help="we accepted the request within the scope we approved but held no matching data.",
         customer_help="We searched for the data the demand covers and found none. Nothing was disclosed."),
    Term("rejected", "Rejected",
         public_help="we refused the request, for example because the legal process did not support it.",
         customer_help="We rejected the demand. Nothing was disclosed."),
    Term("redirected", "Redirected", public="Redirected to customer",
         public_help="the requester obtained the data from our customer, to whom we sent the requester first.",
         customer="Requester referred to you",
         customer_help="We asked the requester to obtain the data from your organisation directly. "
                       "We disclosed nothing."),
    Term("withdrawn", "Withdrawn", public_help="the requester withdrew the request.",
         customer="Withdrawn by the requester",
         customer_help="The requester withdrew the demand. Nothing was disclosed."),
    Term("preserved", "Preserved", customer="Data preserved, not disclosed",
         customer_help="We preserved the data listed below because the law requires us to do so on request. "
                       "Preserved data is kept aside, not disclosed; disclosing it would need further legal "
                       "process."),
    Term("fraudulent", "Fraudulent",
         public_help="counsel found the request forged (for example sent from a hijacked police mailbox) "
                     "and disclosed nothing.",
         customer="Rejected as fraudulent",
         customer_help="We found the demand was not genuine and rejected it. Nothing was disclosed."),
)
OUTCOMES = OUTCOME_TERMS.codes
# In reports an open demand counts as pending.
PENDING = Term("pending", "Pending", public_help="the request was still open when the figures were compiled.")
# A fraudulent demand counts as rejected in the report's outcome tables (schema v1 keeps
# its keys); the emergency section counts the fraudulent ones on their own.
REPORT_OUTCOME_TERMS = Terms(*(t for t in OUTCOME_TERMS if t.code != "fraudulent"), PENDING)


@dataclass(frozen=True)
class ActionTerm(Term):
    """A case-page action: ``label`` on its button, ``help`` beside it, ``style`` of the
    button, ``done`` once taken, ``history`` as the timeline tells it afterwards."""

    style: str = ""
    done: str = ""
    history: str = ""


ACTION_TERMS = Terms(
    ActionTerm("attempt-redirect", "Redirect to the customer", style="primary",
               help="Record how the requester was told to obtain the data from the customer directly.",
               done="Recorded the redirect attempt.", history="Told the requester to go to the customer"),
    ActionTerm("start-review", "Start legal review", style="primary", help="Counsel reviews the legal process.",
               done="Legal review started.", history="Started the legal review"),
    ActionTerm("requester-insists", "Requester insists",
               help="The requester will not go to the customer: review the demand.",
               done="Recorded that the requester insists; the demand is in review.",
               history="Recorded that the requester insists"),
    ActionTerm("redirected", "Obtained from the customer",
               help="The requester got the data from the customer; close the demand.",
               done="Closed as redirected to the customer.",
               history="Closed: the requester obtained the data from the customer"),
    ActionTerm("reject", "Reject", style="danger",
               help="Refuse the demand and close it. Give the reason; the customer is told.",
               done="The demand was rejected and closed.", history="Rejected the demand"),
    ActionTerm("propose-scope", "Propose scope", style="primary",
               help="Choose what may be disclosed. Each item must lie within a requested item and within what "
                    "the process type can compel. A second person approves it.",
               done="Scope proposed; it now waits for a second person's approval.",
               history="Proposed a scope of {items}"),
    ActionTerm("approve", "Approve scope", style="primary",
               help="You are the second pair of eyes: approve the proposed scope as it stands.",
               done="Scope approved.", history="Approved the proposed scope"),
    ActionTerm("return", "Return for changes", help="Send the proposed scope back to counsel, with the reason.",
               done="Scope returned to counsel.", history="Returned the scope to counsel"),
    ActionTerm("record-production", "Record production", style="primary",
               help="Record what was produced: items within the approved scope and the files handed over "
                    "(their SHA-256 and size).",
               done="Production recorded; the demand is closed.", history="Recorded the production"),
    ActionTerm("no-data", "No data found", help="Nothing matched the approved scope; close the demand.",
               done="Closed: no data found.", history="Closed: no data found"),
    ActionTerm("preserve", "Preserve", style="primary",
               help="Preserve the requested data (nothing is disclosed) and close the demand with a hold.",
               done="Data preserved; the demand is closed with a preservation hold.",
               history="Preserved the data"),
    ActionTerm("extend-preservation", "Extend the hold",
               help="Extend the preservation hold. This can be done once.",
               done="The preservation hold was extended.", history="Extended the preservation hold"),
    ActionTerm("withdraw", "Mark withdrawn", style="danger", help="The requester withdrew the demand; close it.",
               done="Closed as withdrawn.", history="Recorded that the requester withdrew the demand"),
    ActionTerm("reject-fraudulent", "Reject as fraudulent", style="danger",
               help="The request is not genuine (a forged or hijacked sender): close it, disclose nothing, and "
                    "flag the requester's e-mail address and domain so every later demand from them needs all "
                    "four checks. Give the reason.",
               done="Rejected as fraudulent; the requester's address and domain are flagged.",
               history="Rejected the demand as fraudulent"),
    ActionTerm("assign", "Assign", help="Give the demand to a counsel user, with the reason.",
               done="Assignment changed."),
    ActionTerm("set-due", "Change the due date",
               help="Move the deadline, with the reason; the change is kept in the history.",
               done="Due date changed."),
    ActionTerm("gag-set", "Record a gag order",
               help="A non-disclosure order: while it is in force nothing about this demand reaches the "
                    "customer."),
    ActionTerm("gag-extend", "Extend the gag",
               help="Record a later expiry (or no end date) for the gag in force."),
    ActionTerm("gag-lift", "Lift the gag",
               help="The gag no longer applies: held notices go out as delayed notices."),
    ActionTerm("defer-notices", "Defer customer notices",
               help="Emergency demands only: hold the customer notices until a date."),
    ActionTerm("release-notices", "Release customer notices",
               help="Counsel's word that the customer may be told: the notices then go out, unless a gag or "
                    "a deferral still holds them.",
               done="Customer notices released: they go out unless a gag or a deferral holds them.",
               history="Released the customer notices"),
    ActionTerm("upload", "Add documents", help="Add legal-process PDFs to the demand."),
    ActionTerm("record-check", "Record a check",
               help="One of the four emergency checks: who did it is you, now; say in the note what was done.",
               done="Check recorded.", history="Recorded the {check} check"),
    ActionTerm("override-checks", "Override the missing checks",
               help="Counsel's reason for proposing a scope before all four checks are recorded (kept in the "
                    "history).",
               done="Override recorded: a scope may be proposed before the checks are complete.",
               history="Overrode the missing emergency checks"),
    ActionTerm("lift-flag", "Lift the flag",
               help="Later demands from this address or domain no longer need all four checks. Give the reason.",
               done="Flag lifted.", history="Lifted the fraud flag"),
    ActionTerm("mark-documents", "Mark who gets each document",
               help="On a demand about several customers a document goes to none until counsel marks it.",
               done="Saved which documents go to which customer.",
               history="Marked which documents go to which customer"),
    ActionTerm("upload-copy", "Add a redacted copy",
               help="A copy of the legal process redacted for one customer: it goes to that customer only.",
               done="Added the redacted copy."),
)

ITEM_KINDS = ("requested", "scope", "production", "preserved")

# ---------------------------------------------------------------- notices

NOTICE_KIND_TERMS = Terms(
    Term("demand", "Notice of demand"),
    Term("outcome", "Notice of outcome"),
)
NOTICE_KINDS = NOTICE_KIND_TERMS.codes

NOTICE_STATE_TERMS = Terms(
    Term("held", "Held", help="waiting: for counsel's release, a gag or an emergency deferral"),
    Term("pending", "Pending", help="due: the dispatcher sends it on its next run"),
    Term("sent", "Sent"),
    Term("failed", "Failed", help="given up after repeated attempts; staff can retry it"),
)
NOTICE_STATES = NOTICE_STATE_TERMS.codes

# Why a held notice waits (``notices.held_by``): ``short`` for a badge, ``label`` after "Held".
NOTICE_HOLD_TERMS = Terms(
    Term("counsel", "awaiting counsel's release", short="Awaiting counsel"),
    Term("gag", "by a gag order", short="Gag order"),
    Term("deferral", "by a deferral", short="Deferral"),
)

GAG_EVENT_TERMS = Terms(
    Term("set", "Recorded"),
    Term("extend", "Extended"),
    Term("lift", "Lifted"),
)

# How a demand reached the desk (``demands.channel``: free text, these are the form's choices).
CHANNEL_TERMS = Terms(
    Term("email", "E-mail"),
    Term("portal", "Law-enforcement portal"),
    Term("post", "Post"),
    Term("fax", "Fax"),
    Term("phone", "Phone"),
    Term("in_person", "In person / served"),
)
# Channels the desk sets itself, never offered on the intake form (``portal`` is both:
# the requester portal sets it, and intake may log a demand from another provider's portal).
SYSTEM_CHANNEL_TERMS = Terms(
    Term("import", "Spreadsheet import"),
)

# ---------------------------------------------------------------- requests from outside

# The four checks staff record on an emergency demand before any disclosure (SPEC §9).
EMERGENCY_CHECK_TERMS = Terms(
    Term("callback", "Call-back", help="called back on a number sourced independently of the request"),
    Term("sender", "Sender", help="the e-mail domain and headers match the agency"),
    Term("authority", "Authority", help="the officer and the agency exist"),
    Term("justification", "Justification",
         help="the facts describe imminent danger of death or serious injury"),
)
EMERGENCY_CHECKS = EMERGENCY_CHECK_TERMS.codes

# What a fraud flag names: one e-mail address, or a whole domain.
FLAG_KIND_TERMS = Terms(
    Term("email", "E-mail address"),
    Term("domain", "Domain"),
)
FLAG_KINDS = FLAG_KIND_TERMS.codes


def file_size(size: int | None) -> str:
    """A file's size as people read it: "850 bytes", "12 KB", "2.3 MB", "1.4 GB" (1 KB = 1,024 bytes)."""
    if size is None:
        return "—"
    if size < 1024:
        return f"{size:,} byte{'' if size == 1 else 's'}"
    for unit in ("KB", "MB", "GB", "TB"):
        size /= 1024
        if size < 1024 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "KB" or size >= 100 else f"{size:,.1f} {unit}"
    raise AssertionError("unreachable")


@lru_cache(maxsize=512)
def country_name(code: str) -> str:
    """A country's common name ("Bolivia", "Taiwan") or else its ISO name; an unknown
    code is itself. Remembered per code: pycountry's lookup (and the missing attribute
    it raises for a country without a common name) was 4% of the case page."""
    import pycountry

    found = pycountry.countries.get(alpha_2=code) if code else None
    return getattr(found, "common_name", None) or getattr(found, "name", None) or code
