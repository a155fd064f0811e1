"""Issue 11: separation of duties. The attack that defeated four-eyes with one admin
(grant itself counsel, create an approver whose password it saw, sign in as it, approve)
now fails at every step; approver/admin take two admins; every change is audited and
e-mailed to the admins."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from requests_desk.models import AuditEvent, RoleProposal, User
from tests.factories import csrf_from, make_user, page_text, post_form


@pytest.fixture
def mallory(session, login):
    user = make_user(session, "admin", email="mallory@desk.example")
    login(user.email)
    return user


def test_one_admin_alone_cannot_defeat_four_eyes(session, client, mallory, smtp_server):
    # 1. grant itself counsel: refused, nothing changes
    r = post_form(client, f"/desk/admin/users/{mallory.id}", {"roles": ["admin", "counsel"], "active": "y"})
    assert r.status_code == 422
    session.expire_all()
    assert session.get(User, mallory.id).roles == {"admin"}
    # 2. create an approver: the page shows no password, and the user is no approver yet
    r = post_form(client, "/desk/admin/users/new", {"email": "sock@desk.example", "kind": "staff",
                                                    "roles": ["intake", "approver"]})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "generated-password" not in html and "Password" not in page_text(r)
    sock = session.scalars(select(User).where(User.email == "sock@desk.example")).one()
    assert sock.roles == {"intake"}
    # 3. confirming its own proposal is refused
    proposal = session.scalars(select(RoleProposal).where(RoleProposal.user_id == sock.id)).one()
    page = client.get(f"/desk/admin/users/{sock.id}")
    r = client.post(f"/desk/admin/users/{sock.id}/proposal/{proposal.id}",
                    data={"csrf_token": csrf_from(page.get_data(as_text=True)), "decision": "confirm"})
    assert r.status_code == 403
    session.expire_all()
    assert session.get(User, sock.id).roles == {"intake"}
    # 4. the sign-in link went to the new user's mailbox, not to the admin's screen
    assert any("sock@desk.example" in m.rcpt_tos for m in smtp_server.received)


def test_a_second_admin_confirms_and_every_admin_is_told(session, app, client, mallory, smtp_server):
    other = make_user(session, "admin", email="olga@desk.example")
    target = make_user(session, "counsel", email="carl@desk.example")
    r = post_form(client, f"/desk/admin/users/{target.id}", {"roles": ["counsel", "approver"], "active": "y"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(User, target.id).roles == {"counsel"}
    proposal = session.scalars(select(RoleProposal).where(RoleProposal.user_id == target.id)).one()
    second = app.test_client()
    from tests.factories import login as do_login
    do_login(second, other.email)
    page = second.get(f"/desk/admin/users/{target.id}")
    assert "Confirm" in page_text(page)
    r = second.post(f"/desk/admin/users/{target.id}/proposal/{proposal.id}",
                    data={"csrf_token": csrf_from(page.get_data(as_text=True)), "decision": "confirm"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(User, target.id).roles == {"counsel", "approver"}
    actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert "user.roles_proposed" in actions and "user.roles_confirmed" in actions and "user.update" in actions
    told = [m for m in smtp_server.received if "role change" in m.message["Subject"]]
    assert len(told) >= 2
    assert all({"mallory@desk.example", "olga@desk.example"} <= set(m.rcpt_tos) for m in told)


def test_lesser_role_changes_apply_at_once_and_are_mailed(session, client, mallory, smtp_server):
    target = make_user(session, "intake", email="ian@desk.example")
    r = post_form(client, f"/desk/admin/users/{target.id}", {"roles": ["intake", "counsel"], "active": "y"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(User, target.id).roles == {"intake", "counsel"}
    assert any(re.search("ian@desk.example", m.message.get_content()) for m in smtp_server.received)
