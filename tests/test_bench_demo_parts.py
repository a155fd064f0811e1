"""``python -m bench.demo_parts`` (README, *Why desk demo … cannot take 20 s*): each part
of the bulk load timed alone, on a small desk; and the loader's methods it times are
its own again afterwards; SQLite's copy of the same rows (part 4) takes every one."""
from __future__ import annotations

import re

from bench.demo_parts import measure
from requests_desk.demo import loader, writer


def test_demo_parts_times_each_part_and_leaves_the_loader_as_it_was(tmp_path, monkeypatch):
    monkeypatch.setenv("DESK_AUDIT_KEY", "test-audit-key-0123456789abcdef0123456789abcdef")
    before = (loader.BulkLoader._absorb, loader.BulkLoader._chain, writer.DeskWriter.flush, writer.DeskWriter.finish)
    lines = measure(tmp_path, 300, 1)
    text = "\n".join(lines)
    assert re.search(r"^1\. replay .* \d+\.\d s CPU$", text, re.M), text
    assert re.search(r"^2\. between processes: pickled \d+\.\d s, unpickled \d+\.\d s CPU \(\d+ MB\)$", text, re.M)
    written = re.search(r"^3\. write \(([\d,]+) rows.*: +\d+\.\d s, \d+\.\d s CPU", text, re.M)
    assert written, text
    for step in ("_absorb", "_chain", "flush", "finish"):
        assert re.search(rf"\({step}.*\) +\d+\.\d s CPU$", text, re.M), (step, text)
    # Part 4 copies every row part 3 wrote, no more, and builds the rest as the load does.
    copied = re.search(r"^4\. SQLite alone: ([\d,]+) rows copied .* \d+\.\d s, then finish \d+\.\d s: "
                       r"\d+\.\d s \(\d+\.\d s CPU\)$", text, re.M)
    assert copied and copied.group(1) == written.group(1) != "0", text
    assert (loader.BulkLoader._absorb, loader.BulkLoader._chain, writer.DeskWriter.flush,
            writer.DeskWriter.finish) == before
