"""Pure builders of the ``-dropped`` and ``-progress`` documents, and the throttled writer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import msgspec

from ingest.decode import decode_event
from ingest.dropped import MAX_TEXT, create_body, dropped_documents, dropped_id
from ingest.kafka import TP, Record
from ingest.progress import Progress, newest_by_partition, progress_body


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class Letter:
    record: Record
    reason: str
    detail: str


def test_dropped_documents_one_per_record_with_stable_ids() -> None:
    a = Letter(Rec("a-1", 2, 7, 1000, b"k\xff", b"xyz"), "invalid", "d" * 5000)
    b = Letter(Rec("a", 1, 2, 2000, None, None), "undecodable", "tombstone")
    docs = dropped_documents([a, b, a], now_ms=99)
    assert [doc_id for doc_id, _ in docs] == ["a-1-2", "a-1-2-7"]
    first = msgspec.json.decode(docs[0][1])
    assert first == {
        "topic": "a",
        "partition": 1,
        "offset": 2,
        "reason": "undecodable",
        "detail": "tombstone",
        "timestamp": 2000,
        "dropped_at": 99,
    }
    second = msgspec.json.decode(docs[1][1])
    assert len(second["detail"]) == MAX_TEXT
    assert second["key"] == "k\ufffd"
    assert second["size"] == 3
    assert dropped_id("t", 0, 5) == "t-0-5"
    lines = create_body(docs).splitlines()
    assert msgspec.json.decode(lines[0]) == {"create": {"_id": "a-1-2"}}
    assert lines[1] == docs[0][1]
    assert len(lines) == 4


def test_newest_by_partition_reads_log_timestamps_and_skips_rejected() -> None:
    e1 = decode_event(
        b'{"id":"a","timestamp":"2026-03-01T00:00:01.5Z"}', timestamp_ms=0, max_bytes=9999
    )
    e2 = decode_event(
        b'{"id":"a","timestamp":"2026-03-01T02:00:00+02:00"}', timestamp_ms=0, max_bytes=9999
    )
    e3 = decode_event(b'{"id":"b","status":"success"}', timestamp_ms=0, max_bytes=9999)
    e4 = decode_event(
        b'{"id":"c","timestamp":"2027-01-01T00:00:00Z"}', timestamp_ms=0, max_bytes=9999
    )
    records = {
        "a": [Rec("t", 0, 1, 0, None, None), Rec("t", 1, 1, 0, None, None)],
        "b": [Rec("t", 1, 2, 0, None, None)],
        "c": [Rec("t", 0, 3, 0, None, None)],
    }
    events = {"a": [e1, e2], "b": [e3], "c": [e4]}
    newest = newest_by_partition(events, records, skip={"c"})
    base = 1772323200 * 1_000_000_000  # 2026-03-01T00:00:00Z
    assert newest == {TP("t", 0): base + 1_500_000_000, TP("t", 1): base}


async def test_progress_writes_at_most_once_per_interval_and_trails() -> None:
    bodies: list[bytes] = []

    async def write(body: bytes) -> None:
        bodies.append(body)

    progress = Progress(write, "g", interval=0.2)
    progress.committed({TP("t", 0): 5}, lambda tp: 9)
    await asyncio.sleep(0.05)
    assert len(bodies) == 1  # the first write is immediate
    progress.committed({TP("t", 0): 7}, lambda tp: 9)
    progress.committed({TP("t", 1): 3}, lambda tp: None)
    await asyncio.sleep(0.05)
    assert len(bodies) == 1  # throttled
    await asyncio.sleep(0.25)
    assert len(bodies) == 2  # the trailing write carries the latest state
    lines = [msgspec.json.decode(line) for line in bodies[1].splitlines()]
    assert [line["update"]["_id"] for line in lines[::2]] == ["t-0", "t-1"]
    assert lines[1]["upsert"]["committed_offset"] == 7
    assert lines[1]["upsert"]["lag"] == 2
    assert "lag" not in lines[3]["upsert"]
    await progress.close()
    assert len(bodies) == 2  # nothing pending at close


async def test_progress_failed_write_is_retried_and_close_flushes() -> None:
    bodies: list[bytes] = []
    failures = [RuntimeError("down")]

    async def write(body: bytes) -> None:
        if failures:
            raise failures.pop()
        bodies.append(body)

    progress = Progress(write, "g", interval=0.05)
    progress.committed({TP("t", 0): 1}, lambda tp: 1)
    await asyncio.sleep(0.2)
    assert len(bodies) == 1
    assert b'"committed_offset":1' in bodies[0]
    progress.committed({TP("t", 0): 2}, lambda tp: 2)
    await progress.close()
    assert len(bodies) == 2


def test_progress_body_keeps_the_newest_time_by_script() -> None:
    from ingest.progress import PartitionProgress

    doc = PartitionProgress(
        topic="t", partition=0, consumer_group="g", committed_offset=1, updated_at=5
    )
    meta, action = (msgspec.json.decode(line) for line in progress_body([doc]).splitlines())
    assert meta == {"update": {"_id": "t-0", "retry_on_conflict": 3}}
    assert "newest_event_ns" in action["script"]["source"]
    assert action["upsert"] == action["script"]["params"]["doc"]


async def test_progress_close_during_a_write_still_writes_it() -> None:
    bodies: list[bytes] = []
    started = asyncio.Event()
    slow = [True]

    async def write(body: bytes) -> None:
        if slow.pop() if slow else False:
            started.set()
            await asyncio.sleep(10)
        bodies.append(body)

    progress = Progress(write, "g", interval=0.05)
    progress.committed({TP("t", 0): 4}, lambda tp: 4)
    await started.wait()
    await progress.close()  # cancels the slow write; its state is written at close
    assert len(bodies) == 1
    assert b'"committed_offset":4' in bodies[0]
