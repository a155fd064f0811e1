"""Published transparency reports (``/transparency/``), no sign-in.

Every answer comes from frozen rows: a version's outputs were rendered once when it was
published (``report_artifacts``) and are served with an ETag (``304`` on a matching
``If-None-Match``) and cache headers. A period with no published version, or a name that
is not a period, is a 404 on every URL here.

Anonymous readers all get the same report page, so each worker reuses a page it rendered
for up to ``PAGE_TTL`` seconds (HTTP caches may keep the latest one five minutes anyway),
and at once renders it again after this process publishes a version. Signed-in staff
see their own header and are never served from it.
"""
from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Callable

from flask import Response, current_app, g, render_template, request

from reports.periods import Period, PeriodError
from reports.schema import Report as ReportDoc
from reports.wording import period_name

from ..config import LOGO_TYPES, public_base_url
from ..db_session import get_session
from ..errors import NotFound
from ..services import reports as report_service
from .blueprint import bp

PERIOD_FILE = re.compile(r"^(?P<period>[0-9]{4}-H[12])(?:\.(?P<ext>json|csv|pdf))?$")
VERSION_FILE = re.compile(r"^v(?P<version>[1-9][0-9]{0,5})(?:\.(?P<ext>json|csv|pdf))?$")
YEAR = 365 * 24 * 3600
LATEST_MAX_AGE = 300
PAGE_TTL = 10.0


def _frame(doc: ReportDoc | None = None) -> dict:
    """What every public page shows around the reports: who publishes (a version's own
    provider, frozen when it was published, or else DESK_PROVIDER_NAME), whether there is a
    logo (DESK_PROVIDER_LOGO), and periods named for people (``H1 2026``)."""
    config = current_app.config
    return {"provider": (doc.provider if doc else None) or config["DESK_PROVIDER_NAME"],
            "has_logo": bool(config.get("DESK_PROVIDER_LOGO")), "period_name": period_name}


def _period(code: str) -> Period:
    try:
        return Period.parse(code)
    except PeriodError:
        raise NotFound(f"There is no transparency report for {code!r}.") from None


def _versions(period: Period):
    versions = report_service.published_versions(get_session(), period.code)
    if not versions:
        raise NotFound(f"No transparency report for {period.code} has been published.")
    return versions


def _cache(response: Response, *, immutable: bool) -> None:
    response.cache_control.public = True
    if immutable:  # /vN URLs never change
        response.cache_control.max_age = YEAR
        response.cache_control.immutable = True
    else:  # the latest version may be superseded by a correction
        response.cache_control.max_age = LATEST_MAX_AGE


def _file(row, ext: str, *, immutable: bool) -> Response:
    art = report_service.artifact(get_session(), row.id, ext)
    response = Response(art.content, content_type=_MEDIA[ext])
    name = f"transparency-report-{row.period}-v{row.version}.{ext}"
    if ext == "csv":
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    elif ext == "pdf":
        response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    response.set_etag(art.etag)
    _cache(response, immutable=immutable)
    return response.make_conditional(request)


_MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}


def _page(row, versions) -> Response:
    """The HTML page: the version's body rendered at publication, in the site's frame
    (a 200; the caller makes it conditional)."""
    art = report_service.artifact(get_session(), row.id, "html")
    latest = versions[-1]
    user = g.get("user")
    doc = ReportDoc.from_json(row.body)
    is_latest = row.version == latest.version
    html = render_template(
        "public/report.html", doc=doc, row=row, body=art.content.decode("utf-8"), versions=versions,
        latest=latest, is_latest=is_latest, period=Period.parse(row.period), **_frame(doc),
    )
    tag = f"{art.etag}:{latest.version}:{user.id if user else '-'}"
    return _html(html.encode("utf-8"), hashlib.sha256(tag.encode()).hexdigest()[:40], signed_in=user is not None)


def _html(body: bytes, etag: str, *, signed_in: bool) -> Response:
    response = Response(body, content_type="text/html; charset=utf-8")
    response.set_etag(etag)
    if signed_in:
        response.cache_control.private = True
        response.cache_control.no_cache = True
    else:
        _cache(response, immutable=False)
    response.vary.add("Cookie")
    return response


def _cached_page(build: Callable[[], Response]) -> Response:
    """``build()``'s page, or for an anonymous reader the one this worker built for the
    same URL less than PAGE_TTL seconds ago (and since its last publication)."""
    if g.get("user") is not None:
        return build().make_conditional(request)
    pages = current_app.extensions["desk"].setdefault("public_pages", {})
    now, stamp = time.monotonic(), report_service.publications()
    hit = pages.get(request.path)
    if hit is not None and now - hit[0] < PAGE_TTL and hit[1] == stamp:
        # The headers the page was built with (its type, ETag, caching, Vary), as they
        # were written: setting them again through werkzeug's cache-control object wrote
        # the header anew for each attribute (a tenth of the cached page's time).
        response = Response(hit[2], headers=hit[3])
    else:
        response = build()  # a 404 raises: only published pages are kept
        pages[request.path] = (now, stamp, response.get_data(), list(response.headers.items()))
    return response.make_conditional(request)


@bp.get("/")
def index():
    session = get_session()
    rows = report_service.latest_published(session)
    reports = [(row, ReportDoc.from_json(row.body)) for row in rows]
    return render_template("public/index.html", reports=reports, **_frame())


@bp.get("/logo")
def logo():
    """The provider's logo (DESK_PROVIDER_LOGO), or 404 when none is configured."""
    path = current_app.config.get("DESK_PROVIDER_LOGO")
    if not path:
        raise NotFound("No logo is configured.")
    content = Path(path).read_bytes()
    response = Response(content, content_type=LOGO_TYPES[Path(path).suffix.lower()])
    response.set_etag(hashlib.sha256(content).hexdigest()[:40])
    _cache(response, immutable=False)
    return response.make_conditional(request)


@bp.get("/feed.atom")
def feed():
    """Absolute links on DESK_BASE_URL, or, when it is not set, on the host that was asked."""
    rows = report_service.all_published(get_session())
    base = public_base_url(current_app.config, request.host_url)
    entries = [(row, ReportDoc.from_json(row.body)) for row in rows]
    xml = render_template("public/feed.xml", entries=entries, base=base, **_frame(),
                          updated=max((r.published_at for r in rows), default=None))
    response = Response(xml, content_type="application/atom+xml; charset=utf-8")
    response.set_etag(hashlib.sha256(xml.encode("utf-8")).hexdigest()[:40])
    _cache(response, immutable=False)
    return response.make_conditional(request)


@bp.get("/<name>")
def period_latest(name):
    match = PERIOD_FILE.match(name)
    if not match:
        raise NotFound(f"There is no transparency report at {name!r}.")
    period = _period(match["period"])
    if match["ext"]:
        return _file(_versions(period)[-1], match["ext"], immutable=False)

    def build() -> Response:
        versions = _versions(period)
        return _page(versions[-1], versions)

    return _cached_page(build)


@bp.get("/<period_code>/<name>")
def period_version(period_code, name):
    match = VERSION_FILE.match(name)
    if not match or not PERIOD_FILE.match(period_code):
        raise NotFound(f"There is no transparency report at {period_code}/{name}.")
    period = _period(period_code)
    wanted = int(match["version"])

    def version_of(versions):
        row = next((v for v in versions if v.version == wanted), None)
        if row is None:
            raise NotFound(f"{period.code} has no version {wanted}.")
        return row

    if match["ext"]:
        return _file(version_of(_versions(period)), match["ext"], immutable=True)

    def build() -> Response:
        versions = _versions(period)
        return _page(version_of(versions), versions)

    return _cached_page(build)

