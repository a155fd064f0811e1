"""E-mails to requesters (SPEC §9), written to ``mail_outbox`` in the transaction of the
change they tell of, so none is lost; ``requester_mail`` sends them (the dispatcher's
run, or the register page right after its commit).

What they say is fixed here and never names a customer, a target's owner, a scope, a
notice or a staff note: a requester reads its own demand's reference, legal
reference, status, due date and outcome, nothing else."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from ..db import utcnow
from ..models import Demand, MailMessage, User
from ..vocabulary import OUTCOME_TERMS, STATE_TERMS

NEVER_CREDENTIALS = ("Requests Desk never asks for your password or a code by e-mail. If you did not "
                     "expect this message, you can ignore it.")


def new_message_id() -> str:
    return f"<requester.{secrets.token_hex(16)}@requests-desk>"


def long_date(value: datetime) -> str:
    """``26 March 2024`` (what the portal and the notices' e-mails show)."""
    return f"{value.day} {value:%B %Y}"


def queue_mail(session: Session, kind: str, to_address: str, subject: str, body: str, *,
               user_id: int | None = None, demand_id: int | None = None,
               now: datetime | None = None) -> MailMessage:
    now = now or utcnow()
    message = MailMessage(kind=kind, to_address=to_address, subject=subject[:300], body=body,
                          user_id=user_id, demand_id=demand_id, created_at=now, next_attempt_at=now,
                          message_id=new_message_id())
    session.add(message)
    session.flush()
    return message


def confirmation_mail(session: Session, user: User, link: str, hours: int) -> MailMessage:
    body = (f"Hello {user.name},\n\n"
            "You registered on the Requests Desk requester portal with this address. Open this link to "
            f"confirm it (it works once, for {hours} hours):\n\n{link}\n\n"
            "Then sign in with your e-mail address and password; you will set up two-factor sign-in "
            f"with an authenticator app.\n\n{NEVER_CREDENTIALS}\n")
    return queue_mail(session, "confirm", user.email, "Requests Desk: confirm your e-mail address", body,
                      user_id=user.id)


def already_registered_mail(session: Session, user: User) -> MailMessage:
    """Someone registered again with an address that has an account: the page answered as
    always (it does not tell who is registered); the owner hears of it here."""
    body = ("Someone tried to register on the Requests Desk requester portal with this e-mail address, "
            "which already has an account.\n\nIf it was you, sign in with your password instead. If you "
            "forgot it, ask the provider's legal team for a sign-in link.\n\n"
            f"If it was not you, nothing has changed.\n\n{NEVER_CREDENTIALS}\n")
    return queue_mail(session, "already_registered", user.email,
                      "Requests Desk: someone tried to register with your address", body, user_id=user.id)


def demand_mail(session: Session, demand: Demand, *, submitted: bool = False,
                now: datetime | None = None) -> MailMessage | None:
    """Tell the requester account that submitted ``demand`` its status (on submission, and
    whenever the status changes). Nothing for a demand logged by staff."""
    account_id = demand.requester_account_id
    if account_id is None:
        return None
    user = session.get(User, account_id)
    if user is None or not user.active:
        return None
    status = STATE_TERMS.label(demand.status)
    lines = [f"Hello {user.name},", ""]
    if submitted:
        lines.append(f"We received your demand {demand.reference} (your legal reference "
                     f"{demand.legal_reference}). Please quote the reference {demand.reference} in "
                     "any message about it.")
        subject = f"Requests Desk: {demand.reference} received"
    else:
        lines.append(f"The status of your demand {demand.reference} (your legal reference "
                     f"{demand.legal_reference}) is now: {status}.")
        subject = f"Requests Desk: {demand.reference} is now {status.lower()}"
    lines.append("")
    if demand.status == "closed" and demand.outcome:
        lines.append(f"Outcome: {OUTCOME_TERMS.label(demand.outcome)}.")
    elif demand.due_at is not None:
        lines.append(f"Due: {long_date(demand.due_at)}.")
    lines += ["", "Sign in to the requester portal to see your demands.", "", NEVER_CREDENTIALS]
    return queue_mail(session, "submitted" if submitted else "status", user.email, subject,
                      "\n".join(lines) + "\n", user_id=user.id, demand_id=demand.id, now=now)
