"""Counsel's release of a demand's notices (SPEC §4).

Every notice of a demand waits as ``held`` (awaiting counsel) until counsel releases
the demand's notices; only then do the gag and deferral rules decide when they go. A
release is recorded once on the demand (``notices_released_at``, ``_by_id``) and is an
audit event ``notices.release`` naming what released it:

- ``release-notices``: counsel, explicitly (a reason is required for a national-security
  demand, optional otherwise);
- ``start-review``, ``reject``, ``preserve``: the workflow action, except on a
  national-security demand (explicit release only) and, for ``start-review``, an
  emergency (counsel defers its notices or releases them explicitly);
- ``defer-notices``: deferring an emergency's notices is counsel's decision about them
  (not on a national-security demand either).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .. import access, audit
from ..db import utcnow
from ..errors import Conflict, FieldErrors
from ..models import Demand, User
from ..notices.outbox import release_held_notices
from . import parsing

# Actions that release the notices as a side effect.
RELEASING_ACTIONS = ("start-review", "reject", "preserve", "defer-notices")
# Process types whose notices only an explicit release, with a reason, lets go.
EXPLICIT_ONLY = ("national_security",)


def released_by_action(demand: Demand, action: str) -> bool:
    """Whether ``action`` on ``demand`` releases its notices now."""
    if demand.notices_released_at is not None or action not in RELEASING_ACTIONS:
        return False
    if demand.process_type in EXPLICIT_ONLY:
        return False
    return not (action == "start-review" and demand.emergency)


def mark_released(session: Session, actor: User | None, demand: Demand, now: datetime, *, by: str,
                  reason: str | None = None) -> int:
    """Record the release (once) and let go of what no gag or deferral still holds;
    returns how many notices became due."""
    if demand.notices_released_at is not None:
        return 0
    demand.notices_released_at = now
    demand.notices_released_by_id = actor.id if actor is not None else None
    session.flush()
    after: dict[str, Any] = {"notices_released_at": now, "by": by}
    if reason:
        after["reason"] = reason
    audit.record(session, actor, "notices.release", "demand", demand.id, {"notices_released_at": None}, after,
                 at=now)
    return release_held_notices(session, now, demand_id=demand.id, actor=actor)


def release_notices(session: Session, actor: User, demand: Demand, data: Any, *,
                    now: datetime | None = None) -> int:
    """Counsel releases a demand's notices explicitly (``{reason?}``)."""
    access.require(actor, "notice.release", "release customer notices")
    now = now or utcnow()
    errors = FieldErrors()
    data = parsing.mapping(errors, {} if data is None else data, "body")
    errors.raise_if_any()
    explicit_only = demand.process_type in EXPLICIT_ONLY
    reason = parsing.text(errors, data, "reason", "reason", required=False, max_len=parsing.MAX_REASON)
    if demand.notices_released_at is not None:
        raise Conflict(f"The notices of {demand.reference} were released already "
                       f"({demand.notices_released_at:%Y-%m-%d %H:%M} UTC).")
    if explicit_only and not reason and "reason" not in errors.errors:
        errors.add("reason", "is required to release a national-security demand's notices")
    errors.raise_if_any()
    return mark_released(session, actor, demand, now, by="release-notices", reason=reason)
