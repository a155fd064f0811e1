"""Legal-process documents: PDFs checked by content, stored under random names
outside any web-served folder, with SHA-256 and size recorded. Intake and counsel add
the legal process itself; counsel may add a redacted copy for one customer of a demand
that concerns several (it goes to that customer only, see ``document_marks``)."""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from .. import access, audit
from ..db import utcnow
from ..errors import ValidationError
from ..models import Demand, Document, User, parse_id
from ..private_files import create_private, private_dir
from . import parsing
from .document_marks import shared

MAX_BYTES = 20 * 1024 * 1024
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff"]')
CHUNK = 1024 * 1024


def upload_dir() -> Path:
    from flask import current_app

    return Path(current_app.config["DESK_UPLOAD_DIR"])


def looks_like_pdf(head: bytes, tail: bytes) -> bool:
    """A PDF starts with ``%PDF-`` (within the first KiB) and ends with ``%%EOF``."""
    return b"%PDF-" in head[:1024] and b"%%EOF" in tail[-2048:]


def readable_pdf(path: Path) -> bool:
    """A PDF library opens it and finds at least one page (a ``%PDF`` header and a
    ``%%EOF`` are not enough: a polyglot or a few bytes of garbage carry both)."""
    try:
        from pypdf import PdfReader  # on first upload, not at every worker's start (~0.07 s)

        reader = PdfReader(str(path), strict=False)
        return len(reader.pages) >= 1
    except Exception:  # pypdf raises many kinds on hostile input; any of them: not readable
        return False


def safe_filename(filename: str | None) -> str:
    """The name a document is kept under: its last path part, with every control
    character, lone surrogate and quote replaced by ``_`` (it reaches e-mail headers as an
    attachment's name), at most 255 characters, keeping ``.pdf`` at the end."""
    raw = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", raw).strip(" .")
    if not name:
        return "document.pdf"
    if len(name) > parsing.MAX_FILENAME:
        ext = ".pdf" if name.lower().endswith(".pdf") else ""
        name = name[: parsing.MAX_FILENAME - len(ext)] + ext
    return name


def copy_customer(actor: User | None, demand: Demand, value: int | str | None) -> int | None:
    """The customer a redacted copy is for (None: the legal process itself, for all).
    Only counsel adds a copy, and only for a customer of a demand that concerns several."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if actor is not None:
        access.require(actor, "document.mark", "add a redacted copy for one customer")
    customer_id = parse_id(value.strip() if isinstance(value, str) else value)
    if customer_id is None:
        raise ValidationError({"customer_id": ["is not a customer id"]})
    if customer_id not in {c.id for c in demand.customers}:
        raise ValidationError({"customer_id": [f"customer {customer_id} is not a customer of this demand"]})
    if not shared(demand):
        raise ValidationError({"customer_id": ["this demand concerns one customer, who gets every document: "
                                               "a redacted copy is for a demand that concerns several"]})
    return customer_id


def store_document(session: Session, actor: User | None, demand: Demand, filename: str,
                   stream: BinaryIO, *, directory: Path | None = None,
                   for_customer: int | str | None = None, now: datetime | None = None,
                   permission: str = "document.upload") -> Document:
    """Store one uploaded PDF of ``demand``; ``for_customer`` (an id) makes it a redacted
    copy for that customer (see ``copy_customer``). Audited as ``document.upload``
    (at ``now``: the upload's time, the demo's clock)."""
    if actor is not None:
        access.require(actor, permission, "add documents")
    for_customer_id = copy_customer(actor, demand, for_customer)
    directory = private_dir(directory or upload_dir())
    stored_name = secrets.token_hex(16)
    path = directory / stored_name
    digest = hashlib.sha256()
    size = 0
    head = b""
    tail = b""
    try:
        with create_private(path) as out:  # 0600: readable by the service's user only
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_BYTES:
                    raise ValidationError({"file": ["is larger than 20 MiB"]})
                if len(head) < 1024:
                    head += chunk[: 1024 - len(head)]
                tail = (tail + chunk)[-2048:]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationError({"file": ["is empty"]})
        if not looks_like_pdf(head, tail):
            raise ValidationError({"file": ["is not a PDF (checked by its content, not its name)"]})
        if not readable_pdf(path):
            raise ValidationError({"file": ["is not a readable PDF (checked by its content, not its name)"]})
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    doc = Document(
        demand_id=demand.id,
        filename=safe_filename(filename),
        stored_name=stored_name,
        sha256=digest.hexdigest(),
        bytes=size,
        uploaded_by_id=actor.id if actor else None,
        for_customer_id=for_customer_id,
        uploaded_at=now or utcnow(),
    )
    session.add(doc)
    session.flush()
    after: dict = {"name": doc.filename, "sha256": doc.sha256, "bytes": doc.bytes}
    if for_customer_id is not None:
        after["for_customer_id"] = for_customer_id
    audit.record(session, actor, "document.upload", "document", doc.id, None, after, demand_id=demand.id,
                 at=doc.uploaded_at)
    return doc


def document_path(doc: Document) -> Path:
    return upload_dir() / doc.stored_name
