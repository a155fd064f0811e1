"""Items: ``{target, data_set, from, to}`` rows, their parsing and containment (SPEC §2)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable

from ..errors import FieldErrors
from ..models import item_as_dict
from . import parsing


@dataclass(frozen=True)
class Item:
    target: str
    data_set: str
    date_from: date
    date_to: date
    basis: str | None = None

    def within(self, other: "Item") -> bool:
        """A lies within B: same target and data set, A's range inside B's."""
        return (
            self.target == other.target
            and self.data_set == other.data_set
            and other.date_from <= self.date_from
            and self.date_to <= other.date_to
        )

    def as_dict(self) -> dict:
        return item_as_dict(self)


def within_any(item: Item, bounds: Iterable[Item]) -> bool:
    return any(item.within(b) for b in bounds)


def from_row(row: Any) -> Item:
    """An Item from a DemandItem row."""
    return Item(row.target, row.data_set, row.date_from, row.date_to, row.basis)


def parse_items(
    errors: FieldErrors,
    raw: Any,
    path: str,
    *,
    targets: Iterable[str],
    data_sets: Iterable[str],
    required: bool = True,
) -> list[Item]:
    """Parse a list of item dicts; each error is keyed like ``requested[1].to``."""
    if raw is None or raw == []:
        if required:
            errors.add(path, "must have at least one item")
        return []
    if not isinstance(raw, list):
        errors.add(path, "must be a list of items")
        return []
    if len(raw) > parsing.MAX_ITEMS:
        errors.add(path, f"must have at most {parsing.MAX_ITEMS:,} items")
        return []
    known_targets = set(targets)
    known_sets = set(data_sets)
    items: list[Item] = []
    for index, entry in enumerate(raw):
        at = f"{path}[{index}]"
        if not isinstance(entry, dict):
            errors.add(at, "must be an object with target, data_set, from and to")
            continue
        before = len(errors.errors)
        target = entry.get("target")
        if not isinstance(target, str) or not target.strip():
            errors.add(f"{at}.target", "is required")
            target = None
        elif parsing.hygiene_problem(target.strip()):
            errors.add(f"{at}.target", parsing.hygiene_problem(target.strip()))
            target = None
        else:
            target = parsing.identifier(target)
            if target not in known_targets:
                errors.add(f"{at}.target", "is not one of the demand's targets")
        data_set = entry.get("data_set")
        if data_set in (None, ""):
            errors.add(f"{at}.data_set", "is required")
        elif not isinstance(data_set, str) or data_set not in known_sets:
            errors.add(f"{at}.data_set", "is not a known data set")
        date_from = parsing.date_value(errors, entry.get("from"), f"{at}.from")
        date_to = parsing.date_value(errors, entry.get("to"), f"{at}.to")
        if date_from and date_to and date_to < date_from:
            errors.add(f"{at}.to", "must not be before from")
        basis = parsing.text(errors, entry, "basis", f"{at}.basis", required=False,
                             max_len=parsing.MAX_REASON)
        if len(errors.errors) == before:
            items.append(Item(target, data_set, date_from, date_to, basis or None))
    return items
