"""The requester portal (``/requests/``, SPEC §9): officers of verified agencies register,
confirm their address, and submit and follow their own demands."""
from . import signup, views  # noqa: F401  (their views register)
from .blueprint import bp, signup_bp

__all__ = ["bp", "signup_bp"]
