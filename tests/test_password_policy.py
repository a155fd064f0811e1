"""Issue 11: the password policy (length, breached list shipped as data, scrypt hash)."""
from __future__ import annotations

import pytest

from requests_desk.services import passwords


def test_the_shipped_list_is_loaded():
    common = passwords.common_passwords()
    assert len(common) >= 30_000
    assert {"123456", "password", "qwerty", "iloveyou"} <= common


@pytest.mark.parametrize("password,problem", [
    ("aaaaaaaaaa", "12 characters"),
    ("aaaaaaaaaaaaaaaa", "passphrase"),
    ("short", "12 characters"),
    ("QWERTY123456", "breached"),
    ("1qaz2wsx3edc", "breached"),
    ("x" * 201, "at most"),
])
def test_weak_passwords_refused(password, problem):
    found = passwords.problems(password)
    assert found and problem in found[0]


def test_a_good_passphrase_passes_and_is_hashed_with_scrypt():
    assert passwords.problems("correct horse battery") == []
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("scrypt:") and "correct" not in stored
    assert passwords.verify(stored, "correct horse battery")
    assert not passwords.verify(stored, "correct horse batter")
