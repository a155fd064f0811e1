"""The reference path: every step of the case specs through the real services, in time
order, one transaction each (as the views and the API do), with the real notice
dispatcher run at the modelled dispatcher's times. Slow on purpose: for tests and small
desks; tests/test_demo.py holds the bulk path to it row by row."""
from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Iterable

from .. import workflow
from ..access import SYSTEM
from ..models import User
from ..notices.dispatcher import Dispatcher, MailSettings
from ..notices.mailer import mailer_from_config
from ..services import gags as gag_service
from ..services import emergency_checks, notice_release
from ..services.case import get_demand
from ..services.documents import store_document
from ..services.intake import log_demand
from .cases import CaseSpec
from .clock import at
from .papers import legal_process
from .replay import CaseReplay
from .world import World

GAG_CHANGES = {"gag.set": gag_service.set_gag, "gag.extend": gag_service.extend_gag,
               "gag.lift": gag_service.lift_gag, "defer-notices": gag_service.defer_notices,
               "release-notices": notice_release.release_notices, "checks": emergency_checks.record_check}


def dispatcher_runs(world: World, cases: Iterable[CaseSpec], now: datetime) -> list[datetime]:
    """The modelled dispatcher's runs at which something happens to a notice."""
    runs: set[int] = set()
    for case in cases:
        runs |= CaseReplay(world, case, 0, "", now, record_runs=True).run().mail.runs
    return [at(r) for r in sorted(runs)]


def load_through_services(app, world: World, cases: list[CaseSpec], now: datetime, *, mailer=None) -> None:
    sessions = app.extensions["desk"]["sessionmaker"]
    config = app.config
    upload_dir = Path(config["DESK_UPLOAD_DIR"])
    dispatcher = Dispatcher(sessions, mailer or mailer_from_config(config), MailSettings(
        mail_from=config["DESK_MAIL_FROM"], base_url=config["DESK_BASE_URL"], upload_dir=upload_dir))
    timeline: list[tuple] = [(step.at, case.index, number, case, step)
                             for case in cases for number, step in enumerate(case.steps)]
    timeline += [(r, -1, 0, None, None) for r in dispatcher_runs(world, cases, now)]
    timeline.sort(key=lambda x: (x[0], x[1], x[2]))
    ids: dict[int, int] = {}
    for when, index, _number, case, step in timeline:
        if case is None:
            dispatcher.run_once(when)
            continue
        session = sessions()
        try:
            actor = session.get(User, world.users[step.actor][0])
            if step.action == "log":  # logged, then its legal process added, as the intake form does
                demand = log_demand(session, actor, step.body, now=when)
                name, pdf = legal_process(step.body, demand.reference)
                store_document(session, actor, demand, name, io.BytesIO(pdf), directory=upload_dir, now=when)
                ids[index] = demand.id
            else:
                demand = get_demand(session, ids[index], viewer=SYSTEM, for_update=True)
                if step.action in GAG_CHANGES:
                    GAG_CHANGES[step.action](session, actor, demand, step.body, now=when)
                else:
                    workflow.apply_action(session, actor, demand, step.action, step.body, now=when)
            session.commit()
        finally:
            session.close()
