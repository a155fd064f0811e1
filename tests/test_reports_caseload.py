"""A seeded case load for the report tests, built the way the desk builds it (factories,
workflow actions, gag service, the real dispatcher writing .eml files), and the report
counted again in plain Python from the *inputs* below, never with the report's SQL.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from requests_desk.access import SYSTEM
from requests_desk import workflow
from requests_desk.db import utcnow
from requests_desk.notices.dispatcher import dispatch
from requests_desk.services.case import get_demand
from requests_desk.services.intake import log_demand
from requests_desk.services import gags as gag_service
from requests_desk.services.emergency_checks import record_check
from requests_desk.vocabulary import EMERGENCY_CHECKS

from .factories import demand_payload, make_customer, make_user

PERIOD = "2026-H1"
PERIOD_START = datetime(2026, 1, 1, tzinfo=timezone.utc)
PERIOD_END = datetime(2026, 7, 1, tzinfo=timezone.utc)
PRESERVATION = ("preservation", "eu_preservation_order")
EXCLUDED = PRESERVATION + ("national_security",)
REPORTED_TYPES = ("subpoena", "court_order", "search_warrant", "emergency", "civil_subpoena", "mlat",
                  "eu_production_order", "other")
OUTCOME_OF_PATH = {
    "pending": "pending", "review": "pending", "redirected": "redirected", "rejected": "rejected",
    "content": "content_disclosed", "non_content": "non_content_disclosed", "no_data": "no_data_found",
    "withdrawn": "withdrawn", "preserved": "preserved", "fraudulent": "fraudulent",
}
# The report counts a fraudulent demand as rejected; only the emergency section names it.
REPORTED_AS = {"fraudulent": "rejected"}
OUTCOMES = ("content_disclosed", "non_content_disclosed", "no_data_found", "rejected", "redirected",
            "withdrawn", "preserved", "pending")
ENTERPRISE_DOMAINS = {"contoso.com", "fabrikam.example"}
ENTERPRISE_ACCOUNTS = {"acct-9001"}


@dataclass
class Case:
    received_at: str
    country: str
    process_type: str
    targets: list[str]
    path: str = "pending"
    emergency: bool = False
    gag: str | None = None  # active (no end) | lifted | expired (set after its expiry)
    deferred: bool = False  # emergency notice deferral beyond every dispatch
    late: bool = False  # logged after the first dispatch run
    demand_id: int | None = field(default=None, compare=False)

    @property
    def outcome(self) -> str:
        return OUTCOME_OF_PATH[self.path]

    @property
    def reported(self) -> str:
        """The outcome as the report's outcome tables count it."""
        return REPORTED_AS.get(self.outcome, self.outcome)

    @property
    def identifiers(self) -> list[str]:
        return [normalise(t) for t in self.targets]

    @property
    def enterprise(self) -> bool:
        return any(
            i in ENTERPRISE_ACCOUNTS or ("@" in i and i.rsplit("@", 1)[1] in ENTERPRISE_DOMAINS)
            for i in self.identifiers
        )

    @property
    def is_emergency(self) -> bool:
        return self.emergency or self.process_type == "emergency"


def normalise(identifier: str) -> str:
    ident = identifier.strip()
    return ident.lower() if "@" in ident else ident


CASES = [
    Case("2026-01-01T00:00:00Z", "US", "search_warrant", ["alice@contoso.com"], "content"),
    Case("2026-06-30T23:59:59Z", "DE", "court_order", ["bob@mail.example", " Carol@Contoso.com "], "non_content"),
    Case("2025-12-31T23:59:59Z", "US", "search_warrant", ["xavier@mail.example"], "content"),
    Case("2026-07-01T00:00:00Z", "US", "subpoena", ["yara@mail.example"], "rejected"),
    Case("2026-02-03T10:00:00Z", "US", "subpoena", ["alice@contoso.com", "dave@mail.example"], "non_content"),
    Case("2026-02-10T09:30:00Z", "GB", "search_warrant", ["acct-9001"], "redirected"),
    Case("2026-02-11T11:00:00Z", "GB", "court_order", ["eve@fabrikam.example"], "rejected", gag="active"),
    Case("2026-02-12T12:00:00Z", "FR", "mlat", ["frank@litware.example"], "no_data"),
    Case("2026-03-01T08:00:00Z", "DE", "emergency", ["gina@mail.example"], "content", emergency=True),
    Case("2026-03-02T08:00:00Z", "US", "search_warrant", ["hank@contoso.com"], "rejected", emergency=True,
         deferred=True),
    Case("2026-03-03T08:00:00Z", "IE", "eu_production_order", ["ivan@fabrikam.example"], "content", gag="lifted"),
    Case("2026-03-04T08:00:00Z", "IE", "civil_subpoena", ["judy@mail.example"], "withdrawn"),
    Case("2026-03-05T08:00:00Z", "US", "other", ["kim@contoso.com"], "pending", late=True),
    Case("2026-03-06T08:00:00Z", "BR", "subpoena", ["leo@mail.example"], "review"),
    Case("2026-03-07T08:00:00Z", "US", "preservation", ["alice@contoso.com", "mia@mail.example"], "preserved"),
    Case("2026-03-08T08:00:00Z", "DE", "eu_preservation_order", ["ned@mail.example"], "pending"),
    Case("2026-03-09T08:00:00Z", "US", "national_security", ["alice@contoso.com", "oscar@mail.example"],
         "pending", gag="active"),
    Case("2026-03-10T08:00:00Z", "US", "national_security", ["pat@mail.example"], "rejected"),
    Case("2026-03-11T08:00:00Z", "US", "emergency", ["zoe@contoso.com"], "fraudulent", emergency=True),
    Case("2026-04-01T08:00:00Z", "GB", "court_order", ["quinn@contoso.com"], "non_content", gag="expired",
         late=True),
    Case("2026-04-02T08:00:00Z", "NL", "search_warrant", ["rita@contoso.com"], "content", gag="active"),
    Case("2026-04-03T08:00:00Z", "US", "court_order", ["sam@mail.example"], "no_data"),
    Case("2026-04-04T08:00:00Z", "DE", "subpoena", ["tina@litware.example"], "redirected"),
    Case("2026-05-05T08:00:00Z", "US", "search_warrant", ["uma@fabrikam.example"], "withdrawn"),
    Case("2026-05-06T08:00:00Z", "FR", "court_order", ["acct-9001", "vic@mail.example"], "rejected"),
    Case("2026-06-01T08:00:00Z", "US", "subpoena", ["walt@mail.example"], "pending"),
]


@dataclass
class CaseLoad:
    cases: list[Case]
    first_dispatch: datetime  # notices due then were sent at this time
    late_dispatch: datetime  # the late cases' notices were sent at this time
    users: dict


def _items(case: Case, data_set: str) -> list[dict]:
    target = normalise(case.targets[0])
    return [{"target": target, "data_set": data_set, "from": "2026-01-01", "to": "2026-03-31"}]


def _disclosed_set(case: Case, content: bool) -> str:
    if content:
        return "email_content"
    return "subscriber_info" if case.process_type == "subpoena" else "sign_in_logs"


def log_case(session, users: dict, case: Case) -> None:
    """Log one case through the intake service and walk it through the workflow."""
    target = normalise(case.targets[0])
    extra = {}
    if case.is_emergency:
        extra.update(emergency=True, justification="A person is in immediate danger.")
    if case.gag == "active":
        extra["gag"] = {"order_ref": f"NDO-{case.received_at[:10]}", "issued_by": "District Court",
                        "expires_at": None}
    elif case.gag in ("lifted", "expired"):
        expires = "2099-01-01T00:00:00Z" if case.gag == "lifted" else "2026-01-15T00:00:00Z"
        extra["gag"] = {"order_ref": f"NDO-{case.received_at[:10]}", "issued_by": "District Court",
                        "expires_at": expires}
    if case.path == "fraudulent":  # its own sender: the flag it gets must not touch the other cases
        extra["requester"] = {"agency": "Hijacked Police", "name": "Sgt. Forged", "email": "duty@hijacked.example",
                              "type": "law_enforcement"}
    payload = demand_payload(
        received_at=case.received_at, country=case.country, process_type=case.process_type,
        targets=case.targets,
        requested=[{"target": target, "data_set": ds, "from": "2026-01-01", "to": "2026-03-31"}
                   for ds in ("subscriber_info", "sign_in_logs", "email_content")],
        **extra,
    )
    demand = log_demand(session, users["intake"], payload)
    session.flush()
    case.demand_id = demand.id
    counsel, approver = users["counsel"], users["approver"]
    if case.deferred:
        gag_service.defer_notices(session, counsel, demand, {
            "until": (utcnow() + timedelta(days=3650)).isoformat(), "reason": "Ongoing rescue operation"})
    if case.gag == "lifted":
        gag_service.lift_gag(session, counsel, demand, {"reason": "The court lifted the order."})

    def act(action: str, body: dict | None = None, actor=counsel):
        workflow.apply_action(session, actor, get_demand(session, demand.id, viewer=SYSTEM), action, body or {})

    path = case.path
    if path == "pending":
        pass
    elif path == "withdrawn":
        act("withdraw")
    elif path == "fraudulent":
        act("reject-fraudulent", {"reason": "The agency never sent it: its mailbox was hijacked."})
    elif path == "redirected":
        act("attempt-redirect", {"note": "Told the officer to ask the customer's legal team."})
        act("redirected")
    else:
        act("start-review", {"reason": "Reviewed directly for the test case load."})
        if path == "rejected":
            act("reject", {"reason": "The process does not support the request."})
        elif path == "preserved":
            act("preserve", {"items": _items(case, "subscriber_info")})
        elif path in ("content", "non_content", "no_data"):
            items = _items(case, _disclosed_set(case, path == "content"))
            if case.is_emergency:  # the four checks before any scope (SPEC §9)
                for code in EMERGENCY_CHECKS:
                    record_check(session, counsel, get_demand(session, demand.id, viewer=SYSTEM),
                                 {"check": code, "note": "Verified for the test case load."})
            act("propose-scope", {"items": items})
            act("approve", actor=approver)
            if path == "no_data":
                act("no-data")
            else:
                act("record-production", {"items": items, "files": [
                    {"name": "production.zip", "sha256": "a" * 64, "bytes": 1024}]})
    session.commit()


def build_caseload(app, session, cases: list[Case] | None = None) -> CaseLoad:
    """Customers, users, every case; the real dispatcher sends the due notices at
    ``first_dispatch``; the late cases are logged after it and sent at ``late_dispatch``."""
    cases = [Case(**{k: v for k, v in vars(c).items() if k != "demand_id"}) for c in (cases or CASES)]
    make_customer(session, "Contoso", enterprise=True, domains=("contoso.com",))
    make_customer(session, "Fabrikam", enterprise=True, domains=("fabrikam.example",), accounts=("acct-9001",))
    make_customer(session, "Litware", enterprise=False, domains=("litware.example",))
    users = {
        "intake": make_user(session, "intake", "cleared"),
        "counsel": make_user(session, "counsel", "cleared"),
        "approver": make_user(session, "approver", "cleared"),
        "admin": make_user(session, "admin"),
    }
    now = utcnow()
    first, late = now + timedelta(hours=1), now + timedelta(hours=3)
    for case in cases:
        if not case.late:
            log_case(session, users, case)
    dispatch(app, now=first)
    for case in cases:
        if case.late:
            log_case(session, users, case)
    dispatch(app, now=late)
    session.expire_all()
    return CaseLoad(cases, first, late, users)


# ---------------------------------------------------------------- the count in plain Python


def pct(part: int, whole: int) -> Decimal:
    if whole == 0:
        return Decimal("0.00")
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def band(n: int) -> str:
    low = n - n % 500
    return f"{low}-{low + 499}"


def in_period(case: Case, start=PERIOD_START, end=PERIOD_END) -> bool:
    moment = datetime.fromisoformat(case.received_at.replace("Z", "+00:00"))
    return start <= moment < end


def figures(cases: list[Case]) -> dict:
    counts = Counter(c.reported for c in cases)
    out = {"requests": len(cases), "accounts_specified": len({i for c in cases for i in c.identifiers})}
    out.update({name: counts.get(name, 0) for name in OUTCOMES})
    for name in ("content_disclosed", "non_content_disclosed", "no_data_found", "rejected"):
        out[f"pct_{name}"] = pct(counts.get(name, 0), len(cases))
    return out


def expected_report(load: CaseLoad, compiled_at: datetime, *, min_country: int = 0,
                    start=PERIOD_START, end=PERIOD_END) -> dict:
    """Every section of the report, counted from the case inputs."""
    period_cases = [c for c in load.cases if in_period(c, start, end)]
    main = [c for c in period_cases if c.process_type not in EXCLUDED]
    by_country: dict[str, list[Case]] = defaultdict(list)
    for c in main:
        by_country[c.country].append(c)
    big = sorted((k for k in by_country if len(by_country[k]) >= min_country),
                 key=lambda k: (-len(by_country[k]), k))
    small = [c for k, cs in by_country.items() if len(cs) < min_country for c in cs]
    country_rows = [{"country": k, **figures(by_country[k])} for k in big]
    if small:
        country_rows.append({"country": "Other", **figures(small)})

    def released(case: Case) -> bool:
        """Counsel's release (services/notice_release.py): start-review (not on an emergency),
        reject, preserve or an emergency's deferral; a case that never reaches one keeps its
        notices held."""
        if case.deferred or case.path in ("rejected", "preserved"):
            return True
        return case.path not in ("pending", "withdrawn", "redirected", "fraudulent") and not case.is_emergency

    def sent_at(case: Case):
        if not released(case) or case.gag == "active" or case.deferred:
            return None
        return load.late_dispatch if case.late else load.first_dispatch

    enterprise = [c for c in main if c.enterprise]
    emergency = [c for c in main if c.is_emergency]
    preservation = [c for c in period_cases if c.process_type in PRESERVATION]
    national = [c for c in period_cases if c.process_type == "national_security"]
    reportable = compiled_at >= end + timedelta(days=180)
    return {
        "totals": figures(main),
        "by_country": country_rows,
        "by_process_type": [{"process_type": t, **figures([c for c in main if c.process_type == t])}
                            for t in REPORTED_TYPES],
        "enterprise": {
            "requests": len(enterprise),
            "redirected": sum(c.outcome == "redirected" for c in enterprise),
            "customer_notified": sum(sent_at(c) is not None and sent_at(c) <= compiled_at for c in enterprise),
            "notice_delayed_by_gag": sum(c.gag in ("active", "lifted") for c in enterprise),
            "content_disclosed": sum(c.outcome == "content_disclosed" for c in enterprise),
            "non_content_disclosed": sum(c.outcome == "non_content_disclosed" for c in enterprise),
            "rejected": sum(c.reported == "rejected" for c in enterprise),
        },
        "emergency": {
            "requests": len(emergency),
            "disclosed": sum(c.outcome in ("content_disclosed", "non_content_disclosed") for c in emergency),
            "rejected": sum(c.reported == "rejected" for c in emergency),
            "fraudulent": sum(c.outcome == "fraudulent" for c in emergency),
        },
        "preservation": {
            "requests": len(preservation),
            "accounts_specified": len({i for c in preservation for i in c.identifiers}),
        },
        "gag": {
            "requests_with_gag": sum(c.gag is not None for c in main),
            "pct_with_gag": pct(sum(c.gag is not None for c in main), len(main)),
        },
        "national_security": (
            {"requests": band(len(national)),
             "accounts_specified": band(len({i for c in national for i in c.identifiers}))}
            if reportable else "not_yet_reportable"
        ),
    }


def report_sections(body: dict) -> dict:
    """The figure sections of a report JSON (percentages as Decimal, as in ``expected_report``)."""
    def dec(row: dict) -> dict:
        return {k: Decimal(str(v)).quantize(Decimal("0.01")) if k.startswith("pct_") else v for k, v in row.items()}

    return {
        "totals": dec(body["totals"]),
        "by_country": [dec(r) for r in body["by_country"]],
        "by_process_type": [dec(r) for r in body["by_process_type"]],
        "enterprise": body["enterprise"],
        "emergency": body["emergency"],
        "preservation": body["preservation"],
        "gag": dec(body["gag"]),
        "national_security": body["national_security"],
    }
