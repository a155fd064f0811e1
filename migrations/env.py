"""Alembic environment: uses the connection handed over by requests_desk.migrate,
or DESK_DATABASE_URL when alembic runs from the command line."""
from __future__ import annotations

import os
from logging.config import fileConfig
from pathlib import Path

from alembic import context

from requests_desk import models  # noqa: F401  (registers the tables)
from requests_desk.db import Base, make_engine

config = context.config
if config.config_file_name and config.attributes.get("connection") is None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = Base.metadata


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    default = Path(__file__).resolve().parent.parent / "instance" / "desk.sqlite"
    engine = make_engine(os.environ.get("DESK_DATABASE_URL") or f"sqlite:///{default}")
    with engine.begin() as conn:
        run(conn)
