"""Where a log lives: its home partition, chosen once by its first writer.

A log's events may arrive in any order, days apart, on several topics (so on several
workers at once). Each must reach the one document of the log, in the one partition that
holds it. The home is decided here, for ids the worker did not write recently (it
remembers the homes of the ids it wrote, :class:`ingest.cache.WriteCache`, and uses them
directly while :meth:`Router.usable`):

1. the *wanted* key (pure, :func:`wanted_keys`): the partition of the log's ``timestamp``
   (the request start) when the batch's events carry one, else of the earliest Kafka record
   time among them (an update seen before its create);
2. the *claim* (:meth:`ingest.store.Store.claim`): a ``create`` of the id in the directory
   ``<alias>-ids``, one small document per log. OpenSearch makes it atomic: of all writers,
   concurrent or days apart, exactly one creates the entry; every other reads the key it
   recorded. So every writer of a log agrees on its home, whatever events it saw.

A claim whose document is not written yet (a crash in between) is harmless: the next
writer creates the document in the claimed partition. A home past ``retention_days`` is
refused with reason ``expired``: a late event of a deleted partition is dead-lettered, never
turned into a partial log (the directory entry outlives the partition, see
:mod:`ingest.lifecycle`). Logs of the single index of older releases (``Store.legacy``) stay
where they are.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Final

import msgspec

from ingest.decode import EXPIRED, LogEvent
from ingest.plan import Stored
from ingest.store import Store
from shared.errors import DocumentRejected
from shared.partitions import (
    day_of_timestamp,
    is_expired,
    key_of_day,
    key_of_ms,
    parse_partition,
    partition_index,
)

_STRING = msgspec.json.Decoder(str)
#: Seconds between two reads of the version pointer; a migration waits longer than this
#: (plus a request timeout) after moving it, before its last pass.
VERSION_TTL: Final = 1.0


def record_ms(event: LogEvent) -> int:
    """The Kafka record time of an event (ms), the second part of its version."""
    return int(event.version.split(":", 2)[1])


#: A ``timestamp`` more than this after its event's Kafka record time comes from a broken
#: clock: homing it by that day would create a partition per bad day (and could exhaust the
#: cluster's shard limit), so such a log is homed by its record time instead.
MAX_CLOCK_SKEW: Final = timedelta(days=1)


def wanted_key(events: Sequence[LogEvent], days: int) -> str:
    """The partition key a log would be homed in, from its events of this batch: its
    winning ``timestamp`` (the highest-versioned event carrying one, as the merge picks),
    unless it is more than :data:`MAX_CLOCK_SKEW` after that event's record time; else its
    earliest record time. The first writer's choice is final (the id directory), so this
    only has to be deterministic for one batch."""
    dated = [e for e in events if "timestamp" in e.fields]
    if dated:
        winner = max(dated, key=lambda e: e.version)
        try:
            day = day_of_timestamp(_STRING.decode(winner.fields["timestamp"]))
        except msgspec.DecodeError:
            day = None
        recorded = datetime.fromtimestamp(record_ms(winner) / 1000, UTC).date()
        if day is not None and day <= recorded + MAX_CLOCK_SKEW:
            return key_of_day(day, days)
    return key_of_ms(min(record_ms(e) for e in events), days)


def wanted_keys(events: Mapping[str, Sequence[LogEvent]], days: int) -> dict[str, str]:
    return {doc_id: wanted_key(evts, days) for doc_id, evts in events.items() if evts}


class Homes(msgspec.Struct, kw_only=True):
    """Where the ids of a batch live: a concrete index each (a partition, or the legacy
    index with its stored document), or refused."""

    indices: dict[str, str]
    stored: dict[str, Stored]
    rejected: dict[str, DocumentRejected]


class Router:
    def __init__(self, store: Store, *, partition_days: int, retention_days: int) -> None:
        self.store = store
        self.days = partition_days
        self.retention_days = retention_days
        self._checked = -VERSION_TTL

    async def refresh(self) -> bool:
        """Follow the mapping version pointer (:mod:`ingest.migrate`), read at most once per
        :data:`VERSION_TTL` seconds; True if the version written changed."""
        now = time.monotonic()
        if now - self._checked < VERSION_TTL:
            return False
        self._checked = now
        version = await self.store.read_version()
        if version == self.store.version:
            return False
        self.store.use_version(version)
        return True

    def usable(self, index: str, today: date) -> bool:
        """Whether a remembered home (:meth:`ingest.cache.WriteCache.homes`) can be written
        without asking the directory: the write index, or a partition of the version written
        that is not past retention (an expired one goes through the directory, which decides
        between ``expired`` and, once its entry was purged, a new claim)."""
        if index == self.store.base:
            return True
        parsed = parse_partition(self.store.alias, index)
        if parsed is None or parsed[0] != self.store.version:
            return False
        return not is_expired(parsed[1], today, self.retention_days, self.days)

    async def homes(
        self,
        events: Mapping[str, Sequence[LogEvent]],
        today: date,
        known: Mapping[str, str] | None = None,
    ) -> Homes:
        """The home of every id of ``events``: the one this worker remembers (``known``, id
        -> index, when :meth:`usable`), else a legacy document where it is, else the
        partition its directory entry names (claimed now if it had none). The stored
        documents of the remembered and legacy homes are read (one ``_mget``)."""
        result = Homes(indices={}, stored={}, rejected={})
        rest = dict(events)
        remembered = {
            i: index
            for i, index in (known or {}).items()
            if i in rest and self.usable(index, today)
        }
        if remembered:
            result.stored = await self.store.fetch(remembered, remembered)
            result.indices.update(remembered)
            for doc_id in remembered:
                del rest[doc_id]
        if self.store.legacy and rest:
            base = self.store.base
            legacy = await self.store.fetch(rest, dict.fromkeys(rest, base))
            result.stored.update(legacy)
            for doc_id in legacy:
                result.indices[doc_id] = base
                del rest[doc_id]
        keys = await self.store.claim(wanted_keys(rest, self.days))
        alias = self.store.alias
        for doc_id, key in keys.items():
            if is_expired(key, today, self.retention_days, self.days):
                result.rejected[doc_id] = DocumentRejected(
                    EXPIRED, f"its partition {key} is past retention ({self.retention_days} days)"
                )
            else:
                result.indices[doc_id] = partition_index(alias, key, self.store.version)
        return result
