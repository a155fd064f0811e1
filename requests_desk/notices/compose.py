"""What a customer is told about a demand, and the e-mail that tells it.

``notice_content`` gathers, for one notice, exactly what its customer may read: the
demand's reference, requester, process type, the customer's own accounts and the items
about them (requested, disclosed, preserved), the outcome, the documents that go to it
(``services.document_marks.documents_for``: on a demand about several customers, only
those counsel marked for it), and — for a delayed notice — the demand's date and the gag
period. The portal renders the same
``NoticeContent``, so the e-mail and the page never disagree.

Items about another customer's accounts are never shown: one demand may concern several
organisations, and each one learns only about its own accounts.

Flask-free: the dispatcher renders e-mails with its own Jinja environment.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import (
    Customer,
    DataSet,
    Demand,
    DemandTarget,
    Document,
    Notice,
    PreservationHold,
)
from ..services.document_marks import documents_for
from ..vocabulary import OUTCOME_TERMS, PROCESS_TERMS, REQUESTER_TYPE_TERMS, file_size

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"


@dataclass(frozen=True)
class ItemLine:
    data_set: str
    target: str
    date_from: date
    date_to: date


@dataclass(frozen=True)
class DocumentLine:
    id: int
    filename: str
    bytes: int

    @property
    def size(self) -> str:
        return file_size(self.bytes)


@dataclass(frozen=True)
class GagPeriod:
    start: date
    end: date | None
    issued_by: str


@dataclass
class NoticeContent:
    notice_id: int
    kind: str
    delayed: bool
    reference: str
    customer_name: str
    received_at: datetime
    requester_agency: str
    requester_name: str
    requester_type: str
    country: str
    process_type: str
    legal_reference: str
    issuing_authority: str
    emergency: bool
    accounts: list[str]
    requested: list[ItemLine]
    status: str
    outcome: str | None = None
    outcome_label: str | None = None
    outcome_text: str | None = None
    disclosed: list[ItemLine] = field(default_factory=list)
    preserved: list[ItemLine] = field(default_factory=list)
    preserved_until: datetime | None = None
    documents: list[DocumentLine] = field(default_factory=list)
    gag_periods: list[GagPeriod] = field(default_factory=list)
    portal_url: str = ""

    @property
    def title(self) -> str:
        if self.kind == "demand":
            return "Notice of a legal demand for your data"
        return "Outcome of a legal demand for your data"


def load_notice(session: Session, notice_id: int) -> Notice | None:
    """The notice with everything ``notice_content`` reads, in a few queries."""
    return session.scalar(
        select(Notice)
        .where(Notice.id == notice_id)
        .options(
            selectinload(Notice.customer).selectinload(Customer.contacts),
            selectinload(Notice.demand).options(
                selectinload(Demand.targets).joinedload(DemandTarget.customer),
                selectinload(Demand.items),
                selectinload(Demand.documents).selectinload(Document.recipients),
                selectinload(Demand.gags),
            ),
        )
    )


def _data_sets(session: Session) -> dict[str, str]:
    """The data sets' names in the desk's catalogue (an unnamed one reads as its code)."""
    return {d.code: d.label or d.code for d in session.scalars(select(DataSet))}


def _country(code: str) -> str:
    try:
        import pycountry

        found = pycountry.countries.get(alpha_2=code)
    except Exception:  # pragma: no cover - pycountry is a dependency
        found = None
    return f"{found.name} ({code})" if found else code


def notice_content(session: Session, notice: Notice, *, now: datetime, base_url: str,
                   show_outcome: bool | None = None) -> NoticeContent:
    """What ``notice``'s customer may read about its demand.

    The outcome is part of a notice of outcome; ``show_outcome`` adds it to a notice of
    demand too (the portal does so once the notice of outcome is visible)."""
    demand, customer = notice.demand, notice.customer
    data_sets = _data_sets(session)
    own_targets = [t.identifier for t in demand.targets if t.customer_id == customer.id]
    own = set(own_targets)

    def lines(kind: str) -> list[ItemLine]:
        return [
            ItemLine(data_sets.get(i.data_set, i.data_set), i.target, i.date_from, i.date_to)
            for i in demand.items
            if i.kind == kind and i.target in own
        ]

    content = NoticeContent(
        notice_id=notice.id,
        kind=notice.kind,
        delayed=notice.delayed,
        reference=demand.reference,
        customer_name=customer.name,
        received_at=demand.received_at,
        requester_agency=demand.requester.agency,
        requester_name=demand.requester.name,
        requester_type=REQUESTER_TYPE_TERMS.label(demand.requester.type),
        country=_country(demand.country),
        process_type=PROCESS_TERMS.label(demand.process_type, "customer"),
        legal_reference=demand.legal_reference,
        issuing_authority=demand.issuing_authority,
        emergency=demand.emergency,
        accounts=own_targets,
        requested=lines("requested"),
        status="closed" if demand.status == "closed" else "open",
        documents=[DocumentLine(d.id, d.filename, d.bytes) for d in documents_for(session, demand, customer)],
        portal_url=f"{base_url.rstrip('/')}/portal/notices/{notice.id}",
    )
    if show_outcome is None:
        show_outcome = notice.kind == "outcome"
    if show_outcome and demand.outcome:
        content.outcome = demand.outcome
        content.outcome_label = OUTCOME_TERMS.label(demand.outcome, "customer")
        content.outcome_text = OUTCOME_TERMS[demand.outcome].customer_help if demand.outcome in OUTCOME_TERMS else None
        content.disclosed = lines("production")
        content.preserved = lines("preserved")
        if demand.outcome == "preserved":
            hold = session.scalar(select(PreservationHold).where(PreservationHold.demand_id == demand.id))
            content.preserved_until = hold.ends_at if hold else None
        if demand.outcome in ("content_disclosed", "non_content_disclosed") and not content.disclosed:
            content.outcome_text = ("The requester received data about other accounts named in the demand; "
                                    "no data about your organisation's accounts was disclosed.")
    if notice.delayed:
        content.gag_periods = gag_periods(demand, now)
    return content


def gag_periods(demand: Demand, now: datetime) -> list[GagPeriod]:
    """The periods during which gags forbade telling the customer (ended ones)."""

    periods = []
    for gag in demand.gags:
        if gag.active_at(now):
            continue
        end = gag.expires_at
        if gag.lifted_at is not None and (end is None or gag.lifted_at < end):
            end = gag.lifted_at
        periods.append(GagPeriod(gag.starts_at.date(), end.date() if end else None, gag.issued_by))
    return periods


# ---------------------------------------------------------------- e-mail


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(  # nosec B701 - autoescape is on for .html; the .txt body is plain text, never HTML
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=lambda name: bool(name and name.endswith(".html")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["d"] = long_date
    env.filters["dt"] = long_datetime
    env.filters["periods"] = describe_gag_periods
    return env


def long_date(value: date | datetime | None) -> str:
    """How a customer reads a date, in the e-mail and in the portal alike: "26 March 2024"."""
    return f"{value.day} {value:%B %Y}" if value else "—"


def long_datetime(value: datetime | None) -> str:
    """"26 March 2024, 14:05 UTC"."""
    return f"{value.day} {value:%B %Y, %H:%M} UTC" if value else "—"


def describe_gag_periods(periods: list[GagPeriod]) -> str:
    """'from 5 January 2026 until 5 July 2026 (order issued by …)', joined with 'and'."""
    parts = []
    for p in periods:
        text = f"from {long_date(p.start)} until {long_date(p.end)}" if p.end else f"from {long_date(p.start)}"
        if p.issued_by:
            text += f" (order issued by {p.issued_by})"
        parts.append(text)
    return " and ".join(parts) if parts else "for a period"


def sender_name(mail_from: str) -> str:
    name, addr = parseaddr(mail_from)
    return name or addr


def subject_for(content: NoticeContent) -> str:
    """Short enough (under 70 characters) never to be folded: the reference leads."""
    ref = f"[{content.reference}]"
    if content.kind == "demand":
        return f"{ref} {'Delayed notice' if content.delayed else 'Notice'} of a legal demand for your data"
    if content.delayed:
        return f"{ref} Delayed notice: outcome of a legal demand"
    return f"{ref} Outcome of a legal demand for your data"


def compose_email(content: NoticeContent, *, message_id: str, recipients: list[tuple[str, str]],
                  mail_from: str, now: datetime, attachments: list[tuple[str, bytes]]) -> EmailMessage:
    """One e-mail: plain text and HTML, the PDFs attached, the stable Message-ID."""
    env = _env()
    context = {"c": content, "sender": sender_name(mail_from)}
    msg = EmailMessage()
    msg["Subject"] = subject_for(content)
    msg["From"] = mail_from
    msg["To"] = [Address(display_name=name, addr_spec=email) for name, email in recipients]
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Requests-Desk-Reference"] = content.reference
    msg.set_content(env.get_template("notice.txt").render(context))
    msg.add_alternative(env.get_template("notice.html").render(context), subtype="html")
    for filename, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=filename)
    return msg

