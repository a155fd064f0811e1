"""Files at rest (SPEC: uploaded files, the outbox and the SQLite file are readable by the
service's user only): 0600 files in 0700 folders, whatever the umask."""
from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from requests_desk.app import create_app
from requests_desk.private_files import create_private, private_dir
from requests_desk.staff.actions import hash_upload
from tests.factories import make_customer, upload_pdf


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def usual_umask():
    """022, as most services start with: without explicit modes files would be 0644."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_an_uploaded_document_is_0600_in_a_0700_folder(app, desk):
    demand = desk.log(["bob@contoso.com"])
    doc = upload_pdf(desk.as_intake, demand["id"])
    folder = Path(app.config["DESK_UPLOAD_DIR"])
    files = list(folder.iterdir())
    assert len(files) == 1 and doc["sha256"]
    assert mode(files[0]) == 0o600
    assert mode(folder) == 0o700


def test_a_kept_production_file_is_0600(app):
    with app.app_context():
        _sha, size, stored_name = hash_upload(io.BytesIO(b"export\n" * 100), keep=True)
    folder = Path(app.config["DESK_UPLOAD_DIR"])
    assert size == 700 and mode(folder / stored_name) == 0o600 and mode(folder) == 0o700


def test_the_outbox_files_of_a_dispatcher_run_are_0600(app, session, desk, run_dispatch):
    make_customer(session, "Contoso Ltd", domains=("contoso.com",), contacts=(("Ann Lee", "ann@contoso.com"),))
    assert not app.config.get("DESK_SMTP_URL")  # the file mailer
    demand = desk.log(["bob@contoso.com"])
    upload_pdf(desk.as_intake, demand["id"])
    result = run_dispatch()
    assert result.exit_code == 0, result.output
    outbox = Path(app.config["DESK_OUTBOX_DIR"])
    files = list(outbox.iterdir())
    assert [f.suffix for f in files] == [".eml"]
    assert mode(files[0]) == 0o600 and mode(outbox) == 0o700


def test_desk_init_makes_a_new_sqlite_file_0600(tmp_path):
    folder = tmp_path / "data"  # not there yet: made 0700
    db = folder / "desk.sqlite"
    app = create_app({"TESTING": True, "DESK_DATABASE_URL": f"sqlite:///{db}",
                      "DESK_UPLOAD_DIR": str(tmp_path / "up"), "DESK_OUTBOX_DIR": str(tmp_path / "out")})
    engine = app.extensions["desk"]["engine"]
    try:
        result = app.test_cli_runner().invoke(args=["desk", "init"])
        assert result.exit_code == 0, result.output
        assert mode(db) == 0o600 and mode(folder) == 0o700
        with engine.connect() as conn:  # while a connection is open, WAL keeps its files beside it
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            conn.execute(text("SELECT count(*) FROM audit_head")).scalar()
            extra = [Path(f"{db}{s}") for s in ("-wal", "-shm") if Path(f"{db}{s}").exists()]
            assert extra
            assert {p.name: mode(p) for p in extra} == {p.name: 0o600 for p in extra}
    finally:
        engine.dispose()


def test_an_existing_sqlite_file_is_tightened(tmp_path):
    db = tmp_path / "old.sqlite"
    db.write_bytes(b"")
    os.chmod(db, 0o644)
    Path(f"{db}-wal").write_bytes(b"")
    os.chmod(f"{db}-wal", 0o664)
    app = create_app({"TESTING": True, "DESK_DATABASE_URL": f"sqlite:///{db}"})
    app.extensions["desk"]["engine"].dispose()
    assert mode(db) == 0o600 and mode(f"{db}-wal") == 0o600


def test_create_private_and_private_dir(tmp_path):
    folder = private_dir(tmp_path / "a" / "b")
    assert mode(tmp_path / "a") == 0o700 and mode(folder) == 0o700
    os.chmod(folder, 0o755)
    private_dir(folder)
    assert mode(folder) == 0o700
    with create_private(folder / "f") as fh:
        fh.write(b"x")
    assert mode(folder / "f") == 0o600
    with pytest.raises(FileExistsError):
        create_private(folder / "f")
    os.chmod(folder / "f", 0o644)
    with create_private(folder / "f", replace=True) as fh:
        fh.write(b"y")
    assert mode(folder / "f") == 0o600 and (folder / "f").read_bytes() == b"y"
