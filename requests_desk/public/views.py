"""Published transparency reports (``/transparency/``), no sign-in.

Every answer comes from frozen rows: a version's outputs were rendered once when it was
published (``report_artifacts``) and are served with an ETag (``304`` on a matching
``If-None-Match``) and cache headers. A period with no published version, or a name that
is not a period, is a 404 on every URL here.
"""
from __future__ import annotations

import hashlib
import re

from flask import Response, current_app, g, render_template, request

from reports.periods import Period, PeriodError
from reports.schema import Report as ReportDoc

from ..db_session import get_session
from ..errors import NotFound
from ..services import reports as report_service
from . import bp

PERIOD_FILE = re.compile(r"^(?P<period>[0-9]{4}-H[12])(?:\.(?P<ext>json|csv|pdf))?$")
VERSION_FILE = re.compile(r"^v(?P<version>[1-9][0-9]{0,5})(?:\.(?P<ext>json|csv|pdf))?$")
YEAR = 365 * 24 * 3600
LATEST_MAX_AGE = 300


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
    """The HTML page: the version's body rendered at publication, in the site's frame."""
    art = report_service.artifact(get_session(), row.id, "html")
    latest = versions[-1]
    user = g.get("user")
    doc = ReportDoc.from_json(row.body)
    is_latest = row.version == latest.version
    html = render_template(
        "public/report.html", doc=doc, row=row, body=art.content.decode("utf-8"), versions=versions,
        latest=latest, is_latest=is_latest, period=Period.parse(row.period),
    )
    response = Response(html, content_type="text/html; charset=utf-8")
    tag = f"{art.etag}:{latest.version}:{user.id if user else '-'}"
    response.set_etag(hashlib.sha256(tag.encode()).hexdigest()[:40])
    if user is None:
        _cache(response, immutable=False)
        response.cache_control.max_age = LATEST_MAX_AGE
    else:
        response.cache_control.private = True
        response.cache_control.no_cache = True
    response.vary.add("Cookie")
    return response.make_conditional(request)


@bp.get("/")
def index():
    session = get_session()
    rows = report_service.latest_published(session)
    reports = [(row, ReportDoc.from_json(row.body)) for row in rows]
    return render_template("public/index.html", reports=reports)


@bp.get("/feed.atom")
def feed():
    rows = report_service.all_published(get_session())
    base = current_app.config.get("DESK_BASE_URL", "").rstrip("/")
    entries = [(row, ReportDoc.from_json(row.body)) for row in rows]
    xml = render_template("public/feed.xml", entries=entries, base=base,
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
    versions = _versions(period)
    latest = versions[-1]
    if match["ext"]:
        return _file(latest, match["ext"], immutable=False)
    return _page(latest, versions)


@bp.get("/<period_code>/<name>")
def period_version(period_code, name):
    match = VERSION_FILE.match(name)
    if not match or not PERIOD_FILE.match(period_code):
        raise NotFound(f"There is no transparency report at {period_code}/{name}.")
    period = _period(period_code)
    versions = _versions(period)
    wanted = int(match["version"])
    row = next((v for v in versions if v.version == wanted), None)
    if row is None:
        raise NotFound(f"{period.code} has no version {wanted}.")
    if match["ext"]:
        return _file(row, match["ext"], immutable=True)
    return _page(row, versions)

