"""Issue 11: API tokens expire (default 90 days), can be revoked, show their last use,
and are never issued to a deactivated or unknown user."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from requests_desk.models import ApiToken, User
from tests.factories import make_user, page_text


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=["desk", *args])


def test_token_command_expiry_and_refusals(app, session, api):
    user = make_user(session, "counsel", email="cora@desk.example")
    r = _cli(app, "token", "cora@desk.example")
    assert r.exit_code == 0
    token = r.stdout.strip()
    row = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert timedelta(days=89) < row.expires_at - row.created_at <= timedelta(days=90)
    assert api(token).get("/api/v1/demands").status_code == 200
    r = _cli(app, "token", "cora@desk.example", "--expires-in", "7")
    assert r.exit_code == 0
    for args in (["token", "nobody@desk.example"], ["token", "cora@desk.example", "--expires-in", "0"]):
        r = _cli(app, *args)
        assert r.exit_code != 0 and len(r.output.strip().splitlines()) == 1, r.output
    session.get(User, user.id).active = False
    session.commit()
    r = _cli(app, "token", "cora@desk.example")
    assert r.exit_code != 0 and "deactivated" in r.output and len(r.output.strip().splitlines()) == 1


def test_expired_and_revoked_tokens_are_401_and_last_use_is_shown(app, session, api, client, login):
    user = make_user(session, "counsel", email="cora@desk.example")
    token = _cli(app, "token", "cora@desk.example").stdout.strip()
    assert api(token).get("/api/v1/demands").status_code == 200
    session.expire_all()
    row = session.scalars(select(ApiToken)).one()
    assert row.last_used_at is not None
    row.expires_at = row.created_at - timedelta(seconds=1)
    session.commit()
    assert api(token).get("/api/v1/demands").status_code == 401
    fresh = _cli(app, "token", "cora@desk.example").stdout.strip()
    assert api(fresh).get("/api/v1/demands").status_code == 200
    r = _cli(app, "revoke-tokens", "cora@desk.example")
    assert r.exit_code == 0 and "Revoked" in r.output
    assert api(fresh).get("/api/v1/demands").status_code == 401
    assert _cli(app, "revoke-tokens", "nobody@desk.example").exit_code != 0
    admin = make_user(session, "admin")
    login(admin.email)
    text = page_text(client.get(f"/desk/admin/users/{user.id}"))
    assert "Last used" in text and "Revoked" in text and "Expired" in text or "Revoked" in text
