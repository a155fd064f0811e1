"""The public transparency pages on a 390 px wide phone: the page never scrolls sideways;
wide tables scroll inside their own box and the headline numbers stay inside their tiles.
The feed served on a port links to that port."""
from __future__ import annotations

import re
from datetime import timedelta

from requests_desk.db import utcnow
from requests_desk.services import reports as report_service

from tests.test_reports_caseload import build_caseload

PHONE = {"width": 390, "height": 844}
PAGES = ("/transparency/", "/transparency/2026-H1")

# Elements that reach past the viewport's right edge and are not inside a box that scrolls.
OVERFLOW = """() => {
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= window.innerWidth + 0.5) continue;
    let p = el.parentElement, boxed = false;
    while (p) { const s = getComputedStyle(p).overflowX; if (s === 'auto' || s === 'scroll') { boxed = true; break; } p = p.parentElement; }
    if (!boxed) out.push(el.tagName + (el.id ? '#' + el.id : '') + ' right=' + Math.round(r.right));
  }
  return out;
}"""


def _publish(session, load, period):
    when = max(utcnow(), load.late_dispatch) + timedelta(minutes=1)
    report_service.compile_report(session, load.users["counsel"], period, when)
    report_service.publish_report(session, load.users["admin"], period, None, when)
    session.commit()


def test_public_pages_read_on_a_phone_without_sideways_scrolling(app, session, live_server, page, screenshot):
    load = build_caseload(app, session)
    _publish(session, load, "2025-H2")
    _publish(session, load, "2026-H1")
    page.set_viewport_size(PHONE)
    for path in PAGES:
        page.goto(f"{live_server}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (path, page.evaluate(OVERFLOW))
        assert page.evaluate(OVERFLOW) == [], path
        # The wide tables are there in full, scrolling inside their own box.
        for table in page.locator(".rp-scroll > table").all():
            box = table.evaluate("t => [t.parentElement.clientWidth, t.parentElement.scrollWidth]")
            assert box[0] <= 390 - 2 * 16 and box[1] >= box[0], (path, box)
        screenshot(f"phone-{path.strip('/').replace('/', '-')}", full_page=False)

    page.goto(f"{live_server}/transparency/2026-H1")
    scrolling = [t.get_attribute("id") for t in page.locator(".rp-scroll > table").all()
                 if t.evaluate("t => t.parentElement.scrollWidth > t.parentElement.clientWidth")]
    assert {"table-country", "table-process"} <= set(scrolling)
    tiles = page.locator(".rp-kpi").all()
    assert len(tiles) == 6
    for tile in tiles:
        inside = tile.evaluate("""k => { const t = k.getBoundingClientRect(), n = k.querySelector('dd');
                                         const r = n.getBoundingClientRect();
                                         return r.left >= t.left && r.right <= t.right && n.scrollWidth <= n.clientWidth; }""")
        assert inside, tile.inner_text()
    assert re.fullmatch(r"[\d.]+\u00a0%", tiles[2].locator("dd").inner_text())

    page.goto(f"{live_server}/transparency/")  # eight columns: the list scrolls in its box
    assert page.evaluate("(b => b.classList.contains('rp-scroll') && b.scrollWidth > b.clientWidth)"
                         "(document.querySelector('#reports').parentElement)")


def test_the_feed_served_on_a_port_links_to_that_port(app, session, live_server, page):
    load = build_caseload(app, session)
    _publish(session, load, "2026-H1")
    feed = page.request.get(f"{live_server}/transparency/feed.atom").text()
    links = re.findall(r'href="([^"]+)"', feed)
    assert links and all(link.startswith(f"{live_server}/transparency/") for link in links), links
    assert live_server.rsplit(":", 1)[1] != "5000"

