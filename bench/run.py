"""``make bench``: the desk's pages beside a hello-world Flask app, on SQLite and PostgreSQL.

    python -m bench.run --size 100000          # make bench
    python -m bench.run --size 1000000         # make bench SIZE=1000000
    python -m bench.run --smoke                # CI: 2,000 demands, 1 s per page

One run, on this machine, for each database: a fresh desk of N demands (``desk demo``'s
bulk path, then ANALYZE; VACUUM ANALYZE on PostgreSQL), served by gunicorn (2 sync
workers, or ``--workers N``); a minimal Flask app (bench/hello.py) served the same way is the baseline. wrk (16 connections) drives each
page a few seconds, three times; the table shows medians and each page's throughput as a
ratio of the baseline's. Signed-in pages are fetched with a real session cookie (the
login form, CSRF included); the API with a bearer token. The report rows come from
bench/bench_reports.py (its own fresh database); the backup rows from bench/bench_backup.py
(``desk backup`` of the desk, ``desk restore`` into a fresh database of the same kind, each
its own process: seconds and peak resident memory); the spreadsheet rows from
bench/bench_import.py (``desk import`` of a generated 10,000-row file into a fresh desk of
its own, then the export of that desk's and of the big desk's every demand as CSV and
Excel: seconds and peak memory); the import row times ``import wsgi``.

PostgreSQL: ``DESK_BENCH_DATABASE_URL`` (default postgresql+psycopg://postgres@127.0.0.1:5432/
desk_bench); its schema is dropped and built again. Ports 5105 and 5106 (``--port``).
"""
from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/desk_bench"
SECRET = "bench-secret-key"
# One audit key for the process that builds the desk and the servers and commands that use
# it (otherwise each would take its instance folder's own, and the desk would refuse them).
AUDIT_KEY = "bench-audit-key-0123456789abcdef0123456789abcdef"
ADMIN = ("admin@desk.example", "demo-admin-pass")
WRK_MISSING = "wrk is not installed: apt-get install wrk (Debian/Ubuntu), then run make bench again"


@dataclass
class Page:
    key: str
    label: str
    path: str = ""
    goal: float | None = None  # minimum ratio of the hello-world baseline
    auth: str = ""  # "", "cookie" or "token"


PAGES = (
    Page("hello", "hello-world Flask (baseline)", "/"),
    Page("list", "/desk/demands (signed in)", "/desk/demands", 0.10, "cookie"),
    Page("filtered", "/desk/demands, 3 filters", "", 0.10, "cookie"),
    Page("search", "/desk/demands?q= (a search)", "", 0.05, "cookie"),
    Page("deep", "/desk/demands, page 1000 (by key)", "", 0.08, "cookie"),
    Page("case", "case page /desk/demands/{id}", "", 0.10, "cookie"),
    # The staff home (issue 15 names no ratio for it; measured so that it stays flat).
    Page("queue", "staff home /desk/ (the queue)", "/desk/", None, "cookie"),
    Page("api", "GET /api/v1/demands/{id} (token)", "", 0.25, "token"),
    Page("public", "/transparency/{period} (public)", "", 0.6, ""),
)


@dataclass
class Column:
    """Everything measured on one database."""

    db: str
    note: str = ""
    rps: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    load_s: float | None = None
    command_s: float | None = None
    worker_peak_mb: float | None = None
    reports: dict | None = None
    reports_note: str = ""
    backup: dict | None = None
    backup_note: str = ""
    sheets: dict | None = None
    sheets_note: str = ""


# ---------------------------------------------------------------- serving and driving


def python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status < 500
    except urllib.error.HTTPError as err:
        return err.code < 500
    except OSError:
        return False


@contextmanager
def gunicorn(module: str, port: int, env: dict[str, str], workers: int = 2) -> Iterator[subprocess.Popen]:
    """``gunicorn module:app`` with ``workers`` sync workers on 127.0.0.1:port, until the
    block ends."""
    proc = subprocess.Popen(
        [python(), "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         f"{module}:app"],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _answers(f"http://127.0.0.1:{port}/"):
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn {module} stopped: {proc.stderr.read()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn {module} did not answer on port {port}")
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def workers_peak_mb(master: int) -> float:
    """The largest peak resident memory (VmHWM) among the master's worker processes."""
    peak = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != master:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        if match:
            peak = max(peak, int(match.group(1)))
    return peak / 1024


def wrk(url: str, headers: dict[str, str], seconds: float, connections: int) -> float:
    """Requests per second; any non-2xx/3xx answer or socket error makes it fail."""
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 60).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise RuntimeError(f"{bad.group(1)} answers were not 2xx/3xx")
    errors = re.search(r"Socket errors: (.*)", out)
    if errors and re.search(r"(read|write|timeout) [1-9]", errors.group(1)):
        raise RuntimeError(f"socket errors: {errors.group(1)}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"wrk said: {out.strip()[-300:]}")
    return float(match.group(1))


def fetch(url: str, headers: dict[str, str]) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, headers=headers)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as r:
            return r.status, r.read().decode("utf-8", "replace"), dict(r.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace"), dict(err.headers)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sign_in(base: str, email: str, password: str) -> str:
    """Sign in through the login form (CSRF token and all); returns the Cookie header."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    with opener.open(f"{base}/login", timeout=30) as r:
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', r.read().decode()).group(1)
    data = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token}).encode()
    try:
        opener.open(f"{base}/login", data=data, timeout=30)
    except urllib.error.HTTPError as err:
        if err.code != 302:
            raise RuntimeError(f"sign-in as {email} answered {err.code}") from None
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "session=" not in cookies:
        raise RuntimeError(f"sign-in as {email} gave no session cookie")
    return cookies


# ---------------------------------------------------------------- the desk under test


@dataclass
class Desk:
    url: str
    instance: str
    load_s: float  # the bulk path: what `desk demo` reports as "Loaded … in"
    command_s: float  # the whole of desk demo: users and customers, ANALYZE, five reports
    case_id: int
    filtered: str
    period: str | None
    token: str


def build_desk(db: str, url: str, size: int, seed: int, workdir: Path) -> Desk:
    """A fresh desk with ``size`` demands, the way an operator would make one."""
    from sqlalchemy import select

    from requests_desk import demo
    from requests_desk.app import create_app
    from requests_desk.migrate import upgrade_schema
    from requests_desk.models import Demand, Report, User
    from requests_desk.rules import load_rules
    from requests_desk.services.users import issue_token

    instance = workdir / f"instance-{db}"
    instance.mkdir(parents=True, exist_ok=True)
    if db == "postgresql":
        _fresh_pg(url)
    app = create_app({"DESK_DATABASE_URL": url, "SECRET_KEY": SECRET, "DESK_UPLOAD_DIR": str(instance / "uploads")})
    engine, sessions = app.extensions["desk"]["engine"], app.extensions["desk"]["sessionmaker"]
    upgrade_schema(engine)
    with sessions() as session:
        load_rules(session)
        session.commit()
    t0 = time.perf_counter()
    stats = demo.load_demo(app, size, seed)
    command_s = time.perf_counter() - t0
    with sessions() as session:
        rich = (select(Demand.id).where(Demand.outcome == "content_disclosed")
                .order_by(Demand.received_at.desc()).limit(1))
        case_id = session.scalar(rich) or session.scalar(select(Demand.id).limit(1))
        period = session.scalar(select(Report.period).where(Report.status == "published")
                                .order_by(Report.period.desc()).limit(1))
        token = issue_token(session, None, session.scalar(select(User).where(User.email == ADMIN[0])))
        session.commit()
    engine.dispose()
    return Desk(url, str(instance), stats.seconds, command_s, case_id,
                "/desk/demands?status=closed&country=DE&process_type=search_warrant", period, token)


def kept_desk(db: str, url: str, args, workdir: Path) -> Desk:
    """``--keep DIR``: the desk built into DIR by an earlier run (schema upgraded to this
    code's head, statistics refreshed), or built there now and kept for the next run. A
    desk of a million demands takes many minutes to build; measuring it again need not."""
    from sqlalchemy import create_engine

    from requests_desk.migrate import upgrade_schema

    keep = Path(args.keep).resolve() / str(args.size)
    keep.mkdir(parents=True, exist_ok=True)
    record = keep / f"desk-{db}-{args.size}.json"
    if db == "sqlite":
        url = f"sqlite:///{keep / f'desk-{args.size}.sqlite'}"
    if record.exists():
        desk = Desk(**json.loads(record.read_text()))
        if desk.url == url:
            print(f"[{db}] reusing the desk kept in {record}", file=sys.stderr, flush=True)
            engine = create_engine(url)
            upgrade_schema(engine)
            # As desk demo leaves a desk (and autovacuum keeps one): statistics, and on
            # PostgreSQL a visibility map for index-only scans of what a migration rewrote.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE" if db == "postgresql" else "ANALYZE")
            engine.dispose()
            return desk
    desk = build_desk(db, url, args.size, args.seed, keep)
    record.write_text(json.dumps(desk.__dict__, indent=2))
    return desk


def settle(db: str, url: str) -> str | None:
    """Let the database write out what the load left in memory before anything is
    measured: a CHECKPOINT on PostgreSQL, the WAL folded into the file and truncated on
    SQLite. Straight after a load of a million demands PostgreSQL's checkpointer was still
    writing it out through the first pages' runs, which measured a third slower than the
    same pages minutes later. What was refused (CHECKPOINT needs a superuser or, from
    PostgreSQL 15, the pg_checkpoint role), as a line for the report; None when done."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import DBAPIError

    engine = create_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CHECKPOINT" if db == "postgresql" else "PRAGMA wal_checkpoint(TRUNCATE)")
    except DBAPIError as exc:
        return f"not settled before measuring ({str(exc.orig).splitlines()[0]})"
    finally:
        engine.dispose()
    return None


def list_paths(url: str) -> tuple[str, str, str]:
    """The search benchmarked (the first six characters of a target identifier in the
    middle of the desk: a person's name, matching a few demands) and page 1,000 of the
    case list as its "Next" links reach it (``after`` the 49,950th demand, newest first),
    with the words that page shows; a desk of fewer pages (a smoke run): its last page."""
    from sqlalchemy import create_engine, func, select

    from requests_desk.models import Demand, DemandTarget

    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.scalar(select(Demand.id).order_by(Demand.id.desc()).limit(1)) or 0
        ident = conn.scalar(select(DemandTarget.identifier).where(DemandTarget.demand_id >= count // 2)
                            .order_by(DemandTarget.demand_id).limit(1)) or "a"
        demands = conn.scalar(select(func.count()).select_from(Demand)) or 0
        page = max(1, min(1000, -(-demands // 50)))
        after = conn.scalar(select(Demand.id).order_by(Demand.received_at.desc(), Demand.id.desc())
                            .offset((page - 1) * 50 - 1).limit(1)) if page > 1 else None
    engine.dispose()
    return (f"/desk/demands?q={urllib.parse.quote(ident[:6])}",
            f"/desk/demands?after={after}&page={page}" if after else "/desk/demands", f"Page {page:,}")


def _fresh_pg(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}):
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()


def pg_reachable(url: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    try:
        engine = create_engine(make_url(url).set(database="postgres"))
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return ""
    except Exception as exc:  # not there: the column says so
        return f"PostgreSQL not reachable at {make_url(url).render_as_string(hide_password=True)} " \
               f"({type(exc).__name__})"


# ---------------------------------------------------------------- one database


def measure(db: str, url: str, args, workdir: Path, have_wrk: bool) -> Column:
    col = Column(db)
    print(f"[{db}] building a desk of {args.size:,} demands …", file=sys.stderr, flush=True)
    desk = kept_desk(db, url, args, workdir) if args.keep else build_desk(db, url, args.size, args.seed, workdir)
    col.load_s, col.command_s = desk.load_s, desk.command_s
    refused = settle(db, desk.url)
    if refused:
        print(f"[{db}] {refused}", file=sys.stderr, flush=True)
    # The demo desk as `make run` serves it: two-factor optional, so the benchmark signs in
    # with the password alone (it measures pages, not enrolment).
    env = {"DESK_DATABASE_URL": desk.url, "DESK_INSTANCE_PATH": desk.instance, "DESK_SECRET_KEY": SECRET,
           "DESK_OUTBOX_DIR": str(Path(desk.instance) / "outbox"), "DESK_STAFF_2FA": "optional"}
    hello_port, desk_port = args.port, args.port + 1
    hello_runs: list[float] = []

    def run_hello() -> None:
        with gunicorn("bench.hello", hello_port, {}, args.workers):
            base = f"http://127.0.0.1:{hello_port}"
            status, body, _ = fetch(base + "/", {})
            assert status == 200 and "Hello" in body
            if have_wrk:
                wrk(base + "/", {}, 1, args.connections)
                hello_runs.extend(wrk(base + "/", {}, args.seconds, args.connections) for _ in range(args.runs))

    print(f"[{db}] hello-world baseline …", file=sys.stderr, flush=True)
    run_hello()
    with gunicorn("wsgi", desk_port, env, args.workers) as server:
        base = f"http://127.0.0.1:{desk_port}"
        cookie = sign_in(base, *ADMIN)
        search, deep, deep_words = list_paths(desk.url)
        paths = {
            "list": ("/desk/demands", "LD-"),
            "filtered": (desk.filtered, "LD-"),
            "search": (search, "LD-"),
            "deep": (deep, deep_words),
            "case": (f"/desk/demands/{desk.case_id}", "LD-"),
            "queue": ("/desk/", "LD-"),
            "api": (f"/api/v1/demands/{desk.case_id}", '"reference"'),
            "public": (f"/transparency/{desk.period}" if desk.period else None, desk.period or ""),
        }
        for page in PAGES[1:]:
            path, marker = paths[page.key]
            if path is None:
                col.errors[page.key] = "n/a (reports not built)"
                continue
            headers = {"Cookie": cookie} if page.auth == "cookie" else (
                {"Authorization": f"Bearer {desk.token}"} if page.auth == "token" else {})
            status, body, response_headers = fetch(base + path, headers)
            if status != 200 or marker not in body:
                col.errors[page.key] = f"answered {status}"
                continue
            if page.auth == "cookie" and "no-store" not in response_headers.get("Cache-Control", "") \
                    and "private" not in response_headers.get("Cache-Control", ""):
                col.note = "signed-in pages carry no Cache-Control: private/no-store"
            if not have_wrk:
                col.errors[page.key] = "n/a (wrk missing)"
                continue
            print(f"[{db}] {page.label} …", file=sys.stderr, flush=True)
            try:
                wrk(base + path, headers, 1, args.connections)
                col.rps[page.key] = statistics.median(
                    wrk(base + path, headers, args.seconds, args.connections) for _ in range(args.runs))
            except RuntimeError as err:
                col.errors[page.key] = f"failed: {err}"
        col.worker_peak_mb = workers_peak_mb(server.pid)
    print(f"[{db}] hello-world baseline again …", file=sys.stderr, flush=True)
    run_hello()  # before and after: the baseline is the median of both, against drift
    if hello_runs:
        col.rps["hello"] = statistics.median(hello_runs)
    elif not have_wrk:
        col.errors["hello"] = "n/a (wrk missing)"
    if args.pages_only:
        col.reports_note = col.backup_note = "n/a (--pages-only)"
        return col
    print(f"[{db}] transparency report benchmark …", file=sys.stderr, flush=True)
    col.reports, col.reports_note = report_bench(db, url, args)
    print(f"[{db}] backup and restore …", file=sys.stderr, flush=True)
    col.backup, col.backup_note = backup_bench(db, url, workdir)
    print(f"[{db}] spreadsheet import and export …", file=sys.stderr, flush=True)
    col.sheets, col.sheets_note = sheets_bench(db, url, workdir, 1_000 if args.smoke else 10_000)
    return col


def sheets_bench(db: str, url: str, workdir: Path, rows: int) -> tuple[dict | None, str]:
    """bench/bench_import.py: ``rows`` rows imported into a fresh desk of its own
    (PostgreSQL: DESK_BENCH_SHEETS_DATABASE_URL, default desk_bench_sheets), then this
    desk's every demand exported as CSV and Excel (time and peak memory)."""
    from bench import bench_import

    own = f"sqlite:///{workdir / 'sheets.sqlite'}" if db == "sqlite" else \
        os.environ.get("DESK_BENCH_SHEETS_DATABASE_URL") or bench_import.DEFAULT_PG
    try:
        result = bench_import.run(db, own, workdir, rows)
        result["desk_export"] = bench_import.export_run(url, workdir)
        return result, ""
    except RuntimeError as err:
        return None, f"failed: {err}"


def backup_bench(db: str, url: str, workdir: Path) -> tuple[dict | None, str]:
    """bench/bench_backup.py: desk backup of this desk, desk restore into a fresh one."""
    from bench import bench_backup

    try:
        return bench_backup.run(db, url, workdir), ""
    except RuntimeError as err:
        return None, f"failed: {err}"


def report_bench(db: str, url: str, args) -> tuple[dict | None, str]:
    """bench/bench_reports.py's compile/publish measurements, on its own fresh database."""
    try:
        from bench import bench_reports
    except ImportError:
        return None, "n/a (reports not built)"
    if db == "postgresql":
        from sqlalchemy.engine import make_url

        url = make_url(url).set(database=make_url(url).database + "_rep").render_as_string(hide_password=False)
        url = bench_reports.fresh_database("postgresql", url)
    else:
        url = bench_reports.fresh_database("sqlite")
    try:
        return bench_reports.run(url, args.size, repeat=args.runs), ""
    finally:
        if db == "sqlite":
            shutil.rmtree(Path(url.split("///", 1)[1]).parent, ignore_errors=True)


def import_time(runs: int = 5) -> tuple[float, list[str]]:
    """Median seconds for ``import wsgi`` in a fresh interpreter; heavy modules it pulled in."""
    code = ("import sys, time; t = time.perf_counter(); import wsgi; d = time.perf_counter() - t; "
            "print(d); print(','.join(m for m in ('matplotlib', 'reportlab', 'pandas', 'numpy') if m in sys.modules))")
    times, heavy = [], []
    env = {**os.environ, "DESK_SECRET_KEY": SECRET, "DESK_DATABASE_URL": "sqlite:///:memory:"}
    for _ in range(runs):
        out = subprocess.run([python(), "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                             check=True).stdout.split("\n")
        times.append(float(out[0]))
        heavy = [m for m in out[1].split(",") if m]
    return statistics.median(times), heavy


# ---------------------------------------------------------------- the table


def table(columns: list[Column], args, imported: tuple[float, list[str]], have_wrk: bool) -> str:
    width = 34
    lines = [
        f"Requests Desk benchmark: {args.size:,} demands; gunicorn {args.workers} sync workers; wrk {args.connections} "
        f"connections, {args.seconds:g} s x {args.runs}, medians; {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.2f} at the end (uptime)",
        "",
        f"{'':<{width}}" + "".join(f"{c.db:<30}" for c in columns) + "goal",
    ]

    def cell(text: str) -> str:
        return f"{text:<30}"

    for page in PAGES:
        row = f"{page.label:<{width}}"
        for c in columns:
            if c.note.startswith("PostgreSQL not reachable"):
                row += cell("n/a")
                continue
            rps, base = c.rps.get(page.key), c.rps.get("hello")
            if rps is None:
                row += cell(c.errors.get(page.key, "n/a"))
                continue
            ratio = rps / base if base else 0
            verdict = "" if page.goal is None or args.smoke else (" ok" if ratio >= page.goal else " MISSED")
            row += cell(f"{rps:>8,.0f} req/s {ratio:5.2f}x{verdict}")
        row += f">= {page.goal}x" if page.goal else ("" if page.key != "hello" else "1.00x")
        lines.append(row)

    def report_row(label: str, render, goal: str) -> None:
        row = f"{label:<{width}}"
        for c in columns:
            if c.reports is None:
                row += cell(c.reports_note or ("n/a" if c.note else "n/a (reports not built)"))
            else:
                row += cell(render(c.reports))
        lines.append(row + goal)

    ok = lambda good: "" if args.smoke else (" ok" if good else " MISSED")  # noqa: E731
    report_row("report: raw SQL GROUP BY", lambda r: f"{r['raw_group_by_s'] * 1000:>8.1f} ms", "")
    report_row("report: compile", lambda r: f"{r['compile_s'] * 1000:>8.1f} ms {r['compile_ratio']:5.2f}x raw"
               + ok(r["compile_ratio"] <= 1.5), "<= 1.5x raw")
    report_row("report: publish", lambda r: f"{r['publish_s']:>8.2f} s" + ok(r["publish_s"] <= 1.0), "<= 1 s")
    report_row("peak memory: report compile", lambda r: f"{r['peak_compile_mb']:>8.1f} MB"
               + ok(r["peak_compile_mb"] <= 200), "<= 200 MB")
    row = f"{'peak memory: app worker (RSS)':<{width}}"
    for c in columns:
        row += cell(f"{c.worker_peak_mb:>8.1f} MB" if c.worker_peak_mb else "n/a")
    lines.append(row)
    for label, index in (("backup: desk backup", 0), ("restore: desk restore (into new)", 1)):
        row = f"{label:<{width}}"
        for c in columns:
            row += cell(bench_backup_cells(c.backup)[index] if c.backup else (c.backup_note or "n/a"))
        lines.append(row + "peak flat in size")
    for index, label in enumerate(("import: rows of a generated file", "export .csv: the file's demands",
                                   "export .xlsx: the file's demands", "export .csv: every demand of the desk",
                                   "export .xlsx: every demand of the desk")):
        row = f"{label:<{width}}"
        for c in columns:
            row += cell(sheets_cells(c.sheets)[index] if c.sheets else (c.sheets_note or "n/a"))
        lines.append(row + ("" if index == 0 else "peak flat in size"))
    row = f"{'load: desk demo (bulk path)':<{width}}"
    for c in columns:
        row += cell(f"{c.load_s:>8.1f} s ({c.command_s:.0f} s command)" if c.load_s is not None else "n/a")
    lines.append(row + ("<= 20 s per 100,000 (SQLite)"))
    seconds, heavy = imported
    lines.append(f"{'import wsgi':<{width}}{seconds:>8.3f} s" + ok(seconds <= 0.5)
                 + (f" (pulls in {', '.join(heavy)})" if heavy else "") + " " * 14 + "<= 0.5 s")
    notes = [c.note for c in columns if c.note]
    if not have_wrk:
        notes.append(WRK_MISSING)
    if args.smoke:
        notes.append("smoke run: too small and too short for verdicts; it checks that every page answers")
    lines += [""] + [f"note: {n}" for n in dict.fromkeys(notes)] if notes else []
    return "\n".join(lines)


def sheets_cells(result: dict) -> list[str]:
    """The spreadsheet rows' cells: the import, the file's export, the desk's export."""
    cells = [f"{result['import_s']:>8.1f} s {result['import_peak_mb']:5.0f} MB peak ({result['rows']:,})"]
    for export in (result["export"], result["desk_export"]):
        cells += [f"{export[f]['s']:>8.1f} s {export[f]['peak_mb']:5.0f} MB peak ({export[f]['rows']:,})"
                  for f in ("csv", "xlsx")]
    return cells


def bench_backup_cells(result: dict) -> tuple[str, str]:
    from bench import bench_backup

    return bench_backup.describe(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="demands per database (default 100000)")
    parser.add_argument("--smoke", action="store_true", help="a quick check: 2,000 demands, 1 s per page, 1 run")
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql or both (default)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per wrk run (default 5)")
    parser.add_argument("--runs", type=int, default=3, help="wrk runs per page; the median counts (default 3)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2,
                        help="gunicorn sync workers, the baseline's and the desk's alike (default 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=5105, help="hello-world on PORT, the desk on PORT+1")
    parser.add_argument("--pages-only", action="store_true", help="only the pages (no report, backup benchmarks)")
    parser.add_argument("--keep", metavar="DIR", help="build each desk into DIR once and reuse it in later runs")
    parser.add_argument("--json", metavar="FILE", help="also write the measurements as JSON")
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.seconds, args.runs = min(args.size, 2000), 1.0, 1
    have_wrk = shutil.which("wrk") is not None
    if not have_wrk:
        print(WRK_MISSING, file=sys.stderr)
    os.environ.setdefault("DESK_SECRET_KEY", SECRET)
    os.environ.setdefault("DESK_AUDIT_KEY", AUDIT_KEY)
    columns = []
    with tempfile.TemporaryDirectory(prefix="desk-bench-") as tmp:
        workdir = Path(tmp)
        for db in [d.strip() for d in args.db.split(",") if d.strip()]:
            if db == "sqlite":
                url = f"sqlite:///{workdir / 'desk.sqlite'}"
            elif db == "postgresql":
                url = os.environ.get("DESK_BENCH_DATABASE_URL") or DEFAULT_PG
                problem = pg_reachable(url)
                if problem:
                    columns.append(Column("postgresql", note=problem))
                    continue
            else:
                parser.error(f"unknown database {db}")
            columns.append(measure(db, url, args, workdir, have_wrk))
    imported = import_time()
    text = table(columns, args, imported, have_wrk)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "size": args.size, "import_wsgi_s": imported[0],
            "columns": [c.__dict__ for c in columns]}, indent=2, default=str))
    broken = any(e.startswith(("answered", "failed")) for c in columns for e in c.errors.values()) \
        or any(c.backup_note.startswith("failed") or (c.backup and not c.backup["verified"]) for c in columns) \
        or any(c.sheets_note.startswith("failed") for c in columns)
    return 1 if broken or (not have_wrk and not args.smoke) else 0


if __name__ == "__main__":
    sys.exit(main())
