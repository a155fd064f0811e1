"""Legal-process PDFs posted from a desk form (log a demand, add documents)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..errors import ValidationError
from ..models import Demand, Document, User
from ..services import documents as document_service
from .errormap import Worded, friendly


def store_uploads(session: Session, user: User, demand: Demand, uploads,
                  permission: str = "document.upload") -> list[Document]:
    """Store every uploaded file of a form. When one is refused, the files stored before
    it are deleted again and one error on the ``documents`` field names the file."""
    stored: list[Document] = []
    try:
        for upload in uploads:
            try:
                stored.append(document_service.store_document(session, user, demand, upload.filename,
                                                              upload.stream, permission=permission))
            except ValidationError as err:
                msgs = [m for ms in err.errors.values() for m in ms]
                raise ValidationError(
                    {"documents": [Worded(f"{upload.filename}: {friendly(m)}") for m in msgs]}) from None
    except BaseException:
        discard(stored)
        raise
    return stored


def discard(stored: list[Document]) -> None:
    """Delete stored files whose rows are being rolled back."""
    for doc in stored:
        document_service.document_path(doc).unlink(missing_ok=True)
