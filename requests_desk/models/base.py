"""What every model module shares: the CHECK helper and the largest id."""
from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")

# Ids are INTEGER columns: a larger id cannot exist, and PostgreSQL refuses the literal
# (an error, not "not found"), so check a number against it before looking a row up.
MAX_ID = 2**31 - 1


def _in(column: str, values: tuple[str, ...]) -> str:
    """The SQL of a CHECK that ``column`` holds one of ``values`` (the vocabulary's codes)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def parse_id(value: int | str | None) -> int | None:
    """An id from a path, a form or a query: ASCII digits (or an int) within the INTEGER
    column; anything else (``1_0``, full-width digits, spaces, 2**31) is no id at all."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()):
            return None
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ID:
        return None
    return value


def row_by_id(session: Session, model: type[T], value: int | str | None) -> T | None:
    """The row of ``model`` with this id, or None when there is none (``parse_id``)."""
    number = parse_id(value)
    return None if number is None else session.get(model, number)
