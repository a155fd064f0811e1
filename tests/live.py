"""A live gunicorn over a test's database, for tests that need real HTTP and real
processes (the fuzzer, concurrent requests)."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except Exception:
        return False


@contextlib.contextmanager
def gunicorn(app, tmp_path: Path, *, workers: int = 1, target: str = "wsgi:app") -> Iterator[str]:
    """gunicorn (``workers`` sync workers) serving ``target`` (the desk's ``wsgi:app``)
    over the app's database and folders; yields its base URL and stops it afterwards."""
    port = _free_port()
    env = {
        **os.environ,
        "DESK_DATABASE_URL": app.config["DESK_DATABASE_URL"],
        "DESK_UPLOAD_DIR": app.config["DESK_UPLOAD_DIR"],
        "DESK_OUTBOX_DIR": app.config["DESK_OUTBOX_DIR"],
        "DESK_SECRET_KEY": "live-secret-key",
        "DESK_INSTANCE_PATH": str(tmp_path / "live-instance"),
    }
    log = open(tmp_path / "gunicorn.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", target],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(f"{base}/api/v1/openapi.json"):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"gunicorn did not start: {log.read()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
