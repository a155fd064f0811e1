"""Separation of duties for roles: nobody changes its own roles; granting ``approver``,
``admin`` or ``cleared`` takes two admins (one proposes, another confirms; until then nothing changes).
Every step is an audit event; the caller e-mails the admins (``admin_emails``)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..db import utcnow
from ..errors import Forbidden, ValidationError
from ..models import RoleProposal, User, UserRole
from . import users as user_service

GUARDED = frozenset({"approver", "admin", "cleared"})


def _pending(session: Session, user: User) -> RoleProposal | None:
    return session.scalar(select(RoleProposal).where(RoleProposal.user_id == user.id,
                                                     RoleProposal.status == "pending"))


def pending_for(session: Session, user: User) -> RoleProposal | None:
    return _pending(session, user)


def change(session: Session, actor: User, user: User, roles: list[str], active: bool) -> str:
    """Apply a change, or propose it when it grants approver/admin/cleared: ``changed``/``proposed``."""
    roles = list(dict.fromkeys(roles))
    if actor.id == user.id and (set(roles) != set(user.roles) or not active):
        raise ValidationError({"roles": ["you cannot change your own roles or deactivate yourself; "
                                         "ask another admin"]})
    granted = (set(roles) - set(user.roles)) & GUARDED
    if not granted:
        user_service.set_roles(session, actor, user, roles, active)
        return "changed"
    user_service.check_roles(user, roles)
    old = _pending(session, user)
    if old is not None:
        old.status, old.decided_by_id, old.decided_at = "replaced", actor.id, utcnow()
    proposal = RoleProposal(user_id=user.id, roles=",".join(sorted(roles)), active=active,
                            proposed_by_id=actor.id, proposed_at=utcnow())
    session.add(proposal)
    session.flush()
    audit.record(session, actor, "user.roles_proposed", "user", user.id, {"roles": sorted(user.roles)},
                 {"roles": sorted(roles), "active": active, "proposal": proposal.id})
    return "proposed"


def confirm(session: Session, actor: User, proposal: RoleProposal) -> None:
    if proposal.status != "pending":
        raise ValidationError({"proposal": ["this proposal was already decided"]})
    if actor.id == proposal.proposed_by_id:
        raise Forbidden("Another admin must confirm: you proposed this change.")
    if actor.id == proposal.user_id:
        raise Forbidden("Nobody confirms a change of their own roles.")
    proposal.status, proposal.decided_by_id, proposal.decided_at = "confirmed", actor.id, utcnow()
    audit.record(session, actor, "user.roles_confirmed", "user", proposal.user_id, None,
                 {"proposal": proposal.id, "proposed_by": proposal.proposed_by.email})
    user_service.set_roles(session, actor, proposal.user, proposal.role_list, proposal.active)


def withdraw(session: Session, actor: User, proposal: RoleProposal) -> None:
    if proposal.status != "pending":
        raise ValidationError({"proposal": ["this proposal was already decided"]})
    proposal.status, proposal.decided_by_id, proposal.decided_at = "withdrawn", actor.id, utcnow()
    audit.record(session, actor, "user.roles_withdrawn", "user", proposal.user_id, None, {"proposal": proposal.id})


def admin_emails(session: Session) -> list[str]:
    return list(session.scalars(select(User.email).join(UserRole).where(
        UserRole.role == "admin", User.active.is_(True)).order_by(User.email)))
