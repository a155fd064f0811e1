"""The audit chain's HMAC, keyed once and copied per message, is HMAC-SHA256."""
import hmac
import os

import pytest

from requests_desk.keyed_hash import hmac_sha256_hex


@pytest.mark.parametrize("key_length", [0, 1, 32, 48, 63, 64, 65, 200])
def test_the_padded_key_gives_hmac_sha256(key_length):
    key = os.urandom(key_length)
    hexdigest = hmac_sha256_hex(key)
    for message in (b"", b"x", os.urandom(63), os.urandom(64), os.urandom(1000)):
        assert hexdigest(message) == hmac.new(key, message, "sha256").hexdigest()
    assert hexdigest(b"x") == hexdigest(b"x")  # its padded states are copied, never used up
