"""The staff queue's two gag lists (``services/queue.py``): "Gags expiring within 30
days" and "Gags to review for challenge" (no end, or in force over 365 days), each read
from the partial index of the gags not lifted (``ix_gags_unlifted_end``; the long ones
from their own, ``ix_gags_unlifted_long``) in its own order, as far as a page, and
counted there up to the cap.

Each gag carries its demand's process type (migration 0013): a reader's hidden
compartments are left out by the gag's own column, from the index alone."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, TextClause, func, literal_column, select, text, union_all

from .. import search_terms
from ..access import HasRoles, hidden_process_types
from ..models import Demand, Gag, Requester
from ..models.gags import long_gag_sql
from .case import fixed_codes
from .demand_rows import N_COLUMNS, row_columns

GAG_EXPIRY = timedelta(days=30)


def _long(dialect: str) -> TextClause:
    """A gag in force for over LONG_GAG_DAYS (``expires_at - set_at``), said as the
    partial index of the long gags not lifted says it (``ix_gags_unlifted_long``,
    ``models.gags.long_gag_sql``), its number written in: neither database uses a partial
    index whose WHERE it cannot prove from the statement."""
    return text(long_gag_sql(dialect, "gags"))


def gag_parts(dialect: str, name: str, now: Any, gag_end: Any) -> list[tuple[list[Any], tuple]]:
    """Over ``Gag``: the parts of a gag list and their order, listed one after the other
    (``now`` and ``gag_end``, now + GAG_EXPIRY: values or parameters). "Gags to review"
    lists the gags with no end first (by when set), then the long ones by their end: each
    part is one range of the unlifted gags' index, read in its order only as far as the
    page. As one statement ordered by ``expires_at IS NULL`` first, every active gag was
    read and sorted (130 ms at a million demands on PostgreSQL)."""
    # The index's own order (ix_gags_unlifted_end), in both parts: among the no-end
    # gags, expires_at (NULL in each) orders nothing, but said, PostgreSQL reads the
    # range in the index's order instead of sorting it (it takes no IS NULL for "=").
    active, order = Gag.lifted_at.is_(None), (Gag.expires_at, Gag.set_at, Gag.demand_id, Gag.id)
    if name == "gags_expiring":
        return [([active, Gag.expires_at > now, Gag.expires_at <= gag_end], order)]
    return [([active, Gag.expires_at.is_(None)], order),
            ([active, Gag.expires_at > now, _long(dialect)], order)]


def gag_count(part: list[ColumnElement[bool]], visible: list[ColumnElement[bool]], cap: int) -> Select:
    """How many demands have a gag of ``part``, counted among its first ``cap`` + 1 gags
    (a demand has one active gag: ``gags.set_gag`` refuses a second), from the gags'
    index alone: ``visible`` tests each gag's own copy of its demand's process type
    (``gag_visible``)."""
    inner = select(Gag.demand_id).where(*part, *visible).limit(search_terms.fixed(cap + 1)).subquery()
    return select(func.count(inner.c.demand_id.distinct()))


def gag_visible(viewer: HasRoles | None) -> list[ColumnElement[bool]]:
    """Over ``Gag``: the gags of demands ``viewer`` may know of, by the compartment each
    gag carries (``Gag.process_type``, its demand's). Tested on each gag's demand, joined
    by id, a count read up to 1,001 demands' rows (5.5 of the home's 8.4 ms of counting
    on PostgreSQL at 100,000 demands); against a hash of the hidden compartments' demand
    ids, that hash grew with the desk."""
    hidden = hidden_process_types(viewer)
    return [Gag.process_type.not_in(fixed_codes(hidden))] if hidden else []


def gag_rows(dialect: str, name: str, now: Any, gag_end: Any, visible: list[ColumnElement[bool]],
             limit: int) -> Select:
    """The first ``limit`` rows of a gag list (the demand's row columns, then the gag's
    order, issuer, start and end), in one statement. Each part is read from the gags'
    side in its own index order (``visible``: the viewer's compartments, tested on the
    gags, ``gag_visible``), ``limit`` at most, its gags' demands joined by id; the parts
    are then put one after the other (a few rows sorted)."""
    parts = []
    for n, (part, order) in enumerate(gag_parts(dialect, name, now, gag_end)):
        parts.append(select(*row_columns(now), Gag.order_ref, Gag.issued_by, Gag.set_at, Gag.expires_at,
                            literal_column(str(n)).label("part"), Gag.id.label("gag_id"))
                     .select_from(Gag).join(Demand, Demand.id == Gag.demand_id)
                     .outerjoin(Requester, Requester.id == Demand.requester_id)
                     .where(*part, *visible).order_by(*order).limit(search_terms.fixed(limit)))
    if len(parts) == 1:
        return parts[0].with_only_columns(*parts[0].selected_columns[:N_COLUMNS + 4])
    both = union_all(*[select(p.subquery()) for p in parts]).subquery()
    return (select(*both.c[:N_COLUMNS + 4])
            .order_by(both.c.part, both.c.expires_at, both.c.set_at, both.c.id, both.c.gag_id)
            .limit(search_terms.fixed(limit)))
