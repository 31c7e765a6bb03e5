"""``GET /api/logs/export``'s pure core: parameters, page bodies and NDJSON/CSV encoding.

Pages are read through a point in time (PIT) with ``search_after`` in the list's order
(``sort_by``/``order``, ties by id), so an export is one consistent snapshot, every log once,
and memory is bounded by one page (the route, :mod:`api.routes.export`, streams them).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any, Final, Literal

import msgspec

from api.filters import FILTER_PARAMS, METADATA_PREFIX, parse_filters
from api.params import ORDER_VALUES, SORT_BY_VALUES, LogQuery
from api.parsing import InvalidParameter, Raw, boolean, enum, reject_unknown, single
from api.query import LIST_EXCLUDES, build_filter, sort_clause, stored_log
from shared.index import COMPLETION_TOKENS, DERIVED_FIELDS, PROMPT_TOKENS, TOTAL_TOKENS
from shared.schema import HEAVY_FIELDS

Format = Literal["ndjson", "csv"]
FORMATS: Final[tuple[str, ...]] = ("ndjson", "csv")
EXPORT_PARAMS: Final = frozenset({"format", "payloads", "sort_by", "order"})
MEDIA_TYPES: Final[dict[str, str]] = {
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
}
#: Seconds OpenSearch keeps the point in time between two pages.
PIT_KEEP_ALIVE: Final = "2m"

CSV_COLUMNS: Final = (
    "id",
    "timestamp",
    "status",
    "provider",
    "model",
    "object",
    "latency",
    PROMPT_TOKENS,
    COMPLETION_TOKENS,
    TOTAL_TOKENS,
    "cost",
    "virtual_key_id",
    "virtual_key_name",
    "selected_key_id",
    "selected_key_name",
    "parent_request_id",
    "error",
)
CSV_PAYLOADS: Final = ("input_history", "output_message", "raw_request", "raw_response")
_TOKEN_FIELDS: Final = frozenset({PROMPT_TOKENS, COMPLETION_TOKENS, TOTAL_TOKENS})


class ExportQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A validated export request: the filters and sort (as a list query), the format."""

    query: LogQuery
    format: Format
    payloads: bool = False


def parse_export(raw: Raw, *, now_ns: int | None = None) -> ExportQuery:
    """The list's filters, ``sort_by``/``order``, ``format`` (required) and ``payloads``."""
    reject_unknown(raw, FILTER_PARAMS | EXPORT_PARAMS, prefix=METADATA_PREFIX)
    fmt = single(raw, "format")
    if fmt is None or fmt.strip().lower() not in FORMATS:
        got = "nothing" if fmt is None else repr(fmt)
        raise InvalidParameter("format", f"format must be ndjson or csv; got {got}")
    filters = {k: v for k, v in raw.items() if k not in EXPORT_PARAMS}
    base = parse_filters(filters, now_ns=now_ns)
    query = LogQuery(
        **msgspec.structs.asdict(base),
        sort_by=enum(raw, "sort_by", SORT_BY_VALUES, "timestamp"),  # type: ignore[arg-type]
        order=enum(raw, "order", ORDER_VALUES, "desc"),  # type: ignore[arg-type]
    )
    return ExportQuery(
        query=query,
        format=fmt.strip().lower(),  # type: ignore[arg-type]
        payloads=boolean(raw, "payloads"),
    )


def filename(now_ns: int, fmt: str) -> str:
    moment = datetime.fromtimestamp(now_ns // 1_000_000_000, UTC)
    return f"heimdall-logs-{moment:%Y%m%dT%H%M%SZ}.{fmt}"


def _excludes(e: ExportQuery) -> list[str]:
    if e.format == "ndjson":
        return [] if e.payloads else LIST_EXCLUDES
    # CSV reads the derived token counts; payloads only when asked for.
    derived = sorted(set(DERIVED_FIELDS) - _TOKEN_FIELDS)
    return derived if e.payloads else derived + sorted(HEAVY_FIELDS)


def build_page(
    e: ExportQuery, pit_id: str, size: int, after: list[Any] | None = None
) -> dict[str, Any]:
    """One page of the export through the point in time ``pit_id``."""
    body: dict[str, Any] = {
        "pit": {"id": pit_id, "keep_alive": PIT_KEEP_ALIVE},
        "query": build_filter(e.query),
        "sort": sort_clause(e.query),
        "size": size,
        "track_total_hits": False,
    }
    excludes = _excludes(e)
    if excludes:
        body["_source"] = {"excludes": excludes}
    if after is not None:
        body["search_after"] = after
    return body


class _Hit(msgspec.Struct):
    source: msgspec.Raw = msgspec.field(name="_source", default=msgspec.Raw(b"{}"))
    sort: list[Any] = msgspec.field(default_factory=list)


class _Hits(msgspec.Struct):
    hits: list[_Hit]


class Page(msgspec.Struct):
    hits: _Hits
    pit_id: str | None = None


_PAGE: Final = msgspec.json.Decoder(Page)


def parse_page(body: bytes) -> Page:
    return _PAGE.decode(body)


# -- encoding --------------------------------------------------------------------------------


def ndjson_line(e: ExportQuery, source: msgspec.Raw) -> bytes:
    """One NDJSON line: the list item, or with payloads the log as ``GET /api/logs/{id}``."""
    log = stored_log(source) if e.payloads else source
    return bytes(log).replace(b"\r", b" ").replace(b"\n", b" ") + b"\n"


_FIELDS: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ANY: Final = msgspec.json.Decoder()


def _cell(raw: msgspec.Raw | None) -> str:
    """A JSON value as CSV text: a string as itself, null as empty, anything else as JSON."""
    if raw is None:
        return ""
    value = _ANY.decode(raw)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return bytes(raw).decode()


def _error_message(raw: msgspec.Raw | None) -> str:
    if raw is None:
        return ""
    value = _ANY.decode(raw)
    if isinstance(value, dict):
        inner = value.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(value.get("message"), str):
            return str(value["message"])
        return ""
    return value if isinstance(value, str) else ""


def _tokens(fields: dict[str, msgspec.Raw]) -> dict[str, str]:
    """The token counts: the derived fields, else the log's ``token_usage``."""
    usage_raw = fields.get("token_usage")
    usage = _ANY.decode(usage_raw) if usage_raw is not None else None
    usage = usage if isinstance(usage, dict) else {}
    out: dict[str, str] = {}
    for name in _TOKEN_FIELDS:
        cell = _cell(fields.get(name))
        if not cell and isinstance(usage.get(name), int):
            cell = str(usage[name])
        out[name] = cell
    return out


def csv_header(e: ExportQuery) -> bytes:
    return _csv_line([*CSV_COLUMNS, *(CSV_PAYLOADS if e.payloads else ())])


def csv_row(e: ExportQuery, source: msgspec.Raw) -> bytes:
    """One CSV row (RFC 4180) of the columns of :func:`csv_header`."""
    fields = _FIELDS.decode(source)
    tokens = _tokens(fields)
    cells: list[str] = []
    for column in CSV_COLUMNS:
        if column == "error":
            cells.append(_error_message(fields.get("error_details")))
        elif column in tokens:
            cells.append(tokens[column])
        else:
            cells.append(_cell(fields.get(column)))
    if e.payloads:
        cells.extend(_cell(fields.get(column)) for column in CSV_PAYLOADS)
    return _csv_line(cells)


def _csv_line(cells: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue().encode()


def encode(e: ExportQuery, source: msgspec.Raw) -> bytes:
    return ndjson_line(e, source) if e.format == "ndjson" else csv_row(e, source)
