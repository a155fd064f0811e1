"""SPEC §3 through the HTTP API: one parametrised test per transition-table row (allowed
by each right role, and refused: wrong role 403, wrong state 409, rule broken 422, with
SPEC's precedence 401 > 404 > 403 > 409 > 422), then every rule, deadlines, assignment.

A refused action changes nothing: the demand's JSON and the audit log's length are
compared before and after every refusal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from requests_desk import workflow
from requests_desk.access import SYSTEM
from requests_desk.models import AuditEvent, DueDateChange, Assignment, PreservationHold
from requests_desk.services.notice_release import RELEASING_ACTIONS
from tests.factories import Api, demand_payload, make_customer, make_token, make_user

SHA = "0123456789abcdef" * 4
WINDOW = {"from": "2026-01-01", "to": "2026-03-31"}
OPEN = ("received", "redirecting", "in_review", "scoped", "approved")


@dataclass
class Desk:
    app: object
    client: object
    session: object
    users: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)

    def api(self, who: str | None) -> Api:
        return Api(self.client, self.tokens.get(who, who))

    def log(self, *, who: str = "intake", **overrides) -> dict:
        overrides.setdefault("targets", ["alice@contoso.com"])
        body = demand_payload(**overrides)
        if "requested" not in overrides:
            body["requested"] = [{"target": body["targets"][0], "data_set": "email_content", **WINDOW}]
        r = self.api(who).post("/api/v1/demands", json=body)
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    def act(self, who: str | None, demand_id, action: str, body=None):
        return self.api(who).post(f"/api/v1/demands/{demand_id}/{action}", json=body)

    def ok(self, who: str, demand_id, action: str, body=None) -> dict:
        r = self.act(who, demand_id, action, body)
        assert r.status_code == 200, (action, r.get_json())
        return r.get_json()

    def get(self, demand_id) -> dict:
        r = self.api("counsel").get(f"/api/v1/demands/{demand_id}")
        assert r.status_code == 200
        return r.get_json()

    def events(self, demand_id) -> list[dict]:
        r = self.api("counsel").get(f"/api/v1/demands/{demand_id}/audit")
        assert r.status_code == 200
        return r.get_json()

    def audit_count(self) -> int:
        with self.app.extensions["desk"]["engine"].connect() as conn:
            return conn.scalar(select(func.count()).select_from(AuditEvent))

    def to_state(self, demand: dict, state: str) -> dict:
        """Drive a logged demand to ``state`` the way staff would."""
        did = demand["id"]
        if state == "received":
            return demand
        if state == "redirecting":
            return self.ok("intake", did, "attempt-redirect", {"note": "told them to ask Contoso"})
        if state == "closed":
            return self.ok("intake", did, "withdraw", {"note": "requester withdrew"})
        self.ok("counsel", did, "start-review", {"reason": "customer unreachable"})
        if state == "in_review":
            return self.get(did)
        if state == "closed_preserved":
            return self.ok("counsel", did, "preserve", {"items": demand["requested"]})
        self.ok("counsel", did, "propose-scope", {"items": demand["requested"]})
        if state == "scoped":
            return self.get(did)
        assert state == "approved"
        return self.ok("approver", did, "approve")

    def unchanged(self, demand_id, who, action, body, status: int) -> dict:
        """Call an action that must be refused; prove it changed nothing."""
        before, count = self.get(demand_id), self.audit_count()
        r = self.act(who, demand_id, action, body)
        assert r.status_code == status, (who, action, body, r.get_json())
        assert r.content_type == "application/problem+json"
        problem = r.get_json()
        assert problem["status"] == status and problem["title"] and problem["detail"]
        assert self.get(demand_id) == before
        assert self.audit_count() == count
        return problem


@pytest.fixture
def desk(app, client, session) -> Desk:
    d = Desk(app, client, session)
    d.contoso = make_customer(session, "Contoso", enterprise=True, domains=("contoso.com",))
    for name, roles in {
        # cleared: the table's national-security rows are for staff who may see them
        # (the compartment itself is tests/test_need_to_know.py's)
        "intake": ("intake", "cleared"), "counsel": ("counsel", "cleared"), "counsel2": ("counsel", "cleared"),
        "approver": ("approver", "cleared"), "admin": ("admin", "cleared"),
        "dual": ("counsel", "approver", "cleared"),
    }.items():
        user = make_user(session, *roles, email=f"{name}@desk.example")
        d.users[name] = user
        d.tokens[name] = make_token(session, user)
    customer_user = make_user(session, "customer", email="cust@contoso.com", customer_id=d.contoso.id)
    d.users["customer"] = customer_user
    d.tokens["customer"] = make_token(session, customer_user)
    return d


# ---------------------------------------------------------------- the table itself

SPEC_TABLE = {
    # action: (from states, to, roles, fixed outcome)
    "attempt-redirect": (("received",), "redirecting", {"intake", "counsel"}, None),
    "start-review": (("received",), "in_review", {"counsel"}, None),
    "requester-insists": (("redirecting",), "in_review", {"intake", "counsel"}, None),
    "redirected": (("redirecting",), "closed", {"intake", "counsel"}, "redirected"),
    "reject": (("in_review",), "closed", {"counsel"}, "rejected"),
    "reject-fraudulent": (("received", "redirecting", "in_review"), "closed", {"counsel"}, "fraudulent"),
    "propose-scope": (("in_review",), "scoped", {"counsel"}, None),
    "approve": (("scoped",), "approved", {"approver"}, None),
    "return": (("scoped",), "in_review", {"approver"}, None),
    "record-production": (("approved",), "closed", {"counsel"}, None),
    "no-data": (("approved",), "closed", {"counsel"}, "no_data_found"),
    "preserve": (("in_review",), "closed", {"counsel"}, "preserved"),
    "extend-preservation": (("closed",), "closed", {"counsel"}, "preserved"),
    "withdraw": (OPEN, "closed", {"intake", "counsel"}, "withdrawn"),
}


def test_transition_table_is_spec_table():
    got = {
        t.action: (tuple(t.sources), t.target, set(t.roles), t.outcome) for t in workflow.TRANSITIONS
    }
    assert got == SPEC_TABLE
    assert workflow.SIDE_ACTIONS == {"assign": ("counsel", "admin"), "set-due": ("counsel",)}


# ---------------------------------------------------------------- one row, allowed


@dataclass(frozen=True)
class Row:
    action: str
    start: str  # the state a demand is driven to first ("closed_preserved": preserved)
    to: str
    outcome: str | None
    process_type: str = "search_warrant"
    body: dict | None = None


def _production(items):
    return {"items": items, "files": [{"name": "export.zip", "sha256": SHA, "bytes": 2048}]}


ROWS = [
    Row("attempt-redirect", "received", "redirecting", None, body={"note": "asked them to contact Contoso"}),
    Row("start-review", "received", "in_review", None, body={"reason": "Contoso is in liquidation"}),
    Row("requester-insists", "redirecting", "in_review", None, body={"note": "they insist"}),
    Row("redirected", "redirecting", "closed", "redirected"),
    Row("reject", "in_review", "closed", "rejected", body={"reason": "overbroad"}),
    Row("reject-fraudulent", "received", "closed", "fraudulent",
        body={"reason": "the agency says it never sent this; its mailbox was hijacked"}),
    Row("propose-scope", "in_review", "scoped", None, body="REQUESTED"),
    Row("approve", "scoped", "approved", None),
    Row("return", "scoped", "in_review", None, body={"reason": "narrow the dates"}),
    Row("record-production", "approved", "closed", "content_disclosed", body="PRODUCTION"),
    Row("no-data", "approved", "closed", "no_data_found"),
    Row("preserve", "in_review", "closed", "preserved", process_type="preservation", body="REQUESTED"),
    Row("extend-preservation", "closed_preserved", "closed", "preserved", process_type="preservation"),
    Row("withdraw", "received", "closed", "withdrawn", body={"note": "no longer needed"}),
]
ROW_BY_ACTION = {r.action: r for r in ROWS}
ROLE_CASES = [
    pytest.param(row, role, id=f"{row.action}-by-{role}")
    for row in ROWS
    for role in sorted(SPEC_TABLE[row.action][2])
]


def _body(row: Row, demand: dict):
    if row.body == "REQUESTED":
        return {"items": demand["requested"]}
    if row.body == "PRODUCTION":
        return _production(demand["scope"])
    return row.body


@pytest.mark.parametrize("row,role", ROLE_CASES)
def test_row_allowed(desk, row, role):
    demand = desk.to_state(desk.log(process_type=row.process_type), row.start)
    count = desk.audit_count()
    actor = "counsel" if role == "counsel" else role
    r = desk.act(actor, demand["id"], row.action, _body(row, demand))
    assert r.status_code == 200, r.get_json()
    after = r.get_json()
    assert after["status"] == row.to
    assert after["outcome"] == row.outcome
    assert after == desk.get(demand["id"])
    # exactly one audit event for this action, by this user, with before and after (and
    # counsel's release of the notices, where the action releases them)
    new = desk.events(demand["id"])[-(desk.audit_count() - count):]
    releases = ["notices.release"] if (
        demand["notices_released_at"] is None and row.action in RELEASING_ACTIONS
        and row.process_type != "national_security" and not (row.action == "start-review" and demand["emergency"])
    ) else []
    # (rejecting as fraudulent flags the requester's address and its domain: SPEC §9)
    flags = ["flag.set", "flag.set"] if row.action == "reject-fraudulent" else []
    actions = [e["action"] for e in new]
    # counsel's release lets the demand's held notices go, each its own event right after it
    released = [a for a in actions if a == "notice.released"]
    assert [a for a in actions if a != "notice.released"] == [row.action] + flags + releases
    assert not released or (releases and actions[-len(released):] == released)
    event = new[0]
    assert event["action"] == row.action
    assert event["actor"] == f"{actor}@desk.example"
    assert event["before"]["status"] == ("closed" if row.start == "closed_preserved" else row.start)
    assert event["after"]["status"] == row.to


# ---------------------------------------------------------------- one row, refused

WRONG_STATE = {
    "attempt-redirect": "in_review",
    "start-review": "redirecting",
    "requester-insists": "received",
    "redirected": "in_review",
    "reject": "scoped",
    "reject-fraudulent": "scoped",
    "propose-scope": "received",
    "approve": "in_review",
    "return": "approved",
    "record-production": "scoped",
    "no-data": "in_review",
    "preserve": "received",
    "extend-preservation": "closed",  # withdrawn, not preserved
    "withdraw": "closed",
}


def _rule_broken(row: Row, demand: dict):
    """A body (and who sends it) that breaks the row's rule, or None when the row has none."""
    requested = demand["requested"][0]
    beyond = [{**requested, "to": "2026-04-30"}]
    return {
        "attempt-redirect": ("intake", {}),
        "start-review": ("counsel", {"reason": "   "}),
        "reject": ("counsel", {"note": "no reason given"}),
        "reject-fraudulent": ("counsel", {"reason": "  "}),
        "propose-scope": ("counsel", {"items": beyond}),
        "approve": ("approver", None),  # the proposer case is tested apart
        "return": ("approver", {}),
        "record-production": ("counsel", _production(beyond)),
        "preserve": ("counsel", {"items": beyond}),
    }.get(row.action)


@pytest.mark.parametrize("row", ROWS, ids=[r.action for r in ROWS])
def test_row_refused(desk, row):
    allowed = SPEC_TABLE[row.action][2]
    demand = desk.to_state(desk.log(process_type=row.process_type), row.start)
    did = demand["id"]
    body = _body(row, demand)

    # 401 before anything: no token, a bad token, even for an unknown demand
    for token in (None, "rd_not-a-token"):
        problem = desk.unchanged(did, token, row.action, body, 401)
        assert desk.act(token, 999999, row.action, body).status_code == 401
    # 403 for a customer's token, whatever the demand
    desk.unchanged(did, "customer", row.action, body, 403)
    # 404: an unknown demand, even for a role that may not act
    wrong_role = next(r for r in ("intake", "counsel", "approver", "admin") if r not in allowed)
    for who in (wrong_role, sorted(allowed)[0]):
        r = desk.act(who, 999999, row.action, body)
        assert r.status_code == 404 and r.content_type == "application/problem+json"
    # 403: every staff role not in the row
    for who in ("intake", "counsel", "approver", "admin"):
        if who not in allowed:
            problem = desk.unchanged(did, who, row.action, body, 403)
            assert "may" in problem["detail"]
    # 409: the right role in a wrong state; 403 when the role is wrong as well
    other = desk.to_state(desk.log(process_type=row.process_type), WRONG_STATE[row.action])
    right = "counsel" if "counsel" in allowed else sorted(allowed)[0]
    desk.unchanged(other["id"], right, row.action, _body(row, demand), 409)
    desk.unchanged(other["id"], wrong_role, row.action, _body(row, demand), 403)
    # 422: the rule broken, or a body that is not an object
    broken = _rule_broken(row, demand)
    if broken is not None and broken[1] is not None:
        problem = desk.unchanged(did, broken[0], row.action, broken[1], 422)
        assert problem["errors"]
    problem = desk.unchanged(did, right, row.action, ["not", "an", "object"], 422)
    assert problem["errors"]
    # and after all that, the allowed action still works once
    r = desk.act(right, did, row.action, body)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == row.to


def test_unknown_action_is_404_after_auth(desk):
    demand = desk.log()
    assert desk.act(None, demand["id"], "teleport").status_code == 401
    r = desk.act("counsel", demand["id"], "teleport")
    assert r.status_code == 404 and r.content_type == "application/problem+json"
    assert desk.act("counsel", "abc", "withdraw").status_code == 404


def test_action_body_not_json_is_400(desk):
    demand = desk.log()
    r = desk.api("intake").post(f"/api/v1/demands/{demand['id']}/withdraw", data="{not json",
                                content_type="application/json")
    assert r.status_code == 400 and r.content_type == "application/problem+json"
    assert desk.get(demand["id"])["status"] == "received"


# ---------------------------------------------------------------- start-review: redirect first


@pytest.mark.parametrize("process_type,emergency,exempt", [
    ("search_warrant", False, False),
    ("subpoena", False, False),
    ("court_order", False, False),
    ("mlat", False, False),
    ("other", False, False),
    ("search_warrant", True, True),
    ("emergency", True, True),
    ("preservation", False, True),
    ("eu_preservation_order", False, True),
    ("national_security", False, True),
])
def test_start_review_on_enterprise_needs_reason_unless_exempt(desk, process_type, emergency, exempt):
    extra = {"emergency": True, "justification": "a child is missing"} if emergency else {}
    requested = [{"target": "alice@contoso.com", "data_set": "subscriber_info", **WINDOW}]
    demand = desk.log(process_type=process_type, requested=requested, **extra)
    assert demand["customers"] == [{"id": desk.contoso.id, "name": "Contoso", "enterprise": True}]
    if exempt:
        assert desk.ok("counsel", demand["id"], "start-review")["status"] == "in_review"
    else:
        problem = desk.unchanged(demand["id"], "counsel", "start-review", {}, 422)
        assert "reason" in problem["errors"]
        assert "enterprise" in problem["errors"]["reason"][0]
        after = desk.ok("counsel", demand["id"], "start-review", {"reason": "the customer is the suspect"})
        assert after["status"] == "in_review"
        review = [e for e in desk.events(demand["id"]) if e["action"] == "start-review"][-1]
        assert review["after"]["reason"] == "the customer is the suspect"


def test_start_review_consumer_or_non_enterprise_needs_no_reason(desk):
    make_customer(desk.session, "Fabrikam", enterprise=False, domains=("fabrikam.com",))
    for target in ("someone@gmail.example", "bob@fabrikam.com"):
        demand = desk.log(targets=[target])
        assert desk.ok("counsel", demand["id"], "start-review")["status"] == "in_review"


def test_start_review_one_enterprise_target_among_consumers_needs_reason(desk):
    demand = desk.log(targets=["someone@gmail.example", "alice@contoso.com"])
    desk.unchanged(demand["id"], "counsel", "start-review", {}, 422)


# ---------------------------------------------------------------- propose-scope

TIER = {
    "subscriber_info": "subscriber", "billing_records": "subscriber",
    "sign_in_logs": "non_content", "message_metadata": "non_content",
    "email_content": "content", "stored_files": "content",
    "chat_messages": "content", "contacts_calendar": "content",
}
MAX_TIER = {
    "subpoena": "subscriber", "court_order": "non_content", "search_warrant": "content",
    "emergency": "content", "civil_subpoena": "non_content", "mlat": "content",
    "eu_production_order": "content",
}
RANK = {"subscriber": 0, "non_content": 1, "content": 2}


def _in_review(desk, process_type, data_sets, **extra):
    requested = [{"target": "bob@example.net", "data_set": ds, **WINDOW} for ds in data_sets]
    if process_type == "emergency" or extra.get("emergency"):
        extra.setdefault("justification", "imminent threat to life")
    demand = desk.log(process_type=process_type, targets=["bob@example.net"], requested=requested, **extra)
    desk.ok("counsel", demand["id"], "start-review")
    if demand["emergency"]:  # the four checks come before any scope (SPEC §9; tests/test_emergency.py)
        for check in ("callback", "sender", "authority", "justification"):
            desk.ok("counsel", demand["id"], "checks", {"check": check, "note": "done"})
    return desk.get(demand["id"])


@pytest.mark.parametrize("process_type", sorted(MAX_TIER))
def test_scope_tier_within_process_type_max(desk, process_type):
    demand = _in_review(desk, process_type, list(TIER))
    for item in demand["requested"]:
        allowed = RANK[TIER[item["data_set"]]] <= RANK[MAX_TIER[process_type]]
        if allowed:
            continue
        problem = desk.unchanged(demand["id"], "counsel", "propose-scope", {"items": [item]}, 422)
        assert "items[0].data_set" in problem["errors"]
    reachable = [i for i in demand["requested"] if RANK[TIER[i["data_set"]]] <= RANK[MAX_TIER[process_type]]]
    after = desk.ok("counsel", demand["id"], "propose-scope", {"items": reachable})
    assert after["status"] == "scoped"
    assert {i["data_set"] for i in after["scope"]} == {i["data_set"] for i in reachable}


@pytest.mark.parametrize("process_type", ["national_security", "other"])
def test_scope_decided_in_review_needs_basis(desk, process_type):
    demand = _in_review(desk, process_type, ["email_content", "subscriber_info"])
    items = demand["requested"]
    problem = desk.unchanged(demand["id"], "counsel", "propose-scope", {"items": items}, 422)
    assert set(problem["errors"]) == {"items[0].basis", "items[1].basis"}
    with_basis = [{**items[0], "basis": "FISA order 2026-12, s. 702"}, {**items[1], "basis": " "}]
    problem = desk.unchanged(demand["id"], "counsel", "propose-scope", {"items": with_basis}, 422)
    assert set(problem["errors"]) == {"items[1].basis"}
    with_basis[1]["basis"] = "same order"
    after = desk.ok("counsel", demand["id"], "propose-scope", {"items": with_basis})
    assert [i["basis"] for i in after["scope"]] == ["FISA order 2026-12, s. 702", "same order"]


@pytest.mark.parametrize("process_type", ["preservation", "eu_preservation_order"])
def test_preservation_never_proposes_scope(desk, process_type):
    demand = _in_review(desk, process_type, ["subscriber_info"])
    problem = desk.unchanged(demand["id"], "counsel", "propose-scope", {"items": demand["requested"]}, 422)
    assert "preserve" in problem["detail"]


def test_scope_containment(desk):
    demand = _in_review(desk, "search_warrant", ["email_content"])
    base = demand["requested"][0]
    outside = [
        {**base, "target": "alice@contoso.com"},  # not one of the targets
        {**base, "data_set": "stored_files"},  # not requested
        {**base, "from": "2025-12-31"},  # starts before
        {**base, "to": "2026-04-01"},  # ends after
        {**base, "data_set": "no_such_set"},
        {**base, "from": "2026-02-01", "to": "2026-01-01"},  # reversed
    ]
    for item in outside:
        problem = desk.unchanged(demand["id"], "counsel", "propose-scope", {"items": [item]}, 422)
        assert any(key.startswith("items[0]") for key in problem["errors"]), problem
    desk.unchanged(demand["id"], "counsel", "propose-scope", {"items": []}, 422)
    desk.unchanged(demand["id"], "counsel", "propose-scope", {}, 422)
    inside = {**base, "from": "2026-02-01", "to": "2026-02-28"}
    after = desk.ok("counsel", demand["id"], "propose-scope", {"items": [inside, base]})
    assert after["scope"] == [inside, base]


def test_scope_target_matching_is_normalised(desk):
    demand = _in_review(desk, "search_warrant", ["email_content"])
    item = {**demand["requested"][0], "target": "  BOB@Example.NET "}
    after = desk.ok("counsel", demand["id"], "propose-scope", {"items": [item]})
    assert after["scope"][0]["target"] == "bob@example.net"


def test_emergency_scope_needs_justification(desk):
    demand = _in_review(desk, "emergency", ["email_content"])
    assert demand["emergency"] is True and demand["justification"]
    # the justification is removed afterwards (e.g. recorded wrongly and cleared)
    from requests_desk.models import Demand

    row = desk.session.get(Demand, demand["id"])
    row.justification = None
    desk.session.commit()
    problem = desk.unchanged(demand["id"], "counsel", "propose-scope", {"items": demand["requested"]}, 422)
    assert "justification" in problem["detail"]
    row.justification = "imminent threat to life"
    desk.session.commit()
    assert desk.ok("counsel", demand["id"], "propose-scope", {"items": demand["requested"]})["status"] == "scoped"


def test_proposing_again_replaces_scope(desk):
    demand = desk.to_state(desk.log(), "scoped")
    narrower = {**demand["requested"][0], "from": "2026-03-01"}
    desk.ok("approver", demand["id"], "return", {"reason": "too broad"})
    after = desk.ok("counsel2", demand["id"], "propose-scope", {"items": [narrower]})
    assert after["scope"] == [narrower]


# ---------------------------------------------------------------- four eyes


def test_approver_is_never_the_proposer(desk):
    demand = desk.to_state(desk.log(), "in_review")
    desk.ok("dual", demand["id"], "propose-scope", {"items": demand["requested"]})
    problem = desk.unchanged(demand["id"], "dual", "approve", None, 422)
    assert "second person" in problem["detail"]
    assert desk.ok("approver", demand["id"], "approve")["status"] == "approved"


def test_dual_role_user_may_approve_anothers_proposal(desk):
    demand = desk.to_state(desk.log(), "scoped")  # proposed by counsel
    assert desk.ok("dual", demand["id"], "approve")["status"] == "approved"


def test_reproposal_by_approver_makes_them_ineligible(desk):
    demand = desk.to_state(desk.log(), "scoped")  # counsel proposed
    desk.ok("dual", demand["id"], "return", {"reason": "I will redo it"})
    desk.ok("dual", demand["id"], "propose-scope", {"items": demand["requested"]})
    desk.unchanged(demand["id"], "dual", "approve", {}, 422)
    assert desk.ok("approver", demand["id"], "approve")["status"] == "approved"


def test_return_requires_reason(desk):
    demand = desk.to_state(desk.log(), "scoped")
    problem = desk.unchanged(demand["id"], "approver", "return", {"reason": ""}, 422)
    assert "reason" in problem["errors"]
    after = desk.ok("approver", demand["id"], "return", {"reason": "dates too wide"})
    assert after["status"] == "in_review"
    assert desk.events(demand["id"])[-1]["after"]["reason"] == "dates too wide"


# ---------------------------------------------------------------- production


@pytest.mark.parametrize("data_sets,produced,outcome", [
    (["email_content", "subscriber_info"], ["email_content", "subscriber_info"], "content_disclosed"),
    (["email_content", "subscriber_info"], ["subscriber_info"], "non_content_disclosed"),
    (["sign_in_logs"], ["sign_in_logs"], "non_content_disclosed"),
    (["stored_files"], ["stored_files"], "content_disclosed"),
])
def test_production_outcome_is_derived(desk, data_sets, produced, outcome):
    requested = [{"target": "alice@contoso.com", "data_set": ds, **WINDOW} for ds in data_sets]
    demand = desk.to_state(desk.log(requested=requested), "approved")
    items = [i for i in demand["scope"] if i["data_set"] in produced]
    after = desk.ok("counsel", demand["id"], "record-production", _production(items))
    assert after["outcome"] == outcome
    assert after["production"] == {
        "items": items, "files": [{"name": "export.zip", "sha256": SHA, "bytes": 2048}],
    }
    assert after["closed_at"]


def test_production_within_approved_scope(desk):
    requested = [{"target": "alice@contoso.com", "data_set": ds, **WINDOW}
                 for ds in ("email_content", "sign_in_logs")]
    demand = desk.to_state(desk.log(requested=requested), "in_review")
    scope = [{**requested[0], "from": "2026-02-01", "to": "2026-02-28"}]
    desk.ok("counsel", demand["id"], "propose-scope", {"items": scope})
    desk.ok("approver", demand["id"], "approve")
    for item in (
        requested[0],  # requested but wider than approved
        requested[1],  # requested but not approved
        {**scope[0], "to": "2026-03-01"},
    ):
        problem = desk.unchanged(demand["id"], "counsel", "record-production", _production([item]), 422)
        assert "items[0]" in problem["errors"]
    inside = {**scope[0], "from": "2026-02-10", "to": "2026-02-11"}
    assert desk.ok("counsel", demand["id"], "record-production", _production([inside]))["status"] == "closed"


@pytest.mark.parametrize("files,field", [
    (None, "files"),
    ([], "files"),
    ("export.zip", "files"),
    (["export.zip"], "files[0]"),
    ([{"sha256": SHA, "bytes": 1}], "files[0].name"),
    ([{"name": "a", "sha256": SHA[:63], "bytes": 1}], "files[0].sha256"),
    ([{"name": "a", "sha256": SHA + "0", "bytes": 1}], "files[0].sha256"),
    ([{"name": "a", "sha256": SHA + "\n", "bytes": 1}], "files[0].sha256"),
    ([{"name": "a", "sha256": "g" * 64, "bytes": 1}], "files[0].sha256"),
    ([{"name": "a", "bytes": 1}], "files[0].sha256"),
    ([{"name": "a", "sha256": SHA}], "files[0].bytes"),
    ([{"name": "a", "sha256": SHA, "bytes": -1}], "files[0].bytes"),
    ([{"name": "a", "sha256": SHA, "bytes": 1.5}], "files[0].bytes"),
    ([{"name": "a", "sha256": SHA, "bytes": "12"}], "files[0].bytes"),
    ([{"name": "a", "sha256": SHA, "bytes": True}], "files[0].bytes"),
    ([{"name": "a", "sha256": SHA, "bytes": 10**30}], "files[0].bytes"),
    ([{"name": "x" * 256, "sha256": SHA, "bytes": 1}], "files[0].name"),
    ([{"name": "a", "sha256": SHA, "bytes": 1}, {"name": "b", "sha256": "zz", "bytes": 1}], "files[1].sha256"),
])
def test_production_manifest_is_checked(desk, files, field):
    demand = desk.to_state(desk.log(), "approved")
    problem = desk.unchanged(demand["id"], "counsel", "record-production",
                             {"items": demand["scope"], "files": files}, 422)
    assert field in problem["errors"], problem["errors"]


def test_production_manifest_keeps_upper_case_digest_lower(desk):
    demand = desk.to_state(desk.log(), "approved")
    files = [{"name": " export.zip ", "sha256": SHA.upper(), "bytes": 0}]
    after = desk.ok("counsel", demand["id"], "record-production", {"items": demand["scope"], "files": files})
    assert after["production"]["files"] == [{"name": "export.zip", "sha256": SHA, "bytes": 0}]


def test_production_manifest_cannot_name_a_server_path(desk):
    """A manifest line may refer to a copy the desk kept (its random name), never a path."""
    demand = desk.to_state(desk.log(), "approved")
    for stored in ("../../instance/secret_key", "/etc/passwd", "A" * 32, 5):
        files = [{"name": "a.zip", "sha256": SHA, "bytes": 3, "stored_name": stored}]
        problem = desk.unchanged(demand["id"], "counsel", "record-production",
                                 {"items": demand["scope"], "files": files}, 422)
        assert "files[0].stored_name" in problem["errors"]


def test_no_data_closes_no_data_found(desk):
    demand = desk.to_state(desk.log(), "approved")
    after = desk.ok("counsel", demand["id"], "no-data", {"note": "account deleted in 2025"})
    assert (after["status"], after["outcome"], after["production"]) == ("closed", "no_data_found", None)


# ---------------------------------------------------------------- preservation


@pytest.mark.parametrize("process_type,days,extension", [
    ("preservation", 90, 90),
    ("eu_preservation_order", 60, 30),
])
def test_preserve_and_extend_once(desk, process_type, days, extension):
    demand = desk.to_state(desk.log(process_type=process_type), "in_review")
    started = datetime.now(timezone.utc)
    after = desk.ok("counsel", demand["id"], "preserve", {"items": demand["requested"]})
    assert (after["status"], after["outcome"]) == ("closed", "preserved")
    assert after["preserved"] == demand["requested"]
    hold = after["hold"]
    ends = datetime.fromisoformat(hold["ends_at"].replace("Z", "+00:00"))
    assert abs(ends - (started + timedelta(days=days))) < timedelta(minutes=1)
    assert hold["extended_at"] is None
    extended = desk.ok("counsel", demand["id"], "extend-preservation")
    new_end = datetime.fromisoformat(extended["hold"]["ends_at"].replace("Z", "+00:00"))
    assert new_end - ends == timedelta(days=extension)
    assert (extended["status"], extended["outcome"]) == ("closed", "preserved")
    event = desk.events(demand["id"])[-1]
    assert event["action"] == "extend-preservation"
    # once only
    problem = desk.unchanged(demand["id"], "counsel", "extend-preservation", {}, 409)
    assert "once" in problem["detail"]


def test_preserve_only_preservation_and_within_requested(desk):
    warrant = desk.to_state(desk.log(), "in_review")
    problem = desk.unchanged(warrant["id"], "counsel", "preserve", {"items": warrant["requested"]}, 422)
    assert "preservation" in problem["detail"]
    demand = desk.to_state(desk.log(process_type="preservation"), "in_review")
    wider = {**demand["requested"][0], "from": "2025-01-01"}
    desk.unchanged(demand["id"], "counsel", "preserve", {"items": [wider]}, 422)
    desk.unchanged(demand["id"], "counsel", "preserve", {"items": []}, 422)


def test_extend_lapsed_hold_is_409(desk):
    demand = desk.to_state(desk.log(process_type="preservation"), "closed_preserved")
    hold = desk.session.scalar(select(PreservationHold).where(PreservationHold.demand_id == demand["id"]))
    hold.ends_at = datetime.now(timezone.utc) - timedelta(days=1)
    desk.session.commit()
    desk.unchanged(demand["id"], "counsel", "extend-preservation", {}, 409)


# ---------------------------------------------------------------- closed is final, withdraw


ALL_ACTIONS = [t.action for t in workflow.TRANSITIONS] + ["assign", "set-due"]


@pytest.mark.parametrize("closing", ["withdraw", "reject", "redirected", "no-data", "record-production",
                                     "preserve"])
def test_closed_is_final(desk, closing):
    if closing == "preserve":
        demand = desk.to_state(desk.log(process_type="preservation"), "closed_preserved")
    else:
        start = {"withdraw": "received", "reject": "in_review", "redirected": "redirecting"}.get(closing, "approved")
        demand = desk.to_state(desk.log(), start)
        body = {"reason": "r", "note": "n"} if closing != "record-production" else _production(demand["scope"])
        demand = desk.ok("counsel", demand["id"], closing, body)
    assert demand["status"] == "closed"
    body = {"reason": "r", "note": "n", "items": demand["requested"], "files": _production([])["files"],
            "assignee": "counsel2@desk.example", "due_at": "2030-01-01T00:00:00Z"}
    for action in ALL_ACTIONS:
        if action == "extend-preservation" and closing == "preserve":
            continue
        who = "dual" if action in ("approve", "return") else "counsel"
        problem = desk.unchanged(demand["id"], who, action, body, 409)
        assert "closed" in problem["detail"] or "preserved" in problem["detail"]


@pytest.mark.parametrize("state", OPEN)
@pytest.mark.parametrize("who", ["intake", "counsel"])
def test_withdraw_from_every_open_state(desk, state, who):
    demand = desk.to_state(desk.log(), state)
    after = desk.ok(who, demand["id"], "withdraw")
    assert (after["status"], after["outcome"]) == ("closed", "withdrawn")


# ---------------------------------------------------------------- deadlines


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.parametrize("process_type,emergency,hours", [
    ("eu_production_order", False, 10 * 24),
    ("eu_production_order", True, 8),
    ("search_warrant", True, 24),
    ("emergency", True, 24),
    ("subpoena", False, 14 * 24),
    ("search_warrant", False, 14 * 24),
    ("preservation", False, 14 * 24),
    ("national_security", False, 14 * 24),
])
def test_default_due_at(desk, process_type, emergency, hours):
    received = (datetime.now(timezone.utc) - timedelta(hours=3)).replace(microsecond=0)
    extra = {"emergency": True, "justification": "danger to life"} if emergency else {}
    demand = desk.log(process_type=process_type, received_at=received.isoformat(), **extra)
    assert demand["emergency"] is emergency
    assert _at(demand["due_at"]) == received + timedelta(hours=hours)


def test_explicit_due_at_wins(desk):
    demand = desk.log(due_at="2030-05-01T12:00:00Z")
    assert demand["due_at"] == "2030-05-01T12:00:00Z"


def test_set_due_with_reason_keeps_history(desk):
    demand = desk.log()
    old = demand["due_at"]
    for body, field in (({"due_at": "2030-01-01T00:00:00Z"}, "reason"),
                        ({"due_at": "someday", "reason": "x"}, "due_at"),
                        ({"reason": "x"}, "due_at"),
                        ({"due_at": "9999-12-31T23:00:00-05:00", "reason": "x"}, "due_at"),
                        ({"due_at": "2000-01-01T00:00:00Z", "reason": "x"}, "due_at")):
        problem = desk.unchanged(demand["id"], "counsel", "set-due", body, 422)
        assert field in problem["errors"]
    for who in ("intake", "approver", "admin"):
        desk.unchanged(demand["id"], who, "set-due", {"due_at": "2030-01-01T00:00:00Z", "reason": "x"}, 403)
    after = desk.ok("counsel", demand["id"], "set-due",
                    {"due_at": "2030-01-01T02:00:00+02:00", "reason": "extension agreed with the agency"})
    assert after["due_at"] == "2030-01-01T00:00:00Z"
    after = desk.ok("counsel", demand["id"], "set-due", {"due_at": "2030-02-01T00:00:00Z", "reason": "again"})
    rows = desk.session.scalars(
        select(DueDateChange).where(DueDateChange.demand_id == demand["id"]).order_by(DueDateChange.id)
    ).all()
    assert [(r.old_due_at, r.new_due_at, r.reason) for r in rows] == [
        (_at(old), _at("2030-01-01T00:00:00Z"), "extension agreed with the agency"),
        (_at("2030-01-01T00:00:00Z"), _at("2030-02-01T00:00:00Z"), "again"),
    ]
    events = [e for e in desk.events(demand["id"]) if e["action"] == "set-due"]
    assert [(e["before"]["due_at"], e["after"]["due_at"], e["after"]["reason"]) for e in events] == [
        (_at(old).isoformat(), "2030-01-01T00:00:00+00:00", "extension agreed with the agency"),
        ("2030-01-01T00:00:00+00:00", "2030-02-01T00:00:00+00:00", "again"),
    ]
    assert after["status"] == "received"  # not a state transition


def test_overdue_and_due_soon_flags(desk):
    now = datetime.now(timezone.utc)
    overdue = desk.log(due_at=(now - timedelta(hours=1)).isoformat(), received_at=(now - timedelta(days=3)).isoformat())
    soon = desk.log(due_at=(now + timedelta(hours=47)).isoformat())
    later = desk.log(due_at=(now + timedelta(hours=49)).isoformat())
    closed = desk.log(due_at=(now - timedelta(hours=1)).isoformat(), received_at=(now - timedelta(days=3)).isoformat())
    desk.ok("intake", closed["id"], "withdraw")
    expected = {overdue["id"]: (True, False), soon["id"]: (False, True), later["id"]: (False, False),
                closed["id"]: (False, False)}
    for did, flags in expected.items():
        got = desk.get(did)
        assert (got["overdue"], got["due_soon"]) == flags
    listed = desk.api("approver").get("/api/v1/demands?per_page=200").get_json()["items"]
    assert {d["id"]: (d["overdue"], d["due_soon"]) for d in listed} == expected
    only = desk.api("approver").get("/api/v1/demands?overdue=true").get_json()
    assert [d["id"] for d in only["items"]] == [overdue["id"]]
    # set-due moves a demand out of overdue
    desk.ok("counsel", overdue["id"], "set-due", {"due_at": (now + timedelta(days=5)).isoformat(), "reason": "ok"})
    assert desk.get(overdue["id"])["overdue"] is False


# ---------------------------------------------------------------- assignment


def test_assign_to_counsel_with_reason(desk):
    demand = desk.log()
    body = {"assignee": "counsel2@desk.example", "reason": "knows the agency"}
    for who in ("intake", "approver"):
        desk.unchanged(demand["id"], who, "assign", body, 403)
    for bad, field in (
        ({"assignee": "approver@desk.example", "reason": "x"}, "assignee"),
        ({"assignee": "intake@desk.example", "reason": "x"}, "assignee"),
        ({"assignee": "nobody@desk.example", "reason": "x"}, "assignee"),
        ({"assignee": "counsel2@desk.example"}, "reason"),
        ({"reason": "x"}, "assignee"),
        ({"assignee": ["counsel2@desk.example"], "reason": "x"}, "assignee"),
    ):
        problem = desk.unchanged(demand["id"], "counsel", "assign", bad, 422)
        assert field in problem["errors"]
    after = desk.ok("counsel", demand["id"], "assign", body)
    assert after["assignee"] == "counsel2@desk.example"
    after = desk.ok("admin", demand["id"], "assign", {"assignee": " Dual@Desk.example ", "reason": "leave"})
    assert after["assignee"] == "dual@desk.example"
    rows = desk.session.scalars(
        select(Assignment).where(Assignment.demand_id == demand["id"]).order_by(Assignment.id)
    ).all()
    assert [(r.assignee_id, r.reason, r.actor_id) for r in rows] == [
        (desk.users["counsel2"].id, "knows the agency", desk.users["counsel"].id),
        (desk.users["dual"].id, "leave", desk.users["admin"].id),
    ]
    events = [e for e in desk.events(demand["id"]) if e["action"] == "assign"]
    assert [e["after"]["reason"] for e in events] == ["knows the agency", "leave"]
    assert events[0]["before"]["assignee_id"] is None
    assert events[0]["after"]["assignee_id"] == desk.users["counsel2"].id
    # filtering the list by assignee is not in the contract; the GET shows it
    assert desk.get(demand["id"])["assignee"] == "dual@desk.example"


def test_audit_events_after_the_log_keep_what_changed(desk):
    """demand.log keeps the whole demand; later events what the action changed, with the
    status, the outcome and the action's subject always (README, The API)."""
    demand = desk.log()
    desk.ok("counsel", demand["id"], "assign", {"assignee": "counsel2@desk.example", "reason": "leave"})
    desk.ok("intake", demand["id"], "attempt-redirect", {"note": "call the customer"})
    logged, assigned, redirect = desk.events(demand["id"])[:3]
    assert {"reference", "targets", "requested", "status"} <= set(logged["after"])
    assert set(assigned["before"]) == {"assignee_id", "outcome", "status"}
    assert set(assigned["after"]) == {"assignee_id", "outcome", "status", "reason"}
    assert set(redirect["before"]) == {"outcome", "status"}
    assert set(redirect["after"]) == {"outcome", "status", "note"}
    assert (redirect["before"]["status"], redirect["after"]["status"]) == ("received", "redirecting")


# ---------------------------------------------------------------- no body makes a 500

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(["", SHA, "2026-02-01", "9999-12-31T23:59:59-12:00", "counsel2@desk.example",
                       "alice@contoso.com", "email_content"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["target", "data_set", "from", "to", "basis", "name", "sha256", "bytes", "x"]),
        children, max_size=4),
    max_leaves=10,
)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(state=st.sampled_from(["in_review", "scoped", "approved"]),
       action=st.sampled_from(["propose-scope", "record-production", "approve", "return", "reject", "assign",
                               "set-due", "preserve", "no-data"]),
       body=st.dictionaries(st.sampled_from(["note", "reason", "items", "files", "assignee", "due_at"]), JSON,
                            max_size=4))
def test_no_action_body_makes_a_500(desk, state, action, body):
    demand = desk.to_state(desk.log(), state)
    who = "approver" if action in ("approve", "return") else "counsel"
    before, count = desk.get(demand["id"]), desk.audit_count()
    r = desk.act(who, demand["id"], action, body)
    assert r.status_code in (200, 409, 422), (action, body, r.get_data(as_text=True))
    if r.status_code != 200:
        assert desk.get(demand["id"]) == before and desk.audit_count() == count


def test_allowed_actions_offer_what_the_table_and_rules_allow(desk):
    from requests_desk.models import User
    from requests_desk.services.case import get_demand

    def offered(who, demand_id):
        with desk.app.extensions["desk"]["sessionmaker"]() as s:
            return workflow.allowed_actions(s.get(User, desk.users[who].id), get_demand(s, demand_id, viewer=SYSTEM))

    demand = desk.log()
    assert offered("intake", demand["id"]) == ["attempt-redirect", "withdraw"]
    assert offered("counsel", demand["id"]) == ["attempt-redirect", "start-review", "reject-fraudulent", "withdraw",
                                               "assign", "set-due"]
    assert offered("approver", demand["id"]) == []
    assert offered("admin", demand["id"]) == ["assign"]
    desk.to_state(demand, "in_review")
    desk.ok("dual", demand["id"], "propose-scope", {"items": demand["requested"]})
    assert offered("dual", demand["id"]) == ["return", "withdraw", "assign", "set-due"]  # not approve
    assert offered("approver", demand["id"]) == ["approve", "return"]
    preserved = desk.to_state(desk.log(process_type="preservation"), "closed_preserved")
    assert offered("counsel", preserved["id"]) == ["extend-preservation"]
    desk.ok("counsel", preserved["id"], "extend-preservation")
    assert offered("counsel", preserved["id"]) == []
    withdrawn = desk.to_state(desk.log(), "closed")
    assert offered("counsel", withdrawn["id"]) == []
