"""The bulk path: case specs replayed into rows (``rows.ChunkMaker``), numbered, chained
into the audit log and written (``writer.DeskWriter``), fast enough for a million demands.

For ``desk demo`` the specs are drawn and replayed in forked worker processes, chunk by
chunk, while this process numbers the rows, chains the audit log (one hash chain, in time
order across all demands) and hands batches to a writer thread: the drivers let go of the
GIL while the database works, so a batch is written while the next one is chained."""
from __future__ import annotations

import gc
import time
from bisect import bisect_left
from contextlib import nullcontext
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy.engine import Engine

from ..audit import chain_hash, hashed_fields
from ..services.intake import requester_key
from .cases import CaseSpec, showcase
from .clock import at, key_time
from .planner import CasePlanner
from .rows import LOADED_TABLES, NUMBERED, TABLES, Chunk, ChunkMaker, row_maker
from .world import World
from .writer import DeskWriter


@dataclass
class LoadResult:
    demands: int = 0
    events: int = 0
    rows: int = 0
    seconds: float = 0.0
    workers: int = 0
    reports: list[str] = field(default_factory=list)


_ORDER = itemgetter(0)  # an event's order key

# What a forked worker needs; set by BulkLoader.load_generated before the pool forks.
_WORKER: dict[str, Any] = {}


def _worker_chunk(chunk_no: int) -> Chunk:
    job = _WORKER
    return _generated_chunk(job["planner"], job["maker"], job["times"], job["fates"], job["start_counters"],
                            job["state"], chunk_no)


def chunk_start_counters(times: list, chunks_n: int, counters: dict[int, int]) -> list[dict[int, int]]:
    """Each chunk's reference counters as it starts: references follow the order of
    logging, so a chunk goes on from the years' counts of the chunks before it."""
    starts, counters = [], dict(counters)
    for c in range(chunks_n):
        starts.append(dict(counters))
        for _logged, received in times[c * CasePlanner.CHUNK:(c + 1) * CasePlanner.CHUNK]:
            year = at(received).year
            counters[year] = counters.get(year, 0) + 1
    return starts


def _generated_chunk(planner: CasePlanner, maker: ChunkMaker, times, fates, start_counters, state: dict,
                     chunk_no: int) -> Chunk:
    cases = list(planner.chunk(chunk_no, times, fates))
    return maker.make(cases, state["demand_base"], start_counters[chunk_no], planner.seed * 1_000_033 + chunk_no,
                      state["document_base"])


class BulkLoader:
    """Writes demands with executemany (SQLite) or COPY (PostgreSQL); see writer.DeskWriter
    for what each database's transactions leave behind.

    ``load(cases)`` replays given specs in this process; ``load_generated`` draws them
    in forked worker processes while this one chains the audit log and writes."""

    def __init__(self, engine: Engine, world: World, now: datetime, *, audit_key: bytes, upload_dir: Path,
                 seed: int = 1, on_progress: Callable[[int], None] | None = None, commit_every: int = 5_000):
        if not audit_key:
            raise ValueError("the bulk loader chains the audit log: it needs the audit key")
        self.engine = engine
        self.audit_key = audit_key
        self.world = world
        self.now = now.replace(microsecond=0)
        self.seed = seed
        self.on_progress = on_progress
        self.commit_every = commit_every
        self.upload_dir = Path(upload_dir)
        self.maker = ChunkMaker(world, self.now, engine.dialect.name, self.upload_dir)
        self.maker.enc.check(engine.dialect)
        tables = {t.name: t for t in LOADED_TABLES}
        self.requester_row = row_maker(tables["requesters"])
        self.audit_row = row_maker(tables["audit_events"])
        self.requester_at = TABLES["demands"].index("requester_id")
        self.stored_at = TABLES["documents"].index("stored_name")
        self.stored_names: list[str] = []  # the documents' files this load wrote
        self.gag_at = tuple(c for c in TABLES["gag_events"] if c != "id").index("gag_id")

    # ------------------------------------------------------------ the two ways in

    def load(self, cases: Iterable[CaseSpec], chunk: int = 2000) -> LoadResult:
        """Replay the given specs (in index order) here and write them."""
        def chunks(state: dict) -> Iterator[Chunk]:
            counters, batch = state["counters"], []
            for case in cases:
                batch.append(case)
                if len(batch) >= chunk:
                    made = self.maker.make(batch, state["demand_base"], counters, self.seed * 1_000_033 + batch[0].index,
                                           state["document_base"])
                    counters, batch = made.counters, []
                    yield made
            if batch:
                yield self.maker.make(batch, state["demand_base"], counters, self.seed * 1_000_033 + batch[0].index,
                                      state["document_base"])

        return self._write(chunks, workers=0)

    def load_generated(self, count: int, fates=showcase, workers: int | None = None) -> LoadResult:
        """Draw ``count`` cases (as generate_cases would) and write them; the drawing
        and replaying runs in forked workers when the platform allows."""
        import multiprocessing
        import os

        planner = CasePlanner(self.world, self.now, self.seed)
        times = planner.logged_times(count)
        fates = planner.fates(times, fates)
        chunks_n = -(-count // CasePlanner.CHUNK)
        if workers is None:  # a worker pays off from some thousands of demands
            cpus = os.cpu_count() or 1
            workers = 0 if count < 20_000 else max(2, min(3, cpus - 1))
        if "fork" not in multiprocessing.get_all_start_methods():
            workers = 0

        def chunks(state: dict) -> Iterator[Chunk]:
            start_counters = chunk_start_counters(times, chunks_n, state["counters"])
            if not workers:
                for c in range(chunks_n):
                    yield _generated_chunk(planner, self.maker, times, fates, start_counters, state, c)
                return
            fork = multiprocessing.get_context("fork")
            self.maker.files_lock = fork.Lock()  # one worker creates files at a time (ChunkMaker)
            _WORKER.update(planner=planner, maker=self.maker, times=times, fates=fates,
                           start_counters=start_counters, state=state)
            # Everything made so far (the app, the world, the drawn times) is kept out of the
            # collector's passes, here and in the workers: a full pass walked it all, and in
            # a worker wrote to each of its pages, copying them from this process.
            gc.freeze()
            try:
                with fork.Pool(workers) as pool:
                    # A few chunks ahead at most: the writer sets the pace, memory stays flat.
                    ahead = [pool.apply_async(_worker_chunk, (c,)) for c in range(min(chunks_n, 2 * workers))]
                    for c in range(chunks_n):
                        result = ahead.pop(0).get()
                        if c + len(ahead) + 1 < chunks_n:
                            ahead.append(pool.apply_async(_worker_chunk, (c + len(ahead) + 1,)))
                        yield result
            finally:
                gc.unfreeze()
                _WORKER.clear()
                self.maker.files_lock = nullcontext()

        return self._write(chunks, workers=workers)

    # ------------------------------------------------------------ writing

    def _write(self, chunks: Callable[[dict], Iterator[Chunk]], workers: int) -> LoadResult:
        """Number, chain and write the chunks; every database call runs in the writer thread."""
        started = time.perf_counter()
        result = LoadResult(workers=workers)
        if self.engine.dialect.name == "sqlite":
            self.engine.dispose()  # our pooled connections must not keep the database in WAL mode
        writer = DeskWriter(self.engine, self.audit_key)
        with ThreadPoolExecutor(1, thread_name_prefix="desk-bulk-writer") as db:
            db.submit(writer.open).result()
            try:
                state = db.submit(writer.prepare).result()
                self.next_id, self.requesters = state["next_id"], state["requesters"]
                self.prev_hash, self.seq = state["head"]
                self.counters = dict(state["counters"])
                state["demand_base"] = self.next_id["demands"]
                state["document_base"] = self.next_id["documents"]
                self.rows: dict[str, list[tuple]] = {t: [] for t in TABLES}
                self.runs: list[list[tuple]] = []  # each chunk's events not chained yet, in key order
                in_flight: list[Future] = []
                pending = 0

                def flush() -> None:
                    rows, self.rows = self.rows, {t: [] for t in TABLES}
                    in_flight.append(db.submit(writer.flush, rows, (self.prev_hash, self.seq), dict(self.counters)))
                    while len(in_flight) > 1:  # one batch written, the next one waiting: no more
                        result.rows += in_flight.pop(0).result()

                for chunk in chunks(state):
                    self._absorb(chunk)
                    result.events += self._chain(chunk.last_key)
                    result.demands += chunk.count
                    pending += chunk.count
                    if pending >= self.commit_every:
                        flush()
                        if self.on_progress:
                            self.on_progress(pending)
                        pending = 0
                result.events += self._chain(None)
                flush()
                for future in in_flight:
                    result.rows += future.result()
                db.submit(writer.finish, state["demand_base"]).result()
                if self.on_progress and pending:
                    self.on_progress(pending)
            except BaseException:
                db.submit(writer.rollback).result()
                db.submit(self._remove_files_not_loaded, writer).result()
                raise
            finally:
                db.submit(writer.close).result()
        result.seconds = time.perf_counter() - started
        return result

    def _remove_files_not_loaded(self, writer: DeskWriter) -> None:
        """After a failed load: remove the documents' files whose rows were not committed
        (a chunk still in a worker when the load failed may leave its files behind)."""
        kept = writer.stored_names(self.stored_names)
        for name in self.stored_names:
            if name not in kept:
                (self.upload_dir / name).unlink(missing_ok=True)

    def _absorb(self, chunk: Chunk) -> None:
        """Number the chunk's rows, give its demands their requester ids (new requesters
        in order of first appearance, as intake creates them) and queue its events."""
        rows, next_id = self.rows, self.next_id
        requesters, new_requesters = self.requesters, rows["requesters"]
        k = self.requester_at
        out = rows["demands"]
        for row in chunk.rows["demands"]:
            req = row[k]
            key = requester_key(req)
            rid = requesters.get(key)
            if rid is None:
                rid = requesters[key] = next_id["requesters"]
                next_id["requesters"] = rid + 1
                new_requesters.append(self.requester_row(id=rid, **req))
            out.append(row[:k] + (rid,) + row[k + 1:])
        for year, last in chunk.counters.items():
            if last > self.counters.get(year, 0):
                self.counters[year] = last
        documents = chunk.rows["documents"]
        rows["documents"] += documents
        self.stored_names += [row[self.stored_at] for row in documents]
        gag_base, g = next_id["gags"], self.gag_at
        notice_base = next_id["notices"]
        for table in NUMBERED:
            src = chunk.rows[table]
            if not src:
                continue
            n = next_id[table]
            out = rows[table]
            if table == "gag_events":  # a gag event names its gag by its number in the chunk
                for row in src:
                    out.append((n,) + row[:g] + (gag_base + row[g],) + row[g + 1:])
                    n += 1
            else:
                for row in src:
                    out.append((n,) + row)
                    n += 1
            next_id[table] = n
        run = []
        for e in chunk.events:
            if e[10] is None:  # a notice's event: its notice has its id now
                key, at_, actor_id, actor, action, before, after, did, object_type, number, _ = e
                notice_id = notice_base + number
                e = (key, at_, actor_id, actor, action, before, after, did, object_type, notice_id,
                     hashed_fields(self.maker.enc.utc(key_time(key)), actor_id, actor, action, object_type,
                                   notice_id, did, before, after))
            run.append(e)
        if run:
            self.runs.append(run)

    def _chain(self, until_key: int | None) -> int:
        """Number and chain the queued events that come before ``until_key`` (all: None).
        Each chunk's events come in key order: the parts due are merged by one sort (a
        heap of all the events waiting cost a push and a pop of some twenty comparisons
        each, over a third of this thread's time)."""
        due: list[tuple] = []
        for events in self.runs:
            end = len(events) if until_key is None else bisect_left(events, until_key, key=_ORDER)
            due += events[:end]
            del events[:end]  # chained events are let go of at once, as the heap let go of them
        self.runs = [events for events in self.runs if events]
        due.sort(key=_ORDER)  # keys are unique: the order the service path meets the events in
        make, audit_rows = self.audit_row, self.rows["audit_events"]
        prev, seq, next_id, key = self.prev_hash, self.seq, self.next_id["audit_events"], self.audit_key
        start = seq
        for _key, at_, actor_id, actor, action, before, after, demand_id, object_type, object_id, fields in due:
            seq += 1
            digest = chain_hash(key, prev, seq, fields)
            audit_rows.append(make(id=next_id, seq=seq, at=at_, actor_id=actor_id, actor=actor, action=action,
                                   object_type=object_type, object_id=object_id, demand_id=demand_id, before=before,
                                   after=after, prev_hash=prev, hash=digest))
            next_id += 1
            prev = digest
        self.prev_hash, self.seq, self.next_id["audit_events"] = prev, seq, next_id
        return seq - start
