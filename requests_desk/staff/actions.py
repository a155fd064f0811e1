"""Everything the case page posts: workflow actions, assignment, due date, gag,
notice deferral and document uploads. Each view loads the demand (404), builds the
API's body from its form, calls the service and commits once; a refusal rolls back
and shows the case page again with the reason next to the form, input kept."""
from __future__ import annotations

import hashlib
import secrets
from typing import Any

from flask import flash, g, redirect, request, url_for

from .. import access, workflow
from ..db_session import get_session
from ..errors import DeskError, NotFound, ValidationError
from ..private_files import create_private, private_dir
from ..services import documents as document_service
from ..services import gags as gag_service
from ..services import notice_release
from ..vocabulary import ACTION_TERMS
from . import forms
from .blueprint import bp
from .errormap import ListMap, place_errors
from .uploads import store_uploads
from .views import check_page_version, load_demand, render_case

ITEM_FIELDS = {"target": "target", "data_set": "data_set", "from": "date_from", "to": "date_to", "basis": "basis"}
CHUNK = 1024 * 1024

def _case_url(demand_id: int, anchor: str | None = None) -> str:
    return url_for("staff.demand", demand_id=demand_id, _anchor=anchor)


def _refused(demand_id: int, action: str, form: Any, err: DeskError, fields: dict | None = None,
             lists: dict | None = None):
    """Roll back, put the errors on the form, and show the case page again."""
    session = get_session()
    session.rollback()
    placed = place_errors(err.errors, fields or {}, lists or {})
    if not err.errors:
        placed.general.append(err.detail)
    return render_case(demand_id, submitted={action: form}, placed=placed, open_action=action, error=err,
                       status=err.status)


# ---------------------------------------------------------------- item rows


def _rows_body(form: Any) -> tuple[list[dict], list[int]]:
    """Ticked rows of a scope/preservation/production form as API items, and their positions."""
    items, positions = [], []
    for position, entry in enumerate(form.items.entries):
        row = entry.form
        if not row.include.data:
            continue
        item = {"target": row.target.data, "data_set": row.data_set.data,
                "from": row.date_from.data, "to": row.date_to.data}
        if row.basis.data and row.basis.data.strip():
            item["basis"] = row.basis.data
        items.append(item)
        positions.append(position)
    return items, positions


# ---------------------------------------------------------------- production files


def hash_upload(stream, keep: bool) -> tuple[str, int, str | None]:
    """SHA-256 and size of an uploaded file; written under a random name only when kept."""
    digest = hashlib.sha256()
    size = 0
    stored_name = secrets.token_hex(16) if keep else None
    out = None
    if keep:
        directory = private_dir(document_service.upload_dir())
        out = create_private(directory / stored_name)  # 0600, as every upload
    try:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if out is not None:
                out.write(chunk)
    except BaseException:
        if out is not None:
            out.close()
            (document_service.upload_dir() / stored_name).unlink(missing_ok=True)
        raise
    if out is not None:
        out.close()
    return digest.hexdigest(), size, stored_name


def _manifest_body(form: forms.ProductionForm) -> tuple[list[dict], list[str], list[int]]:
    """Uploaded files (hashed here) then typed manifest rows; names of kept files to
    delete if the action is refused; manifest row positions for the error map."""
    files: list[dict] = []
    kept: list[str] = []
    for upload in request.files.getlist(form.files.name):
        if not upload or not upload.filename:
            continue
        sha, size, stored_name = hash_upload(upload.stream, bool(form.keep.data))
        if stored_name:
            kept.append(stored_name)
        files.append({"name": upload.filename.replace("\\", "/").rsplit("/", 1)[-1], "sha256": sha,
                      "bytes": size, "stored_name": stored_name})
    positions = []
    for position, entry in enumerate(form.manifest.entries):
        row = entry.form
        if all(not (v or "").strip() for v in (row.name.data, row.sha256.data, row.size.data)):
            continue
        raw_size = (row.size.data or "").strip().replace(",", "").replace(" ", "").replace("_", "")
        size: Any = int(raw_size) if raw_size.isdigit() else (row.size.data or None)
        files.append({"name": row.name.data, "sha256": (row.sha256.data or "").strip(), "bytes": size})
        positions.append(position)
    return files, kept, positions


# ---------------------------------------------------------------- workflow actions

@bp.get("/demands/<int:demand_id>/action/<action>")
def demand_action_page(demand_id: int, action: str):
    """The address a refused action leaves in the browser (without JavaScript, which
    puts the case page's own there): opened again, it is the case page."""
    demand = load_demand(demand_id)
    return redirect(url_for("staff.demand", demand_id=demand.id))


@bp.post("/demands/<int:demand_id>/action/<action>")
def demand_action(demand_id: int, action: str):
    if action not in workflow.ACTIONS:
        raise NotFound(f"There is no action called {action}.")
    demand = load_demand(demand_id, for_update=True)
    session = get_session()
    fields: dict = {}
    lists: dict = {}
    kept: list[str] = []
    if action in ("propose-scope", "preserve"):
        form = forms.ScopeForm(prefix=action)
        items, positions = _rows_body(form)
        body = {"items": items}
        lists = {"items": ListMap(form.items, positions, ITEM_FIELDS, title="Item")}
        fields = {"items": None}
    elif action == "record-production":
        form = forms.ProductionForm(prefix=action)
        items, positions = _rows_body(form)
        files, kept, manifest_positions = _manifest_body(form)
        body = {"items": items, "files": files}
        uploaded = len(files) - len(manifest_positions)
        lists = {
            "items": ListMap(form.items, positions, ITEM_FIELDS, title="Item"),
            "files": ListMap(form.manifest, [-1] * uploaded + manifest_positions, {"bytes": "size"},
                             title="Manifest row"),
        }
        fields = {"files": form.files}
    elif action == "assign":
        form = forms.AssignForm(prefix=action)
        body = {"assignee": form.assignee.data, "reason": form.reason.data}
        fields = {"assignee": form.assignee, "reason": form.reason}
    elif action == "set-due":
        form = forms.DueForm(prefix=action)
        body = {"due_at": form.due_at.data, "reason": form.reason.data}
        fields = {"due_at": form.due_at, "reason": form.reason}
    elif action in ("reject", "reject-fraudulent", "return", "start-review"):
        form = forms.ReasonForm(prefix=action)
        body = {"reason": form.reason.data}
        fields = {"reason": form.reason}
    elif action in ("approve", "extend-preservation"):
        form = forms.ConfirmForm(prefix=action)
        body = {}
    else:
        form = forms.NoteForm(prefix=action)
        body = {"note": form.note.data}
        fields = {"note": form.note, "reason": form.note}
    try:
        check_page_version(demand)
        workflow.apply_action(session, g.user, demand, action, body)
        get_session().commit()
    except DeskError as err:
        for name in kept:
            (document_service.upload_dir() / name).unlink(missing_ok=True)
        if action == "record-production":
            _explain_file_errors(form, err, len(files) - len(manifest_positions), files)
        return _refused(demand_id, action, form, err, {k: v for k, v in fields.items() if v is not None}, lists)
    flash(ACTION_TERMS[action].done if action in ACTION_TERMS else "Done.", "success")
    return redirect(_case_url(demand_id, "top"))


def _explain_file_errors(form, err: DeskError, uploaded: int, files: list[dict]) -> None:
    """Errors about uploaded files (``files[0].sha256``…) go on the upload field by name."""
    if not err.errors:
        return
    for key in list(err.errors):
        if key.startswith("files[") and "]" in key:
            index = int(key[6:key.index("]")])
            if index < uploaded:
                msgs = err.errors.pop(key)
                form.files.errors = list(form.files.errors or []) + [f"{files[index]['name']}: {m}" for m in msgs]
    if uploaded and "files" not in err.errors:
        form.files.errors = list(form.files.errors or []) + ["Nothing was recorded: attach the files again."]


# ---------------------------------------------------------------- gags and deferral


def _expiry(form) -> dict:
    if form.no_end.data:
        return {"expires_at": None}
    if form.expires_at.data and form.expires_at.data.strip():
        return {"expires_at": form.expires_at.data}
    return {}


@bp.post("/demands/<int:demand_id>/gag/<change>")
def gag_change(demand_id: int, change: str):
    if change not in ("set", "extend", "lift"):
        raise NotFound("There is no such gag action.")
    demand = load_demand(demand_id, for_update=True)
    session = get_session()
    action = f"gag-{change}"
    if change == "set":
        form = forms.GagForm(prefix=action)
        body = {"order_ref": form.order_ref.data, "issued_by": form.issued_by.data,
                "issued_at": form.issued_at.data or None, **_expiry(form)}
        fields = {"order_ref": form.order_ref, "issued_by": form.issued_by, "issued_at": form.issued_at,
                  "expires_at": form.expires_at}
        service = gag_service.set_gag
    elif change == "extend":
        form = forms.GagExtendForm(prefix=action)
        body = _expiry(form)
        if not body:
            body = {"expires_at": ""}  # the service says what is missing
        fields = {"expires_at": form.expires_at}
        service = gag_service.extend_gag
    else:
        form = forms.ReasonForm(prefix=action)
        body = {"reason": form.reason.data}
        fields = {"reason": form.reason}
        service = gag_service.lift_gag
    try:
        check_page_version(demand)
        access.require(g.user, "gag.manage", "record, extend or lift a gag")
        if change == "extend" and body == {"expires_at": ""}:
            raise ValidationError({"expires_at": ["Give the new expiry date, or tick “No end date”."]})
        service(session, g.user, demand, body)
        session.commit()
    except DeskError as err:
        return _refused(demand_id, action, form, err, fields)
    flash({"set": "Gag recorded: notices to the customer are held while it is in force.",
           "extend": "Gag extended.", "lift": "Gag lifted: held notices will now go out."}[change], "success")
    return redirect(_case_url(demand_id, "gag"))


@bp.post("/demands/<int:demand_id>/defer-notices")
def defer_notices(demand_id: int):
    demand = load_demand(demand_id, for_update=True)
    session = get_session()
    form = forms.DeferForm(prefix="defer-notices")
    try:
        check_page_version(demand)
        gag_service.defer_notices(session, g.user, demand, {"until": form.until.data, "reason": form.reason.data})
        session.commit()
    except DeskError as err:
        return _refused(demand_id, "defer-notices", form, err, {"until": form.until, "reason": form.reason})
    flash("Customer notices deferred.", "success")
    return redirect(_case_url(demand_id, "notices"))


@bp.post("/demands/<int:demand_id>/release-notices")
def release_notices(demand_id: int):
    demand = load_demand(demand_id, for_update=True)
    session = get_session()
    form = forms.ReasonForm(prefix="release-notices")
    try:
        check_page_version(demand)
        notice_release.release_notices(session, g.user, demand, {"reason": form.reason.data})
        session.commit()
    except DeskError as err:
        return _refused(demand_id, "release-notices", form, err, {"reason": form.reason})
    flash(ACTION_TERMS["release-notices"].done, "success")
    return redirect(_case_url(demand_id, "notices"))


@bp.post("/demands/<int:demand_id>/documents")
def upload_documents(demand_id: int):
    demand = load_demand(demand_id)
    session = get_session()
    form = forms.UploadForm(prefix="upload")
    uploads = [f for f in request.files.getlist(form.documents.name) if f and f.filename]
    try:
        check_page_version(demand)
        access.require(g.user, "document.upload", "add documents")
        if not uploads:
            raise ValidationError({"documents": ["choose one or more PDF files"]})
        stored = store_uploads(session, g.user, demand, uploads)
        session.commit()
    except DeskError as err:
        return _refused(demand_id, "upload", form, err, {"documents": form.documents})
    flash(f"Added {len(stored)} document{'s' if len(stored) != 1 else ''}.", "success")
    return redirect(_case_url(demand_id, "documents"))
