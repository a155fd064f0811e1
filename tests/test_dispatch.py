"""The dispatcher: backoff and giving up, the staff retry button, an SMTP server that
stops mid-run, two dispatchers racing, claim leases, the gag judged at the last
moment, and the CLI's exit codes."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, update

from requests_desk.models import Notice
from requests_desk.notices.dispatcher import DispatchCounts, dispatch, dispatcher_for
from requests_desk.notices.outbox import MAX_ATTEMPTS, backoff_seconds
from tests.factories import csrf_from, make_customer, make_customer_user, make_user, page_text
from tests.factories import login as login_as
from tests.smtp import SmtpServer, free_port

ROOT = Path(__file__).resolve().parent.parent


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def contoso(session):
    return make_customer(session, "Contoso Ltd", domains=("contoso.com",),
                         contacts=(("Ann Lee", "ann@contoso.com"), ("Bo Ma", "legal@contoso.com")))


@pytest.fixture
def staff_client(app, session):
    user = make_user(session, "counsel", email="desk-counsel@desk.example")
    client = app.test_client()
    assert login_as(client, user.email).status_code == 302
    return client


# ---------------------------------------------------------------- backoff, failed, retry


def test_backoff_then_failed_then_retry_button(app, session, desk, contoso, smtp_server, run_dispatch,
                                                staff_client):
    smtp_server.refuse_with = "451 4.3.0 Mailbox temporarily unavailable"
    demand = desk.log(["bob@contoso.com"])
    [notice] = desk.notices(demand["id"])
    clock = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)

    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = run_dispatch(clock)
        assert result.exit_code == 0, result.output  # failures recorded for retry are no error
        [notice] = desk.notices(demand["id"])
        assert notice["attempts"] == attempt
        assert "451" in notice["last_error"]
        if attempt < MAX_ATTEMPTS:
            assert "retrying 1" in result.output and notice["state"] == "pending"
            next_at = parse(notice["next_attempt_at"])
            waits.append((next_at - clock).total_seconds())
            # Not a moment before its time:
            early = run_dispatch(next_at - timedelta(seconds=1))
            assert "retrying 0" in early.output and desk.notices(demand["id"])[0]["attempts"] == attempt
            clock = next_at
        else:
            assert "failed 1" in result.output and notice["state"] == "failed"
            assert notice["next_attempt_at"] is None
    assert waits == [backoff_seconds(n) for n in range(1, MAX_ATTEMPTS)]
    assert all(b == 2 * a for a, b in zip(waits, waits[1:]) if b < 6 * 3600)  # doubling, then capped
    assert smtp_server.messages == []

    # The customer still sees the notice in the portal: e-mail trouble never hides it.
    make_customer_user(session, contoso, email="reader@contoso.com")
    portal = app.test_client()
    login_as(portal, "reader@contoso.com")
    page = portal.get(f"/portal/notices/{notice['id']}")
    assert page.status_code == 200 and "not been able to e-mail" in page.get_data(as_text=True)

    # Given up: the server works again, yet no run sends it by itself.
    smtp_server.refuse_with = None
    assert "sent 0" in run_dispatch(clock + timedelta(days=30)).output

    # Staff see it with its error and a retry button (a POST with CSRF).
    listing = staff_client.get("/desk/notices")
    html = listing.get_data(as_text=True)
    assert listing.status_code == 200
    assert demand["reference"] in html and "Mailbox temporarily unavailable" in html
    assert f'action="/desk/notices/{notice["id"]}/retry"' in html
    assert staff_client.post(f"/desk/notices/{notice['id']}/retry").status_code == 400  # no CSRF token
    r = staff_client.post(f"/desk/notices/{notice['id']}/retry", data={"csrf_token": csrf_from(html)})
    assert r.status_code == 302
    assert "will be sent" in staff_client.get("/desk/notices").get_data(as_text=True)
    [retried] = desk.notices(demand["id"])
    assert retried["state"] == "pending" and retried["attempts"] == 0
    audit = desk.as_counsel.get(f"/api/v1/demands/{demand['id']}/audit").get_json()
    assert audit[-1]["action"] == "notice.retry" and audit[-1]["actor"] == "desk-counsel@desk.example"

    assert "sent 1" in run_dispatch().output
    assert len(smtp_server.messages) == 1
    # Retrying a notice that is not failed is a conflict, not a resend.
    r = staff_client.post(f"/desk/notices/{notice['id']}/retry", data={"csrf_token": csrf_from(html)})
    assert r.status_code == 409
    assert len(smtp_server.messages) == 1


def test_only_counsel_or_admin_may_retry_and_customers_never_see_the_list(app, session, desk, contoso):
    intake_client = app.test_client()
    login_as(intake_client, desk.intake.email)
    html = intake_client.get("/desk/notices").get_data(as_text=True)
    assert intake_client.post("/desk/notices/1/retry", data={"csrf_token": csrf_from(html)}).status_code == 403
    make_customer_user(session, contoso, email="reader@contoso.com")
    customer_client = app.test_client()
    login_as(customer_client, "reader@contoso.com")
    assert customer_client.get("/desk/notices").status_code == 403
    assert app.test_client().get("/desk/notices").status_code == 302  # to the sign-in page


def test_held_and_pending_notices_are_listed_with_their_reason(app, desk, contoso, staff_client, run_dispatch):
    gagged = desk.log(["bob@contoso.com"], gag={"order_ref": "NDO-44", "issued_by": "Magistrate Judge",
                                                "expires_at": None})
    nobody = make_customer(desk.session, "Northwind", domains=("northwind.example",), contacts=())
    unreachable = desk.log(["kim@northwind.example"])
    run_dispatch()
    html = staff_client.get("/desk/notices").get_data(as_text=True)
    held = html.split('id="held"')[1].split("</table>")[0]
    pending = html.split('id="pending"')[1].split("</table>")[0]
    assert gagged["reference"] in held and "NDO-44" in held and "no end date" in held
    assert unreachable["reference"] in pending and "Northwind has no notice contacts" in pending
    assert nobody.id


def test_notice_counts_stop_at_the_lists_cap(app, desk, contoso, staff_client, run_dispatch, monkeypatch):
    """Each count on /desk/notices is read up to the case list's cap (the sent ones grow
    with the archive), then shows "N+"."""
    for i in range(3):
        desk.log([f"gagged{i}@contoso.com"], gag={"order_ref": f"NDO-{i}", "issued_by": "Court", "expires_at": None})
    run_dispatch()
    cards = staff_client.get("/desk/notices").get_data(as_text=True).split('aria-label="Notices by state"')[1]
    cards = page_text(cards.split("</section>")[0])
    assert re.search(r"\b3 Held\b", cards), cards
    monkeypatch.setattr("requests_desk.staff.notices.COUNT_CAP", 2)
    cards = staff_client.get("/desk/notices").get_data(as_text=True).split('aria-label="Notices by state"')[1]
    cards = page_text(cards.split("</section>")[0])
    assert re.search(r"\b2\+ Held\b", cards) and re.search(r"\b0 Failed\b", cards), cards


def test_the_held_lists_show_the_newest_notices_first_as_far_as_their_page(app, desk, contoso, staff_client,
                                                                             run_dispatch, monkeypatch):
    """Both held lists (awaiting counsel; held by a gag) are read newest first, as far as
    the page's limit, from the notices' (state, id) index: the newest notices of each,
    in order, and the other list's never among them."""
    gagged = [desk.log([f"gagged{i}@contoso.com"], gag={"order_ref": f"NDO-{i}", "issued_by": "Court",
                                                        "expires_at": None}) for i in range(3)]
    waiting = [desk.log([f"waiting{i}@contoso.com"], release=False) for i in range(3)]
    run_dispatch()
    monkeypatch.setattr("requests_desk.staff.notices.LIMIT", 2)
    html = staff_client.get("/desk/notices").get_data(as_text=True)

    def listed(key: str) -> list[str]:
        return re.findall(r"LD-\d{4}-\d+", html.split(f'aria-labelledby="q-{key}"')[1].split("</section>")[0])

    held, counsel = listed("held"), listed("counsel")
    assert held == [d["reference"] for d in gagged[:0:-1]]
    assert counsel == [d["reference"] for d in waiting[:0:-1]]
    assert "Each list shows at most 2 notices." in html


# ---------------------------------------------------------------- the SMTP server stops mid-run


def test_smtp_server_stopped_mid_run_loses_nothing_and_doubles_nothing(app, desk, contoso, run_dispatch):
    server = SmtpServer(stop_after=2).start()
    app.config["DESK_SMTP_URL"] = server.url
    try:
        demands = [desk.log([f"user{i}@contoso.com"]) for i in range(5)]
        first = run_dispatch()
        assert first.exit_code == 0, first.output
        assert "sent 2" in first.output and "retrying 3" in first.output
        deadline = time.monotonic() + 10
        while server.running and time.monotonic() < deadline:  # it was shutting down
            time.sleep(0.05)
        assert not server.running
        states = [n["state"] for d in demands for n in desk.notices(d["id"])]
        assert states.count("sent") == 2 and states.count("pending") == 3

        # While it is down, another run records the failures again; still nothing lost.
        down = run_dispatch(datetime.now(timezone.utc) + timedelta(minutes=6))
        assert down.exit_code == 0 and "retrying 3" in down.output and "cannot reach" in _errors(desk, demands)

        server.stop_after = None
        server.start()  # the same port
        back = run_dispatch(datetime.now(timezone.utc) + timedelta(hours=1))
        assert back.exit_code == 0 and "sent 3" in back.output
        counts = server.by_message_id()
        assert len(counts) == 5 and set(counts.values()) == {1}
        assert {d["reference"] for d in demands} == {m["X-Requests-Desk-Reference"] for m in server.messages}
        assert {n["state"] for d in demands for n in desk.notices(d["id"])} == {"sent"}
        assert "sent 0" in run_dispatch(datetime.now(timezone.utc) + timedelta(days=2)).output
    finally:
        server.stop()


def _errors(desk, demands) -> str:
    return " ".join(n["last_error"] or "" for d in demands for n in desk.notices(d["id"]))


# ---------------------------------------------------------------- two dispatchers at once


def test_two_dispatchers_racing_send_each_notice_exactly_once(app, desk, contoso, db_url):
    """Started together at a barrier against a deliberately slow SMTP server; on
    PostgreSQL the claims use FOR UPDATE SKIP LOCKED, on SQLite BEGIN IMMEDIATE."""
    server = SmtpServer(delay=0.4).start()
    app.config["DESK_SMTP_URL"] = server.url
    try:
        demands = [desk.log([f"user{i}@contoso.com"]) for i in range(8)]
        barrier = threading.Barrier(2)
        results: list[DispatchCounts] = []
        errors: list[BaseException] = []

        def worker():
            try:
                dispatcher = dispatcher_for(app, batch_size=2)
                barrier.wait(timeout=10)
                results.append(dispatcher.run_once())
            except BaseException as err:  # surfaced below
                errors.append(err)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        assert sorted(r.sent for r in results) and sum(r.sent for r in results) == 8
        if db_url.startswith("postgresql"):
            # They really ran side by side (SQLite's single writer lets one win them all).
            assert min(r.sent for r in results) >= 1, results
        counts = server.by_message_id()
        assert len(counts) == 8 and set(counts.values()) == {1}
        assert {n["state"] for d in demands for n in desk.notices(d["id"])} == {"sent"}
    finally:
        server.stop()


@pytest.mark.postgres_only
def test_two_dispatchers_on_postgresql_use_skip_locked(app, desk, contoso, db_url):
    """While one dispatcher holds a notice's row lock (sending), the other skips it."""
    demand = desk.log(["bob@contoso.com"])
    [notice] = desk.notices(demand["id"])
    sessions = app.extensions["desk"]["sessionmaker"]
    holder = sessions()
    holder.scalar(select(Notice).where(Notice.id == notice["id"]).with_for_update())
    try:
        counts = dispatch(app)
        assert counts.sent == 0
    finally:
        holder.rollback()
        holder.close()


# ---------------------------------------------------------------- claims, leases, the last-moment gag


def test_a_claimed_notice_waits_for_its_lease(app, session, desk, contoso, smtp_server, run_dispatch):
    demand = desk.log(["bob@contoso.com"])
    [notice] = desk.notices(demand["id"])
    # Another dispatcher claimed it a moment ago (its lease runs for minutes)...
    session.execute(update(Notice).where(Notice.id == notice["id"])
                    .values(claimed_until=datetime.now(timezone.utc) + timedelta(minutes=5)))
    session.commit()
    assert "sent 0" in run_dispatch().output
    # ...and crashed: once the lease has run out, the notice goes, with its own Message-ID.
    session.execute(update(Notice).where(Notice.id == notice["id"])
                    .values(claimed_until=datetime.now(timezone.utc) - timedelta(seconds=1)))
    session.commit()
    assert "sent 1" in run_dispatch().output
    message_id = session.scalar(select(Notice.message_id).where(Notice.id == notice["id"]))
    assert [m["Message-ID"] for m in smtp_server.messages] == [message_id]


def test_the_gag_is_judged_again_right_before_sending(app, desk, contoso, smtp_server):
    demand = desk.log(["bob@contoso.com"])
    dispatcher = dispatcher_for(app)
    now = datetime.now(timezone.utc)
    [(notice_id, lease)] = dispatcher.claim(now)  # claimed, committed...
    desk.must(demand["id"], "gag", {"order_ref": "NDO-9", "issued_by": "Court", "expires_at": None})
    counts = DispatchCounts()
    dispatcher.deliver(notice_id, lease, now, counts)  # ...but a gag came first
    assert counts.sent == 0 and smtp_server.messages == []
    [notice] = desk.notices(demand["id"])
    assert notice["state"] == "held"


def test_message_id_is_stable_across_attempts(app, desk, contoso, smtp_server, run_dispatch, session):
    demand = desk.log(["bob@contoso.com"])
    message_id = session.scalar(select(Notice.message_id).where(Notice.demand_id == demand["id"]))
    smtp_server.refuse_with = "450 4.2.0 greylisted"
    run_dispatch()
    smtp_server.refuse_with = None
    assert "sent 1" in run_dispatch(datetime.now(timezone.utc) + timedelta(hours=1)).output
    assert [m["Message-ID"] for m in smtp_server.messages] == [message_id]


# ---------------------------------------------------------------- the command line


def test_cli_errors_are_one_line_and_non_zero(app, run_dispatch):
    for args in (("not-a-date",), (None, "--every", "0"), (None, "--every", "soon"),
                 ("2026-01-01T00:00:00Z", "--every", "5")):
        result = run_dispatch(*args)
        assert result.exit_code != 0, args
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.output


def test_smtp_unreachable_is_recorded_not_raised(app, desk, contoso, run_dispatch):
    app.config["DESK_SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    demand = desk.log(["bob@contoso.com"])
    result = run_dispatch()
    assert result.exit_code == 0, result.output
    assert "sent 0, held 0, retrying 1, failed 0" in result.output
    [notice] = desk.notices(demand["id"])
    assert notice["state"] == "pending" and "cannot reach the SMTP server" in notice["last_error"]


def test_bad_smtp_url_or_database_cannot_run(app, run_dispatch):
    app.config["DESK_SMTP_URL"] = "http://mail.example.com"
    result = run_dispatch()
    assert result.exit_code != 0 and result.output.strip().startswith("Error: DESK_SMTP_URL")
    app.config["DESK_SMTP_URL"] = None
    env = {**os.environ, "DESK_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
           "DESK_INSTANCE_PATH": str(Path(app.instance_path))}
    proc = subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "desk", "dispatch"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("Error: database error")


def test_every_runs_as_a_worker_until_sigterm(app, desk, contoso, smtp_server, db_url, tmp_path):
    env = {**os.environ, "DESK_DATABASE_URL": db_url, "DESK_SMTP_URL": smtp_server.url,
           "DESK_INSTANCE_PATH": str(tmp_path / "worker"), "DESK_UPLOAD_DIR": app.config["DESK_UPLOAD_DIR"]}
    worker = subprocess.Popen([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "desk", "dispatch", "--every", "0.5"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = desk.log(["bob@contoso.com"])
        deadline = time.monotonic() + 30
        while not smtp_server.for_reference(first["reference"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        second = desk.log(["carol@contoso.com"])  # picked up by a later pass
        while not smtp_server.for_reference(second["reference"]) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert len(smtp_server.messages) == 2, (out, err)
    assert "Dispatcher stopped." in out and "sent 1" in out
