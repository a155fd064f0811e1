"""Where a page's time goes: CPU per request, split into SQL and templates, in-process.

    python -m bench.breakdown --size 100000                  # builds a SQLite desk first
    python -m bench.breakdown --url sqlite:////path/desk.sqlite   # an existing demo desk
    python -m bench.breakdown --url … --profile case         # pyinstrument, if installed

``make bench`` says how fast each page is under load; this says why. Each page is
requested through the Flask test client (no server, no network) as the demo admin,
15 times after a warm-up; the table shows medians of the process's CPU time per
request, the time spent inside SQL statements and their number, and the time spent
rendering templates. The rest is Python: routing, the ORM building objects, forms.
CPU time, not wall time, so a busy machine skews it less. On a PostgreSQL on this
machine it also shows the CPU the database's own processes spent serving the page
(read from ``/proc`` for the backends the app's connections opened; a mean over the
runs, as the kernel counts in ticks of 10 ms): under ``make bench`` both share the
same cores, so a page's cost is the two together.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

PAGES = ("hello", "list", "filtered", "search", "deep", "case", "api", "public", "queue")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.breakdown", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an existing demo desk (default: build one)")
    parser.add_argument("--size", type=int, default=100_000, help="demands when building (default 100000)")
    parser.add_argument("--profile", choices=PAGES, help="profile one page with pyinstrument (not a dependency)")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    os.environ.setdefault("DESK_SECRET_KEY", "bench-secret-key")
    os.environ.setdefault("DESK_STAFF_2FA", "optional")  # as make bench: it measures pages, not enrolment
    with tempfile.TemporaryDirectory(prefix="desk-breakdown-") as tmp:
        url = args.url
        if not url:
            from .run import build_desk

            url = f"sqlite:///{Path(tmp) / 'desk.sqlite'}"
            print(f"building a desk of {args.size:,} demands …", file=sys.stderr, flush=True)
            build_desk("sqlite", url, args.size, 1, Path(tmp))
        measure(url, args)
    return 0


def measure(url: str, args) -> None:
    import jinja2
    from flask import Flask
    from sqlalchemy import event, select

    from requests_desk.app import create_app
    from requests_desk.models import Demand, Report, User
    from requests_desk.services.users import issue_token

    from .run import ADMIN, list_paths

    app = create_app({"DESK_DATABASE_URL": url, "SECRET_KEY": os.environ["DESK_SECRET_KEY"]})
    sessions = app.extensions["desk"]["sessionmaker"]
    with sessions() as session:
        case_id = session.scalar(select(Demand.id).where(Demand.outcome == "content_disclosed")
                                 .order_by(Demand.received_at.desc()).limit(1))
        period = session.scalar(select(Report.period).where(Report.status == "published")
                                .order_by(Report.period.desc()).limit(1))
        token = issue_token(session, None, session.scalar(select(User).where(User.email == ADMIN[0])))
        session.commit()
    staff, public = app.test_client(), app.test_client()
    search, deep, _words = list_paths(url)
    login = staff.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login).group(1)
    staff.post("/login", data={"email": ADMIN[0], "password": ADMIN[1], "csrf_token": csrf})
    hello = Flask("hello")
    hello.get("/")(lambda: "Hello, World!")
    bearer = {"Authorization": f"Bearer {token}"}
    pages = {
        "hello": (hello.test_client(), "/", {}),
        "list": (staff, "/desk/demands", {}),
        "filtered": (staff, "/desk/demands?status=closed&country=DE&process_type=search_warrant", {}),
        "search": (staff, search, {}),
        "deep": (staff, deep, {}),
        "case": (staff, f"/desk/demands/{case_id}", {}),
        "api": (staff, f"/api/v1/demands/{case_id}", bearer),
        "public": (public, f"/transparency/{period}", {}),
        "queue": (staff, "/desk/", {}),
    }

    sql = {"s": 0.0, "n": 0}
    engine = app.extensions["desk"]["engine"]

    backends: set[int] = set()
    pg = engine.dialect.name == "postgresql"
    if pg:
        @event.listens_for(engine, "connect")
        def _backend(dbapi_conn, record):
            cur = dbapi_conn.cursor()
            cur.execute("SELECT pg_backend_pid()")
            backends.add(cur.fetchone()[0])
            cur.close()

        engine.dispose()  # later connections are seen opening

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        sql["s"] += time.perf_counter() - conn.info["bench_t"]
        sql["n"] += 1

    rendering = {"s": 0.0}
    render = jinja2.Template.render

    def timed_render(self, *a, **kw):
        t0 = time.perf_counter()
        try:
            return render(self, *a, **kw)
        finally:
            rendering["s"] += time.perf_counter() - t0

    jinja2.Template.render = timed_render
    db_cpu = _backend_cpu if pg else (lambda _pids: 0.0)
    print(f"{'page':<10}{'path':<58}{'CPU ms':>8}{'SQL ms':>8}{'stmts':>6}{'templates ms':>14}"
          + (f"{'PG CPU ms':>11}" if pg else ""))
    try:
        for name, (client, path, headers) in pages.items():
            if name != "hello" and path.endswith("/None"):
                print(f"{name:<10}{path:<58}  n/a (nothing published)")
                continue
            for _ in range(3):
                status = client.get(path, headers=headers).status_code
                assert status == 200, f"{path} answered {status}"
            samples, d0 = [], db_cpu(backends)
            for _ in range(args.runs):
                sql.update(s=0.0, n=0)
                rendering["s"] = 0.0
                t0 = time.process_time()
                client.get(path, headers=headers)
                samples.append((time.process_time() - t0, sql["s"], sql["n"], rendering["s"]))
            cpu = statistics.median(s[0] for s in samples)
            print(f"{name:<10}{path[:57]:<58}{cpu * 1000:8.2f}{statistics.median(s[1] for s in samples) * 1000:8.2f}"
                  f"{samples[0][2]:6d}{statistics.median(s[3] for s in samples) * 1000:14.2f}"
                  + (f"{(db_cpu(backends) - d0) / args.runs * 1000:11.2f}" if pg else ""))
    finally:
        jinja2.Template.render = render
    if args.profile:
        try:
            from pyinstrument import Profiler
        except ImportError:
            print("pyinstrument is not installed (.venv/bin/pip install pyinstrument; not a dependency)")
            return
        client, path, headers = pages[args.profile]
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(args.runs):
            client.get(path, headers=headers)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False))


def _backend_cpu(pids: set[int]) -> float:
    """Seconds of CPU (user and system) the PostgreSQL backends ``pids`` have used, from
    ``/proc``; 0 for one that is gone or on another machine."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / tick


if __name__ == "__main__":
    sys.exit(main())
