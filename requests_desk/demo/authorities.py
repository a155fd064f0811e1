"""Who issues the demo's legal process: for each requesting country its jurisdictions,
each with its law-enforcement agencies, the courts that sit there and the prosecution
service; the country's central authority (mutual legal assistance) and law firms.

A case draws its requester first and then the issuer from the requester's own
jurisdiction (``issuer``), so a pairing always holds together: a U.S. federal agency
takes its warrants to a U.S. District Court, Police Scotland to a Sheriff Court and the
Metropolitan Police to a court of England and Wales; an emergency request or a
preservation letter is the requesting agency's own; a gag is ordered by a court of the
jurisdiction (the issuing court itself when a court issued the process)."""
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Jurisdiction:
    country: str
    name: str
    agencies: tuple[tuple[str, str], ...]  # law enforcement: (name, mail domain)
    courts: tuple[str, ...]  # issue warrants, orders and gags here
    prosecutor: tuple[str, str]  # (name, mail domain): issues subpoenas, EU orders
    federal: bool = False  # U.S. federal (the statutes the paper cites differ)


def _j(country: str, name: str, agencies, courts, prosecutor, federal: bool = False) -> Jurisdiction:
    return Jurisdiction(country, name, tuple(agencies), tuple(courts), prosecutor, federal)


def _federal(district: str, short: str, offices: tuple[str, ...], usao: str) -> Jurisdiction:
    city = offices[0]
    return _j("US", district, (
        (f"Federal Bureau of Investigation, {city} Field Office", "fbi.example.gov"),
        (f"Homeland Security Investigations, {city}", "hsi.example.gov"),
        (f"U.S. Secret Service, {city} Field Office", "usss.example.gov"),
    ), (f"U.S. District Court, {short}",), (f"U.S. Attorney's Office, {short}", usao), federal=True)


JURISDICTIONS: dict[str, tuple[Jurisdiction, ...]] = {
    "US": (
        _federal("Southern District of New York", "S.D.N.Y.", ("New York",), "usao-sdny.example.gov"),
        _federal("Central District of California", "C.D. Cal.", ("Los Angeles",), "usao-cdca.example.gov"),
        _federal("Northern District of Illinois", "N.D. Ill.", ("Chicago",), "usao-ndil.example.gov"),
        _federal("District of Columbia", "D.D.C.", ("Washington",), "usao-dc.example.gov"),
        _j("US", "New York", (("New York City Police Department", "nypd.example.gov"),),
           ("Supreme Court of the State of New York, New York County", "Criminal Court of the City of New York"),
           ("New York County District Attorney's Office", "manhattanda.example.gov")),
        _j("US", "California", (("Los Angeles Police Department", "lapd.example.gov"),),
           ("Superior Court of California, County of Los Angeles",),
           ("Los Angeles County District Attorney's Office", "da.lacounty.example.gov")),
        _j("US", "Illinois", (("Cook County Sheriff's Office", "cookcountysheriff.example.gov"),),
           ("Circuit Court of Cook County",), ("Cook County State's Attorney's Office", "cookcountysao.example.gov")),
        _j("US", "Texas", (("Texas Department of Public Safety", "dps.texas.example.gov"),),
           ("District Court of Travis County, Texas",),
           ("Travis County District Attorney's Office", "traviscountyda.example.gov")),
    ),
    "DE": (
        _j("DE", "Berlin", (("Landeskriminalamt Berlin", "lka-berlin.example.de"),), ("Amtsgericht Tiergarten",),
           ("Staatsanwaltschaft Berlin", "sta-berlin.example.de")),
        _j("DE", "Bayern", (("Bayerisches Landeskriminalamt", "blka.example.de"),), ("Amtsgericht München",),
           ("Staatsanwaltschaft München I", "sta-muenchen.example.de")),
        _j("DE", "Hessen", (("Polizeipräsidium Frankfurt am Main", "polizei-ffm.example.de"),),
           ("Amtsgericht Frankfurt am Main",), ("Staatsanwaltschaft Frankfurt am Main", "sta-ffm.example.de")),
        _j("DE", "Bund", (("Bundeskriminalamt", "bka.example.de"),), ("Ermittlungsrichter am Bundesgerichtshof",),
           ("Generalbundesanwalt beim Bundesgerichtshof", "gba.example.de")),
    ),
    "GB": (
        _j("GB", "England and Wales", (("Metropolitan Police Service", "met.example.uk"),
                                       ("National Crime Agency", "nca.example.uk")),
           ("Westminster Magistrates' Court", "Crown Court at Southwark"), ("Crown Prosecution Service", "cps.example.uk")),
        _j("GB", "England and Wales", (("Greater Manchester Police", "gmp.example.uk"),),
           ("Manchester Magistrates' Court", "Manchester Crown Court"),
           ("Crown Prosecution Service North West", "cps.example.uk")),
        _j("GB", "Scotland", (("Police Scotland", "scotland-police.example.uk"),),
           ("Sheriff Court, Glasgow", "Sheriff Court, Edinburgh"),
           ("Crown Office and Procurator Fiscal Service", "copfs.example.uk")),
    ),
    "FR": (
        _j("FR", "Paris", (("Office anti-cybercriminalité, Police nationale", "ofac.example.fr"),
                           ("Brigade de lutte contre la cybercriminalité", "bl2c.example.fr")),
           ("Tribunal judiciaire de Paris",), ("Parquet de Paris", "parquet-paris.example.fr")),
        _j("FR", "Lyon", (("Gendarmerie nationale, région Auvergne-Rhône-Alpes", "gendarmerie.example.fr"),),
           ("Tribunal judiciaire de Lyon",), ("Parquet de Lyon", "parquet-lyon.example.fr")),
    ),
    "IN": (_j("IN", "Delhi", (("Delhi Police, Cyber Crime Unit", "delhipolice.example.in"),
                              ("Central Bureau of Investigation", "cbi.example.in")),
              ("Court of the Chief Metropolitan Magistrate, New Delhi",),
              ("Directorate of Prosecution, Delhi", "prosecution-delhi.example.in")),),
    "BR": (_j("BR", "São Paulo", (("Polícia Federal, Superintendência em São Paulo", "pf.example.br"),
                                  ("Polícia Civil do Estado de São Paulo", "policiacivil-sp.example.br")),
              ("Justiça Federal, Seção Judiciária de São Paulo",),
              ("Ministério Público Federal em São Paulo", "mpf-sp.example.br")),),
    "CA": (_j("CA", "Ontario", (("Royal Canadian Mounted Police", "rcmp.example.ca"),
                                ("Toronto Police Service", "tps.example.ca")),
              ("Ontario Court of Justice, Toronto",), ("Public Prosecution Service of Canada", "ppsc.example.ca")),),
    "AU": (_j("AU", "New South Wales", (("Australian Federal Police", "afp.example.au"),
                                        ("NSW Police Force", "nswpolice.example.au")),
              ("Local Court of New South Wales, Sydney",),
              ("Commonwealth Director of Public Prosecutions", "cdpp.example.au")),),
    "ES": (_j("ES", "Madrid", (("Policía Nacional, Unidad Central de Ciberdelincuencia", "policia.example.es"),
                               ("Guardia Civil, Grupo de Delitos Telemáticos", "guardiacivil.example.es")),
              ("Juzgado de Instrucción n.º 5 de Madrid",), ("Fiscalía Provincial de Madrid", "fiscal.example.es")),),
    "IT": (_j("IT", "Roma", (("Polizia Postale e delle Comunicazioni", "poliziapostale.example.it"),
                             ("Arma dei Carabinieri, ROS", "carabinieri.example.it")),
              ("Tribunale di Roma",), ("Procura della Repubblica presso il Tribunale di Roma", "procura-roma.example.it")),),
    "NL": (_j("NL", "Den Haag", (("Politie, Team High Tech Crime", "politie.example.nl"),),
              ("Rechtbank Den Haag",), ("Openbaar Ministerie, Landelijk Parket", "om.example.nl")),),
    "PL": (_j("PL", "Warszawa", (("Centralne Biuro Zwalczania Cyberprzestępczości", "cbzc.example.pl"),),
              ("Sąd Rejonowy dla Warszawy-Mokotowa",), ("Prokuratura Okręgowa w Warszawie", "prokuratura.example.pl")),),
    "JP": (_j("JP", "Tokyo", (("Tokyo Metropolitan Police Department", "keishicho.example.jp"),),
              ("Tokyo District Court",), ("Tokyo District Public Prosecutors Office", "kensatsu.example.jp")),),
    "MX": (_j("MX", "Ciudad de México", (("Policía Federal Ministerial", "fgr.example.mx"),),
              ("Juzgado de Distrito en Materia Penal, Ciudad de México",),
              ("Fiscalía General de la República", "fgr.example.mx")),),
    "BE": (_j("BE", "Bruxelles", (("Federal Computer Crime Unit", "fccu.example.be"),),
              ("Tribunal de première instance de Bruxelles",), ("Parquet de Bruxelles", "parquet-bxl.example.be")),),
    "AR": (_j("AR", "Buenos Aires", (("Policía Federal Argentina", "pfa.example.ar"),),
              ("Juzgado Nacional en lo Criminal y Correccional Federal n.º 3",),
              ("Ministerio Público Fiscal", "mpf.example.ar")),),
    "SE": (_j("SE", "Stockholm", (("Polismyndigheten, Nationella operativa avdelningen", "polisen.example.se"),),
              ("Stockholms tingsrätt",), ("Åklagarmyndigheten", "aklagare.example.se")),),
    "AT": (_j("AT", "Wien", (("Bundeskriminalamt Österreich", "bk.example.at"),),
              ("Landesgericht für Strafsachen Wien",), ("Staatsanwaltschaft Wien", "sta-wien.example.at")),),
    "IE": (_j("IE", "Dublin", (("An Garda Síochána, National Cyber Crime Bureau", "garda.example.ie"),),
              ("District Court, Dublin",), ("Office of the Director of Public Prosecutions", "dppireland.example.ie")),),
    "CH": (_j("CH", "Zürich", (("Kantonspolizei Zürich", "kapo-zh.example.ch"), ("fedpol", "fedpol.example.ch")),
              ("Zwangsmassnahmengericht des Kantons Zürich",),
              ("Staatsanwaltschaft des Kantons Zürich", "sta-zh.example.ch")),),
    "SG": (_j("SG", "Singapore", (("Singapore Police Force", "spf.example.sg"),),
              ("State Courts of Singapore",), ("Attorney-General's Chambers", "agc.example.sg")),),
    "KR": (_j("KR", "Seoul", (("Korean National Police Agency, Cyber Bureau", "police.example.kr"),),
              ("Seoul Central District Court",), ("Seoul Central District Prosecutors' Office", "spo.example.kr")),),
    "TR": (_j("TR", "İstanbul", (("Emniyet Genel Müdürlüğü, Siber Suçlarla Mücadele", "egm.example.tr"),),
              ("İstanbul Sulh Ceza Hakimliği",), ("İstanbul Cumhuriyet Başsavcılığı", "istanbul-cbs.example.tr")),),
    "PT": (_j("PT", "Lisboa", (("Polícia Judiciária, UNC3T", "pj.example.pt"),),
              ("Tribunal Central de Instrução Criminal",), ("Ministério Público, DCIAP", "dciap.example.pt")),),
    "DK": (_j("DK", "København", (("Rigspolitiet, NC3", "politi.example.dk"),),
              ("Københavns Byret",), ("Statsadvokaten for Særlig Kriminalitet", "anklagemyndigheden.example.dk")),),
}

# The country's central authority for mutual legal assistance (a government requester).
CENTRAL_AUTHORITIES: dict[str, tuple[str, str]] = {
    "US": ("U.S. Department of Justice, National Security Division", "justice.example.gov"),
    "DE": ("Bundesamt für Justiz", "bfj.example.de"),
    "GB": ("UK Central Authority, Home Office", "homeoffice.example.uk"),
    "FR": ("Ministère de la Justice, Bureau de l'entraide pénale internationale", "justice.example.fr"),
    "BR": ("Ministério da Justiça, DRCI", "mj.example.br"),
    "CA": ("Department of Justice Canada, International Assistance Group", "justice.example.ca"),
    "AU": ("Attorney-General's Department, International Crime Cooperation", "ag.example.au"),
    "JP": ("Ministry of Justice of Japan, International Affairs Division", "moj.example.jp"),
    "CH": ("Bundesamt für Justiz, Rechtshilfe", "bj.example.ch"),
}
# Foreign intelligence: the court that orders, and keeps secret, national-security process.
FISC = "U.S. Foreign Intelligence Surveillance Court"

LAW_FIRMS: dict[str, tuple[tuple[str, str], ...]] = {
    "US": (("Baker Lane LLP", "bakerlane.example"), ("Whitfield & Partners LLP", "whitfield.example")),
    "GB": (("Okafor Legal LLP", "okaforlegal.example"),),
    "DE": (("Hoffmann Rechtsanwälte", "hoffmann-law.example"),),
    "ES": (("Marín Abogados", "marinabogados.example"),),
    "FR": (("Cabinet Moreau Avocats", "moreau-avocats.example"),),
}
# Elsewhere a civil litigant is represented by an international firm's local office.
INTERNATIONAL_FIRMS = (("Baker Lane LLP", "bakerlane.example"), ("Whitfield & Partners LLP", "whitfield.example"))

# Process types whose paper the requesting agency issues itself (no court).
AGENCY_ISSUED = frozenset(("emergency", "preservation"))
# Process types a prosecutor issues (a court now and then, for EU orders).
PROSECUTOR_ISSUED = frozenset(("subpoena", "eu_production_order", "eu_preservation_order"))


COURTS = frozenset(court for places in JURISDICTIONS.values() for j in places for court in j.courts) | {FISC}


def is_court(name: str) -> bool:
    """Whether ``name`` is one of the demo's courts (a country's own or a fallback one)."""
    return name in COURTS or name.startswith("Criminal Court of ")


def central_authority(country: str, country_name: str) -> tuple[str, str]:
    return CENTRAL_AUTHORITIES.get(country) or (f"Ministry of Justice of {country_name}",
                                                f"justice.example.{country.lower()}")


def law_firms(country: str) -> tuple[tuple[str, str], ...]:
    return LAW_FIRMS.get(country, INTERNATIONAL_FIRMS)


def jurisdictions(country: str, country_name: str) -> tuple[Jurisdiction, ...]:
    """The country's jurisdictions; a country without a table of its own has one, named
    after it (its national police, a court and the prosecutor in the capital)."""
    found = JURISDICTIONS.get(country)
    if found:
        return found
    tld = country.lower()
    return (_j(country, country_name, ((f"National Police of {country_name}", f"police.example.{tld}"),),
               (f"Criminal Court of {country_name}",),
               (f"Public Prosecutor's Office of {country_name}", f"prosecutor.example.{tld}")),)


def issuer(rng: random.Random, ptype: str, jurisdiction: Jurisdiction, agency: str) -> str:
    """Who issued a demand's legal process, from the requester's own jurisdiction; a
    court requester issues its own (the caller passes it as ``agency``)."""
    if ptype == "national_security":
        return FISC
    if ptype in AGENCY_ISSUED:
        return agency
    if agency in jurisdiction.courts:
        return agency
    if ptype in PROSECUTOR_ISSUED and (ptype == "subpoena" or rng.random() < 0.5):
        return jurisdiction.prosecutor[0]
    courts = jurisdiction.courts
    return courts[int(rng.random() * len(courts))]


def gag_issuer(issued_by: str, jurisdiction: Jurisdiction) -> str:
    """A gag is a court's order: the issuing court itself, else the jurisdiction's first."""
    if issued_by == FISC or issued_by in jurisdiction.courts:
        return issued_by
    return jurisdiction.courts[0]
