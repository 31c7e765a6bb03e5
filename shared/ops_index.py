"""The small indices next to the log index, each with its own strict mapping.

- ``<alias>-dropped``: one document per dead-lettered Kafka record, id
  ``<topic>-<partition>-<offset>`` (written with ``create``: a redelivered record is never
  counted twice, and the first ``dropped_at`` stays). Written by the worker before it commits.
- ``<alias>-progress``: one document per partition, id ``<topic>-<partition>``: the worker's
  committed offset, the high watermark, the lag and the newest event time it indexed.
- ``<alias>-audit``: one document per ``DELETE /api/logs`` (who, when, filter, counts).

The names are not matched by the log alias, so log searches never see these documents.
"""

from __future__ import annotations

from typing import Any, Final

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import RequestError

_KEYWORD: Final = {"type": "keyword", "ignore_above": 1024}
#: Kept in ``_source`` only: free text of any length.
_STORED: Final = {"type": "keyword", "index": False, "doc_values": False}
_MILLIS: Final = {"type": "date", "format": "epoch_millis||strict_date_optional_time"}

DROPPED_MAPPING: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {
        "topic": _KEYWORD,
        "partition": {"type": "integer"},
        "offset": {"type": "long"},
        "reason": _KEYWORD,
        "detail": _STORED,
        "key": _STORED,
        "size": {"type": "long"},
        # The Kafka record's timestamp: when the gateway sent the event (buckets by time).
        "timestamp": _MILLIS,
        # When the worker first dead-lettered it.
        "dropped_at": _MILLIS,
    },
}

PROGRESS_MAPPING: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {
        "topic": _KEYWORD,
        "partition": {"type": "integer"},
        "consumer_group": _KEYWORD,
        "committed_offset": {"type": "long"},
        "high_watermark": {"type": "long"},
        "lag": {"type": "long"},
        # Newest ``timestamp`` (ns since the epoch) of the logs indexed from the partition.
        "newest_event_ns": {"type": "long"},
        "updated_at": _MILLIS,
    },
}

AUDIT_MAPPING: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {
        "action": _KEYWORD,
        "principal": _KEYWORD,
        "at": _MILLIS,
        "finished_at": _MILLIS,
        "state": _KEYWORD,
        "query": _STORED,
        "ids": {"type": "long"},
        "all": {"type": "boolean"},
        "matched": {"type": "long"},
        "deleted": {"type": "long"},
        "version_conflicts": {"type": "long"},
        "error": _STORED,
    },
}


#: ``<alias>-lifecycle``: the lifecycle's lease (document ``lease``), its state (``state``),
#: the mapping version the workers write (``version``) and a migration's position
#: (``migration``); see :mod:`ingest.lease` and :mod:`ingest.migrate`.
LIFECYCLE_MAPPING: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {
        "holder": _KEYWORD,
        "expires_at": _MILLIS,
        "stripped": _KEYWORD,
        "version": {"type": "integer"},
        "source": {"type": "integer"},
        "target": {"type": "integer"},
        "phase": _KEYWORD,
        "after": _STORED,
        "copied": {"type": "long"},
        "flipped_at": _MILLIS,
    },
}


def lifecycle_index(alias: str) -> str:
    return f"{alias}-lifecycle"


def dropped_index(alias: str) -> str:
    return f"{alias}-dropped"


def progress_index(alias: str) -> str:
    return f"{alias}-progress"


def audit_index(alias: str) -> str:
    return f"{alias}-audit"


def side_index_body(mapping: dict[str, Any]) -> dict[str, Any]:
    """One shard; a replica whenever the cluster has a second node (none on a single node, so
    it stays green there), so dropped-event records, the audit and the progress survive the
    loss of a node."""
    return {
        "settings": {"index": {"number_of_shards": 1, "auto_expand_replicas": "0-1"}},
        "mappings": mapping,
    }


async def ensure_side_index(client: AsyncOpenSearch, name: str, mapping: dict[str, Any]) -> None:
    """Create ``name`` with ``mapping`` unless it exists (idempotent, safe to race)."""
    if await client.indices.exists(index=name):
        return
    try:
        await client.indices.create(index=name, body=side_index_body(mapping))
    except RequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise
