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
   search terms built (``DeskWriter.finish``): the load as if the replay cost nothing.

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
    from requests_desk.demo.clock import at
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
        starts, counters = [], dict(state["counters"])
        for c in range(chunks_n):  # each chunk's reference counters, as load_generated works them out
            starts.append(dict(counters))
            for _logged, received in times[c * CasePlanner.CHUNK:(c + 1) * CasePlanner.CHUNK]:
                counters[at(received).year] = counters.get(at(received).year, 0) + 1
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
        bulk._write(chunks, workers=0)
    finally:
        for owner, name, method in originals:
            setattr(owner, name, method)
    wall, cpu = started
    lines.append(f"3. write (the replay's rows as given): {time.perf_counter() - wall:6.1f} s, "
                 f"{time.process_time() - cpu:.1f} s CPU (all threads)")
    lines += [f"   {label:<42} {seconds:6.1f} s CPU" for label, seconds in steps.items()]
    return lines


if __name__ == "__main__":
    sys.exit(main())
