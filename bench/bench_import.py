"""Spreadsheet import and export: time and peak memory (issue 14.5 and 14.6, SPEC §9).

    python -m bench.bench_import                       # 10,000 rows, both databases
    python -m bench.bench_import --rows 2000 --db sqlite

For each database: a fresh desk (``desk init``), a generated file of N rows (one row per
requested item, 1 to 3 rows per demand, two thirds of the demands closed history of
2023, the rest open, a few with a gag) imported by ``desk import`` as an operator runs
it, then exported again: the case list's export (``services/exporting.py`` under the
CSV and the Excel writers, every demand) written to a file. Each command is its own
process; peak memory is its peak resident set size (``wait4``), as in bench_backup.

``make bench`` also exports the 100,000-demand desk it built (``export_run``): the export
streams, so its peak should not grow with the number of rows.

PostgreSQL: ``DESK_BENCH_SHEETS_DATABASE_URL`` (default postgresql+psycopg://postgres@
127.0.0.1:5432/desk_bench_sheets); its schema is dropped and built again.
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .bench_backup import _LAUNCHER, _timed
from .run import AUDIT_KEY, ROOT, SECRET, _fresh_pg, pg_reachable, python

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/desk_bench_sheets"
AGENCIES = [("Metro Police Department", "metro-pd.example", "US", "law_enforcement"),
            ("Bundeskriminalamt", "bka.example", "DE", "law_enforcement"),
            ("Crown Prosecution Service", "cps.example", "GB", "government"),
            ("Tribunal judiciaire de Paris", "justice.example", "FR", "court")]
PROCESSES = ["search_warrant", "subpoena", "court_order", "mlat", "civil_subpoena"]
SETS = ["subscriber_info", "billing_records", "sign_in_logs", "message_metadata", "email_content",
        "stored_files"]
CLOSED = ["content_disclosed", "non_content_disclosed", "no_data_found", "rejected", "withdrawn", "redirected"]

# Exports every demand the desk holds (as a system reader: no compartment hidden) to
# argv[1] as csv or xlsx (argv[2]), and prints how many rows it wrote.
_EXPORT = """
import shutil, sys
from requests_desk.access import SYSTEM
from requests_desk.app import create_app
from requests_desk.db import utcnow
from requests_desk.services import exporting
from requests_desk.services.case_list import DemandFilters
from requests_desk.services.sheet_files import csv_stream, xlsx_file
app = create_app()
with app.app_context():
    session = app.extensions["desk"]["sessionmaker"]()
    counted = [0]
    def rows():
        for row in exporting.export_rows(session, DemandFilters(), SYSTEM, utcnow()):
            counted[0] += 1
            yield row
    with open(sys.argv[1], "wb") as out:
        if sys.argv[2] == "csv":
            for text in csv_stream(exporting.HEADER, rows()):
                out.write(text.encode("utf-8"))
        else:
            with xlsx_file(exporting.HEADER, rows()) as handle:
                shutil.copyfileobj(handle, out)
    print(counted[0])
"""


def write_file(path: Path, rows: int, seed: int = 1) -> int:
    """A CSV of ``rows`` rows; returns how many demands it describes."""
    rng = random.Random(seed)
    from requests_desk.services.import_check import COLUMN_NAMES

    demands = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(COLUMN_NAMES))
        writer.writeheader()
        written = 0
        while written < rows:
            demands += 1
            agency, domain, country, kind = rng.choice(AGENCIES)
            closed = rng.random() < 2 / 3
            month = rng.randint(1, 12)
            received = f"2023-{month:02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:15:00Z"
            head = {
                "external_id": f"BENCH-{demands:06d}", "received_at": received, "requester_type": kind,
                "requester_agency": agency, "requester_name": f"Officer {rng.randint(1, 400)}",
                "requester_email": f"officer{rng.randint(1, 400)}@{domain}", "country": country,
                "process_type": rng.choice(PROCESSES), "legal_reference": f"CASE-{demands:06d}",
                "emergency": "no",
            }
            if closed:
                outcome = rng.choice(CLOSED)
                head.update(outcome=outcome, closed_at=f"2023-{month:02d}-28T23:59:00Z")
                if head["process_type"] == "subpoena" and outcome == "content_disclosed":
                    head["outcome"] = "non_content_disclosed"
            if rng.random() < 0.05:
                head.update(gag_order_ref=f"NDO-{demands}", gag_issued_by="District Court",
                            gag_expires_at="2024-12-31")
            targets = [f"user{rng.randint(1, 50_000)}@{rng.choice(['contoso.com', 'example.org', 'mail.example'])}"
                       for _ in range(rng.randint(1, 2))]
            items = min(rng.randint(1, 3), rows - written)
            used = set()
            for n in range(items):
                target = targets[n % len(targets)]
                data_set = rng.choice([s for s in SETS if (target, s) not in used])
                used.add((target, data_set))
                row = dict(head) if n == 0 else {"external_id": head["external_id"]}
                row.update(target=target, data_set=data_set, **{"from": "2022-01-01", "to": "2022-12-31"})
                writer.writerow(row)
                written += 1
    return demands


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Seconds, peak resident memory (MB) and stdout of ``python args…`` (peak: bench_backup's launcher)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.run([python(), "-c", _LAUNCHER, python(), *args], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=err)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{args[:2]} exited {proc.returncode}: {err.read().decode().strip()[-800:]}")
    stdout, _, peak = proc.stdout.decode().rstrip().rpartition("\npeak-rss-kib ")
    return seconds, int(peak) / 1024, stdout


def export_run(url: str, workdir: Path, env: dict[str, str] | None = None) -> dict:
    """Export every demand of the desk at ``url`` as CSV and as Excel: seconds, peak MB, rows."""
    env = {**os.environ, "DESK_DATABASE_URL": url, "DESK_SECRET_KEY": SECRET, **(env or {})}
    out: dict = {}
    for fmt in ("csv", "xlsx"):
        target = workdir / f"export.{fmt}"
        seconds, peak, said = _run(["-c", _EXPORT, str(target), fmt], env)
        out[fmt] = {"s": seconds, "peak_mb": peak, "rows": int(said.split()[-1]), "bytes": target.stat().st_size}
        target.unlink()
    return out


def run(db: str, url: str, workdir: Path, rows: int = 10_000) -> dict:
    """A fresh desk at ``url``, ``rows`` rows imported into it, then exported."""
    if db == "postgresql":
        _fresh_pg(url)
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(url.split("///", 1)[1] + suffix).unlink(missing_ok=True)
    env = {**os.environ, "DESK_DATABASE_URL": url, "DESK_SECRET_KEY": SECRET,
           "DESK_AUDIT_KEY": os.environ.get("DESK_AUDIT_KEY", AUDIT_KEY),
           "DESK_INSTANCE_PATH": str(workdir / f"instance-sheets-{db}"),
           "DESK_UPLOAD_DIR": str(workdir / f"uploads-sheets-{db}")}
    _timed(["init"], env)
    path = workdir / f"import-{rows}.csv"
    demands = write_file(path, rows)
    seconds, peak, said = _timed(["import", str(path)], env)
    if f"Imported {demands:,} demands" not in said:
        raise RuntimeError(f"desk import said: {said.strip()[-300:]}")
    path.unlink()
    return {"rows": rows, "demands": demands, "import_s": seconds, "import_peak_mb": peak,
            "export": export_run(url, workdir, env)}


def describe(result: dict) -> list[tuple[str, str]]:
    """(label, cell) lines for a table."""
    rate = result["rows"] / result["import_s"] if result["import_s"] else 0
    lines = [(f"import: {result['rows']:,} rows ({result['demands']:,} demands)",
              f"{result['import_s']:>8.1f} s {result['import_peak_mb']:5.0f} MB peak ({rate:,.0f} rows/s)")]
    for fmt, label in (("csv", "export: .csv"), ("xlsx", "export: .xlsx")):
        e = result["export"][fmt]
        lines.append((f"{label} of {e['rows']:,} rows", f"{e['s']:>8.1f} s {e['peak_mb']:5.0f} MB peak"))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_import", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the generated file (default 10000)")
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    os.environ.setdefault("DESK_SECRET_KEY", SECRET)
    os.environ.setdefault("DESK_AUDIT_KEY", AUDIT_KEY)
    failed = False
    with tempfile.TemporaryDirectory(prefix="desk-bench-sheets-") as tmp:
        workdir = Path(tmp)
        for db in [d.strip() for d in args.db.split(",") if d.strip()]:
            url = f"sqlite:///{workdir / 'sheets.sqlite'}" if db == "sqlite" else \
                os.environ.get("DESK_BENCH_SHEETS_DATABASE_URL") or DEFAULT_PG
            if db == "postgresql" and (problem := pg_reachable(url)):
                print(f"{db}: {problem}")
                continue
            print(f"[{db}] importing {args.rows:,} rows, then exporting them …", file=sys.stderr, flush=True)
            try:
                result = run(db, url, workdir, args.rows)
            except RuntimeError as err:
                print(f"{db}: failed: {err}")
                failed = True
                continue
            print(f"{db}:")
            for label, cell in describe(result):
                print(f"  {label:<40}{cell}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
