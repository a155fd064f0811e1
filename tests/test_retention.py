"""Retention (SPEC §8, issue 13 point 4): `desk purge` is a dry run that changes nothing;
`desk purge --apply` deletes the files of demands closed more than DESK_RETENTION_DAYS
ago and replaces their target identifiers and requester's details everywhere (audit
events included), keeps demands under an active gag, a running preservation hold, or still
open, leaves the report as it was, and leaves an audit log that verifies and still
catches any other change. On SQLite the values are gone from the database file's bytes."""
from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import LargeBinary, String, Text, select, update

from reports.periods import Period
from requests_desk import audit
from requests_desk.db import Base
from requests_desk.models import AuditEvent, AuditHead, Demand, Document, PreservationHold
from requests_desk.services import reports as report_service
from requests_desk.services.redaction import MARK, identifier_mark
from tests.factories import login, make_customer, make_token, make_user, upload_pdf

NOW = datetime.now(timezone.utc).replace(microsecond=0)
RECEIVED = NOW - timedelta(days=1)
LATER = (NOW + timedelta(days=731)).isoformat()  # past the 730 days of every demand closed now
GAG = {"order_ref": "NDO-2026-7", "issued_by": "US District Court, N.D. Cal.", "expires_at": None}

OLD_TARGETS = ["ada.lovelace@contoso.example", "charles.babbage@contoso.example"]
SHARED = "shared.account@contoso.example"  # also named by a demand still open: it stays there
OLD_REQUESTER = {"agency": "Metropolitan Police", "name": "Ingrid Vandersloot",
                 "email": "ingrid.vandersloot@police.example", "phone": "+1 555 0177", "type": "law_enforcement"}
OLD_VALUES = OLD_TARGETS + [OLD_REQUESTER["name"], OLD_REQUESTER["email"], OLD_REQUESTER["phone"]]
SECOND_OLD = "bob.second@contoso.example"  # a purged demand whose requester a kept demand shares


def _run(app, *args):
    result = app.test_cli_runner().invoke(args=["desk", *args])
    return result.exit_code, result.stdout, result.stderr


def _requested(targets):
    return [{"target": t, "data_set": "email_content", "from": "2026-01-01", "to": "2026-03-31"} for t in targets]


def _close_with_kept_file(app, desk, demand_id: int) -> str:
    """Review, scope, approval and production with one kept file (named by its target)."""
    stored = secrets.token_hex(16)
    content = b"produced data of " + OLD_TARGETS[0].encode()
    upload = Path(app.config["DESK_UPLOAD_DIR"])
    upload.mkdir(parents=True, exist_ok=True)
    (upload / stored).write_bytes(content)
    items = _requested(OLD_TARGETS[:1])
    desk.must(demand_id, "start-review", {"reason": "urgent, reviewed directly"})
    desk.must(demand_id, "propose-scope", {"items": items})
    desk.must(demand_id, "approve", who="approver")
    desk.must(demand_id, "record-production", {"items": items, "files": [
        {"name": f"{OLD_TARGETS[0]}.zip", "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content),
         "stored_name": stored}]})
    return stored


@pytest.fixture
def world(app, session, desk, run_dispatch):
    """Six demands received yesterday: two closed now (purged 731 days later: ``old`` with
    a document, a kept production file and notices sent to the outbox; ``second`` whose
    requester a kept demand shares), one closed under a gag without end, one closed with a
    preservation hold running for 1,000 days, one still open, all about Contoso."""
    make_customer(session, "Contoso", domains=("contoso.example",))
    received = RECEIVED.isoformat()
    old = desk.log(OLD_TARGETS + [SHARED], _requested(OLD_TARGETS), requester=OLD_REQUESTER, country="DE",
                   received_at=received,
                   notes=f"Phoned {OLD_REQUESTER['email']} ({OLD_REQUESTER['name']}) about {OLD_TARGETS[0]}.")
    upload_pdf(desk.as_intake, old["id"], name="warrant.pdf")
    stored = _close_with_kept_file(app, desk, old["id"])
    second = desk.log([SECOND_OLD], received_at=received)
    desk.must(second["id"], "withdraw", {"note": f"{SECOND_OLD} was closed by the agency"}, who="intake")
    gagged = desk.log(["gagged.one@contoso.example"], received_at=received)
    desk.must(gagged["id"], "gag", GAG)
    upload_pdf(desk.as_intake, gagged["id"], name="gagged.pdf")
    desk.must(gagged["id"], "withdraw", {}, who="intake")
    held = desk.log(["held.one@contoso.example"], received_at=received)
    desk.must(held["id"], "withdraw", {}, who="intake")
    session.add(PreservationHold(demand_id=held["id"], starts_at=NOW, ends_at=NOW + timedelta(days=1000)))
    session.commit()
    open_ = desk.log([SHARED, "open.one@contoso.example"], country="FR", received_at=received)
    assert run_dispatch().exit_code == 0
    session.expire_all()
    ids = {name: d["id"] for name, d in
           (("old", old), ("second", second), ("gagged", gagged), ("held", held), ("open", open_))}
    docs = {d.demand_id: d.stored_name for d in session.scalars(select(Document))}
    return {"ids": ids, "stored": stored, "docs": docs}


def _outbox_files(app, session, demand_id: int) -> list[Path]:
    rows = session.execute(select(Base.metadata.tables["notices"].c.message_id)
                           .where(Base.metadata.tables["notices"].c.demand_id == demand_id)).scalars().all()
    outbox = Path(app.config["DESK_OUTBOX_DIR"])
    return [outbox / (hashlib.sha256(m.encode()).hexdigest()[:32] + ".eml") for m in rows]


def _cells(session):
    """(table, column, value) for every text or binary column of every table."""
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (String, Text, LargeBinary))]
        if not columns:
            continue
        for row in session.execute(select(*columns)):
            for column, value in zip(columns, row):
                if value is not None:
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    yield table.name, column.name, text


def _found(session, values) -> list[tuple[str, str, str]]:
    session.expire_all()
    folded = [v.casefold() for v in values]
    return [(t, c, v) for t, c, cell in _cells(session) for v in folded if v in cell.casefold()]


def _report(session, min_country: int = 0) -> str:
    row = report_service.compile_report(session, None, Period.containing(RECEIVED).code, now=NOW,
                                        min_country=min_country)
    session.commit()
    return row.body


# ---------------------------------------------------------------- what a purge does


def test_purge_redacts_every_copy_deletes_the_files_and_keeps_the_rest(app, session, world):
    ids = world["ids"]
    upload, outbox_old = Path(app.config["DESK_UPLOAD_DIR"]), _outbox_files(app, session, ids["old"])
    old_files = [upload / world["stored"], upload / world["docs"][ids["old"]]] + outbox_old
    kept_files = [upload / world["docs"][ids["gagged"]]] + _outbox_files(app, session, ids["open"])
    assert outbox_old and all(p.exists() for p in old_files + kept_files)
    # Before: the values are everywhere (targets, items, requester, notes, file names, audit events).
    before = {(t, c) for t, c, _v in _found(session, OLD_VALUES)}
    assert {("demand_targets", "identifier"), ("demand_items", "target"), ("requesters", "email"),
            ("demands", "notes"), ("production_files", "name"), ("audit_events", "after"),
            ("report_accounts", "identifier")} <= before
    reports = (_report(session), _report(session, min_country=100))

    code, out, err = _run(app, "purge", "--apply", "--now", LATER)
    assert (code, err) == (0, ""), err
    old_ref = session.get(Demand, ids["old"]).reference
    assert f"Purged 2 demands: {old_ref}, " in out
    assert "Kept: 1 under an active gag" in out and "1 under a preservation hold still running" in out

    assert _found(session, OLD_VALUES) == []
    assert not any(p.exists() for p in old_files)
    assert all(p.exists() for p in kept_files)
    assert session.scalars(select(Document).where(Document.demand_id == ids["old"])).all() == []
    key = session.info["audit_key"]
    old = session.get(Demand, ids["old"])
    assert [t.identifier for t in old.targets] == [identifier_mark(key, t) for t in OLD_TARGETS + [SHARED]]
    assert old.purged_at is not None and old.status == "closed" and old.outcome == "content_disclosed"
    assert (old.requester.name, old.requester.email, old.requester.agency) == (MARK, MARK, "Metropolitan Police")
    assert [f.stored_name for f in old.production_files] == [None]
    # The second purged demand's requester is shared with the open demand: it stays for
    # that one, and the purged demand now names a requester whose details are the mark.
    second, open_ = session.get(Demand, ids["second"]), session.get(Demand, ids["open"])
    assert (second.requester.name, second.requester.email) == (MARK, MARK)
    assert open_.requester.name == "Det. Jane Roe" and open_.requester_id != second.requester_id
    assert _found(session, [SECOND_OLD]) == []
    # Kept: gagged, held, open.
    for name, target in (("gagged", "gagged.one@contoso.example"), ("held", "held.one@contoso.example"),
                         ("open", "open.one@contoso.example")):
        demand = session.get(Demand, ids[name])
        assert demand.purged_at is None and target in [t.identifier for t in demand.targets]
    # The report summary keeps one spelling per account and period: the account a kept
    # demand still names keeps its own (a backdated demand naming it again counts it once).
    accounts = Base.metadata.tables["report_accounts"]
    spelled = session.execute(select(accounts.c.dimension, accounts.c.member).where(accounts.c.identifier == SHARED)
                              .order_by(accounts.c.dimension, accounts.c.member)).all()
    assert spelled == [("country", "DE"), ("country", "FR"), ("process_type", "search_warrant"), ("section", "main")]
    assert session.execute(select(accounts.c.member).where(
        accounts.c.identifier == identifier_mark(key, SHARED))).all() == []
    _counts_match_rows(session)
    # The report is the one compiled before, small countries merged or not.
    assert (_report(session), _report(session, min_country=100)) == reports
    # (not trivially: 7 distinct accounts, the one named by a purged and a kept demand once,
    # also where Germany's and France's accounts merge into Other)
    assert json.loads(reports[0])["totals"]["accounts_specified"] == 7
    assert [(r["country"], r["accounts_specified"]) for r in json.loads(reports[1])["by_country"]] == [("Other", 7)]
    # Audit: one demand.purged per purged demand, naming counts, never values; the chain verifies.
    purged = session.scalars(select(AuditEvent).where(AuditEvent.action == "demand.purged")
                             .order_by(AuditEvent.seq)).all()
    assert [e.demand_id for e in purged] == [ids["old"], ids["second"]]
    assert json.loads(purged[0].after)["files_deleted"] == 2
    redacted = session.scalars(select(AuditEvent).where(AuditEvent.redacted_at.is_not(None))).all()
    assert {e.demand_id for e in redacted} == {ids["old"], ids["second"]}
    code, out, _ = _run(app, "verify-audit")
    assert code == 0 and out.startswith("Audit log intact")
    # A second run purges nothing more.
    code, out, _ = _run(app, "purge", "--apply", "--now", LATER)
    assert code == 0 and "Nothing to purge." in out


def _rows(session) -> dict[str, list]:
    session.expire_all()
    return {t.name: sorted((tuple(map(repr, r)) for r in session.execute(select(t))), key=repr)
            for t in Base.metadata.sorted_tables}


def test_the_dry_run_says_what_it_would_do_and_changes_nothing(app, session, world):
    ids = world["ids"]
    upload = Path(app.config["DESK_UPLOAD_DIR"])
    files = sorted(p.name for p in upload.iterdir()) + sorted(p.name for p in Path(app.config["DESK_OUTBOX_DIR"]).iterdir())
    rows = _rows(session)
    code, out, err = _run(app, "purge", "--now", LATER)
    assert (code, err) == (0, "")
    refs = [session.get(Demand, ids[n]).reference for n in ("old", "second", "gagged", "held")]
    lines = out.splitlines()
    assert lines[1] == f"Would purge 2 demands: {refs[0]}, {refs[1]}."
    assert lines[2].startswith("  with 1 document, 1 kept production file, the outbox copies of ")
    assert lines[3] == (f"Kept: 1 under an active gag ({refs[2]}); "
                        f"1 under a preservation hold still running ({refs[3]}).")
    assert lines[-1] == "Dry run: nothing was changed (desk purge --apply purges)."
    assert _rows(session) == rows
    assert sorted(p.name for p in upload.iterdir()) + sorted(
        p.name for p in Path(app.config["DESK_OUTBOX_DIR"]).iterdir()) == files


def test_a_demand_closed_less_than_the_retention_period_ago_is_kept(app, session, world):
    almost = (NOW + timedelta(days=729)).isoformat()
    rows = _rows(session)
    code, out, _ = _run(app, "purge", "--apply", "--now", almost)
    assert code == 0 and "Nothing to purge." in out
    assert _rows(session) == rows
    # DESK_RETENTION_DAYS shortens it.
    app.config["DESK_RETENTION_DAYS"] = 700
    code, out, _ = _run(app, "purge", "--apply", "--now", almost)
    assert code == 0 and "Purged 2 demands" in out


def test_the_gag_lifted_or_the_hold_ended_the_demand_is_purged(app, session, world, desk):
    ids = world["ids"]
    desk.must(ids["gagged"], "gag/lift", {"reason": "order lifted"})
    session.execute(update(PreservationHold).values(ends_at=NOW + timedelta(days=10)))
    session.commit()
    code, out, _ = _run(app, "purge", "--apply", "--now", LATER)
    assert code == 0 and "Purged 4 demands" in out and "Kept" not in out
    assert _found(session, ["gagged.one@contoso.example", "held.one@contoso.example"]) == []
    assert session.get(Demand, ids["open"]).purged_at is None
    assert _run(app, "verify-audit")[0] == 0


# ---------------------------------------------------------------- the audit log after a purge


def _purged(app, session, world) -> list[AuditEvent]:
    code, _out, err = _run(app, "purge", "--apply", "--now", LATER)
    assert code == 0, err
    assert _run(app, "verify-audit")[0] == 0
    session.expire_all()
    return session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()


def _broken(app) -> str:
    code, out, err = _run(app, "verify-audit")
    assert code == 1 and out == "", out
    return err


def _first(events, redacted: bool, action: str | None = None) -> AuditEvent:
    return next(e for e in events if (e.redacted_at is not None) == redacted and (action is None or e.action == action))


@pytest.mark.parametrize("change", ["actor", "redacted payload", "redacted before", "unredacted payload",
                                    "un-redacted", "redaction mark forged", "seal of another event", "time"])
def test_after_a_purge_any_other_change_still_breaks_the_chain(app, session, world, change):
    events = _purged(app, session, world)
    redacted = _first(events, True, "demand.log")
    plain = _first(events, False, "demand.log")
    other = next(e for e in events if e.redacted_at is not None and e.id != redacted.id)
    values = {
        "actor": (redacted, {"actor": "someone-else@desk.example"}),
        "redacted payload": (redacted, {"after": redacted.after.replace("redacted:", "redacted-")}),
        "redacted before": (other, {"before": '{"status":"received"}'}),
        "unredacted payload": (plain, {"after": plain.after.replace('"status":"received"', '"status":"closed"')}),
        "un-redacted": (redacted, {"redacted_at": None, "redaction_seal": None}),
        "redaction mark forged": (plain, {"redacted_at": NOW, "redaction_seal": "0" * 64,
                                          "after": plain.after.replace(".one@contoso.example", "")}),
        "seal of another event": (redacted, {"redaction_seal": other.redaction_seal}),
        "time": (redacted, {"at": redacted.at + timedelta(seconds=1)}),
    }
    event, new = values[change]
    for column, value in new.items():
        if isinstance(value, str) and column in ("after", "before"):
            assert value != getattr(event, column)  # the change is a change
    session.execute(update(AuditEvent).where(AuditEvent.id == event.id).values(new))
    session.commit()
    assert f"event #{event.seq} (id {event.id}) was altered" in _broken(app)


def test_a_redacted_event_keeps_its_place_and_digest(app, session, world):
    """The chain's hashes and head do not change with a redaction: the head recorded before
    the purge is the one before the purge's own events."""
    session.expire_all()
    head_before = session.get(AuditHead, 1).last_hash
    before = {e.id: (e.hash, e.payload_digest) for e in session.scalars(select(AuditEvent))}
    events = _purged(app, session, world)
    assert {e.id: (e.hash, e.payload_digest) for e in events if e.id in before} == before
    first_new = next(e for e in events if e.id not in before)
    assert first_new.prev_hash == head_before
    key = session.info["audit_key"]
    for e in events:
        if e.redacted_at is not None:
            assert audit.payload_digest(key, e.before, e.after) != e.payload_digest
            assert audit.payload_intact(key, e)


# ---------------------------------------------------------------- the database file


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_file_holds_no_purged_value_afterwards(app, session, world):
    path = Path(app.config["DESK_DATABASE_URL"].removeprefix("sqlite:///"))

    def raw() -> bytes:
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())

    app.extensions["desk"]["engine"].dispose()
    assert all(v.encode() in raw() for v in OLD_VALUES)  # there before (file or WAL)
    code, _out, err = _run(app, "purge", "--apply", "--now", LATER)
    assert code == 0, err
    session.close()
    app.extensions["desk"]["engine"].dispose()
    data = raw()
    assert [v for v in OLD_VALUES if v.encode() in data] == []
    assert b"open.one@contoso.example" in data and SHARED.encode() in data  # kept values are still there


# ---------------------------------------------------------------- chains from before the payload digests


def _undigest(session) -> None:
    """The chain as an older desk (or the demo's bulk path) writes it: events hashed over
    their before/after, no payload digest."""
    key = session.info["audit_key"]
    session.execute(update(AuditEvent).values(payload_digest=None))
    session.commit()
    prev = audit.GENESIS
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
        event.prev_hash, event.hash = prev, audit.chain_hash(key, prev, event.seq, audit.event_fields(event))
        prev = event.hash
    session.get(AuditHead, 1).last_hash = prev
    session.commit()


def test_init_gives_an_older_chain_its_digests_once(app, session, world):
    _undigest(session)
    assert _run(app, "verify-audit")[0] == 0  # an older chain verifies as it is
    count = session.get(AuditHead, 1).count
    code, out, err = _run(app, "init")
    assert (code, err) == (0, ""), err
    assert f"Audit log: {count} events given payload digests" in out
    session.expire_all()
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert all(e.payload_digest for e in events) and len(events) == count + 1
    assert (events[-1].action, json.loads(events[-1].after)) == ("audit.digested", {"events": count, "rehashed": count})
    assert _run(app, "verify-audit")[0] == 0
    snapshot = [(e.id, e.hash) for e in events]
    code, out, _ = _run(app, "init")
    assert code == 0 and "payload digests" not in out
    session.expire_all()
    assert [(e.id, e.hash) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))] == snapshot


def test_a_purge_gives_undigested_events_their_digests_first(app, session, world):
    _undigest(session)
    code, out, _ = _run(app, "purge", "--now", LATER)
    assert code == 0 and "still without a payload digest" in out
    code, out, err = _run(app, "purge", "--apply", "--now", LATER)
    assert code == 0, err
    assert "given payload digests first" in out and "Purged 2 demands" in out
    assert _found(session, OLD_VALUES) == []
    assert _run(app, "verify-audit")[0] == 0


def test_a_broken_chain_is_neither_digested_nor_purged(app, session, world):
    _undigest(session)
    session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(actor="mallory"))
    session.commit()
    rows = _rows(session)
    for args in (("init",), ("purge", "--apply", "--now", LATER)):
        code, _out, err = _run(app, *args)
        assert code == 1 and "audit log is broken (event #3" in err, err
    assert _rows(session) == rows
    assert (Path(app.config["DESK_UPLOAD_DIR"]) / world["stored"]).exists()


def test_a_purge_on_a_tampered_digest_chain_changes_nothing(app, session, world):
    """A payload altered after it was written is not sealed by a redaction: refused."""
    old = world["ids"]["old"]
    session.execute(update(AuditEvent).where(AuditEvent.demand_id == old, AuditEvent.action == "demand.log")
                    .values(after='{"targets":["someone.else@contoso.example"]}'))
    session.commit()
    rows = _rows(session)
    code, _out, err = _run(app, "purge", "--apply", "--now", LATER)
    assert code == 1 and "audit log is broken" in err and "nothing was purged" in err
    assert _rows(session) == rows
    assert (Path(app.config["DESK_UPLOAD_DIR"]) / world["stored"]).exists()


def test_retention_days_must_be_a_positive_whole_number():
    from requests_desk.config import load_config

    assert load_config("/nonexistent-instance", {"DESK_SECRET_KEY": "k", "DESK_AUDIT_KEY": "a" * 32}
                       )["DESK_RETENTION_DAYS"] == 730
    for bad in ("0", "-3", "two years"):
        with pytest.raises(ValueError, match="DESK_RETENTION_DAYS"):
            load_config("/nonexistent-instance", {"DESK_SECRET_KEY": "k", "DESK_AUDIT_KEY": "a" * 32,
                                                  "DESK_RETENTION_DAYS": bad})


def _counts_match_rows(session) -> None:
    """Each of the summary's account counts is the number of its distinct identifiers."""
    counted = {(r.period, r.dimension, r.member): r.n for r in session.execute(
        select(Base.metadata.tables["report_account_counts"]))}
    accounts = Base.metadata.tables["report_accounts"]
    rows: dict = {}
    for r in session.execute(select(accounts)):
        rows[(r.period, r.dimension, r.member)] = rows.get((r.period, r.dimension, r.member), 0) + 1
    assert counted == rows


def test_an_account_named_again_after_its_purge_counts_once_when_purged_again(app, session, world, desk):
    """A demand logged late into a period that was purged names a purged account again:
    until that demand is purged in turn the summary counts the account twice (its mark and
    itself: only the key tells they are one), then once again."""
    assert _run(app, "purge", "--apply", "--now", LATER)[0] == 0
    first = json.loads(_report(session))["totals"]
    late = desk.log([OLD_TARGETS[0]], country="DE", received_at=RECEIVED.isoformat())
    desk.must(late["id"], "withdraw", {}, who="intake")
    assert json.loads(_report(session))["totals"]["accounts_specified"] == first["accounts_specified"] + 1
    code, out, _ = _run(app, "purge", "--apply", "--now", LATER)
    assert code == 0 and "Purged 1 demand:" in out
    after = json.loads(_report(session))["totals"]
    assert (after["requests"], after["accounts_specified"]) == (first["requests"] + 1, first["accounts_specified"])
    _counts_match_rows(session)
    assert _found(session, OLD_VALUES) == []
    assert _run(app, "verify-audit")[0] == 0


def test_a_purged_demand_says_so_on_its_page_and_in_the_api(app, session, world):
    old_id = world["ids"]["old"]
    counsel = make_user(session, "counsel", email="reads.after.purge@desk.example")
    token = make_token(session, counsel)
    client = app.test_client()
    before = client.get(f"/api/v1/demands/{old_id}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert before["purged_at"] is None
    assert _run(app, "purge", "--apply", "--now", LATER)[0] == 0
    after = client.get(f"/api/v1/demands/{old_id}", headers={"Authorization": f"Bearer {token}"}).get_json()
    session.expire_all()
    assert after["purged_at"] and after["purged_at"].startswith(session.get(Demand, old_id).purged_at.date().isoformat())
    assert login(client, counsel.email).status_code == 302
    page = client.get(f"/desk/demands/{old_id}").get_data(as_text=True)
    assert "<dt>Purged</dt>" in page and "redacted (retention)" in page
