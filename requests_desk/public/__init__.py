"""Published transparency reports (``/transparency/``), no sign-in."""
from . import views  # noqa: F401  (its views register)
from .blueprint import bp

__all__ = ["bp"]
