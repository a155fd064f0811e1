"""Where ``desk demo``'s bulk load spends its time, one part at a time (SQLite).

    python -m bench.demo_parts --size 100000

``desk demo`` runs its parts at once: two forked workers draw and replay the cases
into rows while the loading process receives them, numbers them, chains the audit
log and writes them in a writer thread. On two cores the load is as long as all of it
divided by two, at best. Here, on a fresh SQLite desk in a temporary directory, each
part runs alone, one after the other, in this process:

1. the replay: every chunk drawn and replayed into rows (``loader._generated_chunk``,
   what the workers do between them);
2. the chunks' trip between processes: pickled, as a worker sends them, and unpickled,
   as the loading process receives them;
3. the write: the same chunks numbered and chained (``BulkLoader._absorb``, ``_chain``)
   and written (``DeskWriter.flush``), then the indexes, the report summary and the
   search terms built (``DeskWriter.finish``): the load as if the replay cost nothing;
4. SQLite alone: the same rows copied by SQLite from that desk into a copy of the desk
   as it was before the load (``INSERT … SELECT``, table by table, no Python between
   the rows), then ``DeskWriter.finish`` as in 3: what writing this many rows costs
   however fast they are made.

CPU seconds of each, and of each step of the write (timed by wrapping the loader's and
the writer's own methods for this run). What the command does around the load (the
demo's users, ANALYZE, the reports) is not measured here: ``bench.run`` times the
whole command.
"""
from __future__ import annotations

import argparse
import functools
import os
import pickle
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .run import AUDIT_KEY, SECRET


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.demo_parts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="demands (default 100000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ.setdefault("DESK_AUDIT_KEY", AUDIT_KEY)
    with tempfile.TemporaryDirectory(prefix="desk-demo-parts-") as tmp:
        for line in measure(Path(tmp), args.size, args.seed):
            print(line, flush=True)
    return 0


def measure(tmp: Path, size: int, seed: int) -> list[str]:
    from requests_desk import demo
    from requests_desk.app import create_app
    from requests_desk.audit import session_key
    from requests_desk.db import utcnow
    from requests_desk.demo import loader, writer
    from requests_desk.demo.cases import showcase
    from requests_desk.demo.planner import CasePlanner
    from requests_desk.migrate import upgrade_schema
    from requests_desk.rules import load_rules

    app = create_app({"DESK_DATABASE_URL": f"sqlite:///{tmp / 'desk.sqlite'}", "SECRET_KEY": SECRET,
                      "DESK_UPLOAD_DIR": str(tmp / "uploads")})
    engine, sessions = app.extensions["desk"]["engine"], app.extensions["desk"]["sessionmaker"]
    upgrade_schema(engine)
    now = utcnow().replace(microsecond=0)
    with sessions() as session:
        load_rules(session)
        world = demo.create_world(session, now)
        session.commit()
        key = session_key(session)
    engine.dispose()
    shutil.copyfile(tmp / "desk.sqlite", tmp / "before.sqlite")  # for part 4: the desk before the load
    bulk = loader.BulkLoader(engine, world, now, audit_key=key, upload_dir=tmp / "uploads", seed=seed)
    planner = CasePlanner(world, bulk.now, seed)
    times = planner.logged_times(size)
    fates = planner.fates(times, showcase)
    chunks_n = -(-size // CasePlanner.CHUNK)
    lines: list[str] = []
    steps: dict[str, float] = {}
    started: list[float] = []  # when the write began: wall, CPU

    def timed(owner: object, name: str, label: str) -> None:
        method = getattr(owner, name)

        @functools.wraps(method)
        def wrapper(*a, **k):
            start = time.thread_time()
            try:
                return method(*a, **k)
            finally:
                steps[label] = steps.get(label, 0.0) + time.thread_time() - start

        setattr(owner, name, wrapper)

    def chunks(state: dict):
        starts = loader.chunk_start_counters(times, chunks_n, state["counters"])
        cpu = time.process_time()
        made = [loader._generated_chunk(planner, bulk.maker, times, fates, starts, state, c) for c in range(chunks_n)]
        lines.append(f"1. replay (what the workers do):    {time.process_time() - cpu:6.1f} s CPU")
        cpu = time.process_time()
        sent = [pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL) for chunk in made]
        pickled = time.process_time() - cpu
        cpu = time.process_time()
        for blob in sent:
            pickle.loads(blob)
        lines.append(f"2. between processes: pickled {pickled:.1f} s, unpickled {time.process_time() - cpu:.1f} s CPU "
                     f"({sum(map(len, sent)) / 1e6:,.0f} MB)")
        del sent
        started[:] = [time.perf_counter(), time.process_time()]
        yield from made

    wrapped = ((loader.BulkLoader, "_absorb", "number the rows (_absorb)"),
               (loader.BulkLoader, "_chain", "chain the audit log (_chain)"),
               (writer.DeskWriter, "flush", "insert the rows (flush, writer thread)"),
               (writer.DeskWriter, "finish", "indexes, summary, search terms (finish)"))
    originals = [(owner, name, getattr(owner, name)) for owner, name, _label in wrapped]
    for owner, name, label in wrapped:
        timed(owner, name, label)
    try:
        written = bulk._write(chunks, workers=0).rows
    finally:
        for owner, name, method in originals:
            setattr(owner, name, method)
    wall, cpu = started
    lines.append(f"3. write ({written:,} rows, as the replay gave them): {time.perf_counter() - wall:6.1f} s, "
                 f"{time.process_time() - cpu:.1f} s CPU (all threads)")
    lines += [f"   {label:<42} {seconds:6.1f} s CPU" for label, seconds in steps.items()]
    lines += copied_by_sqlite(tmp, key)
    return lines


def copied_by_sqlite(tmp: Path, key: bytes) -> list[str]:
    """Part 4: the loaded rows copied by SQLite into the desk as it was before the load,
    with the writer's own start (indexes and triggers dropped, one transaction) and end."""
    from requests_desk.db import make_engine
    from requests_desk.demo.rows import LOADED_TABLES
    from requests_desk.demo.writer import DeskWriter

    engine = make_engine(f"sqlite:///{tmp / 'before.sqlite'}")
    writer = DeskWriter(engine, key)
    writer.open()
    try:
        writer.cur.execute("ATTACH DATABASE ? AS loaded", (str(tmp / "desk.sqlite"),))
        first = writer.prepare()["next_id"]  # the world's own rows are there already
        wall, cpu = time.perf_counter(), time.process_time()
        rows = 0
        for table in LOADED_TABLES:  # parents first
            cols = ", ".join(f'"{c.name}"' for c in table.columns)
            writer.cur.execute(f'INSERT INTO main."{table.name}" ({cols}) SELECT {cols} '
                               f'FROM loaded."{table.name}" WHERE id >= ? ORDER BY id', (first[table.name],))
            rows += writer.cur.rowcount
        copied = (time.perf_counter() - wall, time.process_time() - cpu)
        wall, cpu = time.perf_counter(), time.process_time()
        writer.finish(first["demands"])
        finished = (time.perf_counter() - wall, time.process_time() - cpu)
    finally:
        writer.close()
        engine.dispose()
    return [f"4. SQLite alone: {rows:,} rows copied (INSERT … SELECT) {copied[0]:6.1f} s, then finish "
            f"{finished[0]:.1f} s: {copied[0] + finished[0]:.1f} s ({copied[1] + finished[1]:.1f} s CPU)"]


if __name__ == "__main__":
    sys.exit(main())
