"""Dead letters: the records the worker parks on the dead-letter topic, and sending them.

A record goes there when it cannot be decoded (:class:`~shared.errors.BadEvent`) or when
OpenSearch rejects its document for good; the worker sends every dead letter of a batch
(acks=all, idempotent) and waits for every acknowledgement before it commits the batch. Each
carries the original key and value, plus headers that say why and where it came from.
"""

from __future__ import annotations

import logging
from typing import Final

import msgspec

from ingest.kafka import Header, MessageTooLarge, Producer, Record, SendForbidden, where
from ingest.metrics import Metrics
from shared.errors import HeimdallError

log = logging.getLogger("heimdall.ingest")

REASON_HEADER: Final = "x-heimdall-reason"
DETAIL_HEADER: Final = "x-heimdall-detail"
TOPIC_HEADER: Final = "x-heimdall-source-topic"
PARTITION_HEADER: Final = "x-heimdall-source-partition"
OFFSET_HEADER: Final = "x-heimdall-source-offset"
TRUNCATED_HEADER: Final = "x-heimdall-truncated"
TRUNCATED_BYTES: Final = 64 * 1024
_MAX_DETAIL: Final = 2000


class DeadLetterUnavailable(HeimdallError):
    """The dead-letter topic could not be written (Kafka failing); retried like OpenSearch."""

    retriable = True


class DeadLetterRefused(HeimdallError):
    """Kafka refuses a dead letter for good (no permission on the topic, or a topic that
    cannot hold even the truncated value): fatal, since skipping it would lose the record
    and retrying would loop forever."""


class DeadLetter(msgspec.Struct, frozen=True):
    record: Record
    reason: str
    detail: str
    #: Set when the dead-letter topic refused the full value as too large: only the first
    #: ``TRUNCATED_BYTES`` are sent, and ``x-heimdall-truncated`` gives the original size.
    truncated: bool = False

    @property
    def value(self) -> bytes | None:
        value = self.record.value
        return value[:TRUNCATED_BYTES] if self.truncated and value is not None else value


def dead_letter_headers(letter: DeadLetter) -> list[Header]:
    r = letter.record
    headers = [
        (REASON_HEADER, letter.reason.encode()),
        (DETAIL_HEADER, letter.detail[:_MAX_DETAIL].encode()),
        (TOPIC_HEADER, r.topic.encode()),
        (PARTITION_HEADER, str(r.partition).encode()),
        (OFFSET_HEADER, str(r.offset).encode()),
    ]
    if letter.truncated:
        headers.append((TRUNCATED_HEADER, str(len(r.value or b"")).encode()))
    return headers


async def send_dead_letters(
    producer: Producer, topic: str, dead: list[DeadLetter], metrics: Metrics
) -> None:
    """Send every dead letter to ``topic``; on failure ``dead`` keeps only the unsent ones
    (a value the topic refused as too large is then marked ``truncated``), so a retry sends
    just those. Raises :class:`DeadLetterUnavailable` (retriable) or
    :class:`DeadLetterRefused` (fatal)."""
    pending = sorted(dead, key=lambda d: (d.record.partition, d.record.offset))
    results = await producer.send_all(
        topic, [(d.record.key, d.value, dead_letter_headers(d)) for d in pending]
    )
    failed: list[DeadLetter] = []
    for d, error in zip(pending, results, strict=True):
        if error is None:
            metrics.dead_lettered.labels(reason=d.reason).inc()
            log.warning("dead-lettered", extra={"reason": d.reason, "detail": d.detail[:300]})
        elif isinstance(error, MessageTooLarge) and not d.truncated:
            failed.append(msgspec.structs.replace(d, truncated=True))
        elif isinstance(error, (MessageTooLarge, *SendForbidden)):
            raise DeadLetterRefused(
                f"{topic} refused the dead letter of {where(d.record)}: {error!r}"
            )
        else:
            failed.append(d)
    if failed:
        dead[:] = failed
        first = next(error for error in results if error is not None)
        raise DeadLetterUnavailable(f"{len(failed)} dead letter(s) to {topic} failed: {first!r}")
