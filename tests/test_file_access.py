"""Least standing access to customer data, with break-glass (SPEC §7).

A demand's documents and kept production files open without more only for its
assignee, the counsel who proposed its current scope, an approver while it awaits
approval and the intake user who logged it, for 24 hours. Everyone else (admins too)
gets a 403 page offering break-glass: a reason of at least 10 characters grants that
demand's files for DESK_BREAK_GLASS_HOURS. Grants and every download are audit events.
Everything through the pages and the API, with real sign-in and CSRF."""
from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from requests_desk import workflow
from requests_desk.config import load_config
from requests_desk.db import utcnow
from requests_desk.models import AccessGrant, AuditEvent, Demand, ProductionFile
from requests_desk.services import file_access
from tests.factories import (
    MINIMAL_PDF,
    csrf_from,
    field_error,
    login,
    make_demand,
    make_token,
    make_user,
    page_text,
    read_page,
    upload_pdf,
)

REASON = "Customer complaint 4411: checking what we disclosed"


# ---------------------------------------------------------------- helpers


def signed_in(app, user):
    """A browser of its own for ``user`` (signed in with password; 2FA optional in tests)."""
    c = app.test_client()
    r = login(c, user.email)
    assert r.status_code == 302, r.status_code
    return c


def act(session, actor, demand, action, body=None):
    workflow.apply_action(session, actor, session.get(Demand, demand.id), action, body or {})
    session.commit()


def events(session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


class Team:
    """The legal team, each user made on first use (password hashing is slow)."""

    def __init__(self, session, api):
        self.session, self.api = session, api
        self._made: dict[str, object] = {}

    def user(self, key: str, *roles: str):
        if key not in self._made:
            self._made[key] = make_user(self.session, *roles, email=f"{key}@desk.example")
        return self._made[key]

    intake = property(lambda self: self.user("ivy", "intake"))
    counsel = property(lambda self: self.user("carl", "counsel"))
    counsel2 = property(lambda self: self.user("cora", "counsel"))
    approver = property(lambda self: self.user("abe", "approver"))
    admin = property(lambda self: self.user("ada", "admin"))

    def demand_with_document(self, by=None, **overrides):
        """A demand intake (or ``by``) logged, with one PDF uploaded through the API by the same user."""
        by = by or self.intake
        demand = make_demand(self.session, by, **overrides)
        doc = upload_pdf(self.api(make_token(self.session, by)), demand.id)
        return self.session.get(Demand, demand.id), doc["id"]


@pytest.fixture
def team(session, api):
    return Team(session, api)


def doc_url(doc_id: int) -> str:
    return f"/desk/documents/{doc_id}"


def break_glass(client, demand_id: int, reason: str, next_path: str | None = None):
    """Post the break-glass form as a browser does, from the 403 page or the case page."""
    page = client.get(next_path or f"/desk/demands/{demand_id}")
    data = {"csrf_token": csrf_from(page.get_data(as_text=True)), "reason": reason}
    if next_path:
        data["next"] = next_path
    return client.post(f"/desk/demands/{demand_id}/access", data=data)


def kept_production_file(app, session, demand, content: bytes = b"sign-in log export\n") -> ProductionFile:
    directory = Path(app.config["DESK_UPLOAD_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kept0001").write_bytes(content)
    row = ProductionFile(demand_id=demand.id, name="signins.csv", sha256="b" * 64, bytes=len(content),
                         stored_name="kept0001")
    session.add(row)
    session.commit()
    return row


# ---------------------------------------------------------------- standing access


def test_assignee_opens_the_document_and_each_download_is_audited(app, session, team):
    demand, doc_id = team.demand_with_document()
    act(session, team.counsel2, demand, "assign", {"assignee": team.counsel.email, "reason": "Carl has it"})
    c = signed_in(app, team.counsel)
    for _ in range(2):
        r = c.get(doc_url(doc_id))
        assert r.status_code == 200 and r.data == MINIMAL_PDF and r.mimetype == "application/pdf"
    viewed = events(session, "document.viewed")
    assert len(viewed) == 2
    assert {(e.actor_id, e.demand_id, e.object_type, e.object_id) for e in viewed} == {
        (team.counsel.id, demand.id, "document", doc_id)}
    after = json.loads(viewed[0].after)
    assert after["file"] == "document" and after["id"] == doc_id and after["name"] == "warrant.pdf"
    assert len(after["sha256"]) == 64
    assert file_access.standing_reason(team.counsel, demand, utcnow()) == "you are the assignee"


def test_the_counsel_who_proposed_the_scope_opens_it_another_counsel_does_not(app, session, team):
    demand, doc_id = team.demand_with_document()
    act(session, team.counsel, demand, "start-review", {"reason": "direct review"})
    act(session, team.counsel, demand, "propose-scope", {"items": [
        {"target": "alice@example.org", "data_set": "email_content", "from": "2026-01-01", "to": "2026-01-31"}]})
    assert signed_in(app, team.counsel).get(doc_url(doc_id)).status_code == 200
    assert signed_in(app, team.counsel2).get(doc_url(doc_id)).status_code == 403
    assert [e.actor_id for e in events(session, "document.viewed")] == [team.counsel.id]


def test_an_approver_opens_it_only_while_it_awaits_approval(app, session, team):
    demand, doc_id = team.demand_with_document()
    c = signed_in(app, team.approver)
    assert c.get(doc_url(doc_id)).status_code == 403  # received: nothing to approve
    act(session, team.counsel, demand, "start-review", {"reason": "direct review"})
    act(session, team.counsel, demand, "propose-scope", {"items": [
        {"target": "alice@example.org", "data_set": "email_content", "from": "2026-01-01", "to": "2026-01-31"}]})
    assert c.get(doc_url(doc_id)).status_code == 200  # scoped: awaits approval
    act(session, team.approver, demand, "approve")
    r = c.get(doc_url(doc_id))
    assert r.status_code == 403  # approved: no longer
    assert "break-glass" in page_text(r).lower()


def test_the_intake_user_who_logged_it_opens_it_for_24_hours(app, session, team):
    demand, doc_id = team.demand_with_document()
    c = signed_in(app, team.intake)
    assert c.get(doc_url(doc_id)).status_code == 200
    # move the clock: the demand was logged 23 h 59 min ago, then 24 h ago
    session.get(Demand, demand.id).created_at = utcnow() - timedelta(hours=23, minutes=59)
    session.commit()
    assert c.get(doc_url(doc_id)).status_code == 200
    session.get(Demand, demand.id).created_at = utcnow() - timedelta(hours=24)
    session.commit()
    r = c.get(doc_url(doc_id))
    assert r.status_code == 403
    assert len(events(session, "document.viewed")) == 2  # the refused one is not an event


def test_another_intake_user_and_a_counsel_who_logged_it_have_no_standing_access(app, session, team):
    demand, doc_id = team.demand_with_document()
    other_intake = team.user("ian", "intake")
    assert signed_in(app, other_intake).get(doc_url(doc_id)).status_code == 403
    logged_by_counsel = make_demand(session, team.counsel)  # counsel may log; the 24 h are intake's
    assert file_access.standing_reason(team.counsel, logged_by_counsel, utcnow()) is None
    assert file_access.standing_reason(team.intake, session.get(Demand, demand.id), utcnow()) is not None


@pytest.mark.parametrize("who", ["admin", "counsel2", "approver"])
def test_everyone_else_gets_403_with_the_break_glass_form(app, session, team, who):
    demand, doc_id = team.demand_with_document()
    c = signed_in(app, getattr(team, who))
    before = count(session, AuditEvent)
    r = c.get(doc_url(doc_id))
    assert r.status_code == 403
    html = r.get_data(as_text=True)
    text = page_text(html)
    assert demand.reference in text and "warrant.pdf" in text
    assert "assignee" in text and "break-glass" in text.lower()
    assert f'action="/desk/demands/{demand.id}/access"' in html
    values = read_page(html).values
    assert "reason" in values and values["next"] == [doc_url(doc_id)] and values["csrf_token"][0]
    assert count(session, AuditEvent) == before  # a refusal writes nothing
    assert r.data != MINIMAL_PDF


def test_production_files_follow_the_same_rule(app, session, team):
    demand, _ = team.demand_with_document()
    row = kept_production_file(app, session, demand)
    url = f"/desk/production-files/{row.id}"
    admin = signed_in(app, team.admin)
    assert admin.get(url).status_code == 403
    assert events(session, "document.viewed") == []
    act(session, team.counsel2, demand, "assign", {"assignee": team.counsel.email, "reason": "Carl has it"})
    r = signed_in(app, team.counsel).get(url)
    assert r.status_code == 200 and r.data == b"sign-in log export\n"
    (event,) = events(session, "document.viewed")
    assert json.loads(event.after) == {"file": "production_file", "id": row.id, "name": "signins.csv",
                                       "sha256": "b" * 64}
    assert event.object_type == "production_file" and event.demand_id == demand.id


# ---------------------------------------------------------------- break-glass


@pytest.mark.parametrize("reason, message", [
    ("", "Required"),
    ("   too short  ", "at least 10 characters"),
    ("need\x07 this file now", "control characters"),
    ("x" * 5001, "at most 5000 characters"),
])
def test_break_glass_needs_a_real_reason_and_writes_nothing_otherwise(app, session, team, reason, message):
    demand, doc_id = team.demand_with_document()
    c = signed_in(app, team.counsel2)
    before = count(session, AuditEvent)
    r = break_glass(c, demand.id, reason, next_path=doc_url(doc_id))
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert message.lower() in field_error(html, "reason").lower()
    assert read_page(html).values["next"] == [doc_url(doc_id)]  # the form keeps where it was going
    assert count(session, AccessGrant) == 0 and count(session, AuditEvent) == before
    assert c.get(doc_url(doc_id)).status_code == 403


def test_break_glass_grants_the_files_then_expires(app, session, team):
    demand, doc_id = team.demand_with_document()
    c = signed_in(app, team.admin)
    r = break_glass(c, demand.id, f"  {REASON}\n", next_path=doc_url(doc_id))
    assert r.status_code == 302 and r.headers["Location"] == doc_url(doc_id)
    grant = session.scalars(select(AccessGrant)).one()
    assert grant.user_id == team.admin.id and grant.demand_id == demand.id and grant.reason == REASON
    assert grant.expires_at - grant.granted_at == timedelta(hours=4)
    (granted,) = events(session, "access.granted")
    assert granted.actor_id == team.admin.id and granted.demand_id == demand.id
    after = json.loads(granted.after)
    assert after["reason"] == REASON and after["expires_at"].startswith(grant.expires_at.strftime("%Y-%m-%dT%H:%M"))
    r = c.get(doc_url(doc_id))
    assert r.status_code == 200 and r.data == MINIMAL_PDF
    assert [e.actor_id for e in events(session, "document.viewed")] == [team.admin.id]
    # the grant is for this user and this demand only
    other, other_doc = team.demand_with_document()
    assert c.get(doc_url(other_doc)).status_code == 403
    assert signed_in(app, team.counsel2).get(doc_url(doc_id)).status_code == 403
    # four hours pass
    row = session.get(AccessGrant, grant.id)
    row.granted_at, row.expires_at = row.granted_at - timedelta(hours=4), row.expires_at - timedelta(hours=4)
    session.commit()
    assert c.get(doc_url(doc_id)).status_code == 403
    assert len(events(session, "document.viewed")) == 1


def test_grant_length_is_desk_break_glass_hours(app, session, team):
    app.config["DESK_BREAK_GLASS_HOURS"] = 1
    demand, doc_id = team.demand_with_document()
    c = signed_in(app, team.counsel2)
    assert break_glass(c, demand.id, REASON).status_code == 302
    grant = session.scalars(select(AccessGrant)).one()
    assert grant.expires_at - grant.granted_at == timedelta(hours=1)
    now = grant.granted_at
    user, d = team.counsel2, session.get(Demand, demand.id)
    assert file_access.has_access(session, user, d, now + timedelta(minutes=59))
    assert not file_access.has_access(session, user, d, now + timedelta(hours=1))


def test_break_glass_hours_setting(tmp_path):
    assert load_config(str(tmp_path), environ={})["DESK_BREAK_GLASS_HOURS"] == 4
    assert load_config(str(tmp_path), environ={"DESK_BREAK_GLASS_HOURS": "8"})["DESK_BREAK_GLASS_HOURS"] == 8
    for bad in ("0", "-1", "four", "1.5"):
        with pytest.raises(ValueError, match="DESK_BREAK_GLASS_HOURS"):
            load_config(str(tmp_path), environ={"DESK_BREAK_GLASS_HOURS": bad})


@pytest.mark.parametrize("next_path", [None, "https://evil.example/desk/", "//evil.example/x", "/account/password",
                                       "/desk/../account/password"])
def test_break_glass_goes_back_to_the_case_page_unless_next_is_a_desk_path(app, session, team, next_path):
    demand, _ = team.demand_with_document()
    c = signed_in(app, team.counsel2)
    page = c.get(f"/desk/demands/{demand.id}")
    data = {"csrf_token": csrf_from(page.get_data(as_text=True)), "reason": REASON}
    if next_path is not None:
        data["next"] = next_path
    r = c.post(f"/desk/demands/{demand.id}/access", data=data)
    assert r.status_code == 302 and r.headers["Location"] == f"/desk/demands/{demand.id}"
    assert "Access granted until" in page_text(c.get(r.headers["Location"]))


def _break_glass_form(html: str) -> str:
    start = html.index('<details class="action action-plain" id="break-glass">')
    return html[start:html.index("</form>", start)]


def test_case_pages_break_glass_form_is_the_403_pages_with_each_sessions_own_token(app, session, team):
    """The case page prints its blank break-glass form once per application and puts in
    the request's CSRF token (files.blank_break_glass): each session gets its own token,
    which grants the files, and the fields are the 403 page's."""
    demand, doc_id = team.demand_with_document()
    other, _ = team.demand_with_document()
    admin, approver = signed_in(app, team.admin), signed_in(app, team.approver)
    forms = [_break_glass_form(c.get(f"/desk/demands/{d.id}").get_data(as_text=True))
             for c, d in ((admin, demand), (approver, other), (admin, other))]
    tokens = [csrf_from(form) for form in forms]
    assert tokens[0] != tokens[1]  # the approver's page came from the admin's printing
    assert read_page(forms[0]).values == {"csrf_token": [tokens[0]], "next": [""], "reason": [""]}
    denied = admin.get(doc_url(doc_id)).get_data(as_text=True)  # the 403 page's form, built by WTForms
    fields = denied[denied.index('<input id="next"'):denied.index('<div class="form-actions">', denied.index('id="reason"'))]

    def bare(html: str) -> str:
        return re.sub(r"\s+", " ", html.replace(csrf_from(html), "T"))

    assert bare(fields).replace(f'value="{doc_url(doc_id)}"', 'value=""').strip() in bare(forms[0])
    assert approver.post(f"/desk/demands/{other.id}/access",
                         data={"csrf_token": tokens[0], "reason": REASON}).status_code == 400  # not its session
    for c, d, token in ((admin, demand, tokens[0]), (approver, other, tokens[1])):
        r = c.post(f"/desk/demands/{d.id}/access", data={"csrf_token": token, "reason": REASON})
        assert r.status_code == 302
        assert c.get(doc_url(doc_id) if d is demand else f"/desk/demands/{d.id}").status_code == 200
    assert count(session, AccessGrant) == 2


def test_break_glass_needs_the_csrf_token_and_a_known_demand(app, session, team):
    demand, _ = team.demand_with_document()
    c = signed_in(app, team.counsel2)
    assert c.post(f"/desk/demands/{demand.id}/access", data={"reason": REASON}).status_code == 400
    page = c.get(f"/desk/demands/{demand.id}")
    r = c.post(f"/desk/demands/{demand.id + 1000}/access",
               data={"csrf_token": csrf_from(page.get_data(as_text=True)), "reason": REASON})
    assert r.status_code == 404
    assert count(session, AccessGrant) == 0


def test_national_security_files_are_404_to_users_not_cleared(app, session, team):
    cleared_intake = team.user("ines", "intake", "cleared")
    demand, doc_id = team.demand_with_document(by=cleared_intake, process_type="national_security")
    cleared_counsel = team.user("cleo", "counsel", "cleared")
    act(session, cleared_counsel, demand, "assign", {"assignee": team.counsel.email, "reason": "Carl has it"})
    # the assignee without the cleared role: the file does not exist for them
    r = signed_in(app, team.counsel).get(doc_url(doc_id))
    assert r.status_code == 404
    c = signed_in(app, team.admin)
    assert c.get(doc_url(doc_id)).status_code == 404
    assert break_glass(c, demand.id, REASON, next_path="/desk/").status_code == 404
    assert count(session, AccessGrant) == 0
    act(session, cleared_counsel, demand, "assign", {"assignee": cleared_counsel.email, "reason": "Cleo has it"})
    assert signed_in(app, cleared_counsel).get(doc_url(doc_id)).status_code == 200


# ---------------------------------------------------------------- the case page


def test_case_page_says_who_may_open_the_files_and_lists_the_grants(app, session, team):
    demand, _ = team.demand_with_document()
    act(session, team.counsel2, demand, "assign", {"assignee": team.counsel.email, "reason": "Carl has it"})
    text = page_text(signed_in(app, team.counsel).get(f"/desk/demands/{demand.id}"))
    assert "You may open this demand's files: you are the assignee." in text
    assert "No break-glass grant" in text

    c = signed_in(app, team.counsel2)
    page = c.get(f"/desk/demands/{demand.id}")
    html = page.get_data(as_text=True)
    assert "You have no standing access to this demand's files" in page_text(html)
    assert f'action="/desk/demands/{demand.id}/access"' in html
    assert break_glass(c, demand.id, REASON).status_code == 302
    grant = session.scalars(select(AccessGrant)).one()
    text = page_text(c.get(f"/desk/demands/{demand.id}"))
    assert f"You may open this demand's files: granted until {grant.expires_at:%Y-%m-%d %H:%M} UTC for: {REASON}" \
        in text
    # the grant is listed for everyone, with who, when, until and why
    text = page_text(signed_in(app, team.counsel).get(f"/desk/demands/{demand.id}"))
    assert "cora@desk.example" in text and REASON in text and f"{grant.granted_at:%Y-%m-%d %H:%M} UTC" in text
    assert "Break-glass access to the files" in text  # the timeline tells it


# ---------------------------------------------------------------- /desk/access


def test_access_page_admins_see_every_grant_of_90_days_others_their_own(app, session, team):
    first, _ = team.demand_with_document()
    second, _ = team.demand_with_document()
    now = utcnow()
    file_access.break_glass(session, team.counsel2, first, "Cora checks the first one", now, hours=4)
    file_access.break_glass(session, team.approver, second, "Abe checks the second one", now, hours=4)
    old = file_access.break_glass(session, team.approver, first, "Abe, a long time ago", now, hours=4)
    old.granted_at, old.expires_at = now - timedelta(days=91), now - timedelta(days=91) + timedelta(hours=4)
    session.commit()

    text = page_text(signed_in(app, team.admin).get("/desk/access"))
    assert "Cora checks the first one" in text and "Abe checks the second one" in text
    assert "Abe, a long time ago" not in text
    assert first.reference in text and second.reference in text
    assert text.index("Abe checks the second one") < text.index("Cora checks the first one")  # newest first

    r = signed_in(app, team.counsel2).get("/desk/access")
    assert r.status_code == 200
    text = page_text(r)
    assert "Cora checks the first one" in text and "Abe checks the second one" not in text
    html = r.get_data(as_text=True)
    assert f'href="/desk/demands/{first.id}"' in html


def test_access_page_is_linked_from_the_navigation(app, session, team):
    html = signed_in(app, team.counsel).get("/desk/").get_data(as_text=True)
    assert 'href="/desk/access"' in html


# ---------------------------------------------------------------- the API


def test_api_break_glass_is_201_and_audited(session, api, team):
    demand, _ = team.demand_with_document()
    r = api(make_token(session, team.admin)).post(f"/api/v1/demands/{demand.id}/access", json={"reason": REASON})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    grant = session.scalars(select(AccessGrant)).one()
    assert body == {"id": grant.id, "demand_id": demand.id, "user": "ada@desk.example", "reason": REASON,
                    "granted_at": body["granted_at"], "expires_at": body["expires_at"]}
    assert body["expires_at"].endswith("Z") and body["granted_at"].endswith("Z")
    assert [e.actor_id for e in events(session, "access.granted")] == [team.admin.id]
    assert file_access.has_access(session, team.admin, session.get(Demand, demand.id), utcnow())


def test_api_break_glass_errors_in_order(session, api, team):
    demand, _ = team.demand_with_document()
    token = make_token(session, team.counsel2)
    anonymous = api(None).post(f"/api/v1/demands/{demand.id}/access", json={"reason": REASON})
    assert anonymous.status_code == 401 and anonymous.content_type == "application/problem+json"
    # an unknown demand is 404 even with a bad body
    assert api(token).post("/api/v1/demands/999999/access", json={"reason": "x"}).status_code == 404
    assert api(token).post("/api/v1/demands/abc/access", json={"reason": REASON}).status_code == 404
    from tests.factories import make_customer

    customer = make_customer(session, "Portal Org")
    portal_user = make_user(session, "customer", customer_id=customer.id)
    assert api(make_token(session, portal_user)).post(
        f"/api/v1/demands/{demand.id}/access", json={"reason": REASON}).status_code == 403
    for body in ({"reason": "too short"}, {}, {"reason": 12345678901}, {"reason": "line\x00break in the reason"}):
        r = api(token).post(f"/api/v1/demands/{demand.id}/access", json=body)
        assert r.status_code == 422 and r.content_type == "application/problem+json", body
        assert list(r.get_json()["errors"]) == ["reason"], body
    r = api(token).post(f"/api/v1/demands/{demand.id}/access", data="not json", content_type="application/json")
    assert r.status_code == 400
    assert count(session, AccessGrant) == 0 and events(session, "access.granted") == []
