"""The customer portal (``/portal/``)."""
from . import views  # noqa: F401  (its views register)
from .blueprint import bp

__all__ = ["bp"]
