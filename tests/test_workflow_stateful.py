"""A hypothesis state machine over the workflow (issue 3, point 8).

Random users (intake, counsel, approver, counsel+approver, admin) take random actions
(every table action, assign, set-due) with random bodies (valid and invalid items,
manifests, reasons) at random times (through the HTTP API on the real clock, or through
``apply_action`` on a clock that jumps forward). Whatever happens:

- an answer is what the table predicts (403 role, 409 state, else 200 or 422);
- a success is a transition of the table, with exactly one audit event;
- a refusal changes nothing (demand JSON and audit count compared);
- nobody approves their own proposal; produced items lie within the approved scope;
  scope items lie within requested items and within the process type's tier (or carry
  a basis where the type is decided in review); preservation types never have a scope;
- the audit chain verifies.
"""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone

from hypothesis import HealthCheck, event as note_event, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test
from sqlalchemy import func, select

from requests_desk.access import SYSTEM
from requests_desk import audit, workflow
from requests_desk.errors import DeskError
from requests_desk.models import AuditEvent, Demand, User
from requests_desk.services.case import get_demand
from tests.factories import Api, demand_payload, make_customer, make_token, make_user

TIER = {
    "subscriber_info": "subscriber", "billing_records": "subscriber",
    "sign_in_logs": "non_content", "message_metadata": "non_content",
    "email_content": "content", "stored_files": "content",
    "chat_messages": "content", "contacts_calendar": "content",
}
RANK = {"subscriber": 0, "non_content": 1, "content": 2}
MAX_TIER = {
    "subpoena": "subscriber", "court_order": "non_content", "search_warrant": "content",
    "emergency": "content", "civil_subpoena": "non_content", "mlat": "content",
    "eu_production_order": "content",
}
DECIDED_IN_REVIEW = {"national_security", "other"}
PRESERVATION = {"preservation", "eu_preservation_order"}
PROCESS_TYPES = sorted(MAX_TIER) + sorted(DECIDED_IN_REVIEW) + sorted(PRESERVATION)

OPEN = ("received", "redirecting", "in_review", "scoped", "approved")
TABLE = {  # SPEC §3, written out again independently of the code
    "attempt-redirect": (("received",), "redirecting", {"intake", "counsel"}),
    "start-review": (("received",), "in_review", {"counsel"}),
    "requester-insists": (("redirecting",), "in_review", {"intake", "counsel"}),
    "redirected": (("redirecting",), "closed", {"intake", "counsel"}),
    "reject": (("in_review",), "closed", {"counsel"}),
    "propose-scope": (("in_review",), "scoped", {"counsel"}),
    "approve": (("scoped",), "approved", {"approver"}),
    "return": (("scoped",), "in_review", {"approver"}),
    "record-production": (("approved",), "closed", {"counsel"}),
    "no-data": (("approved",), "closed", {"counsel"}),
    "preserve": (("in_review",), "closed", {"counsel"}),
    "extend-preservation": (("closed",), "closed", {"counsel"}),
    "withdraw": (OPEN, "closed", {"intake", "counsel"}),
}
FORWARD = {  # the way forward from each state, likelier moves repeated
    "received": ["attempt-redirect", "start-review", "start-review"],
    "redirecting": ["requester-insists", "requester-insists", "redirected"],
    "in_review": ["propose-scope", "propose-scope", "propose-scope", "reject", "preserve"],
    "scoped": ["approve", "approve", "approve", "return"],
    "approved": ["record-production", "record-production", "no-data"],
    "closed": ["extend-preservation"],
}
SIDE = {"assign": {"counsel", "admin"}, "set-due": {"counsel"}}
ACTIONS = sorted(TABLE) + sorted(SIDE)
# Everyone cleared: the machine's process types include national security (the
# compartment itself is tests/test_need_to_know.py's and tests/test_route_matrix.py's).
USERS = {
    "intake": ("intake", "cleared"), "counsel": ("counsel", "cleared"), "counsel2": ("counsel", "cleared"),
    "approver": ("approver", "cleared"), "dual": ("counsel", "approver", "cleared"), "admin": ("admin", "cleared"),
}
SHA = "ab" * 32


def _within(a: dict, b: dict) -> bool:
    return (a["target"] == b["target"] and a["data_set"] == b["data_set"]
            and b["from"] <= a["from"] and a["to"] <= b["to"])


def _shift(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


@st.composite
def items_for(draw, demand: dict) -> list:
    bases = demand["requested"] + demand["scope"]
    out = []
    for _ in range(draw(st.integers(0, 3))):
        item = dict(draw(st.sampled_from(bases)))
        item.pop("basis", None)
        how = draw(st.sampled_from(
            ["keep", "keep", "narrow", "narrow", "widen", "target", "data_set", "reverse", "garbage"]))
        if how == "narrow":
            item["from"] = _shift(item["from"], draw(st.integers(0, 10)))
            item["to"] = _shift(item["to"], -draw(st.integers(0, 10)))
        elif how == "widen":
            key = draw(st.sampled_from(["from", "to"]))
            item[key] = _shift(item[key], draw(st.integers(1, 30)) * (-1 if key == "from" else 1))
        elif how == "target":
            item["target"] = draw(st.sampled_from(demand["targets"] + ["stranger@example.com"]))
        elif how == "data_set":
            item["data_set"] = draw(st.sampled_from(sorted(TIER) + ["dna_samples"]))
        elif how == "reverse":
            item["from"], item["to"] = item["to"], item["from"]
        elif how == "garbage":
            item[draw(st.sampled_from(["from", "to", "target", "data_set"]))] = draw(
                st.sampled_from([None, "", 7, "2026-02-30", ["x"]]))
        if draw(st.booleans()):
            item["basis"] = draw(st.sampled_from(["FISA order 12", " ", None]))
        out.append(item)
    return out


@st.composite
def plausible_body(draw, action: str, demand: dict, process_type: str, now: datetime) -> dict:
    """A body that satisfies the action's rule more often than not."""
    body: dict = {"note": "asked them to contact the customer", "reason": "the customer is the suspect"}
    if action in ("propose-scope", "preserve"):
        pool = demand["requested"]
        if action == "propose-scope" and process_type in MAX_TIER:
            pool = [i for i in pool if RANK[TIER[i["data_set"]]] <= RANK[MAX_TIER[process_type]]] or pool
    elif action == "record-production":
        pool = demand["scope"] or demand["requested"]
    else:
        pool = []
    if pool:
        chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=len(pool), unique_by=str))
        items = []
        for item in chosen:
            item = dict(item)
            item["from"] = _shift(item["from"], draw(st.integers(0, 20)))
            item["to"] = _shift(item["to"], -draw(st.integers(0, 20)))
            if process_type in DECIDED_IN_REVIEW:
                item["basis"] = "FISA order 12"
            items.append(item)
        body["items"] = items
    if action == "record-production":
        body["files"] = [{"name": "export.zip", "sha256": SHA, "bytes": draw(st.integers(0, 2**40))}]
    if action == "assign":
        body["assignee"] = draw(st.sampled_from(["counsel@desk.example", "counsel2@desk.example",
                                                 "dual@desk.example", "approver@desk.example"]))
    if action == "set-due":
        body["due_at"] = (now + timedelta(hours=draw(st.integers(-48, 24 * 30)))).isoformat()
    return body


@st.composite
def bodies(draw, demand: dict, emails: list[str], now: datetime):
    if draw(st.integers(0, 20)) == 0:
        return draw(st.sampled_from([["not", "an", "object"], "text", 5]))
    body: dict = {}
    for key in ("note", "reason"):
        if draw(st.booleans()):
            body[key] = draw(st.sampled_from(["because the law says so", "", "  ", 12]))
    if draw(st.integers(0, 3)):
        body["items"] = draw(items_for(demand))
    if draw(st.booleans()):
        files = []
        for _ in range(draw(st.integers(0, 2))):
            files.append({
                "name": draw(st.sampled_from(["export.zip", "", "mails.mbox"])),
                "sha256": draw(st.sampled_from([SHA, SHA.upper(), SHA[:-1], "zz" * 32])),
                "bytes": draw(st.sampled_from([0, 1024, -1, "12", 2**70])),
            })
        body["files"] = files
    if draw(st.booleans()):
        body["assignee"] = draw(st.sampled_from(emails + ["nobody@desk.example", ""]))
    if draw(st.booleans()):
        hours = draw(st.integers(-24 * 30, 24 * 60))
        body["due_at"] = draw(st.sampled_from([(now + timedelta(hours=hours)).isoformat(), "soon", None]))
    return body


def test_random_action_sequences_keep_the_rules(app, session):
    make_customer(session, "Contoso", enterprise=True, domains=("contoso.com",))
    users = {name: make_user(session, *roles, email=f"{name}@desk.example") for name, roles in USERS.items()}
    tokens = {name: make_token(session, u) for name, u in users.items()}
    ids = {name: u.id for name, u in users.items()}
    emails = [u.email for u in users.values()]
    client = app.test_client()
    seen: Counter = Counter()
    Session = app.extensions["desk"]["sessionmaker"]

    def api(name: str) -> Api:
        return Api(client, tokens[name])

    def audit_count() -> int:
        with Session() as s:
            return s.scalar(select(func.count()).select_from(AuditEvent))

    def read(demand_id: int) -> dict:
        r = api("counsel").get(f"/api/v1/demands/{demand_id}")
        assert r.status_code == 200
        body = r.get_json()
        body.pop("overdue"), body.pop("due_soon")  # these move with the real clock
        return body

    class Workflow(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.clock = datetime.now(timezone.utc)
            self.mine: list[int] = []
            self.finished: set[int] = set()
            self.kind: dict[int, str] = {}

        @rule(process_type=st.sampled_from(PROCESS_TYPES), emergency=st.booleans(),
              accounts=st.sampled_from([["alice@contoso.com"], ["joe@mail.example"],
                                       ["joe@mail.example", "bob@contoso.com"]]),
              data_sets=st.lists(st.sampled_from(sorted(TIER)), min_size=1, max_size=3, unique=True))
        def log(self, process_type, emergency, accounts, data_sets):
            extra = {}
            if emergency or process_type == "emergency":
                extra = {"emergency": True, "justification": "danger to life"}
            requested = [{"target": t, "data_set": ds, "from": "2026-01-01", "to": "2026-03-31"}
                         for t in accounts for ds in data_sets]
            r = api("intake").post("/api/v1/demands", json=demand_payload(
                process_type=process_type, targets=accounts, requested=requested, **extra))
            assert r.status_code == 201, r.get_json()
            demand_id = r.get_json()["id"]
            self.mine.append(demand_id)
            self.kind[demand_id] = process_type

        @rule(hours=st.integers(1, 24 * 100))
        def time_passes(self, hours):
            self.clock += timedelta(hours=hours)

        @initialize(process_type=st.sampled_from(PROCESS_TYPES))
        def first_demand(self, process_type):
            self.log(process_type, False, ["alice@contoso.com"], ["subscriber_info", "email_content"])

        @rule(via_http=st.booleans(), data=st.data())
        def forward(self, via_http, data):
            """An action that moves an unfinished demand along the table, by a plausible user."""
            live = [i for i in self.mine if i not in self.finished]
            if not live:
                return self.first_demand(data.draw(st.sampled_from(PROCESS_TYPES)))
            demand_id = data.draw(st.sampled_from(live))
            self.act(demand_id, sensible=0, via_http=via_http, data=data, forward=True)

        @rule(sensible=st.integers(0, 9), via_http=st.booleans(), data=st.data())
        def anything(self, sensible, via_http, data):
            """Mostly on a live demand; now and then on a closed one (closed is final)."""
            live = [i for i in self.mine if i not in self.finished]
            if not live and sensible < 8:
                return self.first_demand(data.draw(st.sampled_from(PROCESS_TYPES)))
            demand_id = data.draw(st.sampled_from(live if live and sensible < 8 else self.mine))
            self.act(demand_id, sensible, via_http, data)

        def act(self, demand_id, sensible, via_http, data, forward=False):
            """Mostly an action the state offers, by a user holding its role, with a body that
            may well pass (so runs reach approval and production); otherwise anything at all."""
            before = read(demand_id)
            count = audit_count()
            if sensible < 7:
                offered = [a for a in ACTIONS if before["status"] in (OPEN if a in SIDE else TABLE[a][0])]
                if forward:
                    preservation = self.kind[demand_id] in PRESERVATION
                    offered = FORWARD[before["status"]]
                    if before["status"] == "in_review":
                        offered = ["preserve", "preserve", "reject"] if preservation else offered[:-1]
                action = data.draw(st.sampled_from(offered or ACTIONS))
                needed = SIDE.get(action) or TABLE[action][2]
                who = data.draw(st.sampled_from(sorted(u for u, roles in USERS.items() if needed & set(roles))))
                body = data.draw(plausible_body(action, before, self.kind[demand_id], self.clock))
            else:
                action = data.draw(st.sampled_from(ACTIONS))
                who = data.draw(st.sampled_from(sorted(USERS)))
                body = data.draw(bodies(before, emails, self.clock))
            with Session() as s:
                proposer = s.get(Demand, demand_id).proposed_by_id
            if via_http:
                r = api(who).post(f"/api/v1/demands/{demand_id}/{action}", json=body)
                status = r.status_code
                if status != 200:
                    assert r.content_type == "application/problem+json", r.data
            else:
                with Session() as s:
                    try:
                        demand = get_demand(s, demand_id, viewer=SYSTEM, for_update=True)
                        workflow.apply_action(s, s.get(User, ids[who]), demand, action, body, now=self.clock)
                        s.commit()
                        status = 200
                    except DeskError as err:
                        s.rollback()
                        status = err.status
            roles = set(USERS[who])
            # what the table allows
            if action in SIDE:
                allowed_roles, sources = SIDE[action], OPEN
            else:
                sources, _, allowed_roles = TABLE[action]
            if not roles & allowed_roles:
                expected = {403}
            elif before["status"] not in sources or (
                    action == "extend-preservation" and before["outcome"] != "preserved"):
                expected = {409}
            elif action == "extend-preservation":
                expected = {200, 409}  # once, and only while the hold runs
            elif action == "approve" and proposer == ids[who]:
                expected = {422}  # four eyes, even for a counsel+approver
            else:
                expected = {200, 422}
            assert status in expected, (action, who, before["status"], body, status)
            note_event(f"{action}: {status}")
            seen[(action, status)] += 1
            after = read(demand_id)
            self.check(demand_id, after)
            if after["status"] == "closed" and (after["outcome"] != "preserved" or action == "extend-preservation"):
                self.finished.add(demand_id)  # nothing more can happen to it
            if status != 200:
                assert after == before, (action, who, body)
                assert audit_count() == count
                return
            # counsel's release of the notices comes with the actions that release them
            releases = (before["notices_released_at"] is None and action in ("start-review", "reject", "preserve")
                        and self.kind[demand_id] != "national_security"
                        and not (action == "start-review" and before["emergency"]))
            assert (after["notices_released_at"] is not None) == (
                releases or before["notices_released_at"] is not None), (action, before, after)
            if action in SIDE:
                assert after["status"] == before["status"]
            else:
                assert after["status"] == TABLE[action][1]
            events = api("counsel").get(f"/api/v1/demands/{demand_id}/audit").get_json()
            # the release lets the demand's held notices go: one notice.released each, after it
            notices = 0
            while events and events[-1]["action"] == "notice.released":
                events, notices = events[:-1], notices + 1
            assert notices == 0 or releases, (action, notices)
            assert audit_count() == count + 1 + releases + notices
            if releases:
                release, events = events[-1], events[:-1]
                assert (release["action"], release["after"]["by"]) == ("notices.release", action)
            event = events[-1]
            assert (event["action"], event["actor"]) == (action, f"{who}@desk.example")
            assert (event["before"]["status"], event["after"]["status"]) == (before["status"], after["status"])

        def check(self, demand_id: int, d: dict) -> None:
            """The rules hold for the demand just acted on (others did not change)."""
            process_type = self.kind[demand_id]
            with Session() as s:
                row = s.get(Demand, demand_id)
                proposer, approver = row.proposed_by_id, row.approved_by_id
            if approver is not None:
                assert approver != proposer
            if d["status"] in ("approved",) or d["outcome"] in ("content_disclosed", "non_content_disclosed",
                                                                "no_data_found"):
                assert approver is not None and proposer is not None
            if process_type in PRESERVATION:
                assert d["scope"] == [] and d["production"] is None
            for item in d["scope"]:
                assert any(_within(item, r) for r in d["requested"]), item
                if process_type in DECIDED_IN_REVIEW:
                    assert item.get("basis", "").strip()
                else:
                    assert RANK[TIER[item["data_set"]]] <= RANK[MAX_TIER[process_type]], (process_type, item)
            if d["production"] is not None:
                assert d["production"]["items"] and d["production"]["files"]
                for item in d["production"]["items"]:
                    assert any(_within(item, s) for s in d["scope"]), item
                content = any(TIER[i["data_set"]] == "content" for i in d["production"]["items"])
                assert d["outcome"] == ("content_disclosed" if content else "non_content_disclosed")
            for item in d["preserved"]:
                assert any(_within(item, r) for r in d["requested"])
            if d["status"] == "closed":
                assert d["outcome"] is not None
            else:
                assert d["outcome"] is None

        def teardown(self):
            with Session() as s:
                result = audit.verify(s)
            assert result.ok, result.problem

    run_state_machine_as_test(Workflow, settings=settings(
        max_examples=25, stateful_step_count=30, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    ))
    # the runs went deep: demands were approved and produced, not only refused
    assert seen[("approve", 200)] and seen[("start-review", 200)], sorted(seen.items())
