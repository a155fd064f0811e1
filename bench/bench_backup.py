"""Backup and restore of a demo desk: time and peak memory (issue 13.1, SPEC §8).

    python -m bench.bench_backup --size 100000              # both databases
    python -m bench.bench_backup --size 20000 --db sqlite

``make bench`` runs ``run`` on each database's desk after its pages; alone, this module
builds the desks itself (``bench.run.build_desk``). Each command runs as its own process,
as an operator runs it: ``desk backup`` of the desk, ``desk init`` and ``desk restore``
into a fresh database of the same kind, ``desk verify-audit`` of the result. Peak memory
is the child's peak resident set size (``wait4``'s ``ru_maxrss``): with rows streamed in
batches it should not grow with the desk.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .run import AUDIT_KEY, DEFAULT_PG, ROOT, SECRET, _fresh_pg, build_desk, pg_reachable, python


# A fork starts with its parent's peak RSS on Linux (ru_maxrss survives exec), and the
# bench's process holds a built desk: the command is forked from this small launcher
# instead, which prints the command's own peak (KiB) as its last line.
_LAUNCHER = ("import os, sys\n"
             "pid = os.fork()\n"
             "if pid == 0:\n"
             "    os.execv(sys.argv[1], sys.argv[1:])\n"
             "_, status, usage = os.wait4(pid, 0)\n"
             "print(f'\\npeak-rss-kib {usage.ru_maxrss}', flush=True)\n"
             "sys.exit(os.waitstatus_to_exitcode(status))\n")


def _timed(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Seconds, peak resident memory (MB) and stdout of one ``flask desk …`` process."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.run([python(), "-c", _LAUNCHER, python(), "-m", "flask", "--app", "wsgi", "desk", *args],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"desk {args[0]} exited {proc.returncode}: {err.read().decode().strip()[-500:]}")
    stdout, _, peak = proc.stdout.decode().rstrip().rpartition("\npeak-rss-kib ")
    return seconds, int(peak) / 1024, stdout


def run(db: str, url: str, workdir: Path) -> dict:
    """Back up the desk at ``url`` and restore it into a fresh desk of the same kind."""
    from sqlalchemy.engine import make_url

    from requests_desk.app import create_app

    # The settings the bench's desk was built with (build_desk): its audit key and uploads.
    app = create_app({"DESK_DATABASE_URL": url, "SECRET_KEY": SECRET})
    source = {**os.environ, "DESK_DATABASE_URL": url, "DESK_SECRET_KEY": SECRET,
              "DESK_AUDIT_KEY": str(app.config["DESK_AUDIT_KEY"]),
              "DESK_UPLOAD_DIR": app.config["DESK_UPLOAD_DIR"]}
    app.extensions["desk"]["engine"].dispose()
    path = workdir / f"backup-{db}.tar"
    path.unlink(missing_ok=True)
    backup_s, backup_mb, _ = _timed(["backup", str(path)], source)
    if db == "postgresql":
        target_url = make_url(url).set(database=make_url(url).database + "_restore").render_as_string(
            hide_password=False)
        _fresh_pg(target_url)
    else:
        target_url = f"sqlite:///{workdir / 'restored.sqlite'}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{workdir / 'restored.sqlite'}{suffix}").unlink(missing_ok=True)
    target = {**source, "DESK_DATABASE_URL": target_url, "DESK_UPLOAD_DIR": str(workdir / f"restored-{db}")}
    _timed(["init"], target)
    restore_s, restore_mb, said = _timed(["restore", str(path)], target)
    _, _, verified = _timed(["verify-audit"], target)
    rows = int(said.split()[1].replace(",", ""))
    size = path.stat().st_size
    path.unlink()
    return {"backup_s": backup_s, "backup_peak_mb": backup_mb, "restore_s": restore_s,
            "restore_peak_mb": restore_mb, "bytes": size, "rows": rows, "verified": "intact" in verified}


def describe(result: dict) -> tuple[str, str]:
    """The table's two cells: backup and restore."""
    return (f"{result['backup_s']:>8.1f} s {result['backup_peak_mb']:5.0f} MB peak",
            f"{result['restore_s']:>8.1f} s {result['restore_peak_mb']:5.0f} MB peak"
            + ("" if result["verified"] else " AUDIT NOT VERIFIED"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_backup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ.setdefault("DESK_SECRET_KEY", SECRET)
    os.environ.setdefault("DESK_AUDIT_KEY", AUDIT_KEY)
    with tempfile.TemporaryDirectory(prefix="desk-bench-backup-") as tmp:
        workdir = Path(tmp)
        os.environ.setdefault("DESK_INSTANCE_PATH", str(workdir / "instance"))
        for db in [d.strip() for d in args.db.split(",") if d.strip()]:
            url = f"sqlite:///{workdir / 'desk.sqlite'}" if db == "sqlite" else \
                os.environ.get("DESK_BENCH_DATABASE_URL") or DEFAULT_PG
            if db == "postgresql" and (problem := pg_reachable(url)):
                print(f"{db}: {problem}")
                continue
            print(f"[{db}] building a desk of {args.size:,} demands …", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            build_desk(db, url, args.size, args.seed, workdir)
            print(f"[{db}] built in {time.perf_counter() - t0:.0f} s; backing up and restoring …",
                  file=sys.stderr, flush=True)
            result = run(db, url, workdir)
            backup, restore = describe(result)
            print(f"{db}: {args.size:,} demands, {result['rows']:,} rows, backup file {result['bytes'] / 1e6:,.0f} MB")
            print(f"  {'backup: desk backup':<30}{backup}")
            print(f"  {'restore: desk restore':<30}{restore}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
