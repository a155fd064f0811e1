"""Parsing of user input into typed values, collecting per-field errors.

One rulebook for every door: the API's JSON and the staff forms both build the same
plain dicts and pass them through these functions, so a rule is written once.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pycountry

from ..errors import FieldErrors

# Bounds (SPEC §6, "Bounds and hygiene"), stated once: the parsers, the forms and the
# OpenAPI document (api/schema.py) all read them from here.
MAX_NAME = 200          # names, agencies, references, authorities, order refs
MAX_SHORT = 50          # phone, channel
MAX_REASON = 5000       # reasons, justification, notes on an action
MAX_NOTES = 20000       # a demand's notes
MAX_NOTE = 2000         # a report's publication note
MAX_IDENTIFIER = 320    # an account identifier (an e-mail address at most 320)
MAX_EMAIL = 320
MAX_FILENAME = 255
MAX_QUERY = 200         # the case list's q
MAX_TARGETS = 1000      # targets of one demand
MAX_ITEMS = 1000        # items of one list (requested, scope, production, preserved)
MAX_LIST = 1000         # any other list in a body (domains, accounts, contacts, files)
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST_FUTURE = datetime(2100, 12, 31, 23, 59, 59, tzinfo=timezone.utc)  # due dates, gag ends, deferrals
PAST_SLACK = timedelta(days=1)  # a date of something that happened: at most a day after now

# Free text may hold tabs and line breaks (CR LF and CR are stored as LF); every other string (names, references,
# identifiers, filenames) holds no control character at all.
FREE_TEXT_KEYS = frozenset({"notes", "note", "reason", "justification", "basis", "lift_reason"})
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_FREE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _email_validator():
    """email_validator's error and check, imported on first use: its syntax module builds
    its regular expressions at import (about 20 ms of ``import wsgi``)."""
    from email_validator import EmailNotValidError, validate_email

    return EmailNotValidError, validate_email

def hygiene_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` cannot be stored, or None: a lone UTF-16 surrogate (not encodable,
    on either database) or a control character (tab and line breaks only in free text)."""
    if _SURROGATE.search(value):
        return "contains an invalid character (a lone UTF-16 surrogate)"
    found = (_CONTROL_FREE if multiline else _CONTROL_LINE).search(value)
    if found:
        allowed = "other than tab and line breaks " if multiline else ""
        return f"must not contain control characters {allowed}(found U+{ord(found.group()):04X})"
    return None


def printable(value: str) -> str:
    """``value`` without its control characters and lone surrogates: how a page shows a
    one-line value it refused (a search, a filter), never echoing them raw."""
    return _SURROGATE.sub("", _CONTROL_LINE.sub("", value))


def clean(errors: FieldErrors, value: str, path: str, *, multiline: bool = False,
          max_len: int | None = None) -> str | None:
    """``value`` trimmed (surrounding whitespace, tabs and line breaks included, go as
    before), or None with an error on ``path`` (hygiene of what is kept, then length)."""
    value = value.strip()
    problem = hygiene_problem(value, multiline=multiline)
    if problem:
        errors.add(path, problem)
        return None
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if max_len is not None and len(value) > max_len:
        errors.add(path, f"must be at most {max_len} characters")
        return None
    return value


def text(errors: FieldErrors, data: dict, key: str, path: str, *, required: bool = True,
         max_len: int = MAX_NAME, multiline: bool | None = None) -> str | None:
    """A text field; ``multiline`` (default: whether ``key`` is a free-text key such as
    notes or reason) allows tabs and line breaks."""
    value = data.get(key)
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if required:
            errors.add(path, "is required")
        return None
    if not isinstance(value, str):
        errors.add(path, "must be text")
        return None
    if multiline is None:
        multiline = key in FREE_TEXT_KEYS
    return clean(errors, value, path, multiline=multiline, max_len=max_len)


def email(errors: FieldErrors, value: Any, path: str, *, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(path, "is required")
        return None
    if not isinstance(value, str):
        errors.add(path, "must be an e-mail address")
        return None
    problem = hygiene_problem(value.strip())
    if problem:
        errors.add(path, problem)
        return None
    if len(value.strip()) > MAX_EMAIL:
        errors.add(path, f"must be at most {MAX_EMAIL} characters")
        return None
    EmailNotValidError, validate_email = _email_validator()
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        errors.add(path, "is not a valid e-mail address")
        return None
    return checked.normalized.lower()


def choice(errors: FieldErrors, value: Any, path: str, allowed, what: str) -> str | None:
    if value is None or value == "":
        errors.add(path, "is required")
        return None
    if not isinstance(value, str) or hygiene_problem(value) or value not in allowed:
        errors.add(path, f"is not a known {what}")
        return None
    return value


def country(errors: FieldErrors, value: Any, path: str) -> str | None:
    if value is None or value == "":
        errors.add(path, "is required")
        return None
    if not isinstance(value, str) or len(value.strip()) != 2:
        errors.add(path, "must be an ISO 3166-1 alpha-2 country code, such as US or DE")
        return None
    code = value.strip().upper()
    if hygiene_problem(code):  # the message below names the code: never a raw control character
        errors.add(path, "must be an ISO 3166-1 alpha-2 country code, such as US or DE")
        return None
    if pycountry.countries.get(alpha_2=code) is None:
        errors.add(path, f"{code} is not an ISO 3166-1 country code")
        return None
    return code


def boolean(errors: FieldErrors, value: Any, path: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    errors.add(path, "must be true or false")
    return False


def parse_datetime_value(value: Any) -> datetime:
    """ISO 8601 to an aware UTC datetime (a naive one is taken as UTC). Raises ValueError."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        if hygiene_problem(value) or len(value) > 64:
            raise ValueError("not a date and time")
        raw = value.strip()
        if raw.endswith(("Z", "z")):
            raw = raw[:-1] + "+00:00"
        parsed = datetime.fromisoformat(raw)
    else:
        raise ValueError("not a date and time")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 lies past the last representable day
        raise ValueError("out of range") from None


def latest_allowed(future: bool, now: datetime | None = None) -> datetime:
    """The latest instant a date may name: 2100-12-31 for what lies ahead (due dates,
    gag ends, deferrals), else one day after now (what happened: receipt, items, issue)."""
    if future:
        return LATEST_FUTURE
    return (now or datetime.now(timezone.utc)) + PAST_SLACK


def _out_of_range(errors: FieldErrors, path: str, future: bool, now: datetime | None) -> None:
    if future:
        errors.add(path, "must lie between 1970-01-01 and 2100-12-31")
    else:
        errors.add(path, "must lie between 1970-01-01 and tomorrow")


def datetime_value(errors: FieldErrors, value: Any, path: str, *, required: bool = True,
                   future: bool = False, now: datetime | None = None) -> datetime | None:
    """An aware UTC datetime between 1970-01-01 and ``latest_allowed(future)``."""
    if value is None or value == "":
        if required:
            errors.add(path, "is required")
        return None
    try:
        parsed = parse_datetime_value(value)
    except (ValueError, TypeError):
        errors.add(path, "must be a date and time such as 2026-03-01T09:30:00Z")
        return None
    if not EARLIEST <= parsed <= latest_allowed(future, now):
        _out_of_range(errors, path, future, now)
        return None
    return parsed


def date_value(errors: FieldErrors, value: Any, path: str, *, required: bool = True,
               future: bool = False, now: datetime | None = None) -> date | None:
    """A calendar date between 1970-01-01 and ``latest_allowed(future)``'s day."""
    if value is None or value == "":
        if required:
            errors.add(path, "is required")
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        parsed = value
    else:
        raw = str(value).strip()
        try:
            if hygiene_problem(raw) or len(raw) > 32:
                raise ValueError
            parsed = date.fromisoformat(raw)
        except ValueError:
            errors.add(path, "must be a date such as 2026-03-01")
            return None
    if not EARLIEST.date() <= parsed <= latest_allowed(future, now).date():
        _out_of_range(errors, path, future, now)
        return None
    return parsed


def identifier(value: str) -> str:
    """A target identifier: trimmed; e-mail addresses also lower-cased (SPEC §2)."""
    value = value.strip()
    return value.lower() if "@" in value else value


# An account identifier is one of three kinds, told apart by its look: an e-mail address
# (it has an @), a phone number (it starts with +: E.164, 8 to 15 digits, spaces, dots,
# dashes and parentheses allowed between them) or the service's own account id (letters,
# digits and . _ - : / + = #, nothing else, no spaces: "tenant:contoso-7781").
_PHONE = re.compile(r"\+[0-9](?:[ .()-]{0,2}[0-9])*")
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=#-]*")
IDENTIFIER_KINDS = ("an e-mail address (name@example.com), a phone number in international form "
                    "(+1 206 555 0142) or an account id of letters, digits and . _ - : / + = #")


def identifier_problem(ident: str) -> str | None:
    """What is wrong with an account identifier (``identifier``-cleaned) for its kind, or None."""
    if "@" in ident:
        EmailNotValidError, validate_email = _email_validator()
        try:
            validate_email(ident, check_deliverability=False)
        except EmailNotValidError:
            return "is not a valid e-mail address (an identifier with @ must be one)"
        return None
    if ident.startswith("+"):
        digits = sum(c.isdigit() for c in ident)
        if not _PHONE.fullmatch(ident) or not 8 <= digits <= 15:
            return ("is not a valid phone number: + and the country code, 8 to 15 digits in all, "
                    "such as +1 206 555 0142")
        return None
    if not _ACCOUNT_ID.fullmatch(ident):
        return f"is not a valid account identifier: use {IDENTIFIER_KINDS}"
    return None


def listing(errors: FieldErrors, data: dict, key: str, path: str, *, required: bool = True,
            max_entries: int = MAX_LIST) -> list:
    value = data.get(key)
    if value is None:
        if required:
            errors.add(path, "is required")
        return []
    if not isinstance(value, list):
        errors.add(path, "must be a list")
        return []
    if required and not value:
        errors.add(path, "must have at least one entry")
    if len(value) > max_entries:
        errors.add(path, f"must have at most {max_entries:,} entries")
        return []
    return value


def mapping(errors: FieldErrors, value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        errors.add(path, "must be an object")
        return {}
    return value


def identifiers(errors: FieldErrors, data: dict, key: str, *, required: bool = True) -> list[tuple[int, str]]:
    """A list of account identifiers (targets, a customer's mapped accounts): each one
    ``identifier``-cleaned, at most 320 characters, valid for its kind
    (``identifier_problem``), none twice. Returns (position, identifier)
    for the good ones, so a caller can name the row of a later problem."""
    found: list[tuple[int, str]] = []
    seen: set[str] = set()
    for i, raw in enumerate(listing(errors, data, key, key, required=required, max_entries=MAX_TARGETS)):
        if not isinstance(raw, str) or not raw.strip():
            errors.add(f"{key}[{i}]", "must be an account identifier")
            continue
        problem = hygiene_problem(raw.strip())  # trimmed first, as identifier() does
        if problem:
            errors.add(f"{key}[{i}]", problem)
            continue
        ident = identifier(raw)
        if len(ident) > MAX_IDENTIFIER:
            errors.add(f"{key}[{i}]", f"must be at most {MAX_IDENTIFIER} characters")
        elif (kind := identifier_problem(ident)) is not None:
            errors.add(f"{key}[{i}]", kind)
        elif ident in seen:
            errors.add(f"{key}[{i}]", "is listed twice")
        else:
            seen.add(ident)
            found.append((i, ident))
    return found
