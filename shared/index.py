"""The log index: mapping, naming, and idempotent creation behind an alias.

Stored document = the ``LogEntry`` fields as ingested, plus fields Heimdall derives:

- ``search_text``: analysed text of the request and response content (``content_search``);
- ``total_tokens``: ``token_usage.total_tokens`` (or prompt + completion) for ranges and sort;
- ``prompt_tokens``, ``completion_tokens``, ``cached_read_tokens``: the usage's counts, for sums;
- ``cache_hit_type``: ``cache_debug.hit_type`` (``direct`` / ``semantic``), for cache filters;
- ``metadata_kv``: one ``key<US>value`` keyword per scalar ``metadata`` entry (``metadata_<key>``);
- ``team_owners``, ``customer_owners``, ``business_unit_owners``: one ``name<US>id`` keyword per
  owner of the log (the scalar ``team_id``/``team_name`` and, positionally, the arrays
  ``team_ids``/``team_names``; one per id, with its greatest name), for rankings and filter data
  that credit a log to each of its owners (doc values are sorted, so the arrays lose the pairing);
- ``merge_versions``: per-field version used by the order-independent merge (not indexed);
- ``indexed_at``: when the worker planned the write of this version of the log (its clock,
  nanoseconds), the change marker the live tail (``GET /api/logs/stream``) polls; set on every
  write, kept by a backfill; older logs lack it until rewritten.

The mapping is ``dynamic: strict``: no payload key can ever create a field. Everything that is
only returned (histories, outputs, raw bodies, usage details) is stored in ``_source`` with
indexing disabled.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import RequestError

from shared.schema import LOG_FIELDS

#: Bump when the mapping changes; a new index ``<alias>-v<N>`` is created and filled by reindexing.
MAPPING_VERSION: Final = 1

SEARCH_TEXT: Final = "search_text"
TOTAL_TOKENS: Final = "total_tokens"
METADATA_KV: Final = "metadata_kv"
PROMPT_TOKENS: Final = "prompt_tokens"
COMPLETION_TOKENS: Final = "completion_tokens"
CACHED_READ_TOKENS: Final = "cached_read_tokens"
CACHE_HIT_TYPE: Final = "cache_hit_type"
MERGE_VERSIONS: Final = "merge_versions"
INDEXED_AT: Final = "indexed_at"
#: Derived owner field -> the (id, name, ids, names) fields it pairs.
OWNER_FIELDS: Final[dict[str, tuple[str, str, str, str]]] = {
    "team_owners": ("team_id", "team_name", "team_ids", "team_names"),
    "customer_owners": ("customer_id", "customer_name", "customer_ids", "customer_names"),
    "business_unit_owners": (
        "business_unit_id",
        "business_unit_name",
        "business_unit_ids",
        "business_unit_names",
    ),
}
METADATA_SEPARATOR: Final = "\x1f"
#: ``index.max_result_window``: the API pages past it with a cursor (``search_after``).
MAX_RESULT_WINDOW: Final = 10_000
DERIVED_FIELDS: Final = (
    SEARCH_TEXT,
    TOTAL_TOKENS,
    PROMPT_TOKENS,
    COMPLETION_TOKENS,
    CACHED_READ_TOKENS,
    CACHE_HIT_TYPE,
    METADATA_KV,
    *OWNER_FIELDS,
    MERGE_VERSIONS,
    INDEXED_AT,
)

#: Longer values are kept in ``_source`` but not indexed (Lucene's term limit is 32 KiB).
_KEYWORD: Final = {"type": "keyword", "ignore_above": 8191}
_STORED_ONLY: Final = {"type": "object", "enabled": False}
_TIME: Final = {"type": "date_nanos", "format": "strict_date_optional_time_nanos"}

_INDEXED: Final[dict[str, dict[str, Any]]] = {
    "id": {"type": "keyword"},  # at most 512 bytes: checked by the decoder
    "parent_request_id": _KEYWORD,
    "provider": _KEYWORD,
    "model": _KEYWORD,
    "status": _KEYWORD,
    "object": _KEYWORD,
    "timestamp": _TIME,
    "created_at": _TIME,
    "number_of_retries": {"type": "integer"},
    "fallback_index": {"type": "integer"},
    "latency": {"type": "double"},
    "cost": {"type": "double"},
    "selected_key_id": _KEYWORD,
    "selected_key_name": _KEYWORD,
    "virtual_key_id": _KEYWORD,
    "virtual_key_name": _KEYWORD,
    "routing_engines_used": _KEYWORD,
    "routing_rule_id": _KEYWORD,
    "routing_rule_name": _KEYWORD,
    "stream": {"type": "boolean"},
    "alias": _KEYWORD,
    "canonical_model_name": _KEYWORD,
    "stop_reason": _KEYWORD,
    "user_id": _KEYWORD,
    "user_name": _KEYWORD,
    "team_id": _KEYWORD,
    "team_name": _KEYWORD,
    "customer_id": _KEYWORD,
    "customer_name": _KEYWORD,
    "business_unit_id": _KEYWORD,
    "business_unit_name": _KEYWORD,
    "team_ids": _KEYWORD,
    "team_names": _KEYWORD,
    "customer_ids": _KEYWORD,
    "customer_names": _KEYWORD,
    "business_unit_ids": _KEYWORD,
    "business_unit_names": _KEYWORD,
    "user_agent": _KEYWORD,
    "app": _KEYWORD,
    "is_large_payload_request": {"type": "boolean"},
    "is_large_payload_response": {"type": "boolean"},
}


def format_nanos(ns: int) -> str:
    """Nanoseconds since the epoch -> ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`` (the stored form of
    every ``date_nanos`` value Heimdall writes or queries)."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC)
    # ``%Y`` does not pad years before 1000 on every platform ("999-01-01"): pad by hand.
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{fraction:09d}Z"


def mapping() -> dict[str, Any]:
    properties: dict[str, Any] = {f: _INDEXED.get(f, _STORED_ONLY) for f in LOG_FIELDS}
    properties[SEARCH_TEXT] = {"type": "text", "analyzer": "standard"}
    properties[TOTAL_TOKENS] = {"type": "long"}
    properties[PROMPT_TOKENS] = {"type": "long"}
    properties[COMPLETION_TOKENS] = {"type": "long"}
    properties[CACHED_READ_TOKENS] = {"type": "long"}
    properties[CACHE_HIT_TYPE] = _KEYWORD
    properties[METADATA_KV] = _KEYWORD
    for owners in OWNER_FIELDS:
        properties[owners] = _KEYWORD
    properties[MERGE_VERSIONS] = _STORED_ONLY
    properties[INDEXED_AT] = _TIME
    return {"dynamic": "strict", "properties": properties}


def index_settings(
    *, shards: int = 1, replicas: int = 0, refresh_interval: str = "1s"
) -> dict[str, Any]:
    """Settings tuned for ingest: one shard per node is plenty for millions of logs, payloads
    compress well (``best_compression``), and the translog stays ``request``-durable, since
    the worker commits Kafka offsets only after a bulk write has returned.

    Segments are sorted newest first (``index.sort``), the order of the default list page:
    its top hits then sit at the start of each segment (measured in docs/performance.md).
    Only a new index gets it (OpenSearch cannot sort an existing one); query results and
    their order never depend on it."""
    return {
        "index": {
            "number_of_shards": shards,
            "number_of_replicas": replicas,
            "refresh_interval": refresh_interval,
            "codec": "best_compression",
            "translog": {"durability": "request"},
            "max_result_window": MAX_RESULT_WINDOW,
            "sort": {"field": ["timestamp"], "order": ["desc"], "missing": ["_last"]},
        }
    }


def versioned_index(alias: str, version: int = MAPPING_VERSION) -> str:
    return f"{alias}-v{version}"


def missing_properties(current: dict[str, Any]) -> dict[str, Any]:
    """The fields of :func:`mapping` that an index's mapping (``properties``) lacks."""
    wanted: dict[str, Any] = mapping()["properties"]
    return {name: spec for name, spec in wanted.items() if name not in current}


async def add_missing_fields(client: AsyncOpenSearch, alias: str) -> None:
    """Additive migration in place: the fields added to the mapping since an index behind
    ``alias`` was created are added to it (new logs fill them; older logs simply lack them).
    Existing fields are never touched, so this cannot conflict."""
    found: dict[str, Any] = await client.indices.get_mapping(index=alias)
    for index, body in found.items():
        missing = missing_properties(body["mappings"].get("properties", {}))
        if missing:
            await client.indices.put_mapping(index=index, body={"properties": missing})


async def ensure_index(
    client: AsyncOpenSearch,
    alias: str,
    *,
    shards: int = 1,
    replicas: int = 0,
    refresh_interval: str = "1s",
) -> str:
    """Create ``<alias>-v<N>`` with the alias pointing at it, unless the alias exists.

    Idempotent and safe to race: the index and its alias are created in one request, and a
    concurrent creator's ``resource_already_exists_exception`` counts as success. Returns the
    concrete index the alias points to.
    """
    if await client.indices.exists_alias(name=alias):
        await add_missing_fields(client, alias)
        found: dict[str, Any] = await client.indices.get_alias(name=alias)
        for index, body in found.items():
            if body["aliases"][alias].get("is_write_index", len(found) == 1):
                return str(index)
        return str(max(found, key=lambda index: int(index.rsplit("-v", 1)[-1] or 0)))
    name = versioned_index(alias)
    body = {
        "settings": index_settings(
            shards=shards, replicas=replicas, refresh_interval=refresh_interval
        ),
        "mappings": mapping(),
        "aliases": {alias: {"is_write_index": True}},
    }
    try:
        await client.indices.create(index=name, body=body)
    except RequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise
    return name
