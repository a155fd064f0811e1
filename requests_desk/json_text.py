"""JSON text without ``json.JSONEncoder.encode``'s cost per call: the audit log encodes
each event's before/after and hashed fields (about 2.6 million values for ``desk demo
--demands 100000``), most of them small, where building the encoder was the most of it."""
from __future__ import annotations

import json
from typing import Any, Callable


def one_shot(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """``encoder.encode``, the same text, with the C encoder built once for dicts and lists
    instead of on every call, and no dict of the containers seen (which only turns a
    cycle into ValueError: the audit log's values are trees). A third of the time for a
    small dict. Plain ``encode`` where the C accelerator is missing or differs."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None or encoder.indent is not None:
        return encoder.encode
    try:
        scan = make(None, encoder.default, json.encoder.encode_basestring_ascii if encoder.ensure_ascii
                    else json.encoder.encode_basestring, None, encoder.key_separator, encoder.item_separator,
                    encoder.sort_keys, encoder.skipkeys, encoder.allow_nan)
    except TypeError:  # another Python's private signature
        return encoder.encode
    join = "".join

    def encode(value: Any) -> str:
        return join(scan(value, 0)) if isinstance(value, (dict, list)) else encoder.encode(value)

    sample = {"b": [1, 2.5, None, True, "\u00e9\"\n"], "a": {"c": -0.0}}
    return encode if encode(sample) == encoder.encode(sample) else encoder.encode
