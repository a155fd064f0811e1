"""Configuration (SPEC §6): defaults in the instance folder, DESK_* environment overrides,
a factory that opens no connection, and a WSGI import that stays light."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from requests_desk import ROOT
from requests_desk.app import create_app
from requests_desk.config import load_config


def test_defaults_live_in_the_instance_folder(tmp_path):
    config = load_config(str(tmp_path), environ={})
    assert config["DESK_DATABASE_URL"] == f"sqlite:///{tmp_path / 'desk.sqlite'}"
    assert config["DESK_UPLOAD_DIR"] == str(tmp_path / "uploads")
    assert config["DESK_OUTBOX_DIR"] == str(tmp_path / "outbox")
    assert config["DESK_SMTP_URL"] is None
    assert config["DESK_SECURE_COOKIES"] is False and config["SESSION_COOKIE_SECURE"] is False
    assert config["SESSION_COOKIE_HTTPONLY"] is True and config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["DESK_REPORT_MIN_COUNTRY"] == 0
    assert config["MAX_CONTENT_LENGTH"] > 20 * 1024 * 1024


def test_secret_key_generated_once_and_kept(tmp_path):
    first = load_config(str(tmp_path / "inst"), environ={})["SECRET_KEY"]
    path = tmp_path / "inst" / "secret_key"
    assert path.read_text().strip() == first and len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config(str(tmp_path / "inst"), environ={})["SECRET_KEY"] == first
    assert load_config(str(tmp_path / "other"), environ={})["SECRET_KEY"] != first


def test_environment_overrides(tmp_path):
    env = {
        "DESK_DATABASE_URL": "postgresql+psycopg://desk@db.internal/desk",
        "DESK_SECRET_KEY": "from-the-environment",
        "DESK_SMTP_URL": "smtp://mail.internal:2525",
        "DESK_MAIL_FROM": "Legal <legal@provider.example>",
        "DESK_UPLOAD_DIR": "/srv/desk/uploads",
        "DESK_BASE_URL": "https://desk.provider.example/",
        "DESK_SECURE_COOKIES": "true",
        "DESK_REPORT_MIN_COUNTRY": "10",
    }
    config = load_config(str(tmp_path), environ=env)
    assert config["DESK_DATABASE_URL"] == env["DESK_DATABASE_URL"]
    assert config["SECRET_KEY"] == "from-the-environment" and not (tmp_path / "secret_key").exists()
    assert config["DESK_SMTP_URL"] == "smtp://mail.internal:2525"
    assert config["DESK_MAIL_FROM"] == "Legal <legal@provider.example>"
    assert config["DESK_UPLOAD_DIR"] == "/srv/desk/uploads"
    assert config["DESK_BASE_URL"] == "https://desk.provider.example"
    assert config["DESK_SECURE_COOKIES"] is True and config["SESSION_COOKIE_SECURE"] is True
    assert config["DESK_REPORT_MIN_COUNTRY"] == 10


@pytest.mark.parametrize("raw,secure", [("1", True), ("yes", True), ("TRUE", True), ("on", True),
                                        ("false", False), ("0", False), ("no", False), ("", False)])
def test_secure_cookies_values(tmp_path, raw, secure):
    assert load_config(str(tmp_path), environ={"DESK_SECURE_COOKIES": raw})["SESSION_COOKIE_SECURE"] is secure


def test_empty_variables_are_ignored(tmp_path):
    config = load_config(str(tmp_path), environ={"DESK_DATABASE_URL": "", "DESK_UPLOAD_DIR": ""})
    assert config["DESK_DATABASE_URL"].startswith("sqlite:///")
    assert config["DESK_UPLOAD_DIR"] == str(tmp_path / "uploads")


@pytest.mark.parametrize("raw", ["many", "-1", "1.5"])
def test_bad_min_country_is_a_clear_error(tmp_path, raw):
    with pytest.raises(ValueError, match="DESK_REPORT_MIN_COUNTRY"):
        load_config(str(tmp_path), environ={"DESK_REPORT_MIN_COUNTRY": raw})


def test_create_app_reads_the_environment_and_opens_no_connection(tmp_path, monkeypatch):
    monkeypatch.setenv("DESK_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("DESK_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/nowhere")
    monkeypatch.setenv("DESK_UPLOAD_DIR", str(tmp_path / "files"))
    monkeypatch.setenv("DESK_BASE_URL", "https://desk.example/")
    monkeypatch.setenv("DESK_SECURE_COOKIES", "yes")
    app = create_app()  # nothing listens on port 1: building the app must not connect
    assert app.instance_path == str(tmp_path / "instance")
    assert app.config["DESK_DATABASE_URL"].endswith("127.0.0.1:1/nowhere")
    assert app.config["DESK_UPLOAD_DIR"] == str(tmp_path / "files")
    assert app.config["DESK_BASE_URL"] == "https://desk.example"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    with pytest.raises(OperationalError):
        with app.extensions["desk"]["engine"].connect():
            pass
    # the public pages still answer politely, never with a traceback
    r = app.test_client().get("/api/v1/demands", headers={"Authorization": "Bearer x"})
    assert r.status_code == 500 and r.get_json()["detail"].startswith("Something went wrong")
    assert "nowhere" not in r.get_data(as_text=True)


def test_test_config_overrides_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DESK_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DESK_UPLOAD_DIR", "/from/env")
    app = create_app({"DESK_UPLOAD_DIR": str(tmp_path / "given")})
    assert app.config["DESK_UPLOAD_DIR"] == str(tmp_path / "given")


def test_wsgi_import_is_light(tmp_path):
    """`import wsgi` builds the app without matplotlib, reportlab or a database connection;
    nor does it configure the ORM's mappers (done on first use: a loader option or an ORM
    alias built at import did it there, about 50 ms) or build email_validator's regular
    expressions (about 20 ms; imported where an address is checked); nor does it import
    the CLI's commands (a worker never runs one; ``desk demo`` alone pulled in the demo's
    generator, about 45 ms)."""
    env = {**os.environ, "DESK_INSTANCE_PATH": str(tmp_path), "DESK_SECRET_KEY": "k",
           "DESK_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/nowhere"}
    code = ("import sys, wsgi; from requests_desk.models import Demand; "
            "print(sorted(m for m in ('matplotlib', 'reportlab', 'pyplot', 'email_validator', 'requests_desk.demo', "
            "'requests_desk.cli.demo', 'requests_desk.cli.backup', 'requests_desk.cli.users') if m in sys.modules)); "
            "print(type(wsgi.app).__name__, Demand.__mapper__.configured)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "Flask", "False"]
    assert not (Path(tmp_path) / "desk.sqlite").exists()


def test_sign_in_and_notice_settings_from_the_environment(tmp_path):
    config = load_config(str(tmp_path), environ={})
    assert config["DESK_STAFF_2FA"] == "required"
    assert config["DESK_SESSION_IDLE_MINUTES"] == 30 and config["DESK_SESSION_MAX_HOURS"] == 12
    assert config["DESK_SMTP_TIMEOUT"] == 20.0 and config["DESK_NOTICE_MAX_ATTEMPTS"] == 8
    assert config["DESK_NOTICE_BACKOFF_SECONDS"] == 300
    config = load_config(str(tmp_path), environ={
        "DESK_STAFF_2FA": "Optional", "DESK_SESSION_IDLE_MINUTES": "10", "DESK_SMTP_TIMEOUT": "2.5",
        "DESK_NOTICE_MAX_ATTEMPTS": "3", "DESK_NOTICE_BACKOFF_SECONDS": "7"})
    assert config["DESK_STAFF_2FA"] == "optional" and config["DESK_SESSION_IDLE_MINUTES"] == 10
    assert config["DESK_SMTP_TIMEOUT"] == 2.5 and config["DESK_NOTICE_MAX_ATTEMPTS"] == 3
    assert config["DESK_NOTICE_BACKOFF_SECONDS"] == 7
    for key, value in (("DESK_STAFF_2FA", "sometimes"), ("DESK_SESSION_IDLE_MINUTES", "0"),
                       ("DESK_SMTP_TIMEOUT", "soon"), ("DESK_NOTICE_MAX_ATTEMPTS", "-1")):
        with pytest.raises(ValueError, match=key):
            load_config(str(tmp_path), environ={key: value})
