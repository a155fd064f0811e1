"""A hypothesis state machine over random interleavings of intake (with or without a
gag), gag set / extend / lift, emergency deferrals, closing actions and dispatcher runs
at random clock times. After every step it checks what customers actually got:

* no e-mail about a demand leaves before counsel has released its notices (explicitly,
  or by start-review — not on an emergency —, reject or a deferral; a national-security
  demand's only explicitly, with a reason), nor while its gag is active (or its
  deferral runs), judged at the dispatcher's clock;
* after a dispatcher run, every notice of a released demand with no active gag and no
  running deferral has arrived exactly once, and no Message-ID ever arrives twice;
* no portal list entry, notice page or document download about a demand exists for any
  customer while its gag is active (the portal judges by the real clock), and a notice
  the customer was mailed is on the portal once no gag is active.

Services are called with the model's clock (as the API would call them at that time);
the dispatcher gets it as ``--now``; the portal is read over HTTP.
"""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import delete, select

from requests_desk.access import SYSTEM
from requests_desk import workflow
from requests_desk.db import Base
from requests_desk.errors import Conflict, ValidationError
from requests_desk.models import Notice
from requests_desk.notices.dispatcher import dispatch
from requests_desk.services.case import get_demand
from requests_desk.services.intake import log_demand
from requests_desk.services import documents as document_service
from requests_desk.services import gags as gag_service
from requests_desk.services import notice_release
from tests.factories import demand_payload, make_customer, make_customer_user, make_user, pdf_with_text
from tests.factories import login as login_as
from tests.smtp import SmtpServer

# The people and their sign-ins stay between examples (the portal clients keep their
# sessions); demands, notices and all that hangs off them start afresh.
KEEP = {"users", "user_roles", "api_tokens", "user_sessions", "recovery_codes", "role_proposals",
        "sign_in_attempts", "customers", "customer_domains", "customer_accounts",
        "customer_contacts", "data_sets", "process_rules", "reports", "report_artifacts"}

TARGET_SETS = {
    "contoso": ["bob@contoso.com"],
    "fabrikam": ["eve@fabrikam.com"],
    "both": ["bob@contoso.com", "eve@fabrikam.com"],
    "consumer": ["someone@consumer-mail.example"],
    "contoso+consumer": ["kim@contoso.com", "someone@consumer-mail.example"],
}
HOURS = st.integers(min_value=1, max_value=24 * 60)


def real_now() -> datetime:
    return datetime.now(timezone.utc)


def test_no_notice_escapes_a_gag_and_every_notice_goes_once(app, session, tmp_path):
    server = SmtpServer().start()
    app.config["DESK_SMTP_URL"] = server.url
    upload_dir = tmp_path / "uploads"
    intake = make_user(session, "intake", "cleared")
    counsel = make_user(session, "counsel", "cleared")
    customers = {
        "contoso": make_customer(session, "Contoso Ltd", domains=("contoso.com",),
                                 contacts=(("Ann Lee", "ann@contoso.com"), ("Bo Ma", "legal@contoso.com"))),
        "fabrikam": make_customer(session, "Fabrikam Inc", domains=("fabrikam.com",),
                                  contacts=(("Cy Doe", "cy@fabrikam.com"),)),
    }
    contacts = {c.id: {x.email for x in c.contacts} for c in customers.values()}
    portals = {}
    for key, customer in customers.items():
        make_customer_user(session, customer, email=f"reader@{key}.com")
        client = app.test_client()
        assert login_as(client, f"reader@{key}.com").status_code == 302
        portals[customer.id] = client
    tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name not in KEEP]

    class NoticeMachine(RuleBasedStateMachine):
        demands = Bundle("demands")

        @initialize()
        def reset(self):
            session.rollback()
            for table in tables:
                session.execute(delete(table))
            session.commit()
            server.clear()
            self.now = real_now().replace(microsecond=0) + timedelta(minutes=30)
            self.model: dict[int, dict] = {}

        # ------------------------------------------------------------ model helpers

        def gag_active(self, demand_id: int, at: datetime) -> bool:
            return any(not g["lifted"] and (g["expires"] is None or g["expires"] > at)
                       for g in self.model[demand_id]["gags"])

        def deferred(self, demand_id: int, at: datetime) -> bool:
            until = self.model[demand_id]["deferral"]
            return until is not None and until > at

        def load(self, demand_id: int):
            session.expire_all()  # as a fresh request would see it
            return get_demand(session, demand_id, viewer=SYSTEM, for_update=True)

        def advance(self, hours: int) -> None:
            self.now += timedelta(hours=hours)

        # ------------------------------------------------------------ rules

        @rule(target=demands, who=st.sampled_from(sorted(TARGET_SETS)),
              gag=st.sampled_from(["none", "none", "ends", "no_end", "ended"]), hours=HOURS,
              emergency=st.booleans(), wait=st.integers(min_value=0, max_value=48),
              process=st.sampled_from(["search_warrant", "search_warrant", "national_security"]))
        def intake(self, who, gag, hours, emergency, wait, process):
            self.advance(wait)
            idents = TARGET_SETS[who]
            body = demand_payload(
                targets=idents,
                requested=[{"target": t, "data_set": "sign_in_logs", "from": "2026-01-01", "to": "2026-01-31"}
                           for t in idents],
                received_at=(self.now - timedelta(hours=2)).isoformat(),
                emergency=emergency, justification="danger to life" if emergency else None,
                process_type=process,
            )
            gags = []
            if gag != "none":
                expires = {"ends": self.now + timedelta(hours=hours), "no_end": None,
                           "ended": self.now - timedelta(hours=1)}[gag]
                body["gag"] = {"order_ref": "NDO", "issued_by": "Court", "issued_at": "2025-06-01",
                               "expires_at": expires.isoformat() if expires else None}
                gags.append({"expires": expires, "lifted": False})
            demand = log_demand(session, intake, body, now=self.now)
            document_service.store_document(session, intake, demand, "process.pdf",
                                            io.BytesIO(pdf_with_text(demand.reference)), directory=upload_dir)
            session.commit()
            concerned = {t.customer_id for t in demand.targets if t.customer_id is not None}
            self.model[demand.id] = {"ref": demand.reference, "customers": concerned, "gags": gags,
                                     "deferral": None, "closed": False, "emergency": emergency,
                                     "kinds": {"demand"}, "released": False,
                                     "ns": process == "national_security", "status": "received"}
            return demand.id

        def released_by(self, demand_id: int, action: str) -> None:
            """The model of counsel's release (SPEC §4), apart from the code's table."""
            m = self.model[demand_id]
            if m["ns"] or (action == "start-review" and m["emergency"]):
                return
            m["released"] = True

        @rule(demand_id=demands, with_reason=st.booleans())
        def release(self, demand_id, with_reason):
            demand = self.load(demand_id)
            m = self.model[demand_id]
            body = {"reason": "the customer may know"} if with_reason else {}
            expected = Conflict if m["released"] else ValidationError if m["ns"] and not with_reason else None
            if expected is not None:
                try:
                    notice_release.release_notices(session, counsel, demand, body, now=self.now)
                    raise AssertionError(f"release accepted, expected {expected.__name__}")
                except expected:
                    session.rollback()
                return
            notice_release.release_notices(session, counsel, demand, body, now=self.now)
            session.commit()
            m["released"] = True

        @rule(demand_id=demands)
        def start_review(self, demand_id):
            m = self.model[demand_id]
            if m["status"] != "received":
                return
            demand = self.load(demand_id)
            workflow.apply_action(session, counsel, demand, "start-review", {"reason": "direct"}, now=self.now)
            session.commit()
            m["status"] = "in_review"
            self.released_by(demand_id, "start-review")

        @rule(demand_id=demands, hours=HOURS, no_end=st.booleans())
        def set_gag(self, demand_id, hours, no_end):
            expires = None if no_end else self.now + timedelta(hours=hours)
            body = {"order_ref": "NDO-later", "issued_by": "Court",
                    "expires_at": expires.isoformat() if expires else None}
            demand = self.load(demand_id)
            if self.gag_active(demand_id, self.now):
                try:
                    gag_service.set_gag(session, counsel, demand, body, now=self.now)
                    raise AssertionError("a second active gag was accepted")
                except Conflict:
                    session.rollback()
                return
            gag_service.set_gag(session, counsel, demand, body, now=self.now)
            session.commit()
            self.model[demand_id]["gags"].append({"expires": expires, "lifted": False})

        @rule(demand_id=demands, hours=HOURS, to_no_end=st.booleans())
        def extend_gag(self, demand_id, hours, to_no_end):
            demand = self.load(demand_id)
            active = [g for g in self.model[demand_id]["gags"] if not g["lifted"]
                      and (g["expires"] is None or g["expires"] > self.now)]
            if not active:
                expected = Conflict
                new = None
            else:
                gag = active[0]
                if to_no_end:
                    new, expected = None, None
                elif gag["expires"] is None:
                    new, expected = self.now + timedelta(hours=hours), ValidationError
                else:
                    new, expected = gag["expires"] + timedelta(hours=hours), None
            body = {"expires_at": new.isoformat() if new else None}
            if expected is not None:
                try:
                    gag_service.extend_gag(session, counsel, demand, body, now=self.now)
                    raise AssertionError(f"extension accepted, expected {expected.__name__}")
                except expected:
                    session.rollback()
                return
            gag_service.extend_gag(session, counsel, demand, body, now=self.now)
            session.commit()
            active[0]["expires"] = new

        @rule(demand_id=demands, wait=st.integers(min_value=0, max_value=72))
        def lift_gag(self, demand_id, wait):
            self.advance(wait)
            demand = self.load(demand_id)
            if not self.gag_active(demand_id, self.now):
                try:
                    gag_service.lift_gag(session, counsel, demand, {"reason": "vacated"}, now=self.now)
                    raise AssertionError("lifted a gag that is not active")
                except Conflict:
                    session.rollback()
                return
            gag_service.lift_gag(session, counsel, demand, {"reason": "vacated"}, now=self.now)
            session.commit()
            for g in self.model[demand_id]["gags"]:
                if not g["lifted"] and (g["expires"] is None or g["expires"] > self.now):
                    g["lifted"] = True

        @rule(demand_id=demands, hours=HOURS)
        def defer(self, demand_id, hours):
            demand = self.load(demand_id)
            until = self.now + timedelta(hours=hours)
            body = {"until": until.isoformat(), "reason": "would endanger a person"}
            if not self.model[demand_id]["emergency"]:
                try:
                    gag_service.defer_notices(session, counsel, demand, body, now=self.now)
                    raise AssertionError("deferred a non-emergency demand's notices")
                except ValidationError:
                    session.rollback()
                return
            gag_service.defer_notices(session, counsel, demand, body, now=self.now)
            session.commit()
            self.model[demand_id]["deferral"] = until
            self.released_by(demand_id, "defer-notices")

        @rule(demand_id=demands, how=st.sampled_from(["withdraw", "reject"]))
        def close(self, demand_id, how):
            demand = self.load(demand_id)
            if self.model[demand_id]["closed"]:
                try:
                    workflow.apply_action(session, counsel, demand, "withdraw", {}, now=self.now)
                    raise AssertionError("a closed demand was closed again")
                except Conflict:
                    session.rollback()
                return
            if how == "reject":
                if self.model[demand_id]["status"] == "received":
                    workflow.apply_action(session, counsel, demand, "start-review", {"reason": "direct"},
                                          now=self.now)
                    self.released_by(demand_id, "start-review")
                workflow.apply_action(session, counsel, demand, "reject", {"reason": "overbroad"}, now=self.now)
                self.released_by(demand_id, "reject")
            else:
                workflow.apply_action(session, counsel, demand, "withdraw", {"note": "withdrawn"}, now=self.now)
            session.commit()
            self.model[demand_id]["closed"] = True
            self.model[demand_id]["status"] = "closed"
            self.model[demand_id]["kinds"].add("outcome")

        @rule(hours=st.integers(min_value=0, max_value=24 * 90))
        def run_dispatcher(self, hours):
            self.advance(hours)
            before = len(server.received)
            dispatch(app, self.now)
            arrived = server.received[before:]
            session.expire_all()
            for r in arrived:
                notice = session.scalar(select(Notice).where(Notice.message_id == r.message["Message-ID"]))
                assert notice is not None, r.message["Message-ID"]
                assert self.model[notice.demand_id]["released"], f"mailed before counsel: {notice.demand_id}"
                assert not self.gag_active(notice.demand_id, self.now), f"mailed under a gag: {notice.demand_id}"
                assert not self.deferred(notice.demand_id, self.now), f"mailed while deferred: {notice.demand_id}"
                assert set(r.rcpt_tos) == contacts[notice.customer_id]
                assert self.model[notice.demand_id]["ref"] in r.message["Subject"]
            counts = server.by_message_id()
            assert all(n == 1 for n in counts.values()), counts
            # Every notice that is due now has arrived, exactly once.
            received = self.received_keys()
            for demand_id, m in self.model.items():
                if not m["released"] or self.gag_active(demand_id, self.now) or self.deferred(demand_id, self.now):
                    continue
                for customer_id in m["customers"]:
                    for kind in m["kinds"]:
                        assert received.get((demand_id, customer_id, kind)) == 1, (m, customer_id, kind)

        def received_keys(self) -> dict[tuple[int, int, str], int]:
            ids = server.by_message_id()
            rows = session.execute(select(Notice.message_id, Notice.demand_id, Notice.customer_id, Notice.kind))
            return {(d, c, k): ids[mid] for mid, d, c, k in rows if mid in ids}

        @rule()
        def look_at_the_portal(self):
            self.check_portal()

        # ------------------------------------------------------------ checks

        @invariant()
        def nothing_mailed_twice(self):
            assert all(n == 1 for n in server.by_message_id().values())

        def check_portal(self):
            now = real_now()
            pages = {cid: client.get("/portal/").get_data(as_text=True) for cid, client in portals.items()}
            received = self.received_keys()
            session.expire_all()
            for demand_id, m in self.model.items():
                rows = session.execute(select(Notice.id, Notice.customer_id, Notice.kind)
                                       .where(Notice.demand_id == demand_id)).all()
                doc_ids = [d.id for d in get_demand(session, demand_id, viewer=SYSTEM).documents]
                gagged = self.gag_active(demand_id, now)
                for cid, client in portals.items():
                    mine = cid in m["customers"]
                    if gagged or not mine or not m["released"]:
                        assert m["ref"] not in pages[cid], (m, cid)
                        for nid, _c, _k in rows:
                            assert client.get(f"/portal/notices/{nid}").status_code == 404
                        for doc_id in doc_ids:
                            assert client.get(f"/portal/documents/{doc_id}").status_code == 404
                    else:
                        mailed = [(nid, k) for nid, c, k in rows if c == cid and received.get((demand_id, c, k))]
                        for nid, _k in mailed:
                            assert m["ref"] in pages[cid]
                            assert client.get(f"/portal/notices/{nid}").status_code == 200
                        # the legal process goes to a demand's one customer; on a demand about
                        # two, to neither until counsel marks it (this machine never marks)
                        shared = len(m["customers"]) > 1
                        if mailed:
                            for doc_id in doc_ids:
                                assert client.get(f"/portal/documents/{doc_id}").status_code == (
                                    404 if shared else 200)

        def teardown(self):
            if getattr(self, "model", None):
                self.check_portal()
            session.rollback()

    try:
        run_state_machine_as_test(
            NoticeMachine,
            settings=settings(max_examples=30, stateful_step_count=30, deadline=None, database=None,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
        )
    finally:
        server.stop()
