"""Backup and restore (issue 13.1, SPEC §8): `desk backup PATH` writes one checksummed file
of every table's rows and the uploaded files from one consistent snapshot; `desk restore
PATH` puts it into an empty desk of either kind, in one transaction, after checking every
checksum. SQLite → PostgreSQL → SQLite (and the other way) gives the same rows, the same
files byte for byte and an audit log that verifies."""
from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from requests_desk import report_summary
from requests_desk.app import create_app
from requests_desk.backup import BackupError, restore_backup, write_backup
from requests_desk.db import Base
from requests_desk.models import AuditEvent, Demand, Document, ProductionFile, User
from requests_desk.services.intake import log_demand
from requests_desk.staff.actions import hash_upload
from requests_desk.workflow import apply_action

from .factories import demand_payload, make_customer, make_demand, make_token, make_user, real_pdf, upload_pdf

OTHER_KEY = "another-audit-key-0123456789abcdef-0123456789"


class Desk:
    """A desk of its own (database, upload folder), driven through the real CLI."""

    def __init__(self, url: str, folder: Path, audit_key: str | None = None):
        config = {"TESTING": True, "DESK_DATABASE_URL": url, "SECRET_KEY": "test-secret-key",
                  "DESK_UPLOAD_DIR": str(folder / "uploads"), "DESK_OUTBOX_DIR": str(folder / "outbox")}
        if audit_key:
            config["DESK_AUDIT_KEY"] = audit_key
        self.app = create_app(config)
        self.url = url

    @classmethod
    def of(cls, app):
        desk = cls.__new__(cls)
        desk.app, desk.url = app, app.config["DESK_DATABASE_URL"]
        return desk

    @property
    def engine(self):
        return self.app.extensions["desk"]["engine"]

    @property
    def uploads(self) -> Path:
        return Path(self.app.config["DESK_UPLOAD_DIR"])

    def cli(self, *args: str):
        return self.app.test_cli_runner().invoke(args=["desk", *args])

    def session(self):
        return self.app.extensions["desk"]["sessionmaker"]()


@pytest.fixture
def new_desk(tmp_path, request):
    """``new_desk(kind, name)``: a new desk after `desk init` on an empty database of that
    kind (PostgreSQL: a database of its own next to the test database)."""
    made: list[Desk] = []
    databases: list[tuple] = []

    def make(kind: str, name: str, audit_key: str | None = None) -> Desk:
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path / (name + '.sqlite')}"
        else:
            base = make_url(request.getfixturevalue("pg_database")[0])
            database = f"{base.database}_{name}"
            admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{database}"'))
            databases.append((admin, database))
            url = base.set(database=database).render_as_string(hide_password=False)
        desk = Desk(url, tmp_path / name, audit_key)
        made.append(desk)
        result = desk.cli("init")
        assert result.exit_code == 0, result.output
        return desk

    yield make
    for desk in made:
        desk.engine.dispose()
    for admin, database in databases:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def kind(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def other(url: str) -> str:
    return "postgresql" if url.startswith("sqlite") else "sqlite"


def rows(engine) -> dict[str, list[tuple]]:
    """Every table's rows, all columns, in primary-key order (compared in Python: the two
    databases may collate text differently)."""
    out = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            positions = [list(table.columns).index(c) for c in table.primary_key.columns]
            got = [tuple(r) for r in conn.execute(select(table))]
            out[table.name] = sorted(got, key=lambda r: tuple(r[i] for i in positions))
    return out


def stored_files(desk: Desk) -> dict[str, bytes]:
    with desk.session() as s:
        names = set(s.scalars(select(Document.stored_name))) | \
            set(s.scalars(select(ProductionFile.stored_name).where(ProductionFile.stored_name.is_not(None))))
    return {name: (desk.uploads / name).read_bytes() for name in names}


def head_line(desk: Desk) -> str:
    result = desk.cli("verify-audit")
    assert result.exit_code == 0, result.output
    assert "Audit log intact" in result.output
    return result.output.strip()


def empty(desk: Desk) -> bool:
    """Nothing but what desk init seeds: the rule tables and the empty audit log's head."""
    counts = rows(desk.engine)
    seeded = {"data_sets": 8, "process_rules": 11}
    tables_empty = all(len(v) == seeded.get(k, 0) for k, v in counts.items() if k != "audit_head")
    no_files = not desk.uploads.exists() or not list(desk.uploads.iterdir())  # no staging folder either
    return tables_empty and [r[2] for r in counts["audit_head"]] == [0] and no_files


def triggers(engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return set(conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        return set(conn.scalars(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")))


# ---------------------------------------------------------------- the desks backed up


def add_files(desk: Desk, api) -> None:
    """Legal-process PDFs through the API, and a production file kept through the
    case page's own upload function and the workflow."""
    with desk.session() as s:
        intake = make_user(s, "intake", "counsel")
        client = api(make_token(s, intake))
        ordinary = s.scalars(select(Demand).where(Demand.process_type != "national_security")
                             .order_by(Demand.id).limit(3)).all()
        for n, d in enumerate(ordinary):
            upload_pdf(client, d.id, f"warrant {n}.pdf", real_pdf(f"Legal process number {n}"))
        approved = s.scalars(select(Demand).where(Demand.status == "approved",
                                                  Demand.process_type != "national_security")
                             .order_by(Demand.id).limit(1)).first()
        if approved is not None:
            content = os.urandom(70_000) + b"\x00\xff end of export"
            with desk.app.test_request_context():
                sha, size, stored = hash_upload(io.BytesIO(content), True)
            items = [i.as_dict() for i in approved.items_of("scope")]
            apply_action(s, intake, approved, "record-production",
                         {"items": items, "files": [{"name": "export.bin", "sha256": sha, "bytes": size,
                                                     "stored_name": stored}]})
            s.commit()


@pytest.fixture
def demo_desk(app, api, monkeypatch) -> Desk:
    desk = Desk.of(app)
    result = desk.cli("demo", "--demands", "300", "--seed", "4")
    assert result.exit_code == 0, result.output
    add_files(desk, api)
    return desk


@pytest.fixture
def small_desk(app, session, api) -> Desk:
    """A few demands, a customer, users, one uploaded PDF."""
    make_customer(session, "Contoso", domains=("contoso.com",))
    intake = make_user(session, "intake")
    for n in range(3):
        make_demand(session, intake, targets=[f"user{n}@contoso.com"])
    demand = session.scalars(select(Demand).order_by(Demand.id)).first()
    upload_pdf(api(make_token(session, intake)), demand.id, "warrant.pdf", real_pdf("small desk"))
    return Desk.of(app)


def backup(desk: Desk, path: Path) -> Path:
    result = desk.cli("backup", str(path))
    assert result.exit_code == 0, result.output
    assert "Backed up" in result.stdout and "Backing up" in result.stderr  # the bar goes to stderr
    return path


# ---------------------------------------------------------------- round trip


def test_a_backup_restores_into_the_other_database_and_back(demo_desk, new_desk, tmp_path):
    source = demo_desk
    before, files, head = rows(source.engine), stored_files(source), head_line(source)
    assert len(files) >= 3 and len(before["demands"]) == 300 and before["report_artifacts"]
    first = backup(source, tmp_path / "desk.tar")
    assert stat.S_IMODE(first.stat().st_mode) == 0o600  # it holds every password hash

    there = new_desk(other(source.url), "there")
    result = there.cli("restore", str(first))
    assert result.exit_code == 0, result.output
    assert "Restored" in result.stdout and "Restoring" in result.stderr
    assert rows(there.engine) == before
    assert stored_files(there) == files
    assert sorted(p.name for p in there.uploads.iterdir()) == sorted(files)  # no staging folder left
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in there.uploads.iterdir())
    assert head_line(there) == head

    # …and back, through a compressed backup of the restored desk
    second = backup(there, tmp_path / "there.tar.gz")
    back = new_desk(kind(source.url), "back")
    result = back.cli("restore", str(second))
    assert result.exit_code == 0, result.output
    assert rows(back.engine) == before
    assert stored_files(back) == files
    assert head_line(back) == head
    # The form is database-neutral: each table's member is the same bytes from either database.
    assert [t["sha256"] for t in manifest(first)["tables"]] == [t["sha256"] for t in manifest(second)["tables"]]


def manifest(path: Path) -> dict:
    with tarfile.open(path) as tar:
        return json.load(tar.extractfile("manifest.json"))


def test_new_rows_get_fresh_ids_and_the_summary_stays_kept(small_desk, new_desk, tmp_path):
    path = backup(small_desk, tmp_path / "desk.tar")
    target = new_desk(kind(small_desk.url), "fresh")
    assert target.cli("restore", str(path)).exit_code == 0
    restored = rows(target.engine)
    with target.session() as s:
        intake = s.scalars(select(User).where(User.email.like("intake%"))).first()
        demand = log_demand(s, intake, demand_payload(targets=["user9@contoso.com", "user0@contoso.com"]))
        s.commit()
        assert demand.id > max(r[0] for r in restored["demands"])
        event = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event.id > max(r[0] for r in restored["audit_events"])
        conn = s.connection()
        kept = report_summary.snapshot(conn)
        report_summary.rebuild(conn)  # the triggers are back, and counted nothing twice
        assert report_summary.snapshot(conn) == kept
        s.rollback()
    head_line(target)


# ---------------------------------------------------------------- refusals


def flip(data: bytearray, at: int) -> None:
    data[at] ^= 0x01


def member_offset(path: Path, name: str) -> int:
    with tarfile.open(path) as tar:
        return tar.getmember(name).offset_data


def rewritten(path: Path, target: Path, change) -> Path:
    """A copy of the archive with ``change(name, data) -> data`` applied to each member."""
    with tarfile.open(path) as src, tarfile.open(target, "w") as out:
        for member in src:
            data = change(member.name, src.extractfile(member).read())
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    return target


def _damage(kind_of: str, path: Path, tmp_path: Path) -> Path:
    data = bytearray(path.read_bytes())
    bad = tmp_path / f"bad-{kind_of}.tar"
    if kind_of == "row byte flipped":
        flip(data, member_offset(path, "tables/demands.jsonl") + 40)
    elif kind_of == "file byte flipped":
        name = next(n for n in tarfile.open(path).getnames() if n.startswith("files/"))
        flip(data, member_offset(path, name) + 100)
    elif kind_of == "truncated":
        data = data[: len(data) // 2]
    elif kind_of == "truncated before the signature":
        data = data[: member_offset(path, "manifest.sig") - 512]
    elif kind_of == "manifest checksum changed":
        def change(name, body):
            if name != "manifest.json":
                return body
            m = json.loads(body)
            m["tables"][0]["sha256"] = "0" * 64
            return json.dumps(m).encode()
        return rewritten(path, bad, change)
    elif kind_of == "row changed, manifest re-hashed, not re-signed":
        return rewritten(path, bad, _rehashed_change())
    elif kind_of == "file member left out":
        with tarfile.open(path) as src, tarfile.open(bad, "w") as out:
            for member in src:
                if not member.name.startswith("files/"):
                    out.addfile(member, src.extractfile(member))
        return bad
    elif kind_of == "not a backup":
        data = bytearray(b"hello\n" * 1000)
    bad.write_bytes(bytes(data))
    return bad


def _rehashed_change():
    """Someone edits a row and fixes the manifest's checksum to match (without the key)."""
    edited = []

    def change(name: str, body: bytes) -> bytes:
        if name == "tables/demands.jsonl":
            edited.append(body.replace(b'"US"', b'"FR"', 1))
            assert edited[0] != body
            return edited[0]
        if name == "manifest.json":
            m = json.loads(body)
            entry = next(t for t in m["tables"] if t["name"] == "demands")
            entry["sha256"], entry["bytes"] = hashlib.sha256(edited[0]).hexdigest(), len(edited[0])
            return json.dumps(m, indent=1).encode()
        return body

    return change


DAMAGES = ["row byte flipped", "file byte flipped", "file member left out", "truncated", "truncated before the signature",
           "manifest checksum changed", "row changed, manifest re-hashed, not re-signed", "not a backup"]


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_backup_is_refused_and_writes_nothing(small_desk, new_desk, tmp_path, damage):
    path = backup(small_desk, tmp_path / "desk.tar")
    bad = _damage(damage, path, tmp_path)
    target = new_desk(kind(small_desk.url), "target")
    result = target.cli("restore", str(bad))
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[-1].startswith("Error: ") and result.stderr.count("Error: ") == 1, \
        result.stderr  # one line saying why, after the bar's label
    assert empty(target)
    assert target.cli("restore", str(path)).exit_code == 0  # the good one still goes in


def test_a_file_changed_between_check_and_load_rolls_everything_back(small_desk, new_desk, tmp_path):
    """The second pass hashes again: a member that changed after the check (the uploaded
    file, the archive's last member but the manifest) undoes every row already inserted,
    the triggers dropped meanwhile and the files staged."""
    path = backup(small_desk, tmp_path / "desk.tar")
    target = new_desk(kind(small_desk.url), "target")
    triggers_before = triggers(target.engine)
    late = member_offset(path, next(n for n in tarfile.open(path).getnames() if n.startswith("files/"))) + 100

    def on_phase(label, total):
        if label == "Restoring":  # the check has passed: damage a late member now
            with open(path, "r+b") as fh:
                fh.seek(late)
                byte = fh.read(1)
                fh.seek(-1, os.SEEK_CUR)
                fh.write(bytes([byte[0] ^ 0x01]))

    key = str(target.app.config["DESK_AUDIT_KEY"]).encode()
    with pytest.raises(BackupError, match="changed since it was checked"):
        restore_backup(target.engine, target.uploads, path, key, on_phase=on_phase)
    assert empty(target)
    assert triggers(target.engine) == triggers_before


def test_a_desk_with_data_is_refused(small_desk, new_desk, tmp_path):
    path = backup(small_desk, tmp_path / "desk.tar")
    target = new_desk(kind(small_desk.url), "busy")
    with target.session() as s:
        make_demand(s, make_user(s, "intake"))
    before = rows(target.engine)
    result = target.cli("restore", str(path))
    assert result.exit_code == 1
    assert "this desk is not empty" in result.stderr and "nothing was restored" in result.stderr
    assert rows(target.engine) == before


def test_another_audit_key_is_refused(small_desk, new_desk, tmp_path):
    path = backup(small_desk, tmp_path / "desk.tar")
    target = new_desk(kind(small_desk.url), "keyed", audit_key=OTHER_KEY)
    result = target.cli("restore", str(path))
    assert result.exit_code == 1
    assert "another audit key" in result.stderr
    assert empty(target)


def test_another_schema_is_refused(small_desk, new_desk, tmp_path):
    path = backup(small_desk, tmp_path / "desk.tar")
    head = manifest(path)["schema"]
    target = new_desk(kind(small_desk.url), "older")
    with target.engine.begin() as conn:  # as a desk of another version of the code would be
        conn.execute(text("UPDATE alembic_version SET version_num = 'an-older-one'"))
    result = target.cli("restore", str(path))
    assert result.exit_code == 1
    assert f"schema {head} and this desk is at an-older-one" in result.stderr
    assert empty(target)


def test_a_backup_never_overwrites_and_lists_missing_files(small_desk, new_desk, tmp_path):
    path = backup(small_desk, tmp_path / "desk.tar")
    again = small_desk.cli("backup", str(path))
    assert again.exit_code == 1 and "exists already" in again.stderr
    name = next(iter(stored_files(small_desk)))
    (small_desk.uploads / name).unlink()
    result = small_desk.cli("backup", str(tmp_path / "without.tar"))
    assert result.exit_code == 0 and f"file {name} is named by a row but missing" in result.stderr
    assert manifest(tmp_path / "without.tar")["missing_files"] == [name]
    target = new_desk(kind(small_desk.url), "partial")
    restored = target.cli("restore", str(tmp_path / "without.tar"))
    assert restored.exit_code == 0 and f"file {name} was missing" in restored.stderr
    assert not list(target.uploads.iterdir())


def test_a_file_deleted_during_the_backup_leaves_no_backup(small_desk, tmp_path):
    """Each file is hashed into the list, then copied: one gone in between (a purge
    running at the same time) stops the backup with one line and no file."""
    desk = small_desk
    [name] = stored_files(desk)
    seen = {"total": 0, "done": 0}

    def on_start(total: int) -> None:
        seen["total"] = total

    def on_progress(n: int) -> None:
        seen["done"] += n
        if seen["done"] == seen["total"] - 1:  # the rows are written and the file hashed
            (desk.uploads / name).unlink()

    key = str(desk.app.config["DESK_AUDIT_KEY"]).encode()
    path = tmp_path / "gone.tar"
    with pytest.raises(BackupError, match=f"file {name} was deleted while it was backed up"):
        write_backup(desk.engine, desk.uploads, path, key, on_start=on_start, on_progress=on_progress)
    assert not path.exists() and list(tmp_path.glob(".desk-backup-*")) == []


# ---------------------------------------------------------------- a consistent snapshot


def test_a_backup_is_one_snapshot_while_the_desk_writes(small_desk, new_desk, tmp_path):
    """A demand logged and committed by another connection in the middle of the backup
    (after the audit events are read, before their head and the demands) is not in it:
    every table is read from the same moment, so the restored chain still verifies."""
    desk = small_desk
    with desk.session() as s:
        demands_before = s.scalar(select(func.count()).select_from(Demand))
        intake = s.scalars(select(User).where(User.email.like("intake%"))).first()
    written = []

    def write_meanwhile(_n: int) -> None:
        if not written:
            with desk.session() as s:
                written.append(log_demand(s, s.get(User, intake.id), demand_payload(
                    targets=["late@contoso.com"])).id)
                s.commit()

    key = str(desk.app.config["DESK_AUDIT_KEY"]).encode()
    path = tmp_path / "during.tar"
    write_backup(desk.engine, desk.uploads, path, key, on_progress=write_meanwhile)
    with desk.session() as s:  # the write did happen, during the backup
        assert written and s.scalar(select(func.count()).select_from(Demand)) == demands_before + 1
    target = new_desk(kind(desk.url), "snapshot")
    assert target.cli("restore", str(path)).exit_code == 0
    with target.session() as s:
        assert s.scalar(select(func.count()).select_from(Demand)) == demands_before
        assert s.get(Demand, written[0]) is None
    head_line(target)
