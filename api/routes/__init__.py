"""The HTTP routes under ``/api``, one module per resource."""

from __future__ import annotations

from typing import Any

from api.routes import (
    admin,
    dashboard,
    export,
    filterdata,
    histograms,
    logs,
    rankings,
    sessions,
    similar,
    stats,
    stream,
)

#: Every route handler under ``/api``. Order matters where paths overlap: fixed paths such as
#: ``/logs/stats`` are matched before the ``/logs/{id:path}`` catch-all by Litestar's router.
ROUTES: list[Any] = [*logs.ROUTES, *stats.ROUTES, *histograms.ROUTES]
ROUTES += [*stream.STREAM_ROUTES, *export.ROUTES]
ROUTES += [*admin.ROUTES, *similar.ROUTES]
ROUTES += [*rankings.ROUTES, *filterdata.ROUTES, *sessions.ROUTES, *dashboard.ROUTES]
