"""Words shared by the HTML page and the PDF: labels, number formats, the methodology."""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from requests_desk.vocabulary import PROCESS_TERMS, REPORT_OUTCOME_TERMS

from .periods import Period, PeriodError
from .schema import OTHER, OUTCOME_FIELDS, TOTAL, Report

# Labels and definitions come from the desk's one vocabulary (Flask-free).
PROCESS_LABELS = PROCESS_TERMS.words("public")
OUTCOME_LABELS = REPORT_OUTCOME_TERMS.words("public")
OUTCOME_SHORT = REPORT_OUTCOME_TERMS.words("short")
OUTCOME_DEFINITIONS = {t.code: t.public_help for t in REPORT_OUTCOME_TERMS if t.public_help}


def process_label(code: str) -> str:
    return PROCESS_TERMS.label(code, "public")


def period_name(code: str) -> str:
    """``2026-H1`` → ``H1 2026``: how people read a period (the code stays in URLs and JSON)."""
    try:
        return Period.parse(code).short_label
    except PeriodError:
        return code


def outcome_columns(report: Report) -> tuple[str, ...]:
    """The outcome columns of the page's and the PDF's breakdowns: every outcome but
    ``preserved`` while no counted request has it. Preservation demands count only in
    their own section and only they can be closed as preserved, so the column would be
    nothing but zeros; the JSON and the CSV keep the field (schema version 1)."""
    return tuple(name for name in OUTCOME_FIELDS if name != "preserved" or report.totals.preserved)


COUNTRY_NAMES = {  # short forms where ISO's name reads awkwardly in a table
    "KR": "South Korea", "KP": "North Korea", "RU": "Russia", "IR": "Iran", "SY": "Syria", "VN": "Vietnam",
    "TW": "Taiwan", "BO": "Bolivia", "VE": "Venezuela", "TZ": "Tanzania", "MD": "Moldova", "LA": "Laos",
    "CD": "DR Congo", "CG": "Congo", "GB": "United Kingdom", "US": "United States", "CZ": "Czechia",
    "FM": "Micronesia", "PS": "Palestine", "VA": "Vatican City", "BN": "Brunei", "MK": "North Macedonia",
}


@lru_cache(maxsize=512)
def country_name(code: str) -> str:
    """``DE`` → ``Germany``; ``Other`` and unknown codes as they are."""
    if code in COUNTRY_NAMES:
        return COUNTRY_NAMES[code]
    if code in (OTHER, TOTAL):
        return "Other countries" if code == OTHER else TOTAL
    try:
        import pycountry

        country = pycountry.countries.get(alpha_2=code)
    except (ImportError, LookupError, KeyError):
        country = None
    if country is None:
        return code
    name = getattr(country, "common_name", None) or country.name
    return name.split(",")[0] if "," in name else name


def number(value: int) -> str:
    return f"{int(value):,}"


def pct(value: Decimal) -> str:
    """``12.50 %`` with a no-break space, so the sign never wraps apart from the number."""
    return f"{value}\u00a0%"


def day(moment) -> str:
    """``3 July 2026``."""
    return f"{moment.day} {moment:%B %Y}"


def day_time(moment) -> str:
    return f"{moment.day} {moment:%B %Y, %H:%M} UTC"


def version_line(report: Report) -> str:
    if report.status != "published":
        return f"Draft compiled {day_time(report.compiled_at)} – not published"
    return (f"Version {report.version} · published {day(report.published_at)} · "
            f"figures as of {day_time(report.compiled_at)}")


def summary_sentences(report: Report) -> list[str]:
    t = report.totals
    period = Period.parse(report.period)
    lines = [
        f"From {period.label.replace(' – ', ' to ')} we received {number(t.requests)} "
        f"{'request' if t.requests == 1 else 'requests'} for customer data from law enforcement, other "
        f"government bodies, courts and civil litigants, naming {number(t.accounts_specified)} "
        f"{'account' if t.accounts_specified == 1 else 'accounts'}.",
    ]
    if t.requests:
        lines.append(
            f"We disclosed content in {pct(t.pct_content_disclosed)} of them and only non-content data "
            f"(subscriber or transactional records) in {pct(t.pct_non_content_disclosed)}; we found no data in "
            f"{pct(t.pct_no_data_found)} and rejected {pct(t.pct_rejected)}."
        )
    if report.enterprise.requests:
        lines.append(
            f"{number(report.enterprise.requests)} "
            f"{'request' if report.enterprise.requests == 1 else 'requests'} concerned enterprise customers; "
            f"{number(report.enterprise.redirected)} of them "
            f"{'was' if report.enterprise.redirected == 1 else 'were'} redirected to the customer."
        )
    if t.pending:
        lines.append(f"{number(t.pending)} {'was' if t.pending == 1 else 'were'} still under review when the "
                     "figures were compiled.")
    return lines


def methodology(report: Report) -> list[tuple[str, list[str]]]:
    """``[(heading, paragraphs)]``: what counts, when, exclusions, rounding, banding."""
    period = Period.parse(report.period)
    return [
        ("What counts", [
            "A request is one legal demand for customer data: a subpoena, court order, warrant, emergency "
            "request, mutual legal assistance request, EU production order, civil subpoena or other legal "
            "process. A request counts once however many accounts it names.",
            "Accounts specified are the distinct account identifiers named in the requests of a row: an "
            "account named in two requests counts once. Identifiers are compared after trimming, and e-mail "
            "addresses in lower case.",
            "Each request is counted under one outcome; the definitions follow below.",
            "Countries are those of the requesting authority (ISO 3166-1 codes). "
            + ("Countries with few requests are grouped in the row “Other”. "
               if any(r.country == OTHER for r in report.by_country) else "")
            + "Enterprise requests concern at least one account of a business customer; “customer notified” "
            "counts requests for which at least one notice had been sent to the customer when the figures "
            "were compiled, and “notice delayed by a gag” those for which a court order or other "
            "non-disclosure order held back at least one notice (whether it has been sent since or not). "
            "An emergency deferral of a notice is not a gag.",
            "Emergency requests are those made because of a danger of death or serious injury, with or "
            "without other legal process. Before disclosing anything on one we verify it: we call the requester back on a "
            "number we found ourselves, check that the sender's e-mail matches the agency, that the officer "
            "and the agency exist, and that the facts describe an imminent danger. “Of which found "
            "fraudulent” counts the emergency requests we found forged (for example sent from a hijacked "
            "police mailbox) and rejected without disclosing anything; they are also counted as rejected, "
            "here and in every other table.",
        ]),
        ("When", [
            f"This report covers requests received from {day(period.start)} 00:00:00 to "
            f"{day(period.last_day)} 23:59:59 UTC inclusive, by the time we received them.",
            f"Each request is shown with its outcome at the time the figures were compiled "
            f"({day_time(report.compiled_at)}); a request still open then is shown as pending.",
            "Corrections are published as a new version with a note; earlier versions stay available at "
            "their own address. Charts and the requests-over-time table reflect the reports published when "
            "this version was published.",
        ]),
        ("Exclusions", [
            "Preservation requests and EU preservation orders ask us to keep data, not to disclose it; they "
            "appear only in their own section.",
            "National security process (national security letters, FISA orders) appears only in its own "
            "section and is left out of every other figure in this report, so that no exact number can be "
            "derived by subtraction.",
        ]),
        ("Rounding", [
            "Percentages are shares of the requests in the same row, rounded half-up to two decimals "
            "(12.345 % is shown as 12.35 %). Rounded shares need not add up to 100 %. A row with no requests "
            "shows 0.00 %.",
        ]),
        ("Banding", [
            "National security figures are given only in bands of 500 (0–499, 500–999, …), as the law "
            "permits, and only once 180 days have passed since the end of the period. Until then the section "
            "reads “not yet reportable”.",
        ]),
    ]

