"""Spreadsheet import, first half: the columns, and every row checked before anything is
written (SPEC §9). One row per requested item; the rows of one demand share an
``external_id`` and follow each other. Every problem is reported by row and column; the
demand-level checks are intake's own (``intake.parse_demand``), so an imported demand
obeys the same rules as one typed in."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import access
from ..db import utcnow
from ..errors import FieldErrors, ValidationError
from ..models import Demand
from ..rules import process_rules
from ..vocabulary import OUTCOMES, PROCESS_TERMS
from . import parsing
from .intake import DemandInput, parse_demand
from .sheet_files import Sheet

CHANNEL = "import"
MAX_EXTERNAL_ID = 100


@dataclass(frozen=True)
class Column:
    name: str
    required: str  # "yes", "no" or when it is needed
    help: str
    example: str = ""


# The file's columns, in the template's order. Demand-level columns are the same on every
# row of a demand (a later row may leave them blank); item columns differ per row.
COLUMNS: tuple[Column, ...] = (
    Column("external_id", "yes", "your id of the demand (at most 100 characters); every row of one demand "
           "carries it, the rows of one demand follow each other, and an id already imported is refused",
           "OLD-2023-0017"),
    Column("received_at", "yes", "when the demand arrived: 2023-02-14T09:30:00Z, or a date (midnight UTC); "
           "an Excel date cell works", "2023-02-14T09:30:00Z"),
    Column("requester_type", "yes", "law_enforcement, government, court or civil_litigant", "law_enforcement"),
    Column("requester_agency", "yes", "the requesting agency", "Metro Police Department"),
    Column("requester_name", "yes", "the officer or person who sent it", "Det. Jane Roe"),
    Column("requester_email", "yes", "their e-mail address", "jane.roe@metro-pd.example"),
    Column("requester_phone", "no", "their phone number", "+1 206 555 0100"),
    Column("country", "yes", "ISO 3166-1 alpha-2 code of the requester's country", "US"),
    Column("process_type", "yes", "subpoena, court_order, search_warrant, emergency, preservation, "
           "civil_subpoena, mlat, eu_production_order, eu_preservation_order, national_security (cleared "
           "users only) or other", "search_warrant"),
    Column("legal_reference", "yes", "docket or case number", "2023-SW-0193"),
    Column("issuing_authority", "no", "the court or authority that issued it", "King County Superior Court"),
    Column("emergency", "no", "yes or no (blank: no); process type emergency is always one", "no"),
    Column("justification", "if emergency", "the written justification of an emergency", ""),
    Column("notes", "no", "anything else the team noted", ""),
    Column("target", "yes", "the account of this row's item: an e-mail address, a phone number (+…) or an "
           "account id", "alice@contoso.com"),
    Column("data_set", "yes", "the data set requested: subscriber_info, billing_records, sign_in_logs, "
           "message_metadata, email_content, stored_files, chat_messages, contacts_calendar (or one your "
           "admins added)", "email_content"),
    Column("from", "yes", "first day of the date range (inclusive)", "2023-01-01"),
    Column("to", "yes", "last day of the date range (inclusive)", "2023-01-31"),
    Column("outcome", "for a closed demand", "blank: the demand is still open (it is imported as Received); "
           "else content_disclosed, non_content_disclosed, no_data_found, rejected, redirected, withdrawn, "
           "preserved or fraudulent", "content_disclosed"),
    Column("closed_at", "with an outcome", "when it was closed, not before received_at", "2023-03-02"),
    Column("gag_order_ref", "with a gag", "the non-disclosure order that came with the demand", ""),
    Column("gag_issued_by", "with a gag", "who issued the order", ""),
    Column("gag_expires_at", "no", "when the order ends (blank: no end date)", ""),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
ITEM_COLUMNS = ("target", "data_set", "from", "to")
DEMAND_COLUMNS = tuple(n for n in COLUMN_NAMES if n not in ITEM_COLUMNS and n != "external_id")
REQUIRED_COLUMNS = tuple(c.name for c in COLUMNS if c.required == "yes")
YES = {"yes", "y", "true", "1", "x"}
NO = {"no", "n", "false", "0", ""}

# intake.parse_demand's field paths → this file's columns
_PATHS = {"requester.agency": "requester_agency", "requester.name": "requester_name",
          "requester.email": "requester_email", "requester.phone": "requester_phone",
          "requester.type": "requester_type", "requester": "requester_agency", "gag.order_ref": "gag_order_ref",
          "gag.issued_by": "gag_issued_by", "gag.expires_at": "gag_expires_at", "gag": "gag_order_ref",
          "targets": "target", "requested": "target"}


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    message: str

    def line(self) -> str:
        return f"row {self.row}, column {self.column}: {self.message}"


class SheetErrors(ValidationError):
    """422: the file's problems, each by row and column; nothing was imported."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.row, _order(p.column)))
        errors: dict[str, list[str]] = {}
        for p in self.problems:
            errors.setdefault(f"row {p.row}, column {p.column}", []).append(p.message)
        super().__init__(errors, detail=f"{len(self.problems):,} problem{'s' if len(self.problems) != 1 else ''} "
                                        "in the file; nothing was imported")


def _order(column: str) -> int:
    return COLUMN_NAMES.index(column) if column in COLUMN_NAMES else -1


@dataclass
class Group:
    """The rows of one demand."""

    external_id: str
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    values: dict[str, tuple[int, str]] = field(default_factory=dict)  # column → (row, the demand's value)

    @property
    def first_row(self) -> int:
        return self.rows[0][0]

    def get(self, column: str) -> str:
        return self.values.get(column, (0, ""))[1]

    def row_of(self, column: str) -> int:
        return self.values.get(column, (self.first_row, ""))[0]


@dataclass
class PlannedDemand:
    """A demand ready to write: intake's checked input, and its outcome if closed."""

    external_id: str
    clean: DemandInput
    rows: int
    outcome: str | None = None
    closed_at: datetime | None = None


@dataclass
class Plan:
    demands: list[PlannedDemand]
    rows: int


def check_sheet(session: Session, actor: Any, sheet: Sheet, *, now: datetime | None = None,
                on_progress: Callable[[int], Any] | None = None) -> Plan:
    """Check every row; a ``Plan`` to write when all pass, else ``SheetErrors`` listing all.
    ``on_progress(rows)`` after each demand's rows are checked."""
    now = now or utcnow()
    problems: list[Problem] = []
    unknown = [c for c in sheet.header if c and c not in COLUMN_NAMES]
    problems += [Problem(1, c, f"is not a known column (the columns: {', '.join(COLUMN_NAMES)})") for c in unknown]
    problems += [Problem(1, c, "the column is missing") for c in REQUIRED_COLUMNS if c not in sheet.header]
    problems += [Problem(1, c, "the column appears twice") for c in dict.fromkeys(sheet.header)
                 if c and sheet.header.count(c) > 1]
    if problems:
        raise SheetErrors(problems)
    if not sheet.rows:
        raise SheetErrors([Problem(2, "external_id", "the file has a header but no rows")])
    groups = _group(sheet, problems)
    _already_imported(session, groups, problems)
    rules = process_rules(session)
    planned = []
    for g in groups:
        if (p := _check_group(session, actor, g, rules, now, problems)) is not None:
            planned.append(p)
        if on_progress is not None:
            on_progress(len(g.rows))
    if problems:
        raise SheetErrors(problems)
    return Plan(planned, len(sheet.rows))


def _group(sheet: Sheet, problems: list[Problem]) -> list[Group]:
    groups: dict[str, Group] = {}
    current: Group | None = None
    for number, row in sheet.rows:
        if "\0extra" in row:
            problems.append(Problem(number, "external_id", "the row has more cells than the header has columns"))
        ext = row.get("external_id", "").strip()
        if not ext:
            problems.append(Problem(number, "external_id", "is required"))
            continue
        if len(ext) > MAX_EXTERNAL_ID or parsing.hygiene_problem(ext):
            problems.append(Problem(number, "external_id", parsing.hygiene_problem(ext)
                                    or f"must be at most {MAX_EXTERNAL_ID} characters"))
            continue
        group = groups.get(ext)
        if group is not None and group is not current:
            problems.append(Problem(number, "external_id",
                                    f"{ext} is used by row {group.first_row} already, and other rows come between: "
                                    "the rows of one demand follow each other (two demands with one id?)"))
            continue
        if group is None:
            group = groups[ext] = Group(ext)
        current = group
        group.rows.append((number, row))
        for column in DEMAND_COLUMNS:
            value = row.get(column, "").strip()
            if not value:
                continue
            seen = group.values.get(column)
            if seen is None:
                group.values[column] = (number, value)
            elif seen[1] != value:
                problems.append(Problem(number, column, f"says {value!r} but row {seen[0]} says {seen[1]!r}: "
                                                        f"the rows of {ext} are one demand and must agree"))
    return list(groups.values())


def _already_imported(session: Session, groups: list[Group], problems: list[Problem]) -> None:
    by_id = {g.external_id: g for g in groups}
    ids = list(by_id)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for ext, reference in session.execute(
                select(Demand.external_id, Demand.reference).where(Demand.external_id.in_(chunk))):
            problems.append(Problem(by_id[ext].first_row, "external_id",
                                    f"{ext} was imported already, as {reference}"))


def _check_group(session: Session, actor: Any, g: Group, rules: dict, now: datetime,
                 problems: list[Problem]) -> PlannedDemand | None:
    before = len(problems)
    emergency = g.get("emergency").lower()
    if emergency not in YES | NO:
        problems.append(Problem(g.row_of("emergency"), "emergency", "must be yes or no"))
    body: dict[str, Any] = {
        "requester": {"agency": g.get("requester_agency"), "name": g.get("requester_name"),
                      "email": g.get("requester_email"), "phone": g.get("requester_phone") or None,
                      "type": g.get("requester_type")},
        "country": g.get("country"), "process_type": g.get("process_type"),
        "legal_reference": g.get("legal_reference"), "issuing_authority": g.get("issuing_authority") or None,
        "received_at": g.get("received_at"), "channel": CHANNEL, "emergency": emergency in YES,
        "justification": g.get("justification") or None, "notes": g.get("notes") or None,
    }
    targets: list[str] = []
    target_rows: list[int] = []
    seen_items: dict[tuple, int] = {}
    for number, row in g.rows:
        raw = row.get("target", "")
        ident = parsing.identifier(raw) if raw.strip() else ""
        if ident and ident not in targets:
            targets.append(ident)
            target_rows.append(number)
        key = tuple(row.get(c, "").strip() for c in ITEM_COLUMNS)
        if all(key) and (ident, *key[1:]) in seen_items:
            problems.append(Problem(number, "target", f"repeats the item of row {seen_items[(ident, *key[1:])]}"))
        seen_items.setdefault((ident, *key[1:]), number)
    body["targets"] = targets
    body["requested"] = [{"target": row.get("target", ""), "data_set": row.get("data_set", "").strip(),
                          "from": row.get("from", ""), "to": row.get("to", "")} for _, row in g.rows]
    if any(g.get(c) for c in ("gag_order_ref", "gag_issued_by", "gag_expires_at")):
        body["gag"] = {"order_ref": g.get("gag_order_ref"), "issued_by": g.get("gag_issued_by"),
                       "expires_at": g.get("gag_expires_at") or None}
    clean = None
    try:
        clean = parse_demand(session, body, now=now)
    except ValidationError as err:
        for path, messages in err.errors.items():
            row, column = _place(g, path, target_rows)
            problems += [Problem(row, column, m) for m in messages]
    process_type = g.get("process_type")
    if process_type in rules and actor is not None and not access.may_see(actor, process_type):
        problems.append(Problem(g.row_of("process_type"), "process_type",
                                f"only users with role {access.COMPARTMENTS[process_type]} may import a "
                                f"{PROCESS_TERMS.label(process_type).lower()} demand"))
    outcome, closed_at = _closing(g, rules.get(process_type), clean, now, problems)
    if len(problems) > before or clean is None:
        return None
    return PlannedDemand(g.external_id, clean, len(g.rows), outcome, closed_at)


def _place(g: Group, path: str, target_rows: list[int]) -> tuple[int, str]:
    """The (row, column) of one of parse_demand's field paths."""
    head, _, rest = path.partition("[")
    if rest:
        index = int(rest.split("]", 1)[0])
        sub = rest.split("]", 1)[1].lstrip(".")
        if head == "targets":
            return (target_rows[index] if index < len(target_rows) else g.first_row), "target"
        if head == "requested":
            return (g.rows[index][0] if index < len(g.rows) else g.first_row), (sub or "target")
    column = _PATHS.get(path, path)
    return g.row_of(column), column if column in COLUMN_NAMES else "external_id"


def _closing(g: Group, rule: Any, clean: DemandInput | None, now: datetime,
             problems: list[Problem]) -> tuple[str | None, datetime | None]:
    """The outcome and closed_at of a closed historical demand (both blank: open)."""
    outcome, closed_raw = g.get("outcome"), g.get("closed_at")
    if not outcome:
        if closed_raw:
            problems.append(Problem(g.row_of("closed_at"), "closed_at",
                                    "only a closed demand has one: give its outcome too"))
        return None, None
    row = g.row_of("outcome")
    if outcome not in OUTCOMES:
        problems.append(Problem(row, "outcome", f"is not a known outcome (one of {', '.join(OUTCOMES)})"))
        outcome = None
    elif rule is not None:
        if outcome == "preserved" and not rule.preservation:
            problems.append(Problem(row, "outcome", "preserved is the outcome of a preservation request only"))
        if outcome in ("content_disclosed", "non_content_disclosed") and not rule.discloses:
            problems.append(Problem(row, "outcome", f"a {PROCESS_TERMS.label(rule.code).lower()} discloses "
                                                    "nothing"))
        if outcome == "fraudulent" and clean is not None and not clean.emergency:
            problems.append(Problem(row, "outcome", "fraudulent is the outcome of an emergency request only"))
    found = FieldErrors()
    closed_at = parsing.datetime_value(found, closed_raw, "closed_at", now=now)
    problems += [Problem(g.row_of("closed_at"), "closed_at", m) for m in found.errors.get("closed_at", [])]
    if closed_at is not None:
        if closed_at > now:
            problems.append(Problem(g.row_of("closed_at"), "closed_at", "cannot be in the future"))
        elif clean is not None and closed_at < clean.received_at:
            problems.append(Problem(g.row_of("closed_at"), "closed_at", "must not be before received_at"))
    return outcome, closed_at

