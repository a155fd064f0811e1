"""Demo data: a living desk, from a few demands to a million.

Everything starts from **case specs** (``cases``): what happened to one demand, step by
step, each step with its time, its actor and the body the API would take. The planner
(``planner``, ``paths``) draws them, seeded and deterministic, over the last three years;
``people`` and ``shares`` say who is in the demo and in what proportions; ``world`` makes
the demo's users and customers through the services.

Two loaders take the same specs:

* ``service_path.load_through_services``: one step at a time through the real services
  and the real notice dispatcher. It is the reference, and the tests use it.
* ``loader.BulkLoader``: replays each spec in memory (``replay``, ``dispatch``) with the
  services' own functions on a stand-in for the demand, turns it into rows whose columns
  come from the models (``rows``) and writes them fast (``writer``).

``tests/test_demo.py`` loads one list of specs both ways into two fresh databases and
compares the tables row by row, so the replay cannot drift from the services unseen.

Notices follow SPEC §4 through a modelled dispatcher that ran every 15 minutes up to
now: held while a gag or deferral is in force, released (as delayed notices) at the
first run after a gag ends, sent on the first run after they fall due; one customer's
mail server has been refusing mail for the last days, so its notices are pending with
back-off or, after the last attempt, failed.
"""
from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reports.periods import Period

from ..audit import session_key
from ..db import utcnow
from ..models import Customer, Demand, User
from ..services.reports import Publisher, compile_report, publish_report
from .cases import SHOWCASE, CaseSpec, Fate, Step, showcase
from .loader import BulkLoader, LoadResult
from .people import (
    CUSTOMERS,
    OUTAGE_CUSTOMER,
    STAFF_LOGINS,
    DemoLogin,
    demo_logins,
    refusal_text,
)
from .planner import CasePlanner, generate_cases
from .rows import TABLES
from .service_path import dispatcher_runs, load_through_services
from .world import World, create_world, demo_present, load_world

__all__ = [
    "BulkLoader", "CasePlanner", "CaseSpec", "CUSTOMERS", "DemoLogin", "Fate", "LoadResult", "OUTAGE_CUSTOMER",
    "SHOWCASE", "STAFF_LOGINS", "Step", "TABLES", "World", "create_world", "demo_logins", "demo_present",
    "desk_state", "dispatcher_runs", "generate_cases", "load_demo", "load_through_services", "load_world",
    "publish_reports", "refusal_text", "showcase",
]


def desk_state(session: Session) -> str:
    """'empty' (nothing but the rule tables), 'demo' (the demo is loaded) or 'data'."""
    if demo_present(session):
        return "demo"
    for model in (Demand, User, Customer):
        if session.scalar(select(model.id).limit(1)) is not None:
            return "data"
    return "empty"


def load_demo(app, count: int, seed: int = 1, *, now: datetime | None = None,
              on_progress: Callable[[int], None] | None = None) -> LoadResult:
    """``desk demo``: the world through the services, the demands through the bulk path."""
    now = (now or utcnow()).replace(microsecond=0)
    sessions = app.extensions["desk"]["sessionmaker"]
    # The reports' libraries load (0.7 s of CPU) while the world's passwords are hashed
    # (scrypt lets go of the GIL), and before the workers fork: none may fork mid-import.
    warming = threading.Thread(target=_import_report_libraries, name="desk-demo-imports", daemon=True)
    warming.start()
    with sessions() as session:
        world = create_world(session, now)
        session.commit()
        audit_key = session_key(session)
    warming.join()
    loader = BulkLoader(app.extensions["desk"]["engine"], world, now, audit_key=audit_key,
                        upload_dir=Path(app.config["DESK_UPLOAD_DIR"]), seed=seed, on_progress=on_progress)
    result = loader.load_generated(count)
    engine = app.extensions["desk"]["engine"]
    if engine.dialect.name == "postgresql":
        # Fresh statistics, and the visibility map a long-lived desk has from autovacuum:
        # without it a count cannot be answered from an index alone (the queue's count by
        # state took 20 ms instead of 7 at 100,000 demands). VACUUM needs autocommit.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")  # fresh statistics for the query planner
    if count:
        result.reports = publish_reports(app, now)
    return result


def _import_report_libraries() -> None:
    """What publishing the reports imports on first use (``reports.charts``, ``reports.pdf``);
    one missing is left for the publishing to report."""
    try:
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.backends.backend_svg  # noqa: F401
        import matplotlib.figure  # noqa: F401
        import matplotlib.ticker  # noqa: F401
        import PIL.Image  # noqa: F401
        import reportlab.platypus  # noqa: F401
    except ImportError:
        pass


def publish_reports(app, now: datetime) -> list[str]:
    """Compile and publish each ended half-year the demo covers in full (as the admin
    would), oldest first, so that each report's requests-over-time chart shows the periods
    before it; then compile the running half-year as a draft. Returns the periods published."""
    sessions = app.extensions["desk"]["sessionmaker"]
    publisher = Publisher.from_config(app.config)
    published = []
    with sessions() as session:
        admin = session.scalar(select(User).where(User.email == STAFF_LOGINS[0].email))
        first = session.scalar(select(func.min(Demand.received_at)))
        if first is None:
            return published
        periods = []
        period = Period.containing(now).previous()
        while period.start >= first:
            periods.append(period)
            period = period.previous()
        for period in reversed(periods):
            compile_report(session, admin, period.code, now)
            publish_report(session, admin, period.code, None, now, publisher=publisher)
            session.commit()
            published.append(period.code)
        compile_report(session, admin, Period.containing(now).code, now)
        session.commit()
    return published
