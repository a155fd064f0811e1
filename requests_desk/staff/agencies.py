"""Admin pages for the verified agencies (SPEC §9): the official e-mail domains whose
officers may use the requester portal. List, add, edit (name, country), suspend with a
reason and unsuspend; every change goes through ``services.agencies``, which audits it.
``desk agencies load FILE.csv`` loads a whole list."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from ..auth import requires
from ..db_session import get_session
from ..errors import DeskError, NotFound, ValidationError
from ..models import Agency, row_by_id
from ..services import agencies as agency_service
from .blueprint import bp
from .errormap import place_errors
from .intake import country_options


class AgencyForm(FlaskForm):
    domain = StringField("Official e-mail domain", render_kw={"placeholder": "police.example.gov",
                                                              "autocomplete": "off", "spellcheck": "false"})
    agency = StringField("Agency")
    country = StringField("Country", render_kw={"list": "country-options", "maxlength": 2, "size": 4,
                                                "autocomplete": "off", "placeholder": "US"})


class SuspendForm(FlaskForm):
    reason = TextAreaField("Why suspend this domain?", render_kw={"rows": 2})


def _agency_or_404(agency_id) -> Agency:
    agency = row_by_id(get_session(), Agency, agency_id)
    if agency is None:
        raise NotFound(f"There is no agency {agency_id}.")
    return agency


@bp.get("/admin/agencies")
@requires("agency.manage")
def agencies():
    session = get_session()
    return render_template("staff/admin_agencies.html", rows=agency_service.all_agencies(session),
                           requesters=agency_service.requester_counts(session))


def _fields(form: AgencyForm) -> dict:
    return {"domain": form.domain, "agency": form.agency, "country": form.country}


@bp.route("/admin/agencies/new", methods=["GET", "POST"])
@requires("agency.manage")
def agency_new():
    form = AgencyForm()
    placed = None
    if request.method == "POST":
        session = get_session()
        try:
            agency = agency_service.create_agency(session, g.user, {k: f.data for k, f in _fields(form).items()})
            session.commit()
        except ValidationError as err:
            session.rollback()
            placed = place_errors(err.errors, _fields(form))
        else:
            flash(f"Added {agency.domain} ({agency.name}).", "success")
            return redirect(url_for("staff.agencies"))
    return render_template("staff/admin_agency_form.html", form=form, placed=placed, agency=None,
                           countries=country_options()), (422 if placed else 200)


@bp.route("/admin/agencies/<int:agency_id>", methods=["GET", "POST"])
@requires("agency.manage")
def agency_edit(agency_id: int):
    agency = _agency_or_404(agency_id)
    session = get_session()
    form = AgencyForm(data={"domain": agency.domain, "agency": agency.name, "country": agency.country}) \
        if request.method == "GET" else AgencyForm()
    placed = None
    if request.method == "POST":
        try:
            agency_service.update_agency(session, g.user, agency, {"agency": form.agency.data,
                                                                  "country": form.country.data})
            session.commit()
        except ValidationError as err:
            session.rollback()
            placed = place_errors(err.errors, _fields(form))
            agency = _agency_or_404(agency_id)
        else:
            flash(f"Saved {agency.domain}.", "success")
            return redirect(url_for("staff.agencies"))
    form.domain.data = agency.domain
    return render_template("staff/admin_agency_form.html", form=form, placed=placed, agency=agency,
                           suspend_form=SuspendForm(), countries=country_options()), (422 if placed else 200)


@bp.post("/admin/agencies/<int:agency_id>/suspend")
@requires("agency.manage")
def agency_suspend(agency_id: int):
    agency = _agency_or_404(agency_id)
    session = get_session()
    form = SuspendForm()
    try:
        agency_service.suspend(session, g.user, agency, form.reason.data)
        session.commit()
    except DeskError as err:
        session.rollback()
        placed = place_errors(err.errors or {"reason": [err.detail]}, {"reason": form.reason})
        agency = _agency_or_404(agency_id)
        edit = AgencyForm(data={"domain": agency.domain, "agency": agency.name, "country": agency.country})
        return render_template("staff/admin_agency_form.html", form=edit, placed=placed, agency=agency,
                               suspend_form=form, countries=country_options()), 422
    flash(f"Suspended {agency.domain}: its requesters can no longer sign in or submit.", "success")
    return redirect(url_for("staff.agency_edit", agency_id=agency.id))


@bp.post("/admin/agencies/<int:agency_id>/unsuspend")
@requires("agency.manage")
def agency_unsuspend(agency_id: int):
    agency = _agency_or_404(agency_id)
    session = get_session()
    agency_service.unsuspend(session, g.user, agency)
    session.commit()
    flash(f"{agency.domain} is no longer suspended.", "success")
    return redirect(url_for("staff.agency_edit", agency_id=agency.id))
