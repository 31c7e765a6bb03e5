"""Typed adapters over aiokafka (which ships no type information).

Only what the worker uses is exposed; every value crossing this boundary gets a real type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, NamedTuple, Protocol, cast

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import (
    CommitFailedError,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    TopicAuthorizationFailedError,
)
from aiokafka.structs import TopicPartition as _AioTopicPartition

from ingest.settings import WorkerSettings


class TP(NamedTuple):
    """A topic partition (same shape as aiokafka's ``TopicPartition``)."""

    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]"


class Record(Protocol):
    """The fields of a consumed record the worker reads."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


def where(record: Record) -> str:
    """``topic[partition]@offset``: how errors and logs name a record."""
    return f"{record.topic}[{record.partition}]@{record.offset}"


def _aio(tp: TP) -> Any:
    return _AioTopicPartition(tp.topic, tp.partition)


def _tp(value: Any) -> TP:
    return TP(str(value.topic), int(value.partition))


#: Kafka failures the worker treats as transient (back off and retry).
KafkaFailure: tuple[type[BaseException], ...] = (KafkaError,)
#: A commit refused because the group rebalanced (another member owns the partition now).
CommitRefused: type[BaseException] = cast(type[BaseException], CommitFailedError)
#: A produced record over the client's or the topic's size limit.
MessageTooLarge: type[BaseException] = cast(type[BaseException], MessageSizeTooLargeError)
#: Sends that no retry can fix (missing permission, invalid topic name).
SendForbidden: tuple[type[BaseException], ...] = (TopicAuthorizationFailedError, InvalidTopicError)


RevokeCallback = Callable[[set[TP]], Awaitable[None]]
AssignCallback = Callable[[set[TP]], Awaitable[None]]


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, on_revoked: RevokeCallback, on_assigned: AssignCallback) -> None:
        self._on_revoked = on_revoked
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: Iterable[Any]) -> None:
        await self._on_revoked({_tp(tp) for tp in revoked})

    async def on_partitions_assigned(self, assigned: Iterable[Any]) -> None:
        await self._on_assigned({_tp(tp) for tp in assigned})


class Consumer:
    """A group consumer with manual commits."""

    def __init__(self, settings: WorkerSettings, topics: Sequence[str] | None = None) -> None:
        self.topics = list(topics or [settings.topic])
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=settings.consumer_group,
            client_id="heimdall-ingest",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=settings.max_batch,
            fetch_max_bytes=settings.fetch_max_bytes,
            max_partition_fetch_bytes=min(settings.fetch_max_bytes, 4 * 1024 * 1024),
        )

    async def start(self, on_revoked: RevokeCallback, on_assigned: AssignCallback) -> None:
        self._consumer.subscribe(self.topics, listener=_Listener(on_revoked, on_assigned))
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TP, list[Record]]:
        batch = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return {_tp(tp): cast(list[Record], records) for tp, records in batch.items()}

    def assignment(self) -> set[TP]:
        return {_tp(tp) for tp in self._consumer.assignment()}

    def pause(self, tps: Iterable[TP]) -> None:
        self._consumer.pause(*(_aio(tp) for tp in tps))

    def resume(self, tps: Iterable[TP]) -> None:
        self._consumer.resume(*(_aio(tp) for tp in tps))

    def seek(self, tp: TP, offset: int) -> None:
        self._consumer.seek(_aio(tp), offset)

    async def commit(self, offsets: dict[TP, int]) -> None:
        await self._consumer.commit({_aio(tp): offset for tp, offset in offsets.items()})

    def highwater(self, tp: TP) -> int | None:
        value = self._consumer.highwater(_aio(tp))
        return None if value is None else int(value)


Header = tuple[str, bytes]


class Producer:
    """The dead-letter producer: idempotent, acknowledged by all in-sync replicas."""

    def __init__(self, settings: WorkerSettings) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id="heimdall-ingest-dlq",
            acks="all",
            enable_idempotence=True,
            max_request_size=max(settings.max_event_bytes * 2, 1024 * 1024) + 64 * 1024,
            request_timeout_ms=30_000,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send_all(
        self, topic: str, messages: Sequence[tuple[bytes | None, bytes | None, list[Header]]]
    ) -> list[BaseException | None]:
        """Send every message and wait for every acknowledgement; per message, ``None`` or
        the error."""
        futures: list[Any] = []
        results: list[BaseException | None] = [None] * len(messages)
        for i, (key, value, headers) in enumerate(messages):
            try:
                futures.append(
                    await self._producer.send(topic, value=value, key=key, headers=headers)
                )
            except KafkaError as exc:
                futures.append(None)
                results[i] = exc
        for i, future in enumerate(futures):
            if future is None:
                continue
            try:
                await future
            except KafkaError as exc:
                results[i] = exc
        return results


class RelayProducer:
    """The bridge's producer: idempotent, acknowledged by all in-sync replicas, in order
    per partition."""

    def __init__(self, bootstrap: str, *, max_request_size: int) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id="heimdall-bridge",
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_request_size=max_request_size + 64 * 1024,
            request_timeout_ms=30_000,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, topic: str, key: bytes | None, value: bytes) -> Awaitable[Any]:
        """Queue one record; the returned awaitable completes on its acknowledgement (or
        raises the Kafka error)."""
        return cast(Awaitable[Any], await self._producer.send(topic, value=value, key=key))
