"""The worker's batch cycle against fakes of its own adapters (consumer, producer, store):
dead letters and their headers, commit after write, pause/backoff/resume, stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast

import pytest
from aiokafka.errors import (
    CommitFailedError,
    KafkaConnectionError,
    MessageSizeTooLargeError,
    TopicAuthorizationFailedError,
)

from ingest.batch import backoff_delay
from ingest.dead_letters import OFFSET_HEADER, REASON_HEADER, TRUNCATED_BYTES, DeadLetterRefused
from ingest.decode import MISSING_ID, REJECTED, TOO_LARGE, UNDECODABLE, LogEvent, decode_event
from ingest.kafka import TP, Consumer, Header, Producer, Record
from ingest.merge import from_source, to_source
from ingest.metrics import CLAIM_AHEAD, STAGES, WAIT
from ingest.plan import Action, Stored
from ingest.settings import WorkerSettings
from ingest.store import Store, WriteResult
from ingest.worker import Worker
from shared.errors import DocumentRejected, StoreUnavailable

TOPIC = "logs"


@dataclass(frozen=True)
class FakeRecord:
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


class FakeConsumer:
    def __init__(self, batches: list[dict[TP, list[Record]]], worker: Callable[[], Worker]):
        self.batches = batches
        self.worker = worker
        self.assigned = {TP(TOPIC, 0), TP(TOPIC, 1)}
        self.paused: set[TP] = set()
        self.commits: list[dict[TP, int]] = []
        self.commit_errors: list[BaseException] = []
        self.polls_while_paused = 0
        self.asked: list[int] = []

    async def start(self, on_revoked: object, on_assigned: object) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TP, list[Record]]:
        await asyncio.sleep(0)
        self.asked.append(max_records)
        if self.paused:
            self.polls_while_paused += 1
            return {}
        if self.batches:
            return self.batches.pop(0)
        self.worker().stop()
        return {}

    def assignment(self) -> set[TP]:
        return set(self.assigned)

    def pause(self, tps: set[TP]) -> None:
        self.paused |= set(tps)

    def resume(self, tps: set[TP]) -> None:
        self.paused -= set(tps)

    def seek(self, tp: TP, offset: int) -> None:
        raise AssertionError("nothing should slip through a pause here")

    async def commit(self, offsets: dict[TP, int]) -> None:
        if self.commit_errors:
            raise self.commit_errors.pop(0)
        self.commits.append(dict(offsets))

    def highwater(self, tp: TP) -> int | None:
        return 10


class FakeProducer:
    def __init__(self, max_value: int | None = None, forbidden: bool = False) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, dict[str, bytes]]] = []
        self.max_value = max_value
        self.forbidden = forbidden

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send_all(
        self, topic: str, messages: list[tuple[bytes | None, bytes | None, list[Header]]]
    ) -> list[BaseException | None]:
        results: list[BaseException | None] = []
        for k, v, h in messages:
            if self.forbidden:
                results.append(TopicAuthorizationFailedError())
            elif self.max_value is not None and len(v or b"") > self.max_value:
                results.append(MessageSizeTooLargeError())
            else:
                self.sent.append((topic, k, v, dict(h)))
                results.append(None)
        return results


class FakeStore:
    """OpenSearch's write semantics: ``create`` fails with 409 if the id exists, ``index``
    if the stored seq_no/primary_term differ; every write gets a new seq_no."""

    def __init__(self, failures: int = 0, reject: frozenset[str] = frozenset()) -> None:
        self.docs: dict[str, tuple[bytes, int]] = {}
        self.failures = failures
        self.reject = reject
        self.writes = 0
        self.fetches = 0
        self.seq_no = -1
        self.on_write: Callable[[], Awaitable[None]] | None = None
        self.dropped: dict[str, bytes] = {}
        self.progress: list[bytes] = []
        #: What ``commits`` of the consumer held when dead letters were recorded.
        self.commits_at_record: list[int] = []
        self.consumer: FakeConsumer | None = None
        self.alias = "logs"
        self.base = "logs-v1"
        self.legacy = False
        self.version = 1
        #: The id directory: id -> home partition key (``create`` semantics).
        self.homes: dict[str, str] = {}

    async def read_version(self) -> int:
        return self.version

    def use_version(self, version: int) -> None:
        self.version = version

    async def claim(self, wanted: dict[str, str]) -> dict[str, str]:
        for doc_id, key in wanted.items():
            self.homes.setdefault(doc_id, key)
        return {doc_id: self.homes[doc_id] for doc_id in wanted}

    async def ensure_index(self, **_: object) -> str:
        return "logs-v1"

    async def close(self) -> None:
        pass

    async def fetch(self, ids: object, homes: object = None) -> dict[str, Stored]:
        self.fetches += 1
        return {
            i: Stored(state=from_source(i, src), seq_no=seq, primary_term=1)
            for i in cast(dict[str, object], ids)
            if i in self.docs
            for src, seq in [self.docs[i]]
        }

    async def write(self, actions: list[Action]) -> WriteResult:
        if self.on_write:
            await self.on_write()
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("OpenSearch _bulk: connection refused")
        self.writes += 1
        rejected = {}
        written = []
        conflicts = []
        versions = {}
        for a in actions:
            if a.id in self.reject:
                rejected[a.id] = DocumentRejected(REJECTED, "mapper_parsing_exception")
                continue
            current = self.docs.get(a.id)
            if (a.op == "create" and current is not None) or (
                a.op == "index" and (current is None or current[1] != a.if_seq_no)
            ):
                conflicts.append(a.id)
                continue
            self.seq_no += 1
            self.docs[a.id] = (a.source, self.seq_no)
            written.append(a.id)
            versions[a.id] = (self.seq_no, 1)
        return WriteResult(
            written=written,
            conflicts=conflicts,
            rejected=rejected,
            seconds=0.001,
            versions=versions,
        )

    async def record_dropped(self, docs: list[tuple[str, bytes]]) -> None:
        self.commits_at_record.append(len(self.consumer.commits) if self.consumer else -1)
        for doc_id, source in docs:
            self.dropped.setdefault(doc_id, source)

    async def write_progress(self, body: bytes) -> None:
        self.progress.append(body)


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    for _ in iter(int, 1):
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.001)


def settings(**overrides: object) -> WorkerSettings:
    base: dict[str, object] = {
        "topic": TOPIC,
        "worker_port": 0,
        "max_event_bytes": 200,
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.02,
    }
    base.update(overrides)
    return WorkerSettings(**base)  # type: ignore[arg-type]


def rec(partition: int, offset: int, value: bytes | None, ts: int = 1000) -> Record:
    return FakeRecord(TOPIC, partition, offset, ts, b"k", value)


def build(
    batches: list[dict[TP, list[Record]]],
    store: FakeStore,
    producer: FakeProducer | None = None,
    **overrides: object,
) -> tuple[Worker, FakeConsumer, FakeProducer]:
    holder: list[Worker] = []
    consumer = FakeConsumer(batches, lambda: holder[0])
    producer = producer or FakeProducer()
    worker = Worker(
        settings(**overrides),
        store=cast(Store, store),
        consumer=cast(Consumer, consumer),
        producer=cast(Producer, producer),
    )
    holder.append(worker)
    store.consumer = consumer
    return worker, consumer, producer


GOOD_A = b'{"id":"a","status":"processing","model":"m"}'
FINISH_A = b'{"id":"a","status":"success","latency":3}'
GOOD_B = b'{"id":"b","status":"error"}'
REJECTED_C = b'{"id":"c","status":"success"}'


async def test_batch_indexes_good_dead_letters_bad_then_commits() -> None:
    batch: dict[TP, list[Record]] = {
        TP(TOPIC, 0): [rec(0, 5, GOOD_A), rec(0, 6, b"{not json"), rec(0, 7, FINISH_A, 2000)],
        TP(TOPIC, 1): [
            rec(1, 0, b'{"id":""}'),
            rec(1, 1, GOOD_B),
            rec(1, 2, b'{"id":"x","model":"' + b"m" * 300 + b'"}'),
            rec(1, 3, REJECTED_C),
            rec(1, 4, None),
        ],
    }
    store = FakeStore(reject=frozenset({"c"}))
    worker, consumer, producer = build([batch], store)
    await asyncio.wait_for(worker.run(), 10)

    assert sorted(store.docs) == ["a", "b"]
    assert b'"status":"success"' in store.docs["a"][0]
    assert store.writes == 1
    reasons = [(h[OFFSET_HEADER], h[REASON_HEADER]) for _, _, _, h in producer.sent]
    assert reasons == [
        (b"6", UNDECODABLE.encode()),
        (b"0", MISSING_ID.encode()),
        (b"2", TOO_LARGE.encode()),
        (b"3", REJECTED.encode()),
        (b"4", UNDECODABLE.encode()),
    ]
    topic, key, value, headers = producer.sent[0]
    assert (topic, key, value) == ("bifrost.logs.dlq", b"k", b"{not json")
    assert headers["x-heimdall-source-topic"] == TOPIC.encode()
    assert headers["x-heimdall-source-partition"] == b"0"
    assert b"logs[0]@6" in headers["x-heimdall-detail"]
    assert consumer.commits == [{TP(TOPIC, 0): 8, TP(TOPIC, 1): 5}]
    assert worker.metrics.value("heimdall_ingest_consumed_total") == 8
    assert worker.metrics.value("heimdall_ingest_indexed_total") == 2
    assert worker.metrics.value("heimdall_ingest_dead_lettered_total", reason="rejected") == 1
    # Every dead letter is recorded once, before the commit; progress after it.
    assert sorted(store.dropped) == [f"{TOPIC}-0-6", *(f"{TOPIC}-1-{o}" for o in (0, 2, 3, 4))]
    assert store.commits_at_record == [0]
    assert b'"reason":"rejected"' in store.dropped[f"{TOPIC}-1-3"]
    assert len(store.progress) == 1
    assert store.progress[0].count(b'"committed_offset"') == 4  # params + upsert, 2 partitions


async def test_store_outage_pauses_retries_and_commits_only_after_the_write() -> None:
    store = FakeStore(failures=3)
    seen: list[tuple[bool, int, bool]] = []
    batches: list[dict[TP, list[Record]]] = [{TP(TOPIC, 0): [rec(0, 0, GOOD_A)]}]
    worker, consumer, _ = build(batches, store)

    async def observe() -> None:
        ok, _reason = worker.health()
        seen.append((worker.paused, len(consumer.commits), ok))

    store.on_write = observe
    await asyncio.wait_for(worker.run(), 10)

    # 3 failed attempts + 1 success; from the 2nd attempt on the worker is paused,
    # unhealthy, and nothing is committed.
    assert seen[0] == (False, 0, True)
    assert seen[1:] == [(True, 0, False)] * 3
    assert consumer.polls_while_paused >= 3
    assert consumer.commits == [{TP(TOPIC, 0): 1}]
    assert not worker.paused
    assert consumer.paused == set()
    assert worker.metrics.value("heimdall_ingest_retries_total") == 3
    assert "a" in store.docs


async def test_redelivered_batch_writes_nothing() -> None:
    batch: dict[TP, list[Record]] = {TP(TOPIC, 0): [rec(0, 0, GOOD_A), rec(0, 1, FINISH_A, 2)]}
    store = FakeStore()
    worker, consumer, _ = build([batch, batch], store)
    await asyncio.wait_for(worker.run(), 10)
    assert store.writes == 1
    assert worker.metrics.value("heimdall_ingest_skipped_unchanged_total") == 1
    assert consumer.commits == [{TP(TOPIC, 0): 2}, {TP(TOPIC, 0): 2}]


async def test_stop_while_store_is_down_abandons_the_batch_uncommitted() -> None:
    store = FakeStore(failures=1_000_000)
    worker, consumer, _ = build([{TP(TOPIC, 0): [rec(0, 0, GOOD_A)]}], store)
    failing = asyncio.Event()

    async def on_write() -> None:
        if store.failures < 999_990:
            failing.set()

    store.on_write = on_write
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(failing.wait(), 10)
    worker.stop()
    await asyncio.wait_for(task, 10)
    assert consumer.commits == []
    assert store.docs == {}


def test_source_of_fake_writes_is_canonical() -> None:
    # Guard for the fakes above: what they store is what the real store would write.
    state = from_source("a", to_source(from_source("a", b'{"id":"a","model":"m"}')))
    assert to_source(state) == to_source(from_source("a", to_source(state)))


@pytest.mark.parametrize("attempt", [0, 1, 5, 50])
def test_backoff_is_capped_and_jittered(attempt: int) -> None:
    delays = {backoff_delay(attempt, 0.5, 30.0) for _ in range(20)}
    capped = min(30.0, 0.5 * 2**attempt)
    assert all(capped / 2 <= d <= capped for d in delays)
    assert len(delays) > 1


async def _revoke_during_write(rebalance_timeout: float) -> tuple[FakeConsumer, list[str]]:
    store = FakeStore()
    release = asyncio.Event()
    writing = asyncio.Event()
    order: list[str] = []

    async def slow_write() -> None:
        writing.set()
        await release.wait()

    store.on_write = slow_write
    holder: list[Worker] = []
    consumer = FakeConsumer([{TP(TOPIC, 0): [rec(0, 3, GOOD_A)]}], lambda: holder[0])
    worker = Worker(
        settings(rebalance_timeout_seconds=rebalance_timeout),
        store=cast(Store, store),
        consumer=cast(Consumer, consumer),
        producer=cast(Producer, FakeProducer()),
    )
    holder.append(worker)
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(writing.wait(), 10)

    async def revoke() -> None:
        await worker._on_revoked({TP(TOPIC, 0)})
        order.append(f"revoked after {len(consumer.commits)} commit(s)")
        consumer.assigned.discard(TP(TOPIC, 0))

    revoking = asyncio.create_task(revoke())
    await asyncio.sleep(0.1)
    order.append("write released")
    release.set()
    await asyncio.wait_for(revoking, 10)
    await asyncio.wait_for(task, 10)
    return consumer, order


async def test_revoke_waits_for_the_in_flight_batch_to_commit() -> None:
    consumer, order = await _revoke_during_write(rebalance_timeout=10)
    assert order == ["write released", "revoked after 1 commit(s)"]
    assert consumer.commits == [{TP(TOPIC, 0): 4}]


async def test_revoke_timeout_leaves_the_revoked_partition_uncommitted() -> None:
    consumer, order = await _revoke_during_write(rebalance_timeout=0.01)
    assert order == ["revoked after 0 commit(s)", "write released"]
    assert consumer.commits == []


async def test_a_member_without_partitions_is_a_healthy_standby() -> None:
    store = FakeStore()
    seen: list[tuple[bool, str]] = []
    worker, consumer, _ = build([{TP(TOPIC, 0): [rec(0, 0, GOOD_A)]}], store)

    async def observe() -> None:
        consumer.assigned = set()  # e.g. a rebalance gave every partition to another member
        seen.append(worker.health())

    store.on_write = observe
    await asyncio.wait_for(worker.run(), 10)

    assert seen == [(True, "idle: no partitions assigned")]


async def test_an_unexpected_decoding_failure_is_dead_lettered_not_fatal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = decode_event

    def decode(value: bytes | None, **kwargs: int) -> LogEvent:
        if value == b"poison":
            raise RuntimeError("decoder bug")
        return real(value, **kwargs)

    monkeypatch.setattr("ingest.feeds.decode_event", decode)
    store = FakeStore()
    worker, consumer, producer = build(
        [{TP(TOPIC, 0): [rec(0, 0, b"poison"), rec(0, 1, GOOD_A)]}], store
    )
    await asyncio.wait_for(worker.run(), 10)

    assert [v for _, _, v, _ in producer.sent] == [b"poison"]
    assert producer.sent[0][3]["x-heimdall-reason"] == b"undecodable"
    assert "a" in store.docs
    assert consumer.commits == [{TP(TOPIC, 0): 2}]


async def test_a_dead_letter_too_large_for_its_topic_is_sent_truncated() -> None:
    big = b"{" + b"x" * (TRUNCATED_BYTES + 5000)
    producer = FakeProducer(max_value=TRUNCATED_BYTES + 100)
    worker, consumer, _ = build(
        [{TP(TOPIC, 0): [rec(0, 0, big)]}], FakeStore(), producer, max_event_bytes=1 << 20
    )
    await asyncio.wait_for(worker.run(), 10)

    [(_, _, value, headers)] = producer.sent
    assert value == big[:TRUNCATED_BYTES]
    assert headers["x-heimdall-truncated"] == str(len(big)).encode()
    assert headers["x-heimdall-reason"] == b"undecodable"
    assert consumer.commits == [{TP(TOPIC, 0): 1}]


@pytest.mark.parametrize(
    "producer",
    [FakeProducer(forbidden=True), FakeProducer(max_value=10)],
    ids=["forbidden", "tiny"],
)
async def test_a_dead_letter_topic_that_refuses_for_good_stops_the_worker(
    producer: FakeProducer,
) -> None:
    worker, consumer, _ = build(
        [{TP(TOPIC, 0): [rec(0, 0, b"{not json at all")]}], FakeStore(), producer
    )
    with pytest.raises(DeadLetterRefused):
        await asyncio.wait_for(worker.run(), 10)
    assert consumer.commits == []  # the bad record is read again after the fix


async def test_a_commit_refused_after_a_failed_attempt_resumes_consumption() -> None:
    store = FakeStore()
    worker, consumer, _ = build(
        [{TP(TOPIC, 0): [rec(0, 0, GOOD_A)]}, {TP(TOPIC, 1): [rec(1, 0, GOOD_A)]}], store
    )
    consumer.commit_errors = [KafkaConnectionError(), CommitFailedError()]
    await asyncio.wait_for(worker.run(), 10)

    assert consumer.commits == [{TP(TOPIC, 1): 1}]  # the second batch was consumed
    assert consumer.paused == set()
    assert not worker.paused


async def test_a_revoke_while_writes_fail_does_not_wait_for_the_stuck_batch() -> None:
    store = FakeStore(failures=3)
    waited: list[float] = []
    worker, consumer, _ = build(
        [{TP(TOPIC, 0): [rec(0, 0, GOOD_A)], TP(TOPIC, 1): [rec(1, 0, GOOD_A)]}],
        store,
        rebalance_timeout_seconds=5.0,
    )

    async def revoke_once_paused() -> None:
        if worker.paused and not waited:
            started = time.monotonic()
            await worker._on_revoked({TP(TOPIC, 0)})
            waited.append(time.monotonic() - started)

    store.on_write = revoke_once_paused
    await asyncio.wait_for(worker.run(), 10)

    assert len(waited) == 1
    assert waited[0] < 1.0
    assert consumer.commits == [{TP(TOPIC, 1): 1}]  # the revoked partition is not committed


async def test_ids_this_worker_wrote_are_merged_without_reading_them_back() -> None:
    store = FakeStore()
    worker, consumer, _ = build(
        [{TP(TOPIC, 0): [rec(0, 0, GOOD_A)]}, {TP(TOPIC, 0): [rec(0, 1, FINISH_A, 2000)]}], store
    )
    await asyncio.wait_for(worker.run(), 10)

    assert store.fetches == 0
    assert store.writes == 2
    assert b'"model":"m"' in store.docs["a"][0]
    assert b'"status":"success"' in store.docs["a"][0]
    assert consumer.commits == [{TP(TOPIC, 0): 1}, {TP(TOPIC, 0): 2}]


async def test_an_id_written_by_someone_else_is_read_after_the_409() -> None:
    # Another worker stored "a" before: the optimistic create is refused, "a" is read and
    # the merge of both is written with the read seq_no.
    store = FakeStore()
    other = decode_event(GOOD_A, timestamp_ms=1000, max_bytes=200)
    state = from_source("a", b"{}")
    state.fields.update(other.fields)
    state.versions.update(dict.fromkeys(other.fields, other.version))
    store.docs["a"] = (to_source(state), 7)
    store.seq_no = 7
    worker, consumer, _ = build([{TP(TOPIC, 0): [rec(0, 0, FINISH_A, 2000)]}], store)
    await asyncio.wait_for(worker.run(), 10)

    assert store.fetches == 1
    assert b'"model":"m"' in store.docs["a"][0]
    assert b'"status":"success"' in store.docs["a"][0]
    assert worker.metrics.value("heimdall_ingest_conflicts_total") == 1
    assert consumer.commits == [{TP(TOPIC, 0): 1}]


async def test_a_stale_cache_entry_is_caught_by_the_seq_no_guard() -> None:
    store = FakeStore()
    worker, _consumer, _ = build(
        [{TP(TOPIC, 0): [rec(0, 0, GOOD_A)]}, {TP(TOPIC, 0): [rec(0, 1, FINISH_A, 2000)]}], store
    )

    async def someone_else_writes() -> None:
        if store.writes == 1 and "a" in store.docs:
            # Between the two batches another writer stores a newer version of "a".
            source, _ = store.docs["a"]
            store.seq_no += 1
            store.docs["a"] = (source.replace(b'"model":"m"', b'"model":"n"'), store.seq_no)

    store.on_write = someone_else_writes
    await asyncio.wait_for(worker.run(), 10)

    assert store.fetches == 1  # the guarded write was refused, "a" was read again
    assert b'"model":"n"' in store.docs["a"][0]
    assert b'"status":"success"' in store.docs["a"][0]


async def test_a_revoke_forgets_the_partitions_cached_documents() -> None:
    store = FakeStore()
    worker, _, _ = build(
        [{TP(TOPIC, 0): [rec(0, 0, GOOD_A)], TP(TOPIC, 1): [rec(1, 0, GOOD_B)]}], store
    )
    await asyncio.wait_for(worker.run(), 10)
    assert worker.cache.get("a") is not None
    await worker._on_revoked({TP(TOPIC, 0)})
    assert worker.cache.get("a") is None
    assert worker.cache.get("b") is not None


async def test_the_next_batch_is_polled_during_a_write_and_written_after_its_commit() -> None:
    store = FakeStore()
    release = asyncio.Event()
    events: list[str] = []
    batches: list[dict[TP, list[Record]]] = [
        {TP(TOPIC, 0): [rec(0, 0, GOOD_A)]},
        {TP(TOPIC, 1): [rec(1, 0, GOOD_B)]},
    ]
    worker, consumer, _ = build(batches, store)

    async def slow_first_write() -> None:
        events.append(f"write {store.writes + 1}, {len(batches)} batch(es) left to poll")
        if store.writes == 0:
            await release.wait()

    store.on_write = slow_first_write
    task = asyncio.create_task(worker.run())
    await until(lambda: not batches)
    events.append(f"second batch polled after {len(consumer.commits)} commit(s)")
    release.set()
    await asyncio.wait_for(task, 10)
    assert events == [
        "write 1, 1 batch(es) left to poll",
        "second batch polled after 0 commit(s)",
        "write 2, 0 batch(es) left to poll",
    ]
    assert consumer.commits == [{TP(TOPIC, 0): 1}, {TP(TOPIC, 1): 1}]


async def test_a_batch_polled_before_a_revoke_does_not_commit_the_revoked_partition() -> None:
    store = FakeStore()
    release = asyncio.Event()
    worker, consumer, _ = build(
        [
            {TP(TOPIC, 0): [rec(0, 0, GOOD_A)]},
            {TP(TOPIC, 0): [rec(0, 1, FINISH_A, 2000)], TP(TOPIC, 1): [rec(1, 0, GOOD_B)]},
        ],
        store,
    )

    async def slow_first_write() -> None:
        if store.writes == 0:
            await release.wait()

    store.on_write = slow_first_write
    task = asyncio.create_task(worker.run())
    await until(lambda: worker._held is not None)
    revoking = asyncio.create_task(worker._on_revoked({TP(TOPIC, 0)}))
    await asyncio.sleep(0.01)
    release.set()
    await asyncio.wait_for(revoking, 10)
    await asyncio.wait_for(task, 10)
    # The in-flight batch committed before the revoke returned; the held one skips TP 0.
    assert consumer.commits == [{TP(TOPIC, 0): 1}, {TP(TOPIC, 1): 1}]
    assert b'"status":"success"' in store.docs["a"][0]  # written all the same (idempotent)


async def test_every_stage_is_timed() -> None:
    store = FakeStore()
    store.docs["b"] = (to_source(from_source("b", b'{"model":"x"}')), 0)
    store.seq_no = 0
    worker, _, _ = build([{TP(TOPIC, 0): [rec(0, 0, GOOD_A), rec(0, 1, GOOD_B)]}], store)
    await asyncio.wait_for(worker.run(), 10)
    for stage in STAGES:
        assert worker.metrics.value("heimdall_ingest_stage_seconds_count", stage=stage) >= 1, stage


async def test_ids_the_batch_in_flight_does_not_touch_are_planned_during_its_write() -> None:
    store = FakeStore()
    release = asyncio.Event()
    batches: list[dict[TP, list[Record]]] = [
        {TP(TOPIC, 0): [rec(0, 0, GOOD_A)]},
        {TP(TOPIC, 0): [rec(0, 1, FINISH_A, 2000)], TP(TOPIC, 1): [rec(1, 0, GOOD_B)]},
    ]
    worker, consumer, _ = build(batches, store)
    early: list[list[str]] = []

    async def slow_first_write() -> None:
        if store.writes == 0:
            await release.wait()

    store.on_write = slow_first_write
    task = asyncio.create_task(worker.run())
    await until(lambda: worker._held is not None and worker._held.early is not None)
    assert worker._held is not None
    assert worker._held.early is not None
    early.append([a.id for a in worker._held.early.actions])
    release.set()
    await asyncio.wait_for(task, 10)

    assert early == [["b"]]  # "a" waits for the write in flight
    assert b'"status":"success"' in store.docs["a"][0]
    assert "b" in store.docs
    assert store.fetches == 0
    assert consumer.commits == [{TP(TOPIC, 0): 1}, {TP(TOPIC, 0): 2, TP(TOPIC, 1): 1}]
    # "b" was claimed while the first batch was written; "a" only by the first batch; the
    # loop, with the second batch ready, waited for the first.
    assert store.homes.keys() == {"a", "b"}
    for stage, count in (("claim", 1), (CLAIM_AHEAD, 1), (WAIT, 1)):
        assert worker.metrics.value("heimdall_ingest_stage_seconds_count", stage=stage) == count


async def test_big_records_make_smaller_polls() -> None:
    big = b'{"id":"a","model":"' + b"m" * 1000 + b'"}'
    worker, consumer, _ = build(
        [{TP(TOPIC, 0): [rec(0, 0, big)]}, {TP(TOPIC, 0): [rec(0, 1, GOOD_B)]}],
        FakeStore(),
        max_event_bytes=4096,
        max_batch=500,
        max_batch_bytes=10_240,
    )
    await asyncio.wait_for(worker.run(), 10)
    assert consumer.asked[0] == 64  # nothing known yet: a small first poll
    assert consumer.asked[1] == 10_240 // len(big)


async def test_the_batch_waited_for_on_revoke_leaves_no_cache_entry_of_the_partition() -> None:
    # aiokafka still lists the revoked partitions as assigned while the listener runs: the
    # batch it waits for must not cache them again after the listener dropped them.
    store = FakeStore()
    release = asyncio.Event()
    worker, consumer, _ = build([{TP(TOPIC, 0): [rec(0, 0, GOOD_A)]}], store)

    async def slow_first_write() -> None:
        if store.writes == 0:
            await release.wait()

    store.on_write = slow_first_write
    task = asyncio.create_task(worker.run())
    await until(lambda: worker._writing is not None)
    revoking = asyncio.create_task(worker._on_revoked({TP(TOPIC, 0)}))
    await asyncio.sleep(0.01)
    release.set()
    await asyncio.wait_for(revoking, 10)
    assert consumer.commits == [{TP(TOPIC, 0): 1}]  # committed before the revoke returned
    assert worker.cache.get("a") is None
    await asyncio.wait_for(task, 10)


class BufferedConsumer(FakeConsumer):
    """aiokafka's ``getmany`` returns records it already fetched without yielding."""

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TP, list[Record]]:
        if self.batches:
            self.asked.append(max_records)
            return self.batches.pop(0)
        return await super().getmany(timeout_ms=timeout_ms, max_records=max_records)


async def test_a_write_starts_while_the_next_batch_is_still_being_decoded() -> None:
    store = FakeStore()
    many = [rec(1, n, b'{"id":"x%d","status":"processing"}' % n) for n in range(250)]
    batches: list[dict[TP, list[Record]]] = [
        {TP(TOPIC, 0): [rec(0, 0, GOOD_A)]},
        {TP(TOPIC, 1): many},
    ]
    holder: list[Worker] = []
    consumer = BufferedConsumer(batches, lambda: holder[0])
    worker = Worker(
        settings(),
        store=cast(Store, store),
        consumer=cast(Consumer, consumer),
        producer=cast(Producer, FakeProducer()),
    )
    holder.append(worker)
    decoded_at_first_write: list[int] = []

    async def note() -> None:
        if store.writes == 0:
            held = worker._held
            decoded_at_first_write.append(len(held.decoded.events) if held else -1)

    store.on_write = note
    await asyncio.wait_for(worker.run(), 10)
    # The first write was sent after the first slice of the next batch, not after all of it.
    assert decoded_at_first_write
    assert 0 < decoded_at_first_write[0] < len(many)
    assert len(store.docs) == 1 + len(many)
    assert consumer.commits == [{TP(TOPIC, 0): 1}, {TP(TOPIC, 1): len(many)}]
