"""One polled batch of Kafka records, decoded and ready to be written (no I/O).

:func:`decode_batch` runs every record through its topic's decoder: good events are grouped
by document id (with the records that carried them), a record that fails to decode becomes a
:class:`~ingest.dead_letters.DeadLetter` and never stops the worker. A :class:`Batch` then
carries the records, what they decoded to, the partitions revoked while it was held, and the
plan made early for it (see :mod:`ingest.worker`). :func:`next_offsets` gives the offsets
committed once it is written; :func:`backoff_delay` spaces the retries of a failing step.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping

import msgspec

from ingest.dead_letters import DeadLetter
from ingest.decode import UNDECODABLE, LogEvent
from ingest.feeds import Decoder, decode_log_entry
from ingest.kafka import TP, Record, where
from ingest.plan import Plan
from shared.errors import BadEvent, DocumentRejected

log = logging.getLogger("heimdall.ingest")


class Decoded(msgspec.Struct):
    """A batch after decoding: good events by id (with their records) and bad records."""

    events: dict[str, list[LogEvent]]
    records: dict[str, list[Record]]
    dead: list[DeadLetter]


def decode_batch(
    records: Iterable[Record],
    max_bytes: int,
    by_topic: Mapping[str, Decoder] | None = None,
    into: Decoded | None = None,
) -> Decoded:
    """Decode with each topic's decoder (default: Bifrost ``LogEntry`` events), adding to
    ``into`` if given (so a batch can be decoded a slice at a time)."""
    decoded = into if into is not None else Decoded(events={}, records={}, dead=[])
    for record in records:
        decode = by_topic.get(record.topic, decode_log_entry) if by_topic else decode_log_entry
        try:
            events = decode(record.value, timestamp_ms=record.timestamp, max_bytes=max_bytes)
        except BadEvent as exc:
            decoded.dead.append(DeadLetter(record, exc.reason, f"{where(record)}: {exc.detail}"))
            continue
        except Exception as exc:  # a poison record must never stop the worker
            log.exception("undecodable record at %s", where(record))
            detail = f"{where(record)}: {type(exc).__name__}: {exc}"
            decoded.dead.append(DeadLetter(record, UNDECODABLE, detail))
            continue
        for event in events:
            decoded.events.setdefault(event.id, []).append(event)
            sources = decoded.records.setdefault(event.id, [])
            if not sources or sources[-1] is not record:
                sources.append(record)
    return decoded


class Batch:
    """A polled batch on its way through the worker."""

    def __init__(self, records: dict[TP, list[Record]], decoded: Decoded) -> None:
        self.records = records
        self.decoded = decoded
        #: Partitions revoked while this batch was held: never committed by it.
        self.revoked: set[TP] = set()
        #: Planned while the previous batch was written: the ids it did not touch.
        self.early: Plan | None = None
        #: Ids found past retention while planning early (see ``ingest.router``).
        self.early_rejected: dict[str, DocumentRejected] = {}

    def partition_of(self, doc_id: str) -> TP:
        last = self.decoded.records[doc_id][-1]
        return TP(last.topic, last.partition)


def next_offsets(batch: Mapping[TP, list[Record]]) -> dict[TP, int]:
    return {tp: records[-1].offset + 1 for tp, records in batch.items() if records}


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Exponential backoff with "equal jitter": between half and all of the capped delay."""
    capped = min(maximum, initial * 2.0 ** min(attempt, 30))
    return capped / 2 + random.uniform(0, capped / 2)
