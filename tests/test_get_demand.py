"""services/case.py: get_demand, the one loader of a demand: every collection its readers
use is loaded by it (none later, one at a time), a demand read again in the same session
costs one statement, and a read for update sees what others committed meanwhile."""
from __future__ import annotations

from sqlalchemy import update

from requests_desk.access import SYSTEM
from requests_desk.models import DemandTarget
from requests_desk.services import gags as gag_service
from requests_desk.services.case import get_demand

from .factories import counted, make_customer, make_demand, make_user

COLLECTIONS = ("targets", "items", "documents", "production_files", "gags", "emergency_checks")


def _demand(session):
    intake = make_user(session, "intake")
    counsel = make_user(session, "counsel")
    make_customer(session, "Contoso", domains=("contoso.example",))
    demand = make_demand(session, intake, commit=False, targets=["a@contoso.example", "b@mailbox.example"])
    gag_service.set_gag(session, counsel, demand, {"order_ref": "NDO 1", "issued_by": "Court", "expires_at": None})
    session.commit()
    return demand.id


def _read_all(demand) -> tuple:
    return (
        [(t.identifier, t.customer.name if t.customer else None) for t in demand.targets],
        [(i.kind, i.data_set) for i in demand.items],
        [(d.filename, [r.customer_id for r in d.recipients]) for d in demand.documents],
        [f.name for f in demand.production_files],
        [g.order_ref for g in demand.gags],
        [(c.check_code, c.by.email) for c in demand.emergency_checks],
        demand.assignee, demand.requester.agency,
    )


def test_every_collection_comes_with_the_demand(app, session):
    demand_id = _demand(session)
    sessions = app.extensions["desk"]["sessionmaker"]
    with sessions() as fresh:
        with counted(app) as statements:
            demand = get_demand(fresh, demand_id, viewer=SYSTEM)
        loaded = len(statements)
        with counted(app) as later:
            shown = _read_all(demand)
        assert later == [], "a collection was loaded after get_demand:\n" + "\n".join(later)
        assert shown[0] == [("a@contoso.example", "Contoso"), ("b@mailbox.example", None)]
        assert shown[4] == ["NDO 1"]
        # the demand (with requester and assignee), then each collection: a fixed number
        assert loaded <= 1 + len(COLLECTIONS) + 1

        # Read again in the same session: the collections it holds are kept.
        with counted(app) as again:
            assert get_demand(fresh, demand_id, viewer=SYSTEM) is demand
        assert len(again) == 1, "\n".join(again)


def test_a_read_for_update_sees_what_was_committed_meanwhile(app, session):
    demand_id = _demand(session)
    sessions = app.extensions["desk"]["sessionmaker"]
    with sessions() as reader, sessions() as other:
        demand = get_demand(reader, demand_id, viewer=SYSTEM)
        assert demand.targets[1].identifier == "b@mailbox.example"
        other.execute(update(DemandTarget).where(DemandTarget.demand_id == demand_id,
                                                 DemandTarget.identifier == "b@mailbox.example")
                      .values(identifier="c@mailbox.example"))
        other.commit()
        again = get_demand(reader, demand_id, viewer=SYSTEM, for_update=True)
        assert [t.identifier for t in again.targets] == ["a@contoso.example", "c@mailbox.example"]
        reader.rollback()
