"""`flask desk create-user` and `flask desk token` (SPEC §6): output a script can use,
one-line errors with a non-zero exit."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from requests_desk.models import ApiToken, AuditEvent, User
from tests.factories import csrf_from, make_customer, make_user


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _error_line(result) -> str:
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


def test_token_prints_one_token_alone_that_works(app, session, runner, client):
    make_user(session, "counsel", email="counsel@desk.example")
    result = runner.invoke(args=["desk", "token", "Counsel@Desk.example"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and result.stdout == lines[0] + "\n"
    token = lines[0]
    assert token and " " not in token
    r = client.get("/api/v1/demands", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    # a second token is another token; both work; only hashes are stored
    second = runner.invoke(args=["desk", "token", "counsel@desk.example"]).stdout.strip()
    assert second != token
    assert client.get("/api/v1/demands", headers={"Authorization": f"Bearer {second}"}).status_code == 200
    with app.extensions["desk"]["engine"].connect() as conn:
        hashes = conn.scalars(select(ApiToken.token_hash)).all()
    assert len(hashes) == 2 and token not in hashes and second not in hashes


def test_token_for_unknown_user_fails_in_one_line(runner):
    line = _error_line(runner.invoke(args=["desk", "token", "ghost@desk.example"]))
    assert "ghost@desk.example" in line


def test_create_user_generates_and_prints_a_password(app, runner, client):
    result = runner.invoke(args=["desk", "create-user", "New.Counsel@Desk.example", "--role", "counsel",
                                 "--role", "approver", "--name", "Nora Counsel"])
    assert result.exit_code == 0, result.output
    password_lines = [line for line in result.stdout.splitlines() if line.startswith("Password: ")]
    assert len(password_lines) == 1
    password = password_lines[0].split(": ", 1)[1]
    assert len(password) >= 12
    assert "new.counsel@desk.example" in result.stdout
    page = client.get("/login")
    r = client.post("/login", data={"email": "new.counsel@desk.example", "password": password,
                                    "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert r.status_code == 302 and r.headers["Location"].endswith("/desk/")
    with app.extensions["desk"]["sessionmaker"]() as s:
        user = s.scalar(select(User).where(User.email == "new.counsel@desk.example"))
        assert user.roles == {"counsel", "approver"} and user.name == "Nora Counsel"
        assert password not in user.password_hash
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "user.create"))
        assert event.actor == "system" and '"counsel"' in event.after and password not in event.after


def test_create_user_with_password_prints_none(runner, login):
    result = runner.invoke(args=["desk", "create-user", "intake@desk.example", "--role", "intake",
                                 "--password", "a long enough password"])
    assert result.exit_code == 0, result.output
    assert "Password" not in result.stdout and "a long enough password" not in result.stdout
    assert login("intake@desk.example", "a long enough password").status_code == 302


def test_create_customer_user(session, runner, login):
    customer = make_customer(session, "Contoso")
    result = runner.invoke(args=["desk", "create-user", "it@contoso.com", "--role", "customer",
                                 "--customer", str(customer.id), "--password", "portal password 1"])
    assert result.exit_code == 0, result.output
    r = login("it@contoso.com", "portal password 1")
    assert r.headers["Location"].endswith("/portal/")


@pytest.mark.parametrize("args,mentions", [
    (["not-an-email", "--role", "intake"], "e-mail"),
    (["x@desk.example", "--role", "wizard"], "wizard"),
    (["x@desk.example", "--role", "customer"], "customer"),
    (["x@desk.example", "--role", "customer", "--customer", "9999"], "9999"),
    (["x@desk.example", "--role", "customer", "--role", "counsel", "--customer", "1"], "staff role"),
    (["x@desk.example", "--role", "intake", "--customer", "1"], "customer"),
    (["x@desk.example", "--role", "intake", "--password", "short"], "12 characters"),
    (["x@desk.example", "--role", "intake", "--password", "aaaaaaaaaaaaaa"], "passphrase"),
    (["x@desk.example", "--role", "intake", "--password", "LeaveMeAlone"], "breached"),
    (["taken@desk.example", "--role", "intake"], "exists"),
])
def test_create_user_bad_input_one_line_nothing_saved(app, session, runner, args, mentions):
    make_customer(session, "Contoso")
    make_user(session, "intake", email="taken@desk.example")
    with app.extensions["desk"]["engine"].connect() as conn:
        before = conn.scalar(select(User.id).order_by(User.id.desc()).limit(1))
    line = _error_line(runner.invoke(args=["desk", "create-user", *args]))
    assert line.startswith("Error: ") and mentions in line
    with app.extensions["desk"]["engine"].connect() as conn:
        assert conn.scalar(select(User.id).order_by(User.id.desc()).limit(1)) == before


@pytest.mark.parametrize("args,mentions", [
    (["create-user", "x@desk.example"], "--role"),
    (["create-user", "x@desk.example", "--role", "intake", "--customer", "one"], "--customer"),
    (["create-user"], "EMAIL"),
    (["token"], "EMAIL"),
    (["token", "a@b.example", "extra"], "extra"),
])
def test_usage_errors_are_one_line(runner, args, mentions):
    result = runner.invoke(args=["desk", *args])
    assert result.exit_code == 2
    assert mentions in _error_line(result)


def test_every_command_is_listed_and_loads_under_its_own_name(runner):
    """The `desk` group imports each command's module on first use (cli/__init__.py):
    each name it lists loads the command of that name, and `--help` lists them all."""
    import click

    from requests_desk.cli import COMMANDS, desk

    ctx = click.Context(desk)
    assert desk.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        command = desk.get_command(ctx, name)
        assert command is not None and command.name == name
    listed = runner.invoke(args=["desk", "--help"])
    assert listed.exit_code == 0
    for name in COMMANDS:
        assert f"\n  {name} " in listed.stdout
    assert desk.get_command(ctx, "nope") is None
