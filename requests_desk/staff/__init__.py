"""The legal team's desk (``/desk/``): one module of views per screen, all on the
blueprint of ``blueprint.py``."""
from . import actions, admin, agencies, checks, documents, exports, files, filters, imports, intake, notices, reports, views  # noqa: F401  (their views register)
from .blueprint import bp

__all__ = ["bp"]
