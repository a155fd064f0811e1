"""What the demo's demands are made of: the shares of countries and process types, the
data sets each process type asks for, legal references, and the words staff write."""
from __future__ import annotations

# Share of demands by requesting country (ISO 3166-1 alpha-2).
COUNTRIES = (
    ("US", 38.0), ("DE", 11.0), ("GB", 9.0), ("FR", 8.0), ("IN", 3.4), ("BR", 3.0), ("CA", 2.6),
    ("AU", 2.4), ("ES", 2.4), ("IT", 2.3), ("NL", 2.0), ("PL", 1.6), ("JP", 1.4), ("MX", 1.2),
    ("BE", 1.0), ("AR", 0.9), ("SE", 0.9), ("AT", 0.8), ("IE", 0.8), ("CH", 0.8), ("SG", 0.7),
    ("KR", 0.7), ("TR", 0.7), ("PT", 0.6), ("DK", 0.5),
)
EU = frozenset(("DE", "FR", "ES", "IT", "NL", "PL", "BE", "SE", "AT", "IE", "PT", "DK"))
PROCESS_SHARES = {
    "US": (("search_warrant", 29), ("subpoena", 33), ("court_order", 12), ("preservation", 12),
           ("emergency", 6), ("civil_subpoena", 3), ("national_security", 3), ("other", 2)),
    "EU": (("search_warrant", 27), ("subpoena", 22), ("court_order", 11), ("preservation", 7),
           ("emergency", 5), ("eu_production_order", 14), ("eu_preservation_order", 6), ("mlat", 4),
           ("civil_subpoena", 2), ("other", 2)),
    "other": (("search_warrant", 30), ("subpoena", 28), ("court_order", 12), ("preservation", 8),
              ("emergency", 6), ("mlat", 10), ("civil_subpoena", 3), ("other", 3)),
}
# Which data sets a process type tends to ask for (probability each is asked for).
ASKS = {
    "subpoena": (("subscriber_info", 0.9), ("billing_records", 0.5), ("sign_in_logs", 0.25)),
    "court_order": (("subscriber_info", 0.7), ("sign_in_logs", 0.8), ("message_metadata", 0.6),
                    ("email_content", 0.1)),
    "search_warrant": (("subscriber_info", 0.5), ("sign_in_logs", 0.4), ("email_content", 0.75),
                       ("stored_files", 0.3), ("chat_messages", 0.3), ("contacts_calendar", 0.15)),
    "emergency": (("subscriber_info", 0.8), ("sign_in_logs", 0.7), ("email_content", 0.3),
                  ("chat_messages", 0.2)),
    "preservation": (("subscriber_info", 0.5), ("sign_in_logs", 0.5), ("email_content", 0.7),
                     ("stored_files", 0.4)),
    "civil_subpoena": (("subscriber_info", 0.8), ("billing_records", 0.4), ("message_metadata", 0.2),
                       ("email_content", 0.15)),
    "mlat": (("subscriber_info", 0.7), ("sign_in_logs", 0.5), ("email_content", 0.5),
             ("stored_files", 0.2)),
    "eu_production_order": (("subscriber_info", 0.7), ("sign_in_logs", 0.6), ("email_content", 0.4),
                            ("chat_messages", 0.2)),
    "eu_preservation_order": (("subscriber_info", 0.5), ("email_content", 0.6), ("stored_files", 0.4)),
    "national_security": (("subscriber_info", 0.8), ("message_metadata", 0.6), ("sign_in_logs", 0.5),
                          ("email_content", 0.2)),
    "other": (("subscriber_info", 0.7), ("sign_in_logs", 0.4), ("billing_records", 0.2)),
}
# The requester's own reference for its legal process (not the desk's LD- reference): U.S.
# dockets name the statute (2703(d) orders, grand-jury subpoenas); elsewhere the country.
LEGAL_REFERENCE_US = {
    "search_warrant": "SW-{year}-{n:05d}", "subpoena": "GJ-{year}-{n:05d}",
    "court_order": "2703D-{year}-{n:04d}", "preservation": "PRES-{year}-{n:05d}",
    "emergency": "EDR-{year}-{n:05d}", "civil_subpoena": "CV-{year}-{n:05d}",
    "national_security": "FISC-{year}-{n:05d}", "other": "REQ-{year}-{n:05d}",
}
LEGAL_REFERENCE = {
    "search_warrant": "SW-{cc}-{year}-{n:05d}", "subpoena": "PR-{cc}-{year}-{n:05d}",
    "court_order": "CO-{cc}-{year}-{n:05d}", "preservation": "PRES-{cc}-{year}-{n:05d}",
    "emergency": "EDR-{cc}-{year}-{n:05d}", "civil_subpoena": "CIV-{cc}-{year}-{n:05d}",
    "mlat": "MLAT-{cc}-{year}-{n:04d}", "eu_production_order": "EPOC-{cc}-{year}-{n:05d}",
    "eu_preservation_order": "EPOC-PR-{cc}-{year}-{n:05d}", "other": "REQ-{cc}-{year}-{n:05d}",
}


def legal_reference_of(ptype: str, country: str) -> str:
    """The pattern of a requester's reference (``{year}``, ``{cc}``, ``{n}`` to fill in)."""
    return (LEGAL_REFERENCE_US if country == "US" and ptype in LEGAL_REFERENCE_US else LEGAL_REFERENCE)[ptype]


def gag_reference(legal_reference: str, country: str, ptype: str) -> str:
    """A gag's order reference: the non-disclosure order made with the legal process."""
    if ptype == "national_security":
        return f"FISC nondisclosure order {legal_reference}"
    if country == "US":
        return f"2705(b) order {legal_reference}"
    return f"Non-disclosure order {legal_reference}"


# ---------------------------------------------------------------- the words staff write

REJECT_REASONS = (
    "The legal process is defective: it is not signed by the issuing judge.",
    "The order does not identify the accounts with enough particularity.",
    "The process was issued outside the requester's jurisdiction; use the MLAT channel.",
    "The request is overbroad; counsel asked the requester to narrow it and it did not.",
    "The date range predates our retention period.",
)
BEYOND_TIER_REASON = "The legal process cannot compel any of the data requested."
REDIRECT_NOTES = (
    "Told the requester by e-mail that the customer administers these accounts and gave the "
    "customer's legal contact.",
    "Explained on the phone that the data belongs to the enterprise customer; sent the customer's "
    "contact for legal process.",
)
REVIEW_REASONS = (
    "The customer's administrators are the subject of the investigation; redirecting would compromise it.",
    "The requester showed that the customer could not be approached without tipping off the suspect.",
)
GAG_LIFT_REASONS = ("The court lifted the order on the requester's motion.",
                    "The order was vacated on appeal.")
ASSIGN_REASONS = ("New case.", "Workload balance.", "Specialist for this kind of process.")
NS_BASIS = "Reviewed under FISA (50 U.S.C. 1861); the order reaches these records."
OTHER_BASIS = "Counsel found a valid legal basis for these records under local law."
JUSTIFICATIONS = (
    "Credible threat to life: the account holder posted a suicide note.",
    "Kidnapping in progress; the account was used to send ransom demands.",
    "Imminent threat of violence against a school named in the messages.",
)
DEFER_REASON = "Telling the account holder's organisation now could endanger the person at risk."
NS_RELEASE_REASON = ("The letter's non-disclosure requirement was reviewed and does not cover the account holder's "
                     "organisation; counsel approved the notice.")
