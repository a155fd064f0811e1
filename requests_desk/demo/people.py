"""Who is in the demo: its logins, its customers, and the names requesters and account
holders are drawn from (their agencies, courts and law firms: ``authorities``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

# ---------------------------------------------------------------- logins


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    roles: tuple[str, ...]
    name: str
    customer: str | None = None
    agency: str | None = None  # a requester's unit, as registered on the requester portal


STAFF_LOGINS = (
    DemoLogin("admin@desk.example", "demo-admin-pass", ("admin",), "Ada Admin"),
    # Cleared for national security: Ian, Cora and Avery; Carl and Ada are not, so the
    # demo shows the compartment (those demands do not exist for them).
    DemoLogin("intake@desk.example", "demo-intake-pass", ("intake", "cleared"), "Ian Intake"),
    DemoLogin("counsel@desk.example", "demo-counsel-pass", ("counsel", "cleared"), "Cora Counsel"),
    DemoLogin("counsel2@desk.example", "demo-counsel2-pass", ("counsel",), "Carl Counsel"),
    DemoLogin("approver@desk.example", "demo-approver-pass", ("approver", "cleared"), "Avery Approver"),
)
CUSTOMER_PASSWORD = "demo-customer-pass"

# Verified agencies (SPEC §9): the requester portal's domain list, drawn from the demo's
# own requesters (``authorities``), and one officer registered on it.
VERIFIED_AGENCIES = (
    ("fbi.example.gov", "Federal Bureau of Investigation", "US"),
    ("hsi.example.gov", "Homeland Security Investigations", "US"),
    ("nypd.example.gov", "New York City Police Department", "US"),
    ("lapd.example.gov", "Los Angeles Police Department", "US"),
    ("met.example.uk", "Metropolitan Police Service", "GB"),
    ("nca.example.uk", "National Crime Agency", "GB"),
    ("bka.example.de", "Bundeskriminalamt", "DE"),
    ("lka-berlin.example.de", "Landeskriminalamt Berlin", "DE"),
)
REQUESTER_LOGIN = DemoLogin("officer@fbi.example.gov", "demo-requester-pass", ("requester",), "Dana Officer",
                            agency="FBI New York Field Office, Cyber Squad")
REQUESTER_PHONE = "+1 212 555 0147"
# Keys the case specs use for the staff users.
USER_KEYS = {"admin": 0, "intake": 1, "counsel": 2, "counsel2": 3, "approver": 4}


# ---------------------------------------------------------------- customers


@dataclass(frozen=True)
class CustomerSpec:
    name: str
    enterprise: bool
    domains: tuple[str, ...]
    contacts: tuple[tuple[str, str], ...]
    accounts: tuple[str, ...] = ()
    weight: float = 1.0  # share of the targets that fall on this customer


CUSTOMERS = (
    CustomerSpec("Contoso Ltd", True, ("contoso.example", "contoso-labs.example"),
                 (("Contoso Privacy Office", "privacy@contoso.example"),
                  ("Contoso General Counsel", "legal@contoso.example")),
                 ("tenant:contoso-7781",), 3.0),
    # Fabrikam runs Northwind's help desk: the account mapping wins over Northwind's domain.
    CustomerSpec("Fabrikam Inc", True, ("fabrikam.example",),
                 (("Fabrikam Legal", "legal@fabrikam.example"),),
                 ("helpdesk@northwindtraders.example",), 2.0),
    CustomerSpec("Northwind Traders", True, ("northwindtraders.example",),
                 (("Northwind Compliance", "compliance@northwindtraders.example"),), (), 1.5),
    # Litware's mail server has been refusing the desk's mail for the last days.
    CustomerSpec("Litware Bank", True, ("litware.example",),
                 (("Litware Legal Department", "legal@litware.example"),), (), 1.0),
    CustomerSpec("Woodgrove Health", True, ("woodgrove.example",),
                 (("Woodgrove Data Protection Officer", "dpo@woodgrove.example"),), (), 1.0),
    CustomerSpec("Wide World Importers", True, ("wideworldimporters.example",),
                 (("WWI Legal", "legal@wideworldimporters.example"),),
                 ("wwi.buyer@webmail.example", "+1 206 555 0142"), 1.0),
    CustomerSpec("Blue Yonder Bakery", False, ("blueyonderbakery.example",),
                 (("Blue Yonder Bakery", "owner@blueyonderbakery.example"),), (), 0.4),
    CustomerSpec("Proseware Studio", False, ("proseware.example",),
                 (("Proseware office", "office@proseware.example"),), (), 0.4),
    CustomerSpec("Lamna Photography", False, ("lamna.example",),
                 (("Lamna Photography", "hello@lamna.example"),), (), 0.3),
)
OUTAGE_CUSTOMER = "Litware Bank"
OUTAGE_DAYS = 3


def customer_login(spec: CustomerSpec) -> DemoLogin:
    return DemoLogin(f"portal@{spec.domains[0]}", CUSTOMER_PASSWORD, ("customer",),
                     f"{spec.name} legal team", spec.name)


def demo_logins() -> list[DemoLogin]:
    return list(STAFF_LOGINS) + [customer_login(c) for c in CUSTOMERS if c.enterprise] + [REQUESTER_LOGIN]


def refusal_text(contacts: Iterable[str]) -> str:
    """What the mailer records when a server refuses every recipient (550)."""
    return "every recipient was refused: " + "; ".join(
        f"{email} (550 5.1.1 Mailbox unavailable)" for email in contacts)


# ---------------------------------------------------------------- names and places

FIRST = ("james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "william",
         "elizabeth", "david", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah",
         "charles", "karen", "lena", "jonas", "emma", "lukas", "mia", "paul", "hannah", "oliver",
         "amelia", "harry", "isla", "louis", "chloe", "hugo", "lea", "arjun", "priya", "rafael",
         "camila", "kenji", "yuki", "sofia", "mateo", "noah", "zoe", "felix", "clara", "omar", "nina")
LAST = ("smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
        "martinez", "hernandez", "lopez", "wilson", "anderson", "taylor", "thomas", "moore",
        "jackson", "martin", "lee", "mueller", "schmidt", "schneider", "fischer", "weber", "meyer",
        "wagner", "becker", "evans", "walker", "wright", "roberts", "dubois", "bernard", "moreau",
        "laurent", "sharma", "patel", "silva", "santos", "tanaka", "sato", "rossi", "russo",
        "kowalski", "nowak", "jansen", "devries", "okafor", "novak")
CONSUMER_DOMAINS = ("mailbox.example", "webmail.example", "inbox.example", "freemail.example")
