"""The report, schema version 1 (SPEC §5), as typed dataclasses.

``Report.to_json()`` is the one serialisation: the text stored in ``reports.body`` and
served byte for byte. Percentages are ``Decimal`` rounded half-up to two places and
written as JSON numbers with exactly two decimals (``12.50``); ``Report.from_json``
reads them back as ``Decimal``. A national-security figure exists here only as a band.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Mapping

from requests_desk.vocabulary import REPORT_OUTCOME_TERMS

SCHEMA_VERSION = 1
NOT_YET_REPORTABLE = "not_yet_reportable"
BAND_WIDTH = 500
OTHER = "Other"
TOTAL = "Total"

# The outcome counts (the vocabulary's order), then ``pending`` (an open demand).
OUTCOME_FIELDS = REPORT_OUTCOME_TERMS.codes
PCT_FIELDS = ("pct_content_disclosed", "pct_non_content_disclosed", "pct_no_data_found", "pct_rejected")
# The fields of ``totals`` and of every ``by_country`` / ``by_process_type`` row, in order.
FIGURE_FIELDS = ("requests", "accounts_specified") + OUTCOME_FIELDS + PCT_FIELDS
CENT = Decimal("0.01")


def percent(part: int, whole: int) -> Decimal:
    """``part`` as a percentage of ``whole``, rounded half-up to 2 decimals (0 when whole is 0).

    Integer arithmetic, so there is no binary-float error: 1/8 → 12.50, 1/32 → 3.13."""
    if whole <= 0:
        return Decimal("0.00")
    hundredths = (2 * part * 10000 + whole) // (2 * whole)
    return (Decimal(hundredths) / 100).quantize(CENT)


def band(count: int) -> str:
    """A count as its band of 500: 0 → ``0-499``, 512 → ``500-999``."""
    low = (count // BAND_WIDTH) * BAND_WIDTH
    return f"{low}-{low + BAND_WIDTH - 1}"


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


# ---------------------------------------------------------------- sections


@dataclass(frozen=True, kw_only=True)
class Figures:
    """Requests, distinct accounts, a count per outcome and the four shares."""

    requests: int
    accounts_specified: int
    content_disclosed: int
    non_content_disclosed: int
    no_data_found: int
    rejected: int
    redirected: int
    withdrawn: int
    preserved: int
    pending: int
    pct_content_disclosed: Decimal
    pct_non_content_disclosed: Decimal
    pct_no_data_found: Decimal
    pct_rejected: Decimal

    @classmethod
    def from_counts(cls, outcomes: Mapping[str, int], accounts_specified: int, **extra: Any):
        """Build from outcome counts (missing ones are 0); requests and shares follow."""
        counts = {name: int(outcomes.get(name, 0)) for name in OUTCOME_FIELDS}
        requests = sum(counts.values())
        shares = {f"pct_{name}": percent(counts[name], requests) for name in
                  ("content_disclosed", "non_content_disclosed", "no_data_found", "rejected")}
        return cls(requests=requests, accounts_specified=accounts_specified, **counts, **shares, **extra)

    def figures_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIGURE_FIELDS}

    @property
    def disclosed(self) -> int:
        return self.content_disclosed + self.non_content_disclosed


@dataclass(frozen=True, kw_only=True)
class CountryRow(Figures):
    country: str  # ISO 3166-1 alpha-2, or "Other"

    def to_dict(self) -> dict[str, Any]:
        return {"country": self.country, **self.figures_dict()}


@dataclass(frozen=True, kw_only=True)
class ProcessTypeRow(Figures):
    process_type: str

    def to_dict(self) -> dict[str, Any]:
        return {"process_type": self.process_type, **self.figures_dict()}


@dataclass(frozen=True, kw_only=True)
class Enterprise:
    requests: int
    redirected: int
    customer_notified: int
    notice_delayed_by_gag: int
    content_disclosed: int
    non_content_disclosed: int
    rejected: int


@dataclass(frozen=True, kw_only=True)
class Emergency:
    requests: int
    disclosed: int
    rejected: int  # fraudulent ones included, as in the outcome tables
    # Emergency requests closed as fraudulent (SPEC §9): the one key schema 1 gained; a
    # version published before it was kept reads as 0.
    fraudulent: int = 0


@dataclass(frozen=True, kw_only=True)
class Preservation:
    requests: int
    accounts_specified: int


@dataclass(frozen=True, kw_only=True)
class Gag:
    requests_with_gag: int
    pct_with_gag: Decimal


@dataclass(frozen=True, kw_only=True)
class NationalSecurity:
    """Bands only (``"0-499"``): an exact figure never leaves aggregate.py."""

    requests: str
    accounts_specified: str

    @classmethod
    def from_counts(cls, requests: int, accounts_specified: int) -> "NationalSecurity":
        return cls(requests=band(requests), accounts_specified=band(accounts_specified))


# ---------------------------------------------------------------- the report


@dataclass(frozen=True, kw_only=True)
class Report:
    period: str
    status: str  # draft | published
    version: int | None
    published_at: datetime | None
    compiled_at: datetime
    note: str | None
    totals: Figures
    by_country: list[CountryRow]
    by_process_type: list[ProcessTypeRow]
    enterprise: Enterprise
    emergency: Emergency
    preservation: Preservation
    gag: Gag
    national_security: NationalSecurity | str
    schema_version: int = SCHEMA_VERSION
    provider: str | None = None  # who published it (DESK_PROVIDER_NAME then); None in a draft

    def published(self, version: int, published_at: datetime, note: str | None,
                  provider: str | None = None) -> "Report":
        """This draft frozen as published version ``version`` by ``provider``; every figure unchanged."""
        return replace(self, status="published", version=version, published_at=published_at, note=note,
                       provider=provider)

    @property
    def national_security_reportable(self) -> bool:
        return isinstance(self.national_security, NationalSecurity)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "status": self.status,
            "version": self.version,
            "published_at": iso(self.published_at),
            "schema_version": self.schema_version,
            "compiled_at": iso(self.compiled_at),
            "note": self.note,
            "provider": self.provider,
            "totals": self.totals.figures_dict(),
            "by_country": [row.to_dict() for row in self.by_country],
            "by_process_type": [row.to_dict() for row in self.by_process_type],
            "enterprise": _plain(self.enterprise),
            "emergency": _plain(self.emergency),
            "preservation": _plain(self.preservation),
            "gag": _plain(self.gag),
            "national_security": (
                _plain(self.national_security) if isinstance(self.national_security, NationalSecurity)
                else self.national_security
            ),
        }

    def to_json(self) -> str:
        return dumps(self.to_dict()) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Report":
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"unsupported report schema_version {data.get('schema_version')!r}")
        ns = data["national_security"]
        return cls(
            period=data["period"],
            status=data["status"],
            version=data["version"],
            published_at=parse_iso(data["published_at"]),
            compiled_at=parse_iso(data["compiled_at"]),
            note=data["note"],
            totals=_figures(Figures, data["totals"]),
            by_country=[_figures(CountryRow, row, country=row["country"]) for row in data["by_country"]],
            by_process_type=[
                _figures(ProcessTypeRow, row, process_type=row["process_type"]) for row in data["by_process_type"]
            ],
            enterprise=Enterprise(**data["enterprise"]),
            emergency=Emergency(**data["emergency"]),
            preservation=Preservation(**data["preservation"]),
            gag=Gag(requests_with_gag=data["gag"]["requests_with_gag"],
                    pct_with_gag=Decimal(str(data["gag"]["pct_with_gag"])).quantize(CENT)),
            national_security=NationalSecurity(**ns) if isinstance(ns, dict) else str(ns),
            schema_version=data["schema_version"],
            provider=data.get("provider"),  # absent from versions published before it was kept
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> "Report":
        return cls.from_dict(json.loads(text, parse_float=Decimal))


def _plain(section: Any) -> dict[str, Any]:
    return {f.name: getattr(section, f.name) for f in fields(section)}


def _figures(kind: type, data: Mapping[str, Any], **extra: Any):
    values = {}
    for name in FIGURE_FIELDS:
        value = data[name]
        values[name] = Decimal(str(value)).quantize(CENT) if name.startswith("pct_") else int(value)
    return kind(**values, **extra)


# ---------------------------------------------------------------- JSON text


def dumps(value: Any, indent: int = 2, _level: int = 0) -> str:
    """JSON text like ``json.dumps(indent=2)``, writing each ``Decimal`` as a number
    with its exact digits (``12.50``), which the json module cannot do."""
    pad = " " * (indent * (_level + 1))
    end = " " * (indent * _level)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("a report figure must be finite")
        return format(value, "f")
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = (f"{pad}{_string(str(k))}: {dumps(v, indent, _level + 1)}"
                 for k, v in value.items())
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(f"{pad}{dumps(v, indent, _level + 1)}" for v in value) + "\n" + end + "]"
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    return json.dumps(value, ensure_ascii=False)


# What json.dumps(text, ensure_ascii=False) writes for a string, without its per-call set-up.
_string = json.encoder.encode_basestring


__all__ = [
    "SCHEMA_VERSION", "NOT_YET_REPORTABLE", "OTHER", "TOTAL", "OUTCOME_FIELDS", "PCT_FIELDS", "FIGURE_FIELDS",
    "percent", "band", "Figures", "CountryRow", "ProcessTypeRow", "Enterprise", "Emergency", "Preservation",
    "Gag", "NationalSecurity", "Report", "dumps",
]
