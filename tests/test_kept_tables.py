"""Small tables pages show (the rules, the data sets, the customers' list) are kept by each
worker for a few seconds (requests_desk/kept.py): read once, seen again at once after a
change in this process, and within KEEP_SECONDS after one made elsewhere."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from requests_desk import kept, rules
from requests_desk.models import Customer, DataSet
from tests.factories import counted, make_customer, make_demand, make_user


@pytest.fixture
def clock(monkeypatch):
    """kept.py's monotonic clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(kept.time, "monotonic", lambda: now[0])
    return now


@pytest.fixture
def staff(session, login):
    user = make_user(session, "counsel", "approver", email="kim@desk.example")
    login(user.email)
    return user


def _options(html: str) -> str:
    return html[html.index('<select id="customer"'):html.index("</select>", html.index('<select id="customer"'))]


def test_the_case_list_reads_the_rules_and_customers_once(app, client, session, staff, clock):
    make_customer(session, "Contoso", domains=("contoso.com",))
    make_demand(session, staff, targets=["alice@contoso.com"])
    assert client.get("/desk/demands").status_code == 200
    with counted(app) as statements:
        html = client.get("/desk/demands").get_data(as_text=True)
    assert "Contoso" in _options(html)
    assert not [s for s in statements if "FROM process_rules" in s or "FROM customers ORDER BY" in s], statements
    # The select still offers every process type, in the table's order.
    assert html.index('value="subpoena"') < html.index('value="court_order"') < html.index('value="other"')
    clock[0] += kept.KEEP_SECONDS  # later: read again
    with counted(app) as statements:
        client.get("/desk/demands")
    assert [s for s in statements if "FROM process_rules" in s]
    assert [s for s in statements if "FROM customers ORDER BY" in s]


def test_a_customer_added_here_shows_at_once_and_one_added_elsewhere_within_the_time(app, client, session,
                                                                                       staff, clock):
    make_customer(session, "Contoso", domains=("contoso.com",))
    assert "Fabrikam" not in _options(client.get("/desk/demands").get_data(as_text=True))
    make_customer(session, "Fabrikam", domains=("fabrikam.de",))  # an ORM flush and commit in this process
    assert "Fabrikam" in _options(client.get("/desk/demands").get_data(as_text=True))
    # Another process (the CLI, another worker) writes without this process's sessions.
    engine = app.extensions["desk"]["engine"]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO customers (name, enterprise, created_at) "
                          "VALUES ('Northwind', true, CURRENT_TIMESTAMP)"))
    assert "Northwind" not in _options(client.get("/desk/demands").get_data(as_text=True))
    clock[0] += kept.KEEP_SECONDS - 0.5
    assert "Northwind" not in _options(client.get("/desk/demands").get_data(as_text=True))
    clock[0] += 0.5
    assert "Northwind" in _options(client.get("/desk/demands").get_data(as_text=True))


def test_a_change_rolled_back_is_never_kept(app, session, clock):
    other = Session(app.extensions["desk"]["engine"])
    before = [r.name for r in kept.kept(other, "names", Customer,
                                        lambda c: tuple(c.execute(text("SELECT name FROM customers"))))]
    other.rollback()
    kept.forget()
    session.add(Customer(name="Tentative"))
    session.flush()
    read = kept.kept(session, "names", Customer, lambda c: tuple(c.execute(text("SELECT name FROM customers"))))
    assert "Tentative" in [r.name for r in read]  # its own transaction sees it, but does not keep it
    session.rollback()
    again = kept.kept(other, "names", Customer, lambda c: tuple(c.execute(text("SELECT name FROM customers"))))
    assert [r.name for r in again] == before
    other.close()


def test_load_rules_in_this_process_is_seen_at_once(session, clock):
    assert rules.shown_data_sets(session)["email_content"].label == "E-mail content"
    session.commit()
    changed = rules.RuleSet(
        data_sets=tuple((c, t, "Mail bodies" if c == "email_content" else label)
                        for c, t, label in rules.DEFAULT_RULES.data_sets),
        process_types=rules.DEFAULT_RULES.process_types)
    rules.load_rules(session, changed)
    session.commit()
    assert rules.shown_data_sets(session)["email_content"].label == "Mail bodies"
    assert session.get(DataSet, "email_content").label == "Mail bodies"


def test_kept_values_cannot_be_changed_by_a_caller(session, clock):
    shown = rules.shown_rules(session)
    with pytest.raises(TypeError):
        shown["subpoena"] = None  # type: ignore[index]
    with pytest.raises(AttributeError):
        shown["subpoena"].label = "Changed"  # type: ignore[misc]
    assert rules.process_codes(session)[0] == "subpoena"
    assert rules.shown_rule(session, "search_warrant").max_tier == "content"
    assert rules.shown_rule(session, "no_such_type") is None


def test_the_lists_flagged_sender_badge_follows_the_flags(app, client, session, staff, clock):
    """The case list tells a flagged sender from its rows' addresses and the active flags
    (kept): none of its statements reads the flags or the requesters for it."""
    from datetime import datetime, timezone

    from requests_desk.models import FraudFlag

    make_demand(session, staff, requester={"agency": "Forged PD", "name": "F. Orger", "email": "Chief@Forged.example",
                                           "type": "law_enforcement"})
    assert "Flagged sender" not in client.get("/desk/demands").get_data(as_text=True)
    flag = FraudFlag(kind="domain", value="forged.example", flagged_at=datetime.now(timezone.utc))
    session.add(flag)
    session.commit()  # in this process: at once (the flags read again)
    assert "Flagged sender" in client.get("/desk/demands").get_data(as_text=True)
    with counted(app) as statements:
        assert "Flagged sender" in client.get("/desk/demands").get_data(as_text=True)
    assert not [s for s in statements if "fraud_flags" in s or "FROM requesters" in s], statements
    flag.lifted_at = datetime.now(timezone.utc)
    session.commit()
    assert "Flagged sender" not in client.get("/desk/demands").get_data(as_text=True)
    # Set by another process: within KEEP_SECONDS.
    with app.extensions["desk"]["engine"].begin() as conn:
        conn.execute(text("INSERT INTO fraud_flags (kind, value, flagged_at) "
                          "VALUES ('email', 'chief@forged.example', CURRENT_TIMESTAMP)"))
    assert "Flagged sender" not in client.get("/desk/demands").get_data(as_text=True)
    clock[0] += kept.KEEP_SECONDS
    assert "Flagged sender" in client.get("/desk/demands").get_data(as_text=True)
