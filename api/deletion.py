"""``DELETE /api/logs``: the request (query string + JSON body) -> what to delete, the
OpenSearch query, the ``_delete_by_query`` answer and the audit record. Pure.

- Bifrost's form: body ``{"ids": [...]}``; bad JSON -> 400 ``Invalid JSON``; an empty list
  -> 400 ``No log IDs provided``.
- Beyond Bifrost: every filter of ``GET /api/logs`` as query parameters (AND with ``ids``
  when both are given), ``dry_run=true`` to count only, and ``all=true`` needed to delete
  with no filter and no ids at all.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from api.filters import FILTER_PARAMS, METADATA_PREFIX, LogFilter, parse_filters
from api.parsing import InvalidParameter, Raw, boolean, reject_unknown
from api.query import TIEBREAKER, build_filter

PARAMS: Final = FILTER_PARAMS | {"dry_run", "all"}
MAX_IDS: Final = 10_000
DELETED: Final = "Logs deleted successfully"
DRY_RUN: Final = "Dry run: nothing deleted"


class DeleteBody(msgspec.Struct, forbid_unknown_fields=True):
    ids: list[str] | None = None


class DeleteRequest(msgspec.Struct, frozen=True, kw_only=True):
    filter: LogFilter
    ids: tuple[str, ...] | None
    dry_run: bool
    all: bool


_BODY: Final = msgspec.json.Decoder(DeleteBody)


def parse_delete(raw: Raw, body: bytes, *, now_ns: int | None = None) -> DeleteRequest:
    reject_unknown(raw, PARAMS, prefix=METADATA_PREFIX)
    ids: tuple[str, ...] | None = None
    if body.strip():
        try:
            decoded = _BODY.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise InvalidParameter("body", f"Invalid JSON: {exc}") from None
        ids = tuple(sorted({i for i in decoded.ids or () if i}))
        if not ids:
            raise InvalidParameter("ids", "No log IDs provided")
        if len(ids) > MAX_IDS:
            raise InvalidParameter("ids", f"at most {MAX_IDS} ids per request")
    log_filter = parse_filters(raw, now_ns=now_ns)
    everything = boolean(raw, "all")
    if ids is None and log_filter == LogFilter() and not everything:
        raise InvalidParameter(
            "all",
            "refusing to delete every log: give ids or a filter, or all=true to delete all",
        )
    return DeleteRequest(
        filter=log_filter, ids=ids, dry_run=boolean(raw, "dry_run"), all=everything
    )


def build_delete_query(req: DeleteRequest) -> dict[str, Any]:
    """The query selecting the logs to delete (for ``_count`` and ``_delete_by_query``)."""
    extra = [] if req.ids is None else [{"terms": {TIEBREAKER: list(req.ids)}}]
    return build_filter(req.filter, *extra)


class DeleteResult(msgspec.Struct, kw_only=True):
    """Bifrost's ``message`` and, beyond Bifrost, the counts."""

    message: str
    dry_run: bool
    matched: int
    """Logs the request selected (with dry_run: that would be deleted)."""
    deleted: int
    version_conflicts: int
    """Logs changed by ingestion while deleting (left in place: conflicts=proceed)."""


class _ByQuery(msgspec.Struct):
    total: int = 0
    deleted: int = 0
    version_conflicts: int = 0
    timed_out: bool = False
    failures: list[msgspec.Raw] = msgspec.field(default_factory=list)


class _Count(msgspec.Struct):
    count: int


_BY_QUERY: Final = msgspec.json.Decoder(_ByQuery)
_COUNT: Final = msgspec.json.Decoder(_Count)


class DeleteIncomplete(Exception):
    """``_delete_by_query`` timed out or had failures (some logs may be left)."""


def parse_deleted(raw: bytes) -> DeleteResult:
    r = _BY_QUERY.decode(raw)
    if r.timed_out or r.failures:
        raise DeleteIncomplete(
            f"delete_by_query: timed_out={r.timed_out}, {len(r.failures)} failure(s),"
            f" {r.deleted} of {r.total} deleted"
        )
    return DeleteResult(
        message=DELETED,
        dry_run=False,
        matched=r.total,
        deleted=r.deleted,
        version_conflicts=r.version_conflicts,
    )


def parse_count(raw: bytes) -> DeleteResult:
    matched = _COUNT.decode(raw).count
    return DeleteResult(
        message=DRY_RUN, dry_run=True, matched=matched, deleted=0, version_conflicts=0
    )


class AuditRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One ``<alias>-audit`` document (see ``shared.ops_index.AUDIT_MAPPING``)."""

    action: str
    principal: str
    at: int
    state: str
    query: str
    ids: int
    all: bool
    finished_at: int | None = None
    matched: int | None = None
    deleted: int | None = None
    version_conflicts: int | None = None
    error: str | None = None


def audit_started(
    req: DeleteRequest, principal: str, now_ms: int, query: dict[str, Any] | None = None
) -> AuditRecord:
    """Written before the delete: who asked, when, and exactly which query runs (``query``:
    the one sent, with the caller's scope; default: the request's own)."""
    return AuditRecord(
        action="delete_logs",
        principal=principal,
        at=now_ms,
        state="started",
        query=msgspec.json.encode(build_delete_query(req) if query is None else query).decode(),
        ids=0 if req.ids is None else len(req.ids),
        all=req.all,
    )


def audit_finished(
    record: AuditRecord, result: DeleteResult | None, error: str | None, now_ms: int
) -> AuditRecord:
    if result is None:
        return msgspec.structs.replace(record, state="failed", finished_at=now_ms, error=error)
    return msgspec.structs.replace(
        record,
        state="done",
        finished_at=now_ms,
        matched=result.matched,
        deleted=result.deleted,
        version_conflicts=result.version_conflicts,
    )
