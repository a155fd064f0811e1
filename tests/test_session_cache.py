"""Signing a reader in from what the worker last read (services/session_cache.py): no
SQL for the session on a page view, and a change made by another process (a deactivation,
a new password, a logout elsewhere) ends the session within DESK_SESSION_CACHE_SECONDS."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from requests_desk import auth
from requests_desk.db import utcnow

from .factories import counted, login, make_demand, make_token, make_user


@pytest.fixture
def clock(monkeypatch):
    """The sign-in's clock, moved on by ``clock.later(seconds)``."""
    shift = {"s": 0.0}

    class Clock:
        def later(self, seconds: float) -> None:
            shift["s"] += seconds

    monkeypatch.setattr(auth, "utcnow", lambda: utcnow() + timedelta(seconds=shift["s"]))
    return Clock()


def elsewhere(app, sql: str, **params) -> None:
    """A write by another process: straight to the database, past this process's ORM."""
    with app.extensions["desk"]["engine"].begin() as conn:
        conn.execute(text(sql), params)


def test_a_page_view_reads_no_session_or_user_row(app, client, session):
    user = make_user(session, "counsel")
    assert login(client, user.email).status_code == 302
    client.get("/desk/")
    with counted(app) as statements:
        assert client.get("/desk/").status_code == 200
    assert not [s for s in statements if "FROM user_sessions" in s or "FROM users" in s], statements


@pytest.mark.parametrize("change", [
    "UPDATE users SET active = false WHERE id = :uid",  # deactivated (desk deactivate, another worker)
    "UPDATE users SET password_hash = 'pbkdf2:sha256:1$x$y' WHERE id = :uid",  # a new password
    "UPDATE user_sessions SET ended_at = CURRENT_TIMESTAMP WHERE user_id = :uid",  # signed out elsewhere
])
def test_a_change_elsewhere_ends_the_session_within_the_bound(app, client, session, clock, change):
    assert app.config["DESK_SESSION_CACHE_SECONDS"] == 5  # the default, as docs/configuration.md says
    bound = app.config["DESK_SESSION_CACHE_SECONDS"] = 30  # wide, so that a slow machine's own time counts little
    user = make_user(session, "counsel")
    assert login(client, user.email).status_code == 302
    assert client.get("/desk/").status_code == 200
    elsewhere(app, change, uid=user.id)
    clock.later(bound - 10)
    assert client.get("/desk/").status_code == 200  # still within the stated bound
    clock.later(11)
    r = client.get("/desk/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_a_change_in_this_process_ends_the_session_at_once(app, client, session):
    user = make_user(session, "counsel")
    assert login(client, user.email).status_code == 302
    assert client.get("/desk/").status_code == 200
    session.merge(user).active = False
    session.commit()
    r = client.get("/desk/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_roles_from_the_cache_are_the_users_roles(app, client, session):
    """The remembered user is a real User of the request's session: its roles decide."""
    user = make_user(session, "intake")
    assert login(client, user.email).status_code == 302
    for _ in range(2):
        assert client.get("/desk/demands/new").status_code == 200  # intake logs demands
        assert client.get("/desk/admin/users").status_code == 403  # not an admin


def test_the_cache_can_be_turned_off(app, client, session):
    app.config["DESK_SESSION_CACHE_SECONDS"] = 0
    user = make_user(session, "counsel")
    assert login(client, user.email).status_code == 302
    client.get("/desk/")
    with counted(app) as statements:
        assert client.get("/desk/").status_code == 200
    assert [s for s in statements if "FROM user_sessions" in s]


# ---------------------------------------------------------------- API tokens, the same way


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# The API's list, and its GET of one demand, which signs the caller in with the remembered
# user as it is and reads plain rows on a connection of its own (api/blueprint.guard).
API_READS = ["list", "one demand"]


def _api_path(session, read: str) -> str:
    return "/api/v1/demands" if read == "list" else f"/api/v1/demands/{make_demand(session).id}"


@pytest.mark.parametrize("read", API_READS)
def test_an_api_call_reads_no_token_or_user_row(app, client, session, read):
    token = make_token(session, make_user(session, "counsel"))
    path = _api_path(session, read)
    client.get(path, headers=_bearer(token))
    with counted(app) as statements:
        assert client.get(path, headers=_bearer(token)).status_code == 200
    assert not [s for s in statements if "FROM api_tokens" in s or "FROM user_roles" in s], statements


@pytest.mark.parametrize("change", [
    "UPDATE users SET active = false WHERE id = :uid",  # deactivated by another worker
    "UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP WHERE user_id = :uid",  # revoked there
])
@pytest.mark.parametrize("read", API_READS)
def test_a_token_change_elsewhere_takes_effect_within_the_bound(app, client, session, clock, change, read):
    bound = app.config["DESK_SESSION_CACHE_SECONDS"] = 30
    user = make_user(session, "counsel")
    token = make_token(session, user)
    path = _api_path(session, read)
    assert client.get(path, headers=_bearer(token)).status_code == 200
    elsewhere(app, change, uid=user.id)
    clock.later(bound - 10)
    assert client.get(path, headers=_bearer(token)).status_code == 200  # within the bound
    clock.later(11)
    assert client.get(path, headers=_bearer(token)).status_code == 401


@pytest.mark.parametrize("read", API_READS)
def test_a_token_revoked_or_user_changed_in_this_process_stops_at_once(app, client, session, read):
    from requests_desk.models import User
    from requests_desk.services import users as user_service

    user = make_user(session, "counsel")
    token = make_token(session, user)
    path = _api_path(session, read)
    assert client.get(path, headers=_bearer(token)).status_code == 200
    user_service.revoke_tokens(session, None, session.merge(user))
    session.commit()
    assert client.get(path, headers=_bearer(token)).status_code == 401
    other = make_user(session, "counsel")
    token = make_token(session, other)
    assert client.get(path, headers=_bearer(token)).status_code == 200
    session.get(User, other.id).active = False
    session.commit()
    assert client.get(path, headers=_bearer(token)).status_code == 401


@pytest.mark.parametrize("read", API_READS)
def test_a_remembered_token_still_expires_on_time(app, client, session, clock, read):
    from requests_desk.models import ApiToken

    app.config["DESK_SESSION_CACHE_SECONDS"] = 600
    user = make_user(session, "counsel")
    token = make_token(session, user)
    path = _api_path(session, read)
    row = session.query(ApiToken).filter_by(user_id=user.id).one()
    row.expires_at = utcnow() + timedelta(seconds=20)
    session.commit()
    assert client.get(path, headers=_bearer(token)).status_code == 200
    clock.later(30)  # past its expiry, well within the cache's time
    assert client.get(path, headers=_bearer(token)).status_code == 401
