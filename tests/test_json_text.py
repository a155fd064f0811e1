"""``json_text.one_shot`` writes what the encoder it stands for writes (the audit chain
hashes that text: one character apart and every later hash differs)."""
from __future__ import annotations

import json
from datetime import timezone

import pytest

from hypothesis import given, strategies as st

from requests_desk.audit import _default
from requests_desk.json_text import one_shot

ENCODERS = [json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_default),
            json.JSONEncoder(separators=(",", ":"))]
SAME = [(encoder, one_shot(encoder)) for encoder in ENCODERS]

leaves = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
          | st.datetimes(timezones=st.just(timezone.utc)))
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@given(values)
def test_one_shot_writes_what_the_encoder_writes(value):
    for encoder, fast in SAME:
        try:
            expected = encoder.encode(value)
        except TypeError:  # the compact encoder has no default for a datetime: both refuse it
            with pytest.raises(TypeError):
                fast(value)
            continue
        assert fast(value) == expected


def test_the_canonical_encoder_is_the_fast_one_here():
    """On CPython with its C accelerator the fast path is taken (else this test would not
    show the two equal for anything but the fallback)."""
    encoder, fast = SAME[0]
    assert fast is not encoder.encode
