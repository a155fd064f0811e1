"""The app factory: config, database, blueprints, error pages and the ``desk`` CLI.

``create_app`` builds no schema and opens no connection (``flask desk init`` does)."""
from __future__ import annotations

import os

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from . import ROOT, account, auth, db_session, headers, web
from .api import bp as api_bp
from .cli import desk
from .config import load_config
from .db import make_engine, make_sessionmaker
from .portal import bp as portal_bp
from .public import bp as public_bp
from .requester import bp as requests_bp
from .requester import signup_bp as requester_signup_bp
from .staff import bp as staff_bp


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app. No schema is created and no connection is opened here."""
    app = Flask(
        "requests_desk",
        instance_relative_config=True,
        static_folder=str(ROOT / "static"),
        instance_path=os.environ.get("DESK_INSTANCE_PATH") or str(ROOT / "instance"),
    )
    app.config.update(load_config(app.instance_path))
    if test_config:
        app.config.update(test_config)
    engine = make_engine(app.config["DESK_DATABASE_URL"])
    # The audit key rides on every session (audit.record reads session.info), never in the database.
    sessions = make_sessionmaker(engine, audit_key=str(app.config["DESK_AUDIT_KEY"]).encode())
    app.extensions["desk"] = {"engine": engine, "sessionmaker": sessions}

    csrf = CSRFProtect(app)
    app.before_request(auth.load_current_user)
    app.teardown_appcontext(db_session.close_session)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp, url_prefix="/account")
    app.register_blueprint(staff_bp, url_prefix="/desk")
    app.register_blueprint(portal_bp, url_prefix="/portal")
    app.register_blueprint(requests_bp, url_prefix="/requests")
    app.register_blueprint(requester_signup_bp, url_prefix="/requests")
    app.register_blueprint(public_bp, url_prefix="/transparency")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    csrf.exempt(api_bp)
    web.register_error_handlers(app)
    headers.register(app)
    web.register_template_helpers(app)
    app.cli.add_command(desk)
    return app
