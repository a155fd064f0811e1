"""Admin pages: customers (domains, account mappings, contacts) and users (staff roles,
customer users, active). Every change goes through services.customers / services.users,
which audit it."""
from __future__ import annotations

from flask import current_app, flash, g, make_response, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import aliased, selectinload

from ..access import hidden_process_types
from ..account import notify, send_sign_in_link
from ..audit import record as audit_record
from ..auth import requires
from ..db_session import get_session
from ..errors import DeskError, NotFound, ValidationError
from ..models import Customer, DemandTarget, RoleProposal, User, parse_id, row_by_id
from ..services import customers as customer_service
from ..services import role_changes, two_factor
from ..search_terms import fixed
from ..services.case import visible_by_id
from ..services.keyset import COUNT_CAP
from ..services import users as user_service
from . import forms
from .blueprint import bp
from .errormap import ListMap, place_errors


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _line_errors(errors: dict, key: str, field) -> None:
    """``domains[1]`` → "line 2: …" on the textarea."""
    for k in [k for k in errors if k == key or k.startswith(key + "[")]:
        msgs = errors.pop(k)
        prefix = f"Line {int(k[len(key) + 1:-1]) + 1}: " if k != key else ""
        field.errors = list(field.errors or []) + [prefix + m for m in msgs]


# ---------------------------------------------------------------- customers


@bp.get("/admin/customers")
@requires("customer.manage")
def customers():
    session = get_session()
    demand_counts = _demand_counts(session, g.user)
    user_counts = dict(session.execute(
        select(User.customer_id, func.count()).where(User.customer_id.is_not(None)).group_by(User.customer_id)
    ).all())
    rows = session.scalars(
        select(Customer).order_by(Customer.name)
        .options(selectinload(Customer.domains), selectinload(Customer.accounts), selectinload(Customer.contacts))
    ).all()
    return render_template("staff/admin_customers.html", rows=rows, demand_counts=demand_counts,
                           user_counts=user_counts, count_cap=COUNT_CAP)


def _demand_counts(session, viewer) -> dict[int, int]:
    """How many demands the viewer may know of concern each customer (one of its targets
    is the customer's), each counted up to the lists' cap (``COUNT_CAP`` + 1, shown as
    "1,000+", as the case list filtered by that customer says): a range of the targets'
    (customer_id, demand_id) index, read as far as that many distinct demands, the few
    demands of compartments the viewer lacks left out by id. Counted whole, every
    customer's target was joined to its demand: 86 ms of CPU at 100,000 demands on
    SQLite, ten times that at a million."""
    t = aliased(DemandTarget)
    first = (select(t.demand_id).where(t.customer_id == Customer.id,
                                       *visible_by_id(t.demand_id, hidden_process_types(viewer)))
             .distinct().limit(fixed(COUNT_CAP + 1)).correlate(Customer).subquery())
    counted = select(func.count()).select_from(first).scalar_subquery()
    return {cid: n for cid, n in session.execute(select(Customer.id, counted)).all() if n}


def _customer_body(form: forms.CustomerForm) -> tuple[dict, list[int]]:
    rows = [i for i, e in enumerate(form.contacts.entries)
            if (e.form.name.data or "").strip() or (e.form.email.data or "").strip()]
    return {
        "name": form.name.data,
        "enterprise": bool(form.enterprise.data),
        "domains": _lines(form.domains.data),
        "accounts": _lines(form.accounts.data),
        "contacts": [{"name": form.contacts.entries[i].form.name.data,
                      "email": form.contacts.entries[i].form.email.data} for i in rows],
    }, rows


def _contact_rows(form: forms.CustomerForm) -> bool:
    """The no-JavaScript "Add contact" / "Remove" buttons."""
    if request.form.get("add_row") == "contacts":
        form.contacts.append_entry()
        return True
    remove = request.form.get("remove_row")
    if remove and remove.startswith("contacts-"):
        if len(form.contacts.entries) > 1:
            form.contacts.entries = [e for e in form.contacts.entries if e.name != remove]
        return True
    return False


def _save_customer(form: forms.CustomerForm, customer: Customer | None):
    session = get_session()
    body, rows = _customer_body(form)
    try:
        if customer is None:
            customer = customer_service.create_customer(session, g.user, body)
        else:
            customer_service.update_customer(session, g.user, customer, body)
        session.commit()
    except ValidationError as err:
        session.rollback()
        errors = dict(err.errors)
        _line_errors(errors, "domains", form.domains)
        _line_errors(errors, "accounts", form.accounts)
        placed = place_errors(
            errors, {"name": form.name, "enterprise": form.enterprise},
            {"contacts": ListMap(form.contacts, rows, title="Contact")},
        )
        return None, placed
    return customer, None


@bp.route("/admin/customers/new", methods=["GET", "POST"])
@requires("customer.manage")
def customer_new():
    form = forms.CustomerForm()
    placed = None
    if request.method == "POST" and not _contact_rows(form):
        customer, placed = _save_customer(form, None)
        if customer is not None:
            flash(f"Added the customer {customer.name}.", "success")
            return redirect(url_for("staff.customers"))
    status = 422 if placed else 200
    return render_template("staff/admin_customer_form.html", form=form, placed=placed, customer=None), status


@bp.route("/admin/customers/<int:customer_id>", methods=["GET", "POST"])
@requires("customer.manage")
def customer_edit(customer_id: int):
    session = get_session()
    if parse_id(customer_id) is None:
        raise NotFound(f"There is no customer {customer_id}.")
    customer = customer_service.get_customer(session, customer_id)
    if request.method == "GET":
        form = forms.CustomerForm(data={
            "name": customer.name,
            "enterprise": customer.enterprise,
            "domains": "\n".join(d.domain for d in customer.domains),
            "accounts": "\n".join(a.identifier for a in customer.accounts),
            "contacts": [{"name": c.name, "email": c.email} for c in customer.contacts] or [{}],
        })
    else:
        form = forms.CustomerForm()
    placed = None
    if request.method == "POST" and not _contact_rows(form):
        saved, placed = _save_customer(form, customer)
        if saved is not None:
            flash(f"Saved {saved.name}.", "success")
            return redirect(url_for("staff.customers"))
        customer = customer_service.get_customer(session, customer_id)
    users = session.scalars(select(User).where(User.customer_id == customer.id).order_by(User.email)).all()
    status = 422 if placed else 200
    return render_template("staff/admin_customer_form.html", form=form, placed=placed, customer=customer,
                           users=users), status


# ---------------------------------------------------------------- users


@bp.get("/admin/users")
@requires("user.manage")
def users():
    session = get_session()
    rows = session.scalars(select(User).order_by(User.customer_id.is_not(None), User.email)).all()
    return render_template("staff/admin_users.html", rows=rows)


def _customer_choices():
    rows = get_session().execute(select(Customer.id, Customer.name).order_by(Customer.name)).all()
    return forms.choices((str(i), n) for i, n in rows)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@requires("user.manage")
def user_new():
    form = forms.UserForm()
    form.customer.choices = _customer_choices()
    if request.method == "GET" and request.args.get("customer", "").isdigit():
        form.kind.data = "customer"
        form.customer.data = request.args["customer"]
    placed = None
    if request.method == "POST":
        session = get_session()
        customer_id = None
        if form.kind.data == "customer":
            roles = ["customer"]
            raw = form.customer.data or ""
            customer_id = parse_id(raw)
        else:
            roles = list(form.roles.data or [])
        try:
            if form.kind.data == "customer" and customer_id is None:
                raise ValidationError({"customer": ["choose the customer organisation"]})
            guarded = [r for r in roles if r in role_changes.GUARDED]
            first = [r for r in roles if r not in role_changes.GUARDED]
            if guarded and not first:
                raise ValidationError({"roles": ["approver and admin take a second admin: create the user "
                                                 "with another staff role, and this one is proposed for "
                                                 "another admin to confirm"]})
            user, _ = user_service.create_user(session, g.user, form.email.data or "", first,
                                               customer_id=customer_id, name=form.name.data or "")
            proposed = guarded and role_changes.change(session, g.user, user, roles, True) == "proposed"
            session.commit()
        except ValidationError as err:
            session.rollback()
            placed = place_errors(err.errors, {"email": form.email, "roles": form.roles,
                                               "customer": form.customer, "password": form.email})
        else:
            sent = _send_link(user, "An account on Requests Desk was opened for you.")
            if proposed:
                _tell_admins(session, f"{g.user.email} proposes roles {', '.join(sorted(roles))} for {user.email}; "
                                      "another admin must confirm on the user's page.")
            response = make_response(render_template("staff/admin_user_created.html", user=user,
                                                      sent=sent, proposed=proposed))
            response.headers["Cache-Control"] = "no-store"
            return response
    return render_template("staff/admin_user_form.html", form=form, placed=placed), (422 if placed else 200)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@requires("user.manage")
def user_edit(user_id: int):
    session = get_session()
    user = row_by_id(session, User, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}.")
    if request.method == "GET":
        form = forms.UserEditForm(data={"roles": sorted(user.roles), "active": user.active})
    else:
        form = forms.UserEditForm()
    placed = None
    if request.method == "POST":
        roles = sorted(user.roles) if user.has_role("customer", "requester") else list(form.roles.data or [])
        active = bool(form.active.data)
        before = sorted(user.roles)
        try:
            outcome = role_changes.change(session, g.user, user, roles, active)
            session.commit()
        except DeskError as err:
            session.rollback()
            placed = place_errors(err.errors, {"roles": form.roles, "active": form.active})
            if not err.errors:
                placed.general.append(err.detail)
        else:
            if outcome == "proposed":
                _tell_admins(session, f"{g.user.email} proposes roles {', '.join(sorted(roles))} for {user.email} "
                                      f"(now {', '.join(before)}); another admin must confirm on the user's page.")
                flash(f"Proposed for {user.email}: another admin must confirm before anything changes.", "success")
                return redirect(url_for("staff.user_edit", user_id=user.id))
            if before != sorted(user.roles):
                _tell_admins(session, f"{g.user.email} changed the roles of {user.email}: "
                                      f"{', '.join(before)} → {', '.join(sorted(user.roles))}.")
            flash(f"Saved {user.email}.", "success")
            return redirect(url_for("staff.users"))
    return render_template("staff/admin_user_edit.html", form=form, user=user, placed=placed,
                           **_security_context(session, user)), (422 if placed else 200)


def _security_context(session, user: User) -> dict:
    return {"proposal": role_changes.pending_for(session, user),
            "tokens": user_service.tokens_of(session, user)}


def _send_link(user: User, reason: str) -> bool:
    try:
        send_sign_in_link(user, reason)
    except Exception:  # the account exists; the admin sends another link from its page
        current_app.logger.exception("sign-in link not sent to %s", user.email)
        return False
    return True


def _tell_admins(session, text: str) -> None:
    try:
        notify(role_changes.admin_emails(session), "Requests Desk: a role change", text)
    except Exception:  # the change stands and is in the audit log; the mail is a courtesy copy
        current_app.logger.exception("role change e-mail not sent")
        flash("The admins could not be e-mailed about this change (it is in the audit log).", "error")


def _user_or_404(session, user_id: int) -> User:
    user = row_by_id(session, User, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}.")
    return user


@bp.post("/admin/users/<int:user_id>/proposal/<int:proposal_id>")
@requires("user.manage")
def user_proposal(user_id: int, proposal_id: int):
    session = get_session()
    user = _user_or_404(session, user_id)
    proposal = row_by_id(session, RoleProposal, proposal_id)
    if proposal is None or proposal.user_id != user.id:
        raise NotFound(f"There is no proposal {proposal_id}.")
    if request.form.get("decision") == "confirm":
        role_changes.confirm(session, g.user, proposal)
        text = f"{g.user.email} confirmed roles {', '.join(proposal.role_list)} for {user.email} " \
               f"(proposed by {proposal.proposed_by.email})."
    else:
        role_changes.withdraw(session, g.user, proposal)
        text = f"{g.user.email} withdrew the proposed roles {', '.join(proposal.role_list)} for {user.email}."
    session.commit()
    _tell_admins(session, text)
    flash(text, "success")
    return redirect(url_for("staff.user_edit", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/reset-2fa")
@requires("user.manage")
def user_reset_two_factor(user_id: int):
    session = get_session()
    user = _user_or_404(session, user_id)
    two_factor.reset(session, g.user, user)
    session.commit()
    flash(f"Two-factor sign-in reset for {user.email}; they enrol again at their next sign-in.", "success")
    return redirect(url_for("staff.user_edit", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/sign-in-link")
@requires("user.manage")
def user_sign_in_link(user_id: int):
    session = get_session()
    user = _user_or_404(session, user_id)
    if not user.active:
        raise ValidationError({"user": [f"{user.email} is deactivated"]})
    from_audit = {"link": "sent"}
    audit_record(session, g.user, "user.password_reset", "user", user.id, None, from_audit)
    session.commit()
    if _send_link(user, "An admin of Requests Desk sent you a link to set a new password."):
        flash(f"A sign-in link was e-mailed to {user.email}.", "success")
    else:
        flash(f"The sign-in link could not be e-mailed to {user.email}.", "error")
    return redirect(url_for("staff.user_edit", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/revoke-tokens")
@requires("user.manage")
def user_revoke_tokens(user_id: int):
    session = get_session()
    user = _user_or_404(session, user_id)
    count = user_service.revoke_tokens(session, g.user, user)
    session.commit()
    flash(f"Revoked {count} API token(s) of {user.email}.", "success")
    return redirect(url_for("staff.user_edit", user_id=user.id))
