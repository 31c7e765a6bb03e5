"""Bifrost's own ``logs`` table and queries, per dialect (SQLite, Postgres, ClickHouse). Pure.

Read from ``framework/logstore/`` of ``maximhq/bifrost`` (not copied):

- columns and indexes: the ``Log`` GORM model (``tables.go``) and, on Postgres, the
  performance indexes of ``migrations.go`` (incl. the GIN full-text index on
  ``to_tsvector('simple', left(content_summary, 250000))``); GORM maps Go ``float64`` to
  ``decimal`` on Postgres and ``real`` on SQLite. ClickHouse: ``clickhousemigrate.go``
  (``ReplacingMergeTree(ver)``, ``PARTITION BY toYYYYMM(timestamp)``, ``ORDER BY (timestamp,
  id)``, bloom-filter skip indexes), read with the connection setting ``final = 1``;
- ``content_summary``: the input and output message texts (``BuildContentSummary``);
- ``SearchLogs``: ``COUNT(*)`` plus ``SELECT <listSelectColumns> ... ORDER BY <key> <dir>
  LIMIT n OFFSET m`` (no tiebreaker), filters from ``applyFilters``: ``IN`` lists,
  inclusive time bounds, ``missing_cost_only``, and content search as ``plainto_tsquery``
  on Postgres and ``content_summary LIKE '%q%'`` elsewhere;
- ``GetStats`` (count, then one aggregate over terminal statuses) and ``GetHistogram``
  (``unixBucketExpr`` buckets over terminal statuses).

Only the columns the corpus fills (plus those the list query reads) are created.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

import msgspec

Dialect = Literal["postgres", "sqlite", "clickhouse"]
FTS_CHARS: Final = 250_000
SUMMARY_CHARS: Final = 1024  # maxContentSummaryBytes: what list rows carry
TERMINAL: Final = ("success", "error", "cancelled")

# (name, kind, indexed); kinds: s = short string, t = text, ts = time, i = int, f = float, b = bool
_COLUMNS: Final[list[tuple[str, str, bool]]] = [
    ("id", "s", False),
    ("parent_request_id", "s", True),
    ("timestamp", "ts", True),
    ("object_type", "s", True),
    ("provider", "s", True),
    ("model", "s", True),
    ("alias", "s", True),
    ("canonical_model_name", "s", False),
    ("alias_model_family", "s", False),
    ("number_of_retries", "i", False),
    ("fallback_index", "i", False),
    ("selected_key_id", "s", True),
    ("selected_key_name", "s", False),
    ("virtual_key_id", "s", True),
    ("virtual_key_name", "s", False),
    ("routing_engines_used", "s", False),
    ("routing_rule_id", "s", True),
    ("routing_rule_name", "s", False),
    ("user_id", "s", True),
    ("team_id", "s", True),
    ("customer_id", "s", True),
    ("input_history", "t", False),
    ("responses_input_history", "t", False),
    ("output_message", "t", False),
    ("params", "t", False),
    ("latency", "f", True),
    ("token_usage", "t", False),
    ("cost", "f", True),
    ("status", "s", True),
    ("error_details", "t", False),
    ("stream", "b", False),
    ("content_summary", "t", False),
    ("metadata", "t", False),
    ("cache_debug", "t", False),
    ("is_large_payload_request", "b", False),
    ("is_large_payload_response", "b", False),
    ("prompt_tokens", "i", False),
    ("completion_tokens", "i", False),
    ("total_tokens", "i", True),
    ("cached_read_tokens", "i", False),
    ("created_at", "ts", True),
]
COLUMNS: Final = [name for name, _, _ in _COLUMNS]
_LIST_COLUMNS: Final = [
    c for c in COLUMNS if c not in ("content_summary", "input_history", "responses_input_history")
]
_LIST_COLUMNS.remove("output_message")
_LIST_COLUMNS.remove("params")
_LIST_COLUMNS.remove("cached_read_tokens")
_TYPES: Final[dict[Dialect, dict[str, str]]] = {
    "postgres": {
        "s": "varchar(255)",
        "t": "text",
        "ts": "timestamptz",
        "i": "bigint",
        "f": "decimal",
        "b": "boolean",
    },
    "sqlite": {
        "s": "text",
        "t": "text",
        "ts": "datetime",
        "i": "integer",
        "f": "real",
        "b": "numeric",
    },
    "clickhouse": {
        "s": "Nullable(String)",
        "t": "String",
        "ts": "DateTime64(3)",
        "i": "Int64",
        "f": "Nullable(Float64)",
        "b": "Bool",
    },
}
_CH_NOT_NULL: Final = {"id", "object_type", "provider", "model", "status", "selected_key_id"}


def create_statements(dialect: Dialect) -> list[str]:
    """The table (indexes come after the load, see :func:`index_statements`)."""
    types = _TYPES[dialect]
    cols = []
    for name, kind, _ in _COLUMNS:
        sql_type = types[kind]
        if dialect == "clickhouse" and name in _CH_NOT_NULL:
            sql_type = "String"
        not_null = " NOT NULL" if name in ("timestamp", "provider", "model", "status") else ""
        if dialect == "clickhouse":
            not_null = ""
        primary = " PRIMARY KEY" if name == "id" and dialect != "clickhouse" else ""
        cols.append(
            f'"{name}" {sql_type}{not_null}{primary}'
            if dialect != "clickhouse"
            else f"`{name}` {sql_type}"
        )
    if dialect != "clickhouse":
        return [f"CREATE TABLE logs ({', '.join(cols)})"]
    cols.append("`ver` DateTime64(9) DEFAULT now64(9)")
    cols.extend(
        f"INDEX idx_logs_{c} {c} TYPE bloom_filter GRANULARITY 1"
        for c in (
            "provider",
            "model",
            "status",
            "team_id",
            "virtual_key_id",
            "user_id",
            "selected_key_id",
        )
    )
    return [
        f"CREATE TABLE logs ({', '.join(cols)}) ENGINE = ReplacingMergeTree(ver) "
        "PARTITION BY toYYYYMM(timestamp) ORDER BY (timestamp, id) "
        "SETTINGS index_granularity = 8192"
    ]


def sqlite_insert() -> str:
    """The parameterised INSERT of one row of :data:`COLUMNS` (SQLite's ``?`` style)."""
    return f"INSERT INTO logs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def index_statements(dialect: Dialect) -> list[str]:
    if dialect == "clickhouse":
        return []
    out = [
        f"CREATE INDEX idx_logs_{name} ON logs({name})" for name, _, indexed in _COLUMNS if indexed
    ]
    out.append("CREATE INDEX idx_logs_ts_provider_status ON logs(timestamp, provider, status)")
    if dialect == "postgres":
        out += [
            "CREATE INDEX idx_logs_status_timestamp ON logs(status, timestamp)",
            "CREATE INDEX idx_logs_status_created_at ON logs(status, created_at)",
            "CREATE INDEX idx_logs_status_parent_request_id ON logs(status, parent_request_id) "
            "WHERE parent_request_id IS NOT NULL",
            "CREATE INDEX idx_logs_content_summary_fts ON logs USING GIN "
            f"(to_tsvector('simple', left(content_summary, {FTS_CHARS}))) "
            "WHERE content_summary IS NOT NULL",
        ]
    return out


# ------------------------------------------------------------------ rows


class _Block(msgspec.Struct):
    text: str | None = None


class _Message(msgspec.Struct):
    content: str | list[_Block] | None = None


def _texts(message: _Message) -> Iterator[str]:
    if isinstance(message.content, str):
        yield message.content
    elif message.content:
        yield from (b.text for b in message.content if b.text)


_HISTORY: Final = msgspec.json.Decoder(list[_Message])
_MESSAGE: Final = msgspec.json.Decoder(_Message)
_ENCODE: Final = msgspec.json.Encoder().encode


def content_summary(entry: dict[str, Any]) -> str:
    parts = [t for m in entry.get("input_history", []) for t in _texts(_MESSAGE.decode(_ENCODE(m)))]
    if "output_message" in entry:
        parts.extend(_texts(_MESSAGE.decode(_ENCODE(entry["output_message"]))))
    return " ".join(parts)


def _json(entry: dict[str, Any], name: str) -> str:
    return _ENCODE(entry[name]).decode() if name in entry else ""


def row(entry: dict[str, Any]) -> dict[str, Any]:
    """A final ``LogEntry`` as Bifrost's ``logs`` row (Python values; times as datetime)."""
    usage = entry.get("token_usage") or {}
    return {
        "id": entry["id"],
        "parent_request_id": entry.get("parent_request_id"),
        "timestamp": datetime.fromisoformat(entry["timestamp"]),
        "object_type": entry.get("object", ""),
        "provider": entry["provider"],
        "model": entry["model"],
        "alias": None,
        "canonical_model_name": None,
        "alias_model_family": None,
        "number_of_retries": entry.get("number_of_retries", 0),
        "fallback_index": entry.get("fallback_index", 0),
        "selected_key_id": entry.get("selected_key_id", ""),
        "selected_key_name": entry.get("selected_key_name", ""),
        "virtual_key_id": entry.get("virtual_key_id"),
        "virtual_key_name": entry.get("virtual_key_name"),
        "routing_engines_used": None,
        "routing_rule_id": None,
        "routing_rule_name": None,
        "user_id": None,
        "team_id": None,
        "customer_id": None,
        "input_history": _json(entry, "input_history"),
        "responses_input_history": "",
        "output_message": _json(entry, "output_message"),
        "params": _json(entry, "params"),
        "latency": entry.get("latency"),
        "token_usage": _json(entry, "token_usage"),
        "cost": entry.get("cost"),
        "status": entry["status"],
        "error_details": _json(entry, "error_details"),
        "stream": bool(entry.get("stream")),
        "content_summary": content_summary(entry),
        "metadata": _json(entry, "metadata") or None,
        "cache_debug": "",
        "is_large_payload_request": False,
        "is_large_payload_response": False,
        "prompt_tokens": usage.get("prompt_tokens", 0),
        "completion_tokens": usage.get("completion_tokens", 0),
        "total_tokens": usage.get("total_tokens", 0),
        "cached_read_tokens": 0,
        "created_at": datetime.fromisoformat(entry["created_at"]),
    }


# ------------------------------------------------------------------ queries


@dataclass(frozen=True)
class Search:
    """One request of a query class, in Bifrost's terms (``SearchFilters`` + pagination)."""

    providers: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    content: str = ""
    missing_cost_only: bool = False
    sort_by: str = "timestamp"
    order: str = "desc"
    limit: int = 50
    offset: int = 0
    params: dict[str, str] = field(default_factory=dict)


_SORT: Final = {
    "timestamp": "timestamp",
    "latency": "latency",
    "tokens": "total_tokens",
    "cost": "cost",
}


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _time(dialect: Dialect, moment: datetime) -> str:
    if dialect == "postgres":
        return f"'{moment.isoformat()}'::timestamptz"
    if dialect == "clickhouse":
        return f"toDateTime64('{moment.strftime('%Y-%m-%d %H:%M:%S.%f')}', 3, 'UTC')"
    return _quote(sqlite_time(moment))


def sqlite_time(moment: datetime) -> str:
    """How Go's SQLite driver stores a ``time.Time`` (and so how it compares)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


def where(dialect: Dialect, s: Search, *, terminal: bool = False) -> str:
    clauses = []
    if s.providers:
        clauses.append(f"provider IN ({', '.join(map(_quote, s.providers))})")
    if s.status:
        clauses.append(f"status IN ({', '.join(map(_quote, s.status))})")
    if s.start is not None:
        clauses.append(f"timestamp >= {_time(dialect, s.start)}")
    if s.end is not None:
        clauses.append(f"timestamp <= {_time(dialect, s.end)}")
    if s.missing_cost_only:
        clauses.append("(cost IS NULL OR cost <= 0) AND status NOT IN ('error')")
    if s.content:
        if dialect == "postgres":
            clauses.append(
                f"to_tsvector('simple', left(content_summary, {FTS_CHARS})) "
                f"@@ plainto_tsquery('simple', {_quote(s.content)})"
            )
        else:
            like = s.content.replace("'", "''")
            clauses.append(f"content_summary LIKE '%{like}%'")
    if terminal:
        clauses.append(f"status IN ({', '.join(map(_quote, TERMINAL))})")
    return " WHERE " + " AND ".join(clauses) if clauses else ""


def _final(dialect: Dialect) -> str:
    return " SETTINGS final = 1" if dialect == "clickhouse" else ""


def list_statements(dialect: Dialect, s: Search) -> list[str]:
    """``SearchLogs``: the count and the page (Bifrost runs the two concurrently)."""
    cols = ", ".join(_LIST_COLUMNS)
    summary = f"substr(content_summary, 1, {SUMMARY_CHARS}) AS content_summary"
    if dialect == "sqlite":
        history = (
            "CASE WHEN input_history IS NOT NULL AND input_history != '' AND input_history != '[]' "
            "AND json_valid(input_history) = 1 AND json_type(input_history) = 'array' "
            "AND json_array_length(input_history) > 0 THEN json_array(json_extract(input_history, "
            "'$[' || (json_array_length(input_history) - 1) || ']')) ELSE input_history END "
            "AS input_history"
        )
    elif dialect == "postgres":
        history = "input_history::jsonb AS input_history"
    else:
        history = "input_history AS input_history"
    output = (
        "CASE WHEN object_type = 'realtime.turn' THEN output_message ELSE NULL END "
        "AS output_message"
    )
    page = (
        f"SELECT {cols}, {summary}, {history}, {output} FROM logs{where(dialect, s)} "
        f"ORDER BY {_SORT[s.sort_by]} {s.order.upper()} LIMIT {s.limit}"
        + (f" OFFSET {s.offset}" if s.offset else "")
        + _final(dialect)
    )
    return [f"SELECT count(*) FROM logs{where(dialect, s)}{_final(dialect)}", page]


def stats_statements(dialect: Dialect, s: Search) -> list[str]:
    """``GetStats`` without the optional cache-hit and user-facing parts."""
    return [
        f"SELECT count(*) FROM logs{where(dialect, s)}{_final(dialect)}",
        "SELECT COUNT(*) AS completed_count, "
        "SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) AS success_count, "
        "AVG(latency) AS avg_latency, SUM(total_tokens) AS total_tokens, SUM(cost) AS total_cost "
        f"FROM logs{where(dialect, s, terminal=True)}{_final(dialect)}",
    ]


def bucket(dialect: Dialect, seconds: int) -> str:
    if dialect == "sqlite":
        return f"(CAST(strftime('%s', timestamp) AS INTEGER) / {seconds}) * {seconds}"
    if dialect == "clickhouse":
        return f"toInt64(intDiv(toUnixTimestamp(timestamp), {seconds}) * {seconds})"
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM timestamp) / {seconds}) * {seconds} AS BIGINT)"


def histogram_statements(dialect: Dialect, s: Search, seconds: int = 3600) -> list[str]:
    """``GetHistogram`` on the raw table."""
    return [
        f"SELECT {bucket(dialect, seconds)} AS bucket_timestamp, COUNT(*) AS total, "
        "SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END) AS success, "
        "SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS error_count, "
        "SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled_count "
        f"FROM logs{where(dialect, s, terminal=True)} GROUP BY bucket_timestamp "
        f"ORDER BY bucket_timestamp ASC{_final(dialect)}"
    ]
