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
    # reports
    "report.compile": ("admin", "counsel"),
    "report.publish": ("admin",),
    # administration
    "customer.manage": ("admin",),
    "user.manage": ("admin",),
}


class HasRoles(Protocol):
    def has_role(self, *roles: str) -> bool: ...


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

