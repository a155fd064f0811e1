"""Alembic, driven from code: ``desk init`` and the tests upgrade to head with it.

Alembic is imported when a migration runs, not when the app starts: it (and the Mako
and Pygments it pulls in) would add about 0.1 s to every worker's start."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from . import ROOT

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
