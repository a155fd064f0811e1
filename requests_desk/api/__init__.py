"""The JSON API (SPEC §6): ``blueprint.py`` holds the blueprint and its one guard;
one module of views per resource, one commit per request."""
from __future__ import annotations

from . import access, customers, demands, docs, reports  # noqa: F401  (their views register on the blueprint)
from .blueprint import bp

__all__ = ["bp"]
