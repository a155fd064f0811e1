"""How the desk names its codes on pages: short process names and outcomes."""
from __future__ import annotations

PROCESS_SHORT = {
    "subpoena": "Subpoena", "court_order": "Court order", "search_warrant": "Search warrant",
    "emergency": "Emergency request", "preservation": "Preservation", "civil_subpoena": "Civil subpoena",
    "mlat": "MLAT", "eu_production_order": "EU production order", "eu_preservation_order": "EU preservation order",
    "national_security": "National security", "other": "Other",
}

OUTCOME_WORDS = {
    "content_disclosed": "Content disclosed", "non_content_disclosed": "Non-content disclosed",
    "no_data_found": "No data found", "rejected": "Rejected", "redirected": "Redirected",
    "withdrawn": "Withdrawn", "preserved": "Preserved",
}


def process(code: str | None) -> str:
    return PROCESS_SHORT.get(code or "", (code or "—").replace("_", " ").capitalize())


def outcome(code: str | None) -> str:
    return OUTCOME_WORDS.get(code or "", (code or "closed").replace("_", " ").capitalize())
