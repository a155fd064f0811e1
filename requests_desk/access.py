"""Who may do what: one role table, read by the API's guard, the staff pages (their
decorators and which buttons they show) and the services.

A permission names a thing one does; its row lists the roles that may do it. The
workflow's transitions keep their own ``roles`` column (``workflow.TRANSITIONS``), each
row of which is a permission of the same kind; its side actions (assign, set-due) are
rows here. A name missing from the table is a KeyError: never nobody, never everybody.
"""
from __future__ import annotations

from typing import Protocol

from .errors import Forbidden
from .vocabulary import STAFF_ROLES

STAFF = STAFF_ROLES

PERMISSIONS: dict[str, tuple[str, ...]] = {
    # reading the desk: queue, case list and page, notices, audit, customers
    "desk.read": STAFF,
    "customer.read": STAFF,
    "audit.read": STAFF,
    # intake
    "demand.log": ("intake", "counsel"),
    "document.upload": ("intake", "counsel"),
    # counsel's changes besides the workflow's transitions
    "demand.assign": ("counsel", "admin"),
    "demand.set-due": ("counsel",),
    "gag.manage": ("counsel",),
    "notice.defer": ("counsel",),
    "notice.retry": ("counsel", "admin"),
    "notice.release": ("counsel",),
    "document.mark": ("counsel",),
    # emergency verification (SPEC §9): the four checks are staff work (intake takes the
    # call-back, counsel weighs the justification); only counsel overrides missing ones
    # or lifts a fraud flag (the list of flags is desk.read)
    "emergency.check": ("intake", "counsel"),
    "emergency.override": ("counsel",),
    "flag.lift": ("counsel",),
    # break-glass: any staff user may ask for a demand's files, giving a reason;
    # admins see every grant of the last 90 days on /desk/access, others their own
    "access.break-glass": STAFF,
    "access.review": ("admin",),
    # reports
    "report.compile": ("admin", "counsel"),
    "report.publish": ("admin",),
    # administration
    "customer.manage": ("admin",),
    "user.manage": ("admin",),
    "agency.manage": ("admin",),  # verified agencies: the requester portal's domain list (SPEC §9)
    # the requester portal (SPEC §9): a requester submits demands (with their PDFs) and
    # withdraws its own; it never holds a staff permission
    "demand.submit": ("requester",),
}


# Need to know (SPEC §7): a process type in a compartment exists only for users who
# hold its role; to anyone else such a demand is a 404 and is not counted anywhere.
COMPARTMENTS: dict[str, str] = {"national_security": "cleared"}


class HasRoles(Protocol):
    def has_role(self, *roles: str) -> bool: ...


class _System:
    """The desk itself (the demo, the dispatcher, the CLI's own reads): no compartment
    is hidden from it. Never a signed-in user."""

    def has_role(self, *roles: str) -> bool:
        return True

    def __repr__(self) -> str:
        return "SYSTEM"


SYSTEM = _System()


def hidden_process_types(user: HasRoles | None) -> tuple[str, ...]:
    """The process types whose demands ``user`` may not know of (None: no user, all)."""
    return tuple(p for p, role in COMPARTMENTS.items() if user is None or not user.has_role(role))


def may_see(user: HasRoles | None, process_type: str) -> bool:
    return process_type not in hidden_process_types(user)


def roles_for(permission: str) -> tuple[str, ...]:
    """The roles of a permission; an unknown name is a programming error (KeyError),
    never silently nobody or everybody."""
    return PERMISSIONS[permission]


def may(user: HasRoles | None, permission: str) -> bool:
    return user is not None and user.has_role(*roles_for(permission))


def require(user: HasRoles | None, permission: str, doing: str | None = None) -> None:
    """403 unless ``user`` holds one of the permission's roles."""
    if not may(user, permission):
        roles = roles_for(permission)
        what = f" {doing}" if doing else " do this"
        raise Forbidden(f"Only {' or '.join(roles)} users may{what}.")

