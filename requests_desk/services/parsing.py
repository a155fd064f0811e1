"""Parsing of user input into typed values, collecting per-field errors.

One rulebook for every door: the API's JSON and the staff forms both build the same
plain dicts and pass them through these functions, so a rule is written once.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import pycountry
from email_validator import EmailNotValidError, validate_email

from ..errors import FieldErrors


def text(errors: FieldErrors, data: dict, key: str, path: str, *, required: bool = True,
         max_len: int = 200) -> str | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if required:
            errors.add(path, "is required")
        return None
    if not isinstance(value, str):
        errors.add(path, "must be text")
        return None
    value = value.strip()
    if len(value) > max_len:
        errors.add(path, f"must be at most {max_len} characters")
        return None
    return value


def email(errors: FieldErrors, value: Any, path: str, *, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(path, "is required")
        return None
    if not isinstance(value, str):
        errors.add(path, "must be an e-mail address")
        return None
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
    if not isinstance(value, str) or value not in allowed:
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


def datetime_value(errors: FieldErrors, value: Any, path: str, *, required: bool = True) -> datetime | None:
    if value is None or value == "":
        if required:
            errors.add(path, "is required")
        return None
    try:
        return parse_datetime_value(value)
    except (ValueError, TypeError):
        errors.add(path, "must be a date and time such as 2026-03-01T09:30:00Z")
        return None


def date_value(errors: FieldErrors, value: Any, path: str, *, required: bool = True) -> date | None:
    if value is None or value == "":
        if required:
            errors.add(path, "is required")
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors.add(path, "must be a date such as 2026-03-01")
        return None


def identifier(value: str) -> str:
    """A target identifier: trimmed; e-mail addresses also lower-cased (SPEC §2)."""
    value = value.strip()
    return value.lower() if "@" in value else value


def listing(errors: FieldErrors, data: dict, key: str, path: str, *, required: bool = True) -> list:
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
    return value


def mapping(errors: FieldErrors, value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        errors.add(path, "must be an object")
        return {}
    return value


MAX_IDENTIFIER = 320


def identifiers(errors: FieldErrors, data: dict, key: str, *, required: bool = True) -> list[tuple[int, str]]:
    """A list of account identifiers (targets, a customer's mapped accounts): each one
    ``identifier``-cleaned, at most 320 characters, none twice. Returns (position, identifier)
    for the good ones, so a caller can name the row of a later problem."""
    found: list[tuple[int, str]] = []
    seen: set[str] = set()
    for i, raw in enumerate(listing(errors, data, key, key, required=required)):
        if not isinstance(raw, str) or not raw.strip():
            errors.add(f"{key}[{i}]", "must be an account identifier")
            continue
        ident = identifier(raw)
        if len(ident) > MAX_IDENTIFIER:
            errors.add(f"{key}[{i}]", f"must be at most {MAX_IDENTIFIER} characters")
        elif ident in seen:
            errors.add(f"{key}[{i}]", "is listed twice")
        else:
            seen.add(ident)
            found.append((i, ident))
    return found
