"""PostgreSQL: the desk's connections plan no parallel queries and cost a page read at
random about as one read in order (db.make_engine), unless the database URL's own
``options`` say otherwise."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from requests_desk.db import make_engine


def _setting(url: str, name: str = "max_parallel_workers_per_gather") -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SHOW {name}")).scalar_one()
    finally:
        engine.dispose()


def test_no_parallel_plans_unless_the_url_says(app):
    url = app.config["DESK_DATABASE_URL"]
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL-only test")
    assert _setting(url) == "0"
    joiner = "&" if "?" in url else "?"
    assert _setting(f"{url}{joiner}options=-c%20max_parallel_workers_per_gather%3D3") == "3"


def test_random_reads_cost_about_as_reads_in_order_unless_the_url_says(app, session):
    url = app.config["DESK_DATABASE_URL"]
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL-only test")
    assert _setting(url, "random_page_cost") == "1.1"
    joiner = "&" if "?" in url else "?"
    assert _setting(f"{url}{joiner}options=-c%20random_page_cost%3D4", "random_page_cost") == "4"
