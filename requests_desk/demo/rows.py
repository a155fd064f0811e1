"""Rows as the bulk writer sends them: the tables it loads and their columns come from the
models' metadata; ``ChunkMaker`` turns replayed cases into a chunk of such rows."""
from __future__ import annotations

import keyword
import os
import random
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from operator import itemgetter
from pathlib import Path
from secrets import token_bytes
from typing import Callable, Iterable, Iterator

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

from ..audit import hashed_fields
from ..db import Base, UTCDateTime
from ..models import (
    Assignment,
    AuditEvent,
    Demand,
    DemandItem,
    DemandTarget,
    Document,
    DueDateChange,
    EmergencyCheck,
    Gag,
    GagEvent,
    Notice,
    NoticeDeferral,
    PreservationHold,
    ProductionFile,
    Requester,
)
from ..private_files import private_dir, write_private
from ..services.intake import format_reference
from .cases import CaseSpec
from .clock import DAY, UTC, day, key_time, order_key, seconds, seconds_or_none
from .replay import CaseReplay, actors_of
from .world import World

LOADED_MODELS = (Requester, Demand, DemandTarget, DemandItem, Document, ProductionFile, Assignment, DueDateChange,
                 PreservationHold, Gag, GagEvent, NoticeDeferral, Notice, EmergencyCheck, AuditEvent)
# The loaded tables, parents before children (the metadata's order).
LOADED_TABLES: tuple[Table, ...] = tuple(
    t for t in Base.metadata.sorted_tables if t in {m.__table__ for m in LOADED_MODELS})
TABLES = {t.name: tuple(c.name for c in t.columns) for t in LOADED_TABLES}
# Tables whose rows a chunk brings without their own id (the writer numbers them); a
# demand and its legal process (one document each) bring their ids, its requester is
# numbered by the writer, audit events are chained.
NUMBERED = tuple(name for name in TABLES if name not in ("requesters", "demands", "documents", "audit_events"))


def row_maker(table: Table, leave_out: Iterable[str] = ()) -> Callable[..., tuple]:
    """A function that takes a row's values by column name and returns them as a tuple in
    the table's column order (without the ``leave_out`` columns), as executemany and COPY
    take them. A column left unnamed takes its scalar default, or NULL where it may; any
    other is a required argument, so a new NOT NULL column without a default stops the
    load at its first row until the demo fills it."""
    leave_out = set(leave_out)
    params, names, defaults = [], [], {}
    for column in table.columns:
        if column.name in leave_out:
            continue
        if not column.name.isidentifier() or keyword.iskeyword(column.name):
            raise ValueError(f"{table.name}.{column.name} cannot be a keyword argument")
        names.append(column.name)
        scalar = column.default is not None and column.default.is_scalar
        if scalar or column.nullable:
            defaults[column.name] = column.default.arg if scalar else None
            params.append(f"{column.name}=_defaults[{column.name!r}]")
        else:
            params.append(column.name)
    source = (f"def {table.name}_row(*, {', '.join(params)}):\n"
              f"    return ({''.join(f'{n}, ' for n in names)})\n")
    namespace: dict = {"_defaults": defaults}
    exec(source, namespace)  # nosec B102 - source made from the model's own column names, no input; one plain function per table: a row costs a call, not a loop over columns
    return namespace[f"{table.name}_row"]


class Encoding:
    """Values as the bulk writer hands them to the driver. A time is the text its column
    keeps: on SQLite naive UTC with microseconds, as SQLAlchemy stores ``UTCDateTime``
    (``check`` compares with SQLAlchemy's own processor); on PostgreSQL timestamptz text
    that COPY reads. The demo's times are whole seconds; each day's text is made once."""

    def __init__(self, dialect_name: str):
        self.sqlite = dialect_name == "sqlite"
        self.tail = ".000000" if self.sqlite else "+00"
        self._days: dict[int, str] = {}
        self._dates: dict[date, str] = {}
        self._clock = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(DAY)]

    def dt(self, s: int | None) -> str | None:
        """Epoch seconds as the column takes them."""
        if s is None:
            return None
        return f"{self._day(s)} {self._clock[s % DAY]}{self.tail}"

    def utc(self, s: int) -> str:
        """Epoch seconds as the audit chain's hashes spell a time (``audit._utc_text``)."""
        return f"{self._day(s)}T{self._clock[s % DAY]}.000000Z"

    def _day(self, s: int) -> str:
        """The ISO date of epoch second ``s``, each day spelled once."""
        text = self._days.get(s // DAY)
        if text is None:
            text = self._days[s // DAY] = day(s // DAY).isoformat()
        return text

    def dt_of(self, value: datetime | None) -> str | None:
        return self.dt(seconds_or_none(value))

    def date(self, value: date | None) -> str | None:
        if value is None:
            return None
        text = self._dates.get(value)
        if text is None:
            text = self._dates[value] = value.isoformat()
        return text

    def check(self, dialect: Dialect) -> None:
        """Our text for a time is what SQLAlchemy would bind for it (SQLite), and what the
        audit chain hashes (both databases)."""
        sample = datetime(2024, 2, 29, 13, 5, 9, tzinfo=UTC)
        ours = self.utc(seconds(sample))
        if hashed_fields(ours, *[None] * 8) != hashed_fields(sample, *[None] * 8):
            raise RuntimeError(f"the audit chain spells {sample} otherwise than the demo's {ours!r}")
        if not self.sqlite:
            return
        ours = self.dt(seconds(sample))
        theirs = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)(sample)
        if ours != theirs:
            raise RuntimeError(f"SQLAlchemy stores {sample} as {theirs!r} on SQLite, the demo wrote {ours!r}")


@dataclass
class Chunk:
    """One chunk of replayed cases, as rows: demands with their ids and their requester's
    fields in place of its id; other rows without their own id (a gag event names its gag
    by its number within the chunk); audit events not yet numbered nor chained."""

    first: int  # index of the chunk's first case
    count: int
    last_key: int  # order key of the chunk's last log: later chunks' events all come after
    rows: dict[str, list[tuple]]
    events: list[tuple]  # in key order: (order key, at, actor_id, actor, action, before, after, demand_id, object type,
    #                       object id, hashed fields); a notice's event names its notice by its number
    #                       in the chunk and is hashed once the loader has numbered it (fields None)
    counters: dict[int, int]  # each year's last reference number, this chunk's demands included


def random_names() -> Iterator[str]:
    """Random file names as ``secrets.token_hex(16)`` makes them, drawn 256 at a time."""
    while True:
        pool = token_bytes(16 * 256)
        for k in range(0, len(pool), 16):
            yield pool[k:k + 16].hex()


class ChunkMaker:
    """Replays case specs into chunk rows (in the loading process, or in a worker), and
    writes each demand's legal-process PDF into the upload folder (0600).

    ``files_lock``: held while a chunk's files are created. Workers share one (the loader
    sets it before they fork): two processes creating files in one directory at once
    contend for it in the kernel, measured here at 1.1 ms of system time a file against
    0.025 ms for one process alone, a third of the workers' time in ``desk demo``."""

    def __init__(self, world: World, now: datetime, dialect_name: str, upload_dir: Path):
        self.files_lock: AbstractContextManager = nullcontext()
        self.world = world
        self.now = now
        self.upload_dir = Path(upload_dir)
        self.enc = Encoding(dialect_name)
        by_name = {t.name: t for t in LOADED_TABLES}
        self.demand_row = row_maker(by_name["demands"])
        self.document_row = row_maker(by_name["documents"])
        self.actors = actors_of(world)
        self.row = {name: row_maker(by_name[name], ("id",)) for name in NUMBERED}

    def make(self, cases: Iterable[CaseSpec], demand_base: int, counters: dict[int, int], id_seed: int,
             document_base: int) -> Chunk:
        """The chunk's rows; references continue from ``counters`` (each year's last number).
        Case ``i`` is demand ``demand_base + i`` and its document ``document_base + i``."""
        counters = dict(counters)
        folder = os.path.join(private_dir(self.upload_dir), "")  # a str: pathlib's / cost 1.6% of a worker
        stored_names = random_names()
        rows: dict[str, list[tuple]] = {t: [] for t in TABLES if t != "requesters"}
        events: list[tuple] = []
        bits = random.Random(id_seed).getrandbits
        dt, dt_of, iso, utc = self.enc.dt, self.enc.dt_of, self.enc.date, self.enc.utc
        row = self.row
        target_row, item_row, file_row = row["demand_targets"], row["demand_items"], row["production_files"]
        notice_row, gag_row, gag_event_row = row["notices"], row["gags"], row["gag_events"]
        first = count = last_key = gag_no = notice_no = 0
        files: list[tuple[str, bytes]] = []
        for case in cases:
            if not count:
                first = case.index
            count += 1
            did = demand_base + case.index
            p = case.steps[0].body
            year = p["received_at"].year  # as services.intake.log_demand numbers it
            counters[year] = counters.get(year, 0) + 1
            r = CaseReplay(self.world, case, did, format_reference(year, counters[year]), self.now,
                           actors=self.actors, document_id=document_base + case.index).run()
            last_key = order_key(seconds(r.created_at), case.index)
            rows["demands"].append(self.demand_row(
                id=did, reference=r.reference, received_at=dt_of(r.received_at), channel=p["channel"],
                requester_id=p["requester"], country=r.country, process_type=r.process_type,
                legal_reference=r.legal_reference, issuing_authority=p["issuing_authority"], emergency=r.emergency,
                justification=r.justification, due_at=dt_of(r.due_at), assignee_id=r.assignee_id, status=r.status,
                outcome=r.outcome, proposed_by_id=r.proposed_by_id, approved_by_id=r.approved_by_id,
                created_by_id=r.created_by_id, created_at=dt_of(r.created_at), closed_at=dt_of(r.closed_at),
                concerns_enterprise=r.concerns_enterprise,
                notices_released_at=dt_of(r.notices_released_at), notices_released_by_id=r.notices_released_by_id))
            for position, t in enumerate(r.targets):
                rows["demand_targets"].append(target_row(demand_id=did, identifier=t.identifier,
                                                         customer_id=t.customer_id, position=position))
            for kind, items in r.items.items():
                for i in items:
                    rows["demand_items"].append(item_row(
                        demand_id=did, kind=kind, target=i.target, data_set=i.data_set,
                        date_from=iso(i.date_from), date_to=iso(i.date_to), basis=i.basis))
            for doc_id, name, pdf, digest, uploader, at in r.documents:
                stored = next(stored_names)  # as store_document names a file: at random
                files.append((folder + stored, pdf))
                rows["documents"].append(self.document_row(
                    id=doc_id, demand_id=did, filename=name, stored_name=stored, sha256=digest, bytes=len(pdf),
                    uploaded_at=dt_of(at), uploaded_by_id=uploader))
            for f in r.files:
                rows["production_files"].append(file_row(demand_id=did, **f))
            for assignee, reason, actor_id, at in r.assignments:
                rows["assignments"].append(row["assignments"](
                    demand_id=did, assignee_id=assignee, reason=reason, actor_id=actor_id, at=dt_of(at)))
            for old, new, reason, actor_id, at in r.due_changes:
                rows["due_date_changes"].append(row["due_date_changes"](
                    demand_id=did, old_due_at=dt_of(old), new_due_at=dt_of(new), reason=reason, actor_id=actor_id,
                    at=dt_of(at)))
            for code, (by_id, at, note) in r.checks.items():
                rows["emergency_checks"].append(row["emergency_checks"](
                    demand_id=did, check_code=code, by_id=by_id, at=dt_of(at), note=note))
            if r.hold is not None:
                starts, ends, extended = r.hold
                rows["preservation_holds"].append(row["preservation_holds"](
                    demand_id=did, starts_at=dt_of(starts), ends_at=dt_of(ends), extended_at=dt_of(extended)))
            for g in r.mail.gags:
                rows["gags"].append(gag_row(
                    demand_id=did, order_ref=g.order_ref, issued_by=g.issued_by, issued_at=iso(g.issued_at),
                    expires_at=dt_of(g.expires_at), set_at=dt_of(g.set_at), lifted_at=dt_of(g.lifted_at),
                    lift_reason=g.lift_reason, process_type=r.process_type))
                for kind, expires, reason, actor_id, at in g.events:
                    rows["gag_events"].append(gag_event_row(gag_id=gag_no, kind=kind, expires_at=dt_of(expires),
                                                            reason=reason, actor_id=actor_id, at=dt_of(at)))
                gag_no += 1
            for until, reason, actor_id, at in r.mail.deferrals:
                rows["notice_deferrals"].append(row["notice_deferrals"](
                    demand_id=did, until=dt(until), reason=reason, actor_id=actor_id, at=dt(at)))
            for n in r.mail.notices:
                rows["notices"].append(notice_row(
                    demand_id=did, customer_id=n.customer_id, kind=n.kind, state=n.state, held_by=n.held_by,
                    gag_held=n.gag_held, delayed=n.delayed, due_at=dt(n.due), created_at=dt(n.due),
                    attempts=n.attempts, next_attempt_at=dt(n.next), last_error=n.last_error, sent_at=dt(n.sent),
                    message_id=f"<notice.{bits(128):032x}@requests-desk>"))
            # All of an event's hashed content but its number is known here: the writer
            # only numbers, chains and hashes.
            # The row's time and the hashed one are the key's second (the event's own time).
            for key, _at, actor_id, actor, action, before, after, object_type, object_id in r.events:
                s = key_time(key)
                if object_type == "notice":  # numbered by the loader: hashed there
                    events.append((key, dt(s), actor_id, actor, action, before, after, did, object_type,
                                   notice_no + object_id, None))
                    continue
                events.append((key, dt(s), actor_id, actor, action, before, after, did, object_type, object_id,
                               hashed_fields(utc(s), actor_id, actor, action, object_type, object_id, did, before,
                                             after)))
            notice_no += len(r.mail.notices)
        with self.files_lock:
            for path, pdf in files:
                write_private(path, pdf)
        events.sort(key=itemgetter(0))  # here, in the worker: the loader merges chunks' runs
        return Chunk(first, count, last_key, rows, events, counters)
