"""Requests Desk: a case-management desk for demands for customer data.

The package itself imports nothing: ``requests_desk.vocabulary`` (and ``reports/``,
which reads it) load without Flask. The app is built by ``requests_desk.app.create_app``.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
