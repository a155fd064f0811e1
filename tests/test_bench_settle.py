"""``bench.run.settle``: before its pages are measured, a desk's database has written
out what its load left in memory (PostgreSQL's CHECKPOINT; SQLite's WAL folded into the
file and truncated), so the measurement does not share the machine with that writing."""
from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.run import settle


def _checkpoints(conn) -> int:
    """Checkpoints asked for so far (PostgreSQL 17 moved the counter)."""
    moved = conn.scalar(text("SELECT to_regclass('pg_catalog.pg_stat_checkpointer') IS NOT NULL"))
    return conn.scalar(text("SELECT num_requested FROM pg_stat_checkpointer" if moved
                            else "SELECT checkpoints_req FROM pg_stat_bgwriter"))


def test_settle_writes_out_what_the_load_left(db_url):
    engine = create_engine(db_url)
    with engine.begin() as conn:  # something written, as a load leaves it
        conn.execute(text("INSERT INTO customers (name, enterprise, created_at) VALUES ('Settle Ltd', false, CURRENT_TIMESTAMP)"))
    if db_url.startswith("sqlite"):
        wal = Path(db_url.split("///", 1)[1] + "-wal")
        with engine.connect():  # a connection open, so the WAL is not folded in at close
            assert wal.exists() and os.path.getsize(wal) > 0
            assert settle("sqlite", db_url) is None
            assert os.path.getsize(wal) == 0
    else:
        with engine.connect() as conn:
            before = _checkpoints(conn)
        assert settle("postgresql", db_url) is None
        # The checkpointer reports its counters when the checkpoint ends; a moment's grace.
        for _ in range(50):
            with engine.connect() as conn:
                if _checkpoints(conn) > before:
                    break
            time.sleep(0.05)
        with engine.connect() as conn:
            assert _checkpoints(conn) > before
    engine.dispose()
