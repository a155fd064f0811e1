"""What the demo's legal-process papers say (``papers`` lays them out): for each process
type, in U.S. style and elsewhere, the title, what it asks, what it commands and who signs
it; the words of a non-disclosure order; the footer that says it is not real."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Form:
    """What one kind of paper says: its title, what it asks, what it commands, who signs."""

    title: str
    body: str
    command: str
    signer: str  # "court", "prosecutor" or "agency": who signs it


_US_RULE41 = ("(Fed. R. Crim. P. 41; 18 U.S.C. § 2703(a), (b)(1)(A) and (c)(1)(A))")
FORMS: dict[tuple[str, bool], Form] = {
    ("search_warrant", True): Form(
        "SEARCH AND SEIZURE WARRANT",
        "To any authorized law enforcement officer and to the provider named below: an application by a "
        "law enforcement officer requests the search of the information associated with the accounts "
        "listed in Attachment A, stored at premises controlled by the provider. The affidavit establishes "
        f"probable cause to search and seize the records described in Attachment B {_US_RULE41}.",
        "YOU ARE COMMANDED to disclose the records described in Attachment B to the requesting officer "
        "within 14 days. Records outside Attachment B are not to be disclosed.", "court"),
    ("search_warrant", False): Form(
        "SEARCH WARRANT",
        "On the application of the requesting authority, the court orders the search of the stored data "
        "of the accounts listed below and the seizure of the records described, on the grounds set out "
        "in the application, which is on file with the court.",
        "The provider shall produce the records described below to the requesting authority without "
        "undue delay. Nothing beyond those records is to be produced.", "court"),
    ("court_order", True): Form(
        "ORDER FOR DISCLOSURE UNDER 18 U.S.C. § 2703(d)",
        "This matter comes before the Court on the application of the government for an order under "
        "18 U.S.C. § 2703(d). The Court finds that the applicant has offered specific and articulable facts "
        "showing reasonable grounds to believe that the records sought are relevant and material to an "
        "ongoing criminal investigation.",
        "IT IS ORDERED that the provider disclose to the requesting officer, within ten days, the records "
        "described in Attachment B. The contents of communications are not to be disclosed.", "court"),
    ("court_order", False): Form(
        "COURT ORDER FOR THE PRODUCTION OF DATA",
        "On the application of the requesting authority, the court finds the records described below "
        "relevant to a pending criminal investigation.",
        "The provider shall produce the records described below to the requesting authority within "
        "the time stated in the covering letter.", "court"),
    ("subpoena", True): Form(
        "SUBPOENA TO PRODUCE RECORDS",
        "YOU ARE COMMANDED to produce the records in your possession, custody or control described "
        "below, relating to the accounts listed, in connection with a criminal investigation "
        "(18 U.S.C. § 2703(c)(2)).",
        "Produce the records to the requesting officer by electronic mail within 14 days. The "
        "contents of communications are not requested.", "prosecutor"),
    ("subpoena", False): Form(
        "ORDER TO PRODUCE SUBSCRIBER RECORDS",
        "In the course of a criminal investigation, the public prosecutor requires the provider to "
        "produce the records described below, to the extent national law allows.",
        "Produce the records to the requesting authority within 14 days. The contents of "
        "communications are not requested.", "prosecutor"),
    ("preservation", True): Form(
        "PRESERVATION REQUEST UNDER 18 U.S.C. § 2703(f)",
        "The requesting agency asks the provider to take all steps necessary to preserve the records "
        "and other evidence described below, pending the issuance of legal process, for 90 days.",
        "Do not disclose the preserved records to the requester until legal process is served.",
        "agency"),
    ("preservation", False): Form(
        "REQUEST TO PRESERVE STORED DATA",
        "Under Article 16 of the Budapest Convention on Cybercrime and national law, the requesting "
        "agency asks the provider to preserve the data described below for 90 days while it obtains "
        "an order for its production.",
        "Do not disclose the preserved data until an order for its production is served.", "agency"),
    ("emergency", True): Form(
        "EMERGENCY DISCLOSURE REQUEST",
        "The requesting agency believes in good faith that an emergency involving danger of death or "
        "serious physical injury to a person requires disclosure without delay of the information "
        "described below (18 U.S.C. § 2702(b)(8) and (c)(4)).",
        "Please call the requesting officer as soon as the information is available.", "agency"),
    ("emergency", False): Form(
        "EMERGENCY DISCLOSURE REQUEST",
        "The requesting agency believes that an emergency involving a risk to life or of serious "
        "physical injury requires the disclosure without delay of the information described below.",
        "Please call the requesting officer as soon as the information is available.", "agency"),
    ("civil_subpoena", True): Form(
        "SUBPOENA TO PRODUCE DOCUMENTS IN A CIVIL ACTION",
        "YOU ARE COMMANDED to produce the documents and electronically stored information described "
        "below, relating to the accounts listed (Fed. R. Civ. P. 45). The contents of communications "
        "are not requested.",
        "Produce the records to the requesting counsel within 14 days of service.", "court"),
    ("civil_subpoena", False): Form(
        "ORDER FOR DISCLOSURE IN CIVIL PROCEEDINGS",
        "On the application of the claimant's counsel, the court orders the provider to disclose the "
        "records described below, which are needed to identify the defendant.",
        "Produce the records to the requesting counsel within 14 days of service.", "court"),
    ("mlat", False): Form(
        "REQUEST FOR MUTUAL LEGAL ASSISTANCE IN A CRIMINAL MATTER",
        "The central authority of the requesting state asks, under the mutual legal assistance treaty "
        "in force, for the production of the records described below for use in a criminal "
        "investigation conducted under the authority of the court named above.",
        "The records are to be produced through the central authorities.", "court"),
    ("eu_production_order", False): Form(
        "EUROPEAN PRODUCTION ORDER CERTIFICATE (EPOC)",
        "Under Regulation (EU) 2023/1543 the issuing authority orders the service provider to produce "
        "the data described below, in connection with criminal proceedings in the issuing state.",
        "Produce the data within 10 days of receipt of this certificate (8 hours in an emergency).",
        "prosecutor"),
    ("eu_preservation_order", False): Form(
        "EUROPEAN PRESERVATION ORDER CERTIFICATE (EPOC-PR)",
        "Under Regulation (EU) 2023/1543 the issuing authority orders the service provider to preserve "
        "the data described below, pending a request for its production.",
        "Preserve the data for 60 days from receipt of this certificate.", "prosecutor"),
    ("national_security", True): Form(
        "ORDER REQUIRING THE PRODUCTION OF TANGIBLE THINGS",
        "The Court, having found that the application satisfies the requirements of the Foreign "
        "Intelligence Surveillance Act (50 U.S.C. § 1861), orders the provider to produce the records "
        "described below.",
        "This order and its existence are classified. Produce the records as directed by the FBI.",
        "court"),
    ("other", True): Form(
        "ORDER FOR THE PRODUCTION OF RECORDS",
        "The court orders the provider to produce the records described below under the law cited in "
        "the application.", "Produce the records to the requesting authority within 14 days.", "court"),
    ("other", False): Form(
        "ORDER FOR THE PRODUCTION OF RECORDS",
        "The court orders the provider to produce the records described below under the national law "
        "cited in the application.", "Produce the records to the requesting authority within 14 days.",
        "court"),
}
GAG_WORDS = {
    "us": "Under 18 U.S.C. § 2705(b), the provider shall not notify any person, including the account "
          "holders, of the existence of this legal process {until}.",
    "national_security": "Under 50 U.S.C. § 1861(d), no person shall disclose to any other person that the "
                         "records were sought or obtained under this order {until}.",
    "other": "The provider shall not inform the account holders or any other person of this legal "
             "process {until}.",
}


def gag_words(ptype: str, us: bool) -> str:
    """What a non-disclosure order says, by the law it is made under."""
    return GAG_WORDS["national_security" if ptype == "national_security" else "us" if us else "other"]
FOOTER = "Demo document made by Requests Desk: not a real legal process."
TO_LINE = "To: the custodian of records, legal department of the online service provider"
