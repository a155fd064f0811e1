"""The case page: exactly the actions the user may take now, each action's form, refusals
that explain and change nothing, the scope builder, production, gag, deferral, uploads,
and the timeline in words. Everything through the pages, with real login and CSRF."""
from __future__ import annotations

import hashlib
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from requests_desk import workflow
from requests_desk.models import AuditEvent, Demand, Document, Gag, PreservationHold, ProductionFile
from requests_desk.vocabulary import file_size
from tests.factories import (
    MINIMAL_PDF,
    field_error,
    make_customer,
    make_demand,
    make_user,
    page_text,
    post_form,
    read_page,
)

ACTION_RE = re.compile(r'action="/desk/demands/\d+/([^"]+)"')


class Desk:
    """A small legal team and an enterprise customer, each user made on first use
    (password hashing is deliberately slow)."""

    def __init__(self, session):
        self.session = session
        self.contoso = make_customer(session, "Contoso", domains=("contoso.com",), enterprise=True)

    def _user(self, email, *roles):
        from requests_desk.services.users import user_by_email
        from requests_desk.errors import NotFound

        try:
            return user_by_email(self.session, email)
        except NotFound:
            return make_user(self.session, *roles, email=email)

    intake = property(lambda self: self._user("ivy@desk.example", "intake"))
    counsel = property(lambda self: self._user("carl@desk.example", "counsel"))
    counsel2 = property(lambda self: self._user("cora@desk.example", "counsel"))
    approver = property(lambda self: self._user("abe@desk.example", "approver"))
    both = property(lambda self: self._user("bea@desk.example", "counsel", "approver"))
    cleared_intake = property(lambda self: self._user("nia@desk.example", "intake", "cleared"))
    cleared_counsel = property(lambda self: self._user("nick@desk.example", "counsel", "cleared"))


@pytest.fixture
def desk(session):
    return Desk(session)


def demand_with(session, actor, **overrides) -> Demand:
    overrides.setdefault("targets", ["alice@contoso.com"])
    overrides.setdefault("requested", [
        {"target": overrides["targets"][0], "data_set": "sign_in_logs", "from": "2026-01-01", "to": "2026-01-31"},
        {"target": overrides["targets"][0], "data_set": "email_content", "from": "2026-01-01", "to": "2026-01-31"},
    ])
    return make_demand(session, actor, **overrides)


def act(session, actor, demand, action, body=None):
    workflow.apply_action(session, actor, session.get(Demand, demand.id), action, body or {})
    session.commit()


def actions_on_page(html: str) -> set[str]:
    return set(ACTION_RE.findall(html))


def counts(session):
    session.expire_all()
    return (session.scalar(select(func.count()).select_from(AuditEvent)),
            session.scalar(select(Demand.status).where(Demand.id == session.scalar(select(func.max(Demand.id))))))


def post_case(client, demand, path, data):
    return post_form(client, f"/desk/demands/{demand.id}", data, post_path=f"/desk/demands/{demand.id}/{path}")


def fields(html: str, prefix: str) -> dict:
    """The form's current values, as the browser would send them."""
    return {k: v[0] for k, v in read_page(html).values.items() if k.startswith(prefix)}


# ---------------------------------------------------------------- which actions show


def test_actions_shown_match_role_and_state(client, session, login, desk):
    d = demand_with(session, desk.intake)
    login(desk.intake.email)
    # intake logged it minutes ago, so opens its files without break-glass ("access")
    assert actions_on_page(client.get(f"/desk/demands/{d.id}").get_data(as_text=True)) == {
        "action/attempt-redirect", "action/withdraw", "documents"}
    client.post("/logout", data={"csrf_token": _token(client)})
    login(desk.counsel.email)
    assert actions_on_page(client.get(f"/desk/demands/{d.id}").get_data(as_text=True)) == {
        "action/attempt-redirect", "action/start-review", "action/reject-fraudulent", "action/withdraw",
        "action/assign", "action/set-due", "gag/set", "release-notices", "documents", "access"}
    client.post("/logout", data={"csrf_token": _token(client)})
    login(desk.approver.email)
    page = client.get(f"/desk/demands/{d.id}")
    assert actions_on_page(page.get_data(as_text=True)) == {"access"}  # break-glass only
    assert "the next step belongs to another role" in page_text(page)


def _token(client) -> str:
    from tests.factories import csrf_from

    return csrf_from(client.get("/desk/").get_data(as_text=True))


def test_approve_shows_only_to_an_approver_who_did_not_propose(client, session, login, desk):
    d = demand_with(session, desk.intake, process_type="court_order")
    act(session, desk.both, d, "start-review", {"reason": "reviewed directly"})
    act(session, desk.both, d, "propose-scope", {"items": [
        {"target": "alice@contoso.com", "data_set": "sign_in_logs", "from": "2026-01-05", "to": "2026-01-10"}]})
    login(desk.both.email)
    html = client.get(f"/desk/demands/{d.id}").get_data(as_text=True)
    assert "action/approve" not in actions_on_page(html) and "action/return" in actions_on_page(html)
    client.post("/logout", data={"csrf_token": _token(client)})
    login(desk.approver.email)
    html = client.get(f"/desk/demands/{d.id}").get_data(as_text=True)
    assert {"action/approve", "action/return"} <= actions_on_page(html)
    assert "Proposed by bea@desk.example" in page_text(html)


def test_closed_demand_offers_no_workflow_action(client, session, login, desk):
    d = demand_with(session, desk.intake)
    act(session, desk.intake, d, "withdraw")
    login(desk.counsel.email)
    html = client.get(f"/desk/demands/{d.id}").get_data(as_text=True)
    # a gag may be set on a closed demand, and its notices released (withdrawing did not);
    # counsel, not its assignee, may break the glass
    assert actions_on_page(html) == {"gag/set", "release-notices", "documents", "access"}


# ---------------------------------------------------------------- posting actions


def test_start_review_needs_a_reason_for_an_enterprise_customer(client, session, login, desk):
    d = demand_with(session, desk.intake)
    login(desk.counsel.email)
    before = counts(session)
    r = post_case(client, d, "action/start-review", {"start-review-reason": ""})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "enterprise customer" in field_error(html, "start-review-reason")
    assert 'id="act-start-review" open' in html  # the form is open again, with the reason
    assert counts(session) == before
    r = post_case(client, d, "action/start-review", {"start-review-reason": "Life at risk; no time to redirect."})
    assert r.status_code == 302
    page = client.get(r.headers["Location"])
    text = page_text(page)
    assert "Legal review started." in text
    assert "Started the legal review" in text and "Reason: Life at risk; no time to redirect." in text
    assert "Received → In review" in text
    session.expire_all()
    assert session.get(Demand, d.id).status == "in_review"


def test_approving_ones_own_proposal_is_refused_and_changes_nothing(client, session, login, desk):
    d = demand_with(session, desk.intake, process_type="court_order")
    act(session, desk.both, d, "start-review", {"reason": "direct"})
    act(session, desk.both, d, "propose-scope", {"items": [
        {"target": "alice@contoso.com", "data_set": "sign_in_logs", "from": "2026-01-05", "to": "2026-01-10"}]})
    login(desk.both.email)
    before = counts(session)
    r = post_case(client, d, "action/approve", {})
    assert r.status_code == 422
    assert "you proposed this scope; a second person must approve it" in page_text(r)
    assert counts(session) == before == (before[0], "scoped")


def test_action_in_the_wrong_state_is_refused_with_the_reason(client, session, login, desk):
    d = demand_with(session, desk.intake)
    login(desk.counsel.email)
    before = counts(session)
    r = post_case(client, d, "action/reject", {"reject-reason": "Overbroad"})
    text = page_text(r)
    assert r.status_code == 409
    assert "Not done: Reject." in text
    assert "Reject is possible only when the demand is in review" in text
    assert counts(session) == before
    # what was typed is kept in the form shown again
    assert read_page(r.get_data(as_text=True)).values["reject-reason"] == ["Overbroad"]


def test_role_that_may_not_is_refused(client, session, login, desk):
    d = demand_with(session, desk.intake)
    login(desk.intake.email)
    before = counts(session)
    r = post_case(client, d, "action/start-review", {"start-review-reason": "x"})
    assert r.status_code == 403
    assert "Only counsel users may start legal review" in page_text(r)
    assert counts(session) == before


def test_unknown_action_and_demand_are_404(client, session, login, desk):
    d = demand_with(session, desk.intake)
    login(desk.counsel.email)
    assert post_case(client, d, "action/teleport", {}).status_code == 404
    assert client.get("/desk/demands/999999").status_code == 404
    assert client.get("/desk/demands/99999999999999999999").status_code == 404


def test_redirect_path_with_notes(client, session, login, desk):
    d = demand_with(session, desk.intake)
    login(desk.intake.email)
    r = post_case(client, d, "action/attempt-redirect", {"attempt-redirect-note": ""})
    assert r.status_code == 422
    assert "Say how the requester was told" in field_error(r.get_data(as_text=True), "attempt-redirect-note")
    r = post_case(client, d, "action/attempt-redirect",
                  {"attempt-redirect-note": "Phoned Det. Roe: ask Contoso's legal team."})
    assert r.status_code == 302
    r = post_case(client, d, "action/redirected", {"redirected-note": "Contoso produced it."})
    text = page_text(client.get(r.headers["Location"]))
    assert "Closed as redirected to the customer." in text
    assert "Told the requester to go to the customer" in text and "Phoned Det. Roe" in text
    assert "Closed: the requester obtained the data from the customer" in text


# ---------------------------------------------------------------- the scope builder


def test_scope_builder_shows_tiers_and_reach_and_proposes(client, session, login, desk):
    d = demand_with(session, desk.intake, process_type="court_order")
    act(session, desk.counsel, d, "start-review", {"reason": "direct"})
    login(desk.counsel.email)
    page = client.get(f"/desk/demands/{d.id}")
    html = page.get_data(as_text=True)
    text = page_text(html)
    assert "Court order reaches it?" in text
    assert "Sign-in logs" in text and "non-content" in text and "No — non-content at most" in text
    values = fields(html, "propose-scope-")
    # the reachable row is ticked, the content row is not
    assert values.get("propose-scope-items-0-include") == "y" and "propose-scope-items-1-include" not in values
    # tick the content row too: refused, at that row, nothing changed
    before = counts(session)
    data = dict(values, **{"propose-scope-items-1-include": "y"})
    r = post_case(client, d, "action/propose-scope", data)
    assert r.status_code == 422
    assert "email_content is content data; a court order reaches non-content data at most" in \
        field_error(r.get_data(as_text=True), "propose-scope-items-1-data_set")
    assert counts(session) == before
    # dates beyond the request: refused at that row
    data = dict(values, **{"propose-scope-items-0-date_from": "2025-12-01"})
    r = post_case(client, d, "action/propose-scope", data)
    assert r.status_code == 422 and "Goes beyond what was requested" in page_text(r)
    # narrower dates: proposed
    data = dict(values, **{"propose-scope-items-0-date_from": "2026-01-10", "propose-scope-items-0-date_to":
                           "2026-01-20"})
    r = post_case(client, d, "action/propose-scope", data)
    assert r.status_code == 302
    session.expire_all()
    scope = session.get(Demand, d.id).items_of("scope")
    assert [(i.data_set, str(i.date_from), str(i.date_to)) for i in scope] == [
        ("sign_in_logs", "2026-01-10", "2026-01-20")]
    text = page_text(client.get(r.headers["Location"]))
    assert "Proposed scope" in text and "waiting for approval by a second person" in text


def test_nothing_ticked_is_explained(client, session, login, desk):
    d = demand_with(session, desk.intake, process_type="court_order")
    act(session, desk.counsel, d, "start-review", {"reason": "direct"})
    login(desk.counsel.email)
    values = fields(client.get(f"/desk/demands/{d.id}").get_data(as_text=True), "propose-scope-")
    values.pop("propose-scope-items-0-include")
    r = post_case(client, d, "action/propose-scope", values)
    assert r.status_code == 422 and "Must have at least one item" in page_text(r)


def test_national_security_scope_needs_a_basis_per_item(client, session, login, desk):
    d = demand_with(session, desk.cleared_intake, process_type="national_security")
    act(session, desk.cleared_counsel, d, "start-review")
    login(desk.cleared_counsel.email)
    html = client.get(f"/desk/demands/{d.id}").get_data(as_text=True)
    assert "Legal basis (required)" in page_text(html)
    values = fields(html, "propose-scope-")
    r = post_case(client, d, "action/propose-scope", values)
    assert r.status_code == 422
    assert "needs counsel's written legal basis" in field_error(r.get_data(as_text=True),
                                                                "propose-scope-items-0-basis")
    values["propose-scope-items-0-basis"] = "FISA order reviewed; limited to sign-in logs."
    values.pop("propose-scope-items-1-include", None)
    r = post_case(client, d, "action/propose-scope", values)
    assert r.status_code == 302
    assert "Basis: FISA order reviewed" in page_text(client.get(r.headers["Location"]))


# ---------------------------------------------------------------- approval and production


def approved_demand(session, desk, **overrides) -> Demand:
    d = demand_with(session, desk.intake, process_type="search_warrant", **overrides)
    act(session, desk.counsel, d, "start-review", {"reason": "direct"})
    act(session, desk.counsel, d, "propose-scope", {"items": [
        {"target": "alice@contoso.com", "data_set": "sign_in_logs", "from": "2026-01-01", "to": "2026-01-31"},
        {"target": "alice@contoso.com", "data_set": "email_content", "from": "2026-01-10", "to": "2026-01-20"}]})
    act(session, desk.approver, d, "approve")
    return d


def test_approver_approves_through_the_page(client, session, login, desk):
    d = demand_with(session, desk.intake, process_type="court_order")
    act(session, desk.counsel, d, "start-review", {"reason": "direct"})
    act(session, desk.counsel, d, "propose-scope", {"items": [
        {"target": "alice@contoso.com", "data_set": "sign_in_logs", "from": "2026-01-05", "to": "2026-01-10"}]})
    login(desk.approver.email)
    r = post_case(client, d, "action/approve", {})
    assert r.status_code == 302
    text = page_text(client.get(r.headers["Location"]))
    assert "Scope approved." in text and "approved by abe@desk.example" in text


def test_return_needs_a_reason(client, session, login, desk):
    d = demand_with(session, desk.intake, process_type="court_order")
    act(session, desk.counsel, d, "start-review", {"reason": "direct"})
    act(session, desk.counsel, d, "propose-scope", {"items": [
        {"target": "alice@contoso.com", "data_set": "sign_in_logs", "from": "2026-01-05", "to": "2026-01-10"}]})
    login(desk.approver.email)
    r = post_case(client, d, "action/return", {"return-reason": " "})
    assert r.status_code == 422 and "Give the reason" in field_error(r.get_data(as_text=True), "return-reason")
    r = post_case(client, d, "action/return", {"return-reason": "Dates too wide."})
    assert r.status_code == 302
    assert "Returned the scope to counsel" in page_text(client.get(r.headers["Location"]))


def test_production_form_is_prefilled_from_the_approved_scope(client, session, login, desk):
    d = approved_demand(session, desk)
    login(desk.counsel.email)
    values = fields(client.get(f"/desk/demands/{d.id}").get_data(as_text=True), "record-production-items")
    assert values["record-production-items-1-data_set"] == "email_content"
    assert values["record-production-items-1-date_from"] == "2026-01-10"
    assert values["record-production-items-0-include"] == "y" and values["record-production-items-1-include"] == "y"


def test_production_with_an_uploaded_file_kept(client, session, login, desk, app):
    d = approved_demand(session, desk)
    login(desk.counsel.email)
    values = fields(client.get(f"/desk/demands/{d.id}").get_data(as_text=True), "record-production-")
    content = b"sign-in log export\n" * 1000
    values.update({"record-production-files": (io.BytesIO(content), "signins.csv"),
                   "record-production-keep": "y"})
    r = post_case(client, d, "action/record-production", values)
    assert r.status_code == 302, page_text(r)
    text = page_text(client.get(r.headers["Location"]))
    assert "Production recorded; the demand is closed." in text and "Content disclosed" in text
    assert hashlib.sha256(content).hexdigest() in text and file_size(len(content)) in text  # "19 KB"
    row = session.scalars(select(ProductionFile)).one()
    assert row.sha256 == hashlib.sha256(content).hexdigest() and row.bytes == len(content)
    download = client.get(f"/desk/production-files/{row.id}")
    assert download.status_code == 200 and download.data == content


def test_production_with_a_file_not_kept_and_a_manifest_row(client, session, login, desk, app):
    from pathlib import Path

    d = approved_demand(session, desk)
    login(desk.counsel.email)
    values = fields(client.get(f"/desk/demands/{d.id}").get_data(as_text=True), "record-production-")
    values.pop("record-production-items-1-include")  # only the sign-in logs were produced
    values.update({"record-production-files": (io.BytesIO(b"abc"), "a.txt"),
                   "record-production-manifest-0-name": "mailbox.pst",
                   "record-production-manifest-0-sha256": "B" * 64,
                   "record-production-manifest-0-size": "1,048,576"})
    r = post_case(client, d, "action/record-production", values)
    assert r.status_code == 302, page_text(r)
    files = session.scalars(select(ProductionFile).order_by(ProductionFile.id)).all()
    assert [(f.name, f.sha256, f.bytes, f.stored_name) for f in files] == [
        ("a.txt", hashlib.sha256(b"abc").hexdigest(), 3, None), ("mailbox.pst", "b" * 64, 1048576, None)]
    assert list(Path(app.config["DESK_UPLOAD_DIR"]).glob("*")) == []
    text = page_text(client.get(r.headers["Location"]))
    assert "Non-content disclosed" in text and "Not kept" in text


def test_bad_manifest_is_refused_and_the_kept_file_removed(client, session, login, desk, app):
    from pathlib import Path

    d = approved_demand(session, desk)
    login(desk.counsel.email)
    values = fields(client.get(f"/desk/demands/{d.id}").get_data(as_text=True), "record-production-")
    values.update({"record-production-files": (io.BytesIO(b"abc"), "a.txt"), "record-production-keep": "y",
                   "record-production-manifest-0-name": "mailbox.pst",
                   "record-production-manifest-0-sha256": "not-a-hash",
                   "record-production-manifest-0-size": "lots"})
    before = counts(session)
    r = post_case(client, d, "action/record-production", values)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "64 hexadecimal characters" in field_error(html, "record-production-manifest-0-sha256")
    assert "whole number of bytes" in field_error(html, "record-production-manifest-0-size")
    assert "attach the files again" in field_error(html, "record-production-files")
    assert read_page(html).values["record-production-manifest-0-sha256"] == ["not-a-hash"]
    assert counts(session) == before
    assert list(Path(app.config["DESK_UPLOAD_DIR"]).glob("*")) == []
    assert session.scalar(select(func.count()).select_from(ProductionFile)) == 0


def test_production_beyond_the_approved_scope_is_refused(client, session, login, desk):
    d = approved_demand(session, desk)
    login(desk.counsel.email)
    values = fields(client.get(f"/desk/demands/{d.id}").get_data(as_text=True), "record-production-")
    values.update({"record-production-items-1-date_to": "2026-01-31",
                   "record-production-manifest-0-name": "x.zip",
                   "record-production-manifest-0-sha256": "c" * 64, "record-production-manifest-0-size": "10"})
    r = post_case(client, d, "action/record-production", values)
    assert r.status_code == 422 and "Goes beyond the approved scope" in page_text(r)


# ---------------------------------------------------------------- preservation


def test_preserve_and_extend_the_hold(client, session, login, desk):
    d = demand_with(session, desk.intake, process_type="preservation")
    act(session, desk.counsel, d, "start-review")
    login(desk.counsel.email)
    html = client.get(f"/desk/demands/{d.id}").get_data(as_text=True)
    values = fields(html, "preserve-")
    assert values["preserve-items-0-include"] == "y" and values["preserve-items-1-include"] == "y"
    r = post_case(client, d, "action/preserve", values)
    assert r.status_code == 302
    hold = session.scalars(select(PreservationHold)).one()
    text = page_text(client.get(r.headers["Location"]))
    assert "Preserved data" in text and hold.ends_at.strftime("%Y-%m-%d") in text
    html = client.get(f"/desk/demands/{d.id}").get_data(as_text=True)
    assert "action/extend-preservation" in actions_on_page(html)
    r = post_case(client, d, "action/extend-preservation", {})
    assert r.status_code == 302
    assert "Extended the preservation hold" in page_text(client.get(r.headers["Location"]))
    r = post_case(client, d, "action/extend-preservation", {})
    assert r.status_code == 409 and "extended once already" in page_text(r)


# ---------------------------------------------------------------- assignment, due date


def test_assign_and_set_due_keep_history(client, session, login, desk):
    d = demand_with(session, desk.intake)
    assert desk.counsel2.email == "cora@desk.example"
    login(desk.counsel.email)
    html = client.get(f"/desk/demands/{d.id}").get_data(as_text=True)
    assert 'value="cora@desk.example"' in html and 'value="ivy@desk.example"' not in html
    r = post_case(client, d, "action/assign", {"assign-assignee": "cora@desk.example", "assign-reason": ""})
    assert r.status_code == 422 and "Required" in field_error(r.get_data(as_text=True), "assign-reason")
    r = post_case(client, d, "action/assign", {"assign-assignee": "cora@desk.example",
                                               "assign-reason": "Cora handles Contoso."})
    assert r.status_code == 302
    r = post_case(client, d, "action/set-due", {"set-due-due_at": "2031-05-01T12:00",
                                                "set-due-reason": "Agency agreed an extension."})
    assert r.status_code == 302
    text = page_text(client.get(r.headers["Location"]))
    assert "Assigned to cora@desk.example" in text and "Cora handles Contoso." in text
    assert "Assigned the demand to cora@desk.example" in text
    assert "2031-05-01 12:00 UTC" in text and "Agency agreed an extension." in text
    assert "Changed the due date" in text


# ---------------------------------------------------------------- gag, deferral, documents


def test_counsel_sets_extends_and_lifts_a_gag(client, session, login, desk):
    d = demand_with(session, desk.intake)
    login(desk.counsel.email)
    r = post_case(client, d, "gag/set", {"gag-set-order_ref": "NDO-7", "gag-set-issued_by": "Judge Hale",
                                         "gag-set-issued_at": "", "gag-set-expires_at": ""})
    assert r.status_code == 422
    assert "Give the expiry date" in field_error(r.get_data(as_text=True), "gag-set-expires_at")
    soon = (datetime.now(timezone.utc) + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M")
    r = post_case(client, d, "gag/set", {"gag-set-order_ref": "NDO-7", "gag-set-issued_by": "Judge Hale",
                                         "gag-set-expires_at": soon})
    assert r.status_code == 302
    text = page_text(client.get(r.headers["Location"]))
    assert "Gag recorded" in text and "NDO-7" in text and "In force" in text
    # the queue lists it as expiring within 30 days
    assert "NDO-7" in page_text(client.get("/desk/?scope=all"))
    r = post_case(client, d, "gag/extend", {"gag-extend-expires_at": "", "gag-extend-no_end": "y"})
    assert r.status_code == 302
    r = post_case(client, d, "gag/lift", {"gag-lift-reason": ""})
    assert r.status_code == 422 and "Required" in field_error(r.get_data(as_text=True), "gag-lift-reason")
    r = post_case(client, d, "gag/lift", {"gag-lift-reason": "Order vacated."})
    assert r.status_code == 302
    text = page_text(client.get(r.headers["Location"]))
    assert "Lifted the gag" in text and "Order vacated." in text
    gag = session.scalars(select(Gag)).one()
    assert [e.kind for e in gag.events] == ["set", "extend", "lift"]


def test_intake_may_not_set_a_gag(client, session, login, desk):
    d = demand_with(session, desk.intake)
    login(desk.intake.email)
    before = counts(session)
    r = post_case(client, d, "gag/set", {"gag-set-order_ref": "NDO-7", "gag-set-issued_by": "J",
                                         "gag-set-no_end": "y"})
    assert r.status_code == 403 and "Only counsel users" in page_text(r)
    assert counts(session) == before


def test_defer_notices_of_an_emergency_demand(client, session, login, desk):
    d = demand_with(session, desk.intake, emergency=True, justification="Threat to life.")
    login(desk.counsel.email)
    html = client.get(f"/desk/demands/{d.id}").get_data(as_text=True)
    assert "defer-notices" in actions_on_page(html)
    r = post_case(client, d, "defer-notices", {"defer-notices-until": "2020-01-01T00:00",
                                               "defer-notices-reason": "Ongoing operation"})
    assert r.status_code == 422 and "Must be in the future" in field_error(r.get_data(as_text=True),
                                                                           "defer-notices-until")
    until = (datetime.now(timezone.utc) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    r = post_case(client, d, "defer-notices", {"defer-notices-until": until,
                                               "defer-notices-reason": "Ongoing operation"})
    assert r.status_code == 302
    text = page_text(client.get(r.headers["Location"]))
    assert "Deferred the customer notices until" in text and "Held by a deferral" in text


def test_upload_another_pdf(client, session, login, desk):
    d = demand_with(session, desk.intake)
    login(desk.intake.email)
    r = post_case(client, d, "documents", {"upload-documents": (io.BytesIO(b"PK zip"), "order.docx")})
    assert r.status_code == 422 and "order.docx: Not a PDF" in field_error(r.get_data(as_text=True),
                                                                           "upload-documents")
    r = post_case(client, d, "documents", {"upload-documents": (io.BytesIO(MINIMAL_PDF), "order.pdf")})
    assert r.status_code == 302
    assert "order.pdf" in page_text(client.get(r.headers["Location"]))
    assert session.scalar(select(func.count()).select_from(Document)) == 1


def test_case_page_shows_everything_about_the_demand(client, session, login, desk):
    d = demand_with(session, desk.intake, targets=["alice@contoso.com", "zed@gmail.example"],
                    requested=[{"target": "zed@gmail.example", "data_set": "subscriber_info",
                                "from": "2025-01-01", "to": "2025-12-31"}],
                    notes="Served in person at reception.")
    login(desk.approver.email)
    text = page_text(client.get(f"/desk/demands/{d.id}"))
    for expected in (d.reference, "Metropolitan Police", "Det. Jane Roe", "jane.roe@police.example",
                     "Search warrant", d.legal_reference, "District Court", "United States",
                     "alice@contoso.com", "Contoso", "Enterprise", "zed@gmail.example", "Consumer account",
                     "Subscriber information", "2025-01-01", "2025-12-31", "Served in person at reception.",
                     "Notices to the customer", "the demand", "Held", "awaiting counsel", "Awaiting counsel:",
                     "Logged the demand", "ivy@desk.example"):
        assert expected in text, expected


def test_actions_the_process_type_rules_out_are_not_offered(client, session, login, desk):
    warrant = demand_with(session, desk.intake)
    act(session, desk.counsel, warrant, "start-review", {"reason": "direct"})
    preservation = demand_with(session, desk.intake, process_type="eu_preservation_order")
    act(session, desk.counsel, preservation, "start-review")
    login(desk.counsel.email)
    warrant_actions = actions_on_page(client.get(f"/desk/demands/{warrant.id}").get_data(as_text=True))
    assert "action/propose-scope" in warrant_actions and "action/preserve" not in warrant_actions
    kept = actions_on_page(client.get(f"/desk/demands/{preservation.id}").get_data(as_text=True))
    assert "action/preserve" in kept and "action/propose-scope" not in kept


def test_a_refused_actions_address_opened_again_is_the_case_page(client, session, login, desk):
    """Without JavaScript a refused action leaves /desk/demands/N/action/X in the address
    bar; opening it again (a bookmark, a reload after the form was left) is the case page,
    not a 405."""
    d = demand_with(session, desk.intake)
    login(desk.counsel.email)
    r = client.get(f"/desk/demands/{d.id}/action/start-review")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/desk/demands/{d.id}")
    assert client.get(f"/desk/demands/{d.id + 1000}/action/start-review").status_code == 404
