"""Transparency reports, Flask-free: SQL aggregation -> schema dataclasses -> JSON, CSV,
charts (matplotlib ``Figure`` to SVG) and PDF (reportlab).

Everything here takes a SQLAlchemy ``Session`` or ``Connection`` (or an already
compiled ``Report``) and a period; the web app, the CLI and the benchmark call it alike.
"""
from .periods import Period, PeriodError
from .schema import Report

__all__ = ["Period", "PeriodError", "Report"]
