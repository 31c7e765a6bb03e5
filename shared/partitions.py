"""Time partitions of the log index: names, keys and what the lifecycle keeps (pure).

A log lives in one *partition*, ``<alias>-v<mapping version>-<YYYY.MM.DD>``: the first day
of the ``partition_days``-day bucket (counted from the epoch, UTC) its *home key* falls in.
The home key is chosen once, by the first writer of the log, and recorded in the directory
``<alias>-ids`` (see :mod:`ingest.router` and ``docs/lifecycle.md``). Every partition is
behind the read alias (an index template adds it); the older single index
``<alias>-v<N>`` stays the alias's write index and holds the logs written before partitions.

Keys compare as strings in time order (``YYYY.MM.DD``), which the directory's range
queries rely on.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

_DAY_NS: Final = 86_400 * 1_000_000_000
_EPOCH: Final = date(1970, 1, 1)
_KEY: Final = "%Y.%m.%d"
_FRACTION: Final = re.compile(r"\.(\d+)")


def bucket_start(day: date, days: int) -> date:
    """The first day of the ``days``-day bucket ``day`` falls in."""
    ordinal = (day - _EPOCH).days
    return _EPOCH + timedelta(days=ordinal - ordinal % days)


def key_of_day(day: date, days: int) -> str:
    return bucket_start(day, days).strftime(_KEY)


def key_of_ns(ns: int, days: int) -> str:
    """The partition key of a time in ns since the epoch."""
    return key_of_day(_EPOCH + timedelta(days=ns // _DAY_NS), days)


def key_of_ms(ms: int, days: int) -> str:
    return key_of_ns(ms * 1_000_000, days)


def day_of_timestamp(text: str) -> date | None:
    """The UTC day of a stored RFC 3339 ``timestamp`` (any offset, up to ns); None if it
    cannot be read (the caller then falls back to the record time)."""
    shorter = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        moment = datetime.fromisoformat(shorter)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC).date()


def key_date(key: str) -> date:
    return datetime.strptime(key, _KEY).replace(tzinfo=UTC).date()


def partition_index(alias: str, key: str, version: int) -> str:
    return f"{alias}-v{version}-{key}"


def partition_pattern(alias: str, version: int) -> str:
    return f"{alias}-v{version}-*"


def directory_index(alias: str) -> str:
    """The id -> home key directory (one small document per log)."""
    return f"{alias}-ids"


def template_name(alias: str, version: int) -> str:
    return f"{alias}-v{version}-partitions"


def parse_partition(alias: str, index: str) -> tuple[int, str] | None:
    """``(version, key)`` of a partition name of ``alias``; None for any other index."""
    match = re.fullmatch(re.escape(alias) + r"-v(\d+)-(\d{4}\.\d{2}\.\d{2})", index)
    if match is None:
        return None
    return int(match.group(1)), match.group(2)


def cutoff_key(today: date, keep_days: int, days: int) -> str:
    """Partitions whose whole bucket ended ``keep_days`` or more days before ``today`` are
    past ``keep_days``: their keys are below the returned key. A bucket is judged by its
    *end*, so a partition is never dropped while it still holds a log younger than
    ``keep_days``."""
    return key_of_day(today - timedelta(days=keep_days), days)


def is_expired(key: str, today: date, retention_days: int, days: int) -> bool:
    """Whether a log homed in ``key`` is past retention (0: kept forever)."""
    return retention_days > 0 and key < cutoff_key(today, retention_days, days)


def template_body(
    alias: str, version: int, settings: dict[str, Any], mappings: dict[str, Any]
) -> dict[str, Any]:
    """The index template every partition of ``alias`` is created from, also when a bulk
    write creates it on first use: the log mapping, the index settings, the read alias."""
    return {
        "index_patterns": [partition_pattern(alias, version)],
        "priority": 200,
        "template": {"settings": settings, "mappings": mappings, "aliases": {alias: {}}},
        "_meta": {"heimdall": "log partitions", "mapping_version": version},
    }


DIRECTORY_MAPPING: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {"partition": {"type": "keyword"}},
}
