"""Put the services' per-field errors (``requested[1].to``, ``requester.email``…) next to
the form fields they concern, in words a paralegal reads easily."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

PATH = re.compile(r"^(?P<name>[a-z_]+)\[(?P<index>\d+)\](?:\.(?P<sub>[a-z0-9_]+))?$")

FRIENDLY = {
    "is required (null when the order has no end date)": "Give the expiry date, or tick “No end date”.",
}


class Worded(str):
    """A message already worded for the page (``friendly`` leaves it alone)."""


def friendly(message: str) -> str:
    """``is required`` → ``Required.``; ``must not be before from`` → ``Must not be before from.``"""
    if isinstance(message, Worded):
        return message
    if message in FRIENDLY:
        return FRIENDLY[message]
    text = message.strip()
    if text.startswith("is "):
        text = text[3:]
    first = text.split(" ", 1)[0]
    if not any(c in first for c in "_@.:"):  # leave codes and names as they are
        text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


@dataclass
class ListMap:
    """A FieldList on the form, and which entry the service's n-th element came from."""

    fieldlist: Any
    entries: list[int]  # service index -> entry position in the FieldList
    subfields: dict[str, str] = field(default_factory=dict)  # service key -> subform field name
    title: str = "Row"  # "Requested item 2", "Account 1"…


@dataclass
class Placed:
    general: list[str] = field(default_factory=list)  # errors that belong to no one field
    rows: dict[str, list[str]] = field(default_factory=dict)  # row-level errors by the row's name
    fields: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (field id, label, messages)
    count: int = 0


def place_errors(
    errors: dict[str, list[str]],
    fields: dict[str, Any],
    lists: dict[str, ListMap] | None = None,
    labels: dict[str, str] | None = None,
    fallback: Callable[[str], Any] | None = None,
) -> Placed:
    """Attach each message to its field; what fits nowhere goes to ``general``.

    ``fields`` maps a service key (``requester.email``, ``gag.expires_at``, ``targets``)
    to a WTForms field; ``lists`` maps a list key (``requested``) to a ``ListMap``."""
    lists = lists or {}
    labels = labels or {}
    placed = Placed()
    for key, messages in errors.items():
        msgs = [friendly(m) for m in messages]
        placed.count += len(msgs)
        target = fields.get(key)
        row_name = None
        row_title = ""
        match = PATH.match(key)
        if target is None and match and match["name"] in lists:
            lm = lists[match["name"]]
            index = int(match["index"])
            if index < len(lm.entries) and 0 <= lm.entries[index] < len(lm.fieldlist.entries):
                entry = lm.fieldlist.entries[lm.entries[index]]
                row_title = f"{lm.title} {lm.entries[index] + 1}"
                sub = match["sub"]
                if sub is None:
                    if hasattr(entry, "form"):
                        row_name = entry.name
                    else:
                        target = entry
                else:
                    name = lm.subfields.get(sub, sub)
                    target = getattr(entry.form, name, None) if hasattr(entry, "form") else entry
                    if target is None:
                        row_name = entry.name
        if target is None and row_name is None and fallback is not None:
            target = fallback(key)
        if target is not None:
            target.errors = list(target.errors or []) + msgs
            label = getattr(getattr(target, "label", None), "text", "") or ""
            if row_title:
                label = f"{row_title}, {label.lower()}" if label else row_title
            placed.fields.append((target.id, label, msgs))
        elif row_name is not None:
            placed.rows.setdefault(row_name, []).extend(msgs)
        else:
            label = labels.get(key, _label(key))
            placed.general.extend(f"{label}: {m}" if label else m for m in msgs)
    return placed


def _label(key: str) -> str:
    if not key:
        return ""
    match = PATH.match(key)
    if match:
        text = f"{match['name'].replace('_', ' ')} row {int(match['index']) + 1}"
        if match["sub"]:
            text += f", {match['sub'].replace('_', ' ')}"
        return text.capitalize()
    return key.replace(".", " ").replace("_", " ").capitalize()
