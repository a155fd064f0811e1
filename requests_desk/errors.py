"""Domain errors. Services raise these; one handler per audience maps them to HTTP."""
from __future__ import annotations


class DeskError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


class BadRequest(DeskError):
    status = 400
    title = "Bad request"


class Unauthorized(DeskError):
    status = 401
    title = "Authentication required"


class Forbidden(DeskError):
    status = 403
    title = "Not allowed for your role"


class NotFound(DeskError):
    status = 404
    title = "Not found"


class Conflict(DeskError):
    status = 409
    title = "Not allowed in the current state"


class PreconditionFailed(DeskError):
    """The client's version of the object (``If-Match``) is no longer the current one."""

    status = 412
    title = "Changed since you read it"


class ValidationError(DeskError):
    """422: something is wrong with the content. ``errors`` maps field paths to messages."""

    status = 422
    title = "The request has errors"

    def __init__(self, errors: dict[str, list[str]] | str, detail: str | None = None):
        if isinstance(errors, str):
            errors = {"": [errors]}
        if detail is None:
            detail = "; ".join(
                f"{field}: {msg}" if field else msg for field, msgs in errors.items() for msg in msgs
            )
        super().__init__(detail, errors)


class FieldErrors:
    """Collects per-field messages while validating, then raises one ValidationError."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)
