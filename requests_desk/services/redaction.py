"""Replacing a purged demand's personal values wherever the desk keeps them (SPEC §8).

A demand's values are its target identifiers (and its items' targets) and its
requester's name, e-mail and phone. Each gets a mark:

* a target identifier becomes ``redacted:<24 hex>``, an HMAC of the identifier under a
  key derived from the audit key: the same account gets the same mark in every purged
  demand, so the report's distinct-account counts stay what they were, and the mark
  cannot be turned back into the identifier without the key;
* the requester's name, e-mail and phone become ``[redacted]``.

``Scrubber`` replaces them: a whole value equal to one of them (a target column, an item,
a JSON string in an audit event), and each mention in free text (notes, reasons, file
names, error texts; case-insensitive, whole words, values of 3 characters or more).
``scrub_rows`` runs it over every text column of every table that belongs to a demand
(read from the models' metadata, so a new column is covered too); ``remap_accounts``
keeps the report summary's distinct identifiers in step.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any, Iterable

from sqlalchemy import String, Table, Text, bindparam, select, text, update
from sqlalchemy.orm import Session

from ..audit import canonical
from ..db import Base

MARK = "[redacted]"
IDENTIFIER_PREFIX = "redacted:"
_IDENTIFIER_LABEL = b"requests-desk retention identifier"
FREE_TEXT_MIN = 3  # shorter values are replaced only where they are the whole value

# Code and key columns: never personal, and a CHECK constraint guards most of them.
CODE_COLUMNS = frozenset({
    "reference", "status", "outcome", "channel", "country", "process_type", "kind", "state", "held_by",
    "data_set", "sha256", "stored_name", "message_id", "period", "type",
})


def identifier_mark(audit_key: bytes, identifier: str) -> str:
    """The mark that replaces a target identifier: stable per identifier, keyed."""
    subkey = hmac.new(audit_key, _IDENTIFIER_LABEL, hashlib.sha256).digest()
    return IDENTIFIER_PREFIX + hmac.new(subkey, identifier.encode(), hashlib.sha256).hexdigest()[:24]


def is_mark(value: str) -> bool:
    return value == MARK or value.startswith(IDENTIFIER_PREFIX)


class Scrubber:
    """One demand's values and their marks."""

    def __init__(self, marks: dict[str, str]):
        self.marks = {v: m for v, m in marks.items() if v and not is_mark(v)}
        self._folded = {v.casefold(): m for v, m in self.marks.items()}
        words = sorted((v for v in self.marks if len(v) >= FREE_TEXT_MIN), key=len, reverse=True)
        self._pattern = (re.compile("|".join(rf"(?<!\w){re.escape(v)}(?!\w)" for v in words), re.IGNORECASE)
                         if words else None)

    def text(self, value: Any) -> Any:
        """A column's value with the demand's values replaced (anything not text as it is)."""
        if not isinstance(value, str) or not value:
            return value
        if value in self.marks:
            return self.marks[value]
        if self._pattern is None:
            return value
        return self._pattern.sub(lambda m: self._folded.get(m.group(0).casefold(), MARK), value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        if isinstance(value, dict):
            return {self.text(k): self._walk(v) for k, v in value.items()}
        return value

    def json(self, raw: str | None) -> str | None:
        """An audit event's before/after (canonical JSON) with the values replaced; the same
        text when nothing changes."""
        if not raw:
            return raw
        try:
            value = json.loads(raw)
        except ValueError:
            return self.text(raw)
        scrubbed = self._walk(value)
        return raw if scrubbed == value else canonical(scrubbed)


def _text_columns(table: Table) -> list[str]:
    return [c.name for c in table.columns
            if isinstance(c.type, (String, Text)) and not c.primary_key and c.name not in CODE_COLUMNS]


def _demand_tables() -> list[tuple[Table, str | None]]:
    """Every table of a demand's rows that has text columns, with ``None`` when it names
    its demand (``demand_id``; ``demands`` itself by ``id``) or the name of the table that
    does, for a child of such a table (a gag's events). Requesters are not among them:
    shared between demands, services/retention.py decides what becomes of them."""
    def names_demand(table: Table) -> bool:
        return any(fk.parent.name == "demand_id" and fk.column.table.name == "demands" for fk in table.foreign_keys)

    own = {t.name for t in Base.metadata.sorted_tables if names_demand(t)}
    out: list[tuple[Table, str | None]] = []
    for table in Base.metadata.sorted_tables:
        if not _text_columns(table) or "id" not in table.c:
            continue
        if table.name == "demands" or table.name in own:
            out.append((table, None))
            continue
        parents = sorted({fk.column.table.name for fk in table.foreign_keys} & own)
        if parents:
            out.append((table, parents[0]))
    return out


DEMAND_TABLES = _demand_tables()


def scrub_rows(session: Session, scrubbers: dict[int, Scrubber]) -> int:
    """Replace the demands' values in every text column of their rows (not requesters);
    returns how many values changed. Each column is written only where it changes."""
    ids = sorted(scrubbers)
    changed = 0
    for table, via in DEMAND_TABLES:
        columns = _text_columns(table)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            if via is None:
                owner = table.c.id if table.name == "demands" else table.c.demand_id
                stmt = select(table.c.id, owner.label("owner"), *(table.c[c] for c in columns)).where(owner.in_(chunk))
            else:
                parent = Base.metadata.tables[via]
                link = next(fk for fk in table.foreign_keys if fk.column.table is parent)
                stmt = (select(table.c.id, parent.c.demand_id.label("owner"), *(table.c[c] for c in columns))
                        .join(parent, link.parent == parent.c.id).where(parent.c.demand_id.in_(chunk)))
            writes: dict[str, list[dict]] = {c: [] for c in columns}
            for row in session.execute(stmt).mappings():
                scrub = scrubbers[row["owner"]]
                for c in columns:
                    new = scrub.text(row[c])
                    if new != row[c]:
                        writes[c].append({"row_id": row["id"], "new_value": new})
            for c, rows in writes.items():
                if rows:
                    session.execute(update(table).where(table.c.id == bindparam("row_id"))
                                    .values({c: bindparam("new_value")}), rows)
                    changed += len(rows)
    return changed


def remap_accounts(session: Session, pairs: Iterable[tuple[str, str, str]]) -> int:
    """The report summary after the purged demands' targets were redacted. ``pairs`` are
    (period, identifier, mark) of those targets. Within a period every account keeps one
    spelling, so each count the report makes (per country, process type, section, and
    small countries merged into Other) stays what it was: an identifier still named by a
    demand of that period (not purged) stays as it is; otherwise its rows take its mark,
    and where the mark is there already the identifier's row goes (one account, not two).
    Returns how many rows changed. (``report_summary.rebuild`` cannot know a mark and an
    identifier are one account without the key: after a purge it would count an account
    named by a purged and a kept demand of one period twice. The kept rows are the truth.)"""
    wanted: dict[tuple[str, str], str] = {(p, ident): mark for p, ident, mark in pairs}
    if not wanted:
        return 0
    idents = sorted({ident for _p, ident in wanted})
    still: set[tuple[str, str]] = set()
    rows: list[tuple[str, str, str, str]] = []
    marked: set[tuple[str, str, str, str]] = set()
    marks = sorted(set(wanted.values()))
    for start in range(0, len(idents), 500):
        chunk = idents[start:start + 500]
        still |= {(r.period, r.identifier) for r in session.execute(text(
            "SELECT DISTINCT k.period, t.identifier FROM demand_targets t "
            "JOIN report_demand_keys k ON k.demand_id = t.demand_id WHERE t.identifier IN :idents"
        ).bindparams(bindparam("idents", expanding=True)), {"idents": chunk})}
        rows += [tuple(r) for r in session.execute(text(
            "SELECT period, dimension, member, identifier FROM report_accounts WHERE identifier IN :idents"
        ).bindparams(bindparam("idents", expanding=True)), {"idents": chunk})]
    for start in range(0, len(marks), 500):
        marked |= {tuple(r) for r in session.execute(text(
            "SELECT period, dimension, member, identifier FROM report_accounts WHERE identifier IN :marks"
        ).bindparams(bindparam("marks", expanding=True)), {"marks": marks[start:start + 500]})}
    renames, merges = [], []
    for period, dimension, member, ident in rows:
        mark = wanted.get((period, ident))
        if mark is None or (period, ident) in still:
            continue
        key = {"p": period, "d": dimension, "m": member, "i": ident, "mark": mark}
        (merges if (period, dimension, member, mark) in marked else renames).append(key)
    if renames:
        session.execute(text("UPDATE report_accounts SET identifier = :mark "
                             "WHERE period = :p AND dimension = :d AND member = :m AND identifier = :i"), renames)
    if merges:
        session.execute(text("DELETE FROM report_accounts "
                             "WHERE period = :p AND dimension = :d AND member = :m AND identifier = :i"), merges)
        session.execute(text("UPDATE report_account_counts SET n = n - 1 "
                             "WHERE period = :p AND dimension = :d AND member = :m"), merges)
    return len(renames) + len(merges)
