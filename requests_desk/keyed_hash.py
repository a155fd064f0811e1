"""HMAC-SHA256 under one key, many times: the audit chain hashes every event under the
audit key (860,000 events for ``desk demo --demands 100000``, one after the other in a
single thread). ``hmac.new`` pads the key and hashes the pads again for each message;
here the two padded states are hashed once and copied per message (RFC 2104), which
takes about 0.8 µs a hash instead of 1.9."""
from __future__ import annotations

import hashlib
from typing import Callable

_BLOCK = 64  # SHA-256's block size


def hmac_sha256_hex(key: bytes) -> Callable[[bytes], str]:
    """A function of a message giving ``hmac.new(key, message, "sha256").hexdigest()``."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def hexdigest(message: bytes) -> str:
        h = inner.copy()
        h.update(message)
        o = outer.copy()
        o.update(h.digest())
        return o.hexdigest()

    return hexdigest

