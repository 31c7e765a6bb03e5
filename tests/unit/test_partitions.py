"""Partition naming, routing and the lifecycle plan (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec
import pytest

from ingest.decode import LogEvent, decode_event
from ingest.lease import free
from ingest.lifecycle import CONTENT_FIELDS, ism_policy, plan
from ingest.plan import Action, bulk_body
from ingest.plan import plan as plan_writes
from ingest.router import Router, record_ms, wanted_key, wanted_keys
from ingest.store import Store
from shared.index import _INDEXED, SEARCH_TEXT, TOTAL_TOKENS
from shared.partitions import (
    cutoff_key,
    day_of_timestamp,
    is_expired,
    key_of_day,
    key_of_ms,
    key_of_ns,
    parse_partition,
    partition_index,
)
from shared.settings import OpenSearchSettings


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-11-24T23:59:59.999999999Z", date(2026, 11, 24)),
        ("2026-11-24T20:00:00-05:00", date(2026, 11, 25)),  # UTC decides
        ("2026-11-25T00:30:00.1+01:00", date(2026, 11, 24)),
        ("2026-11-25T00:00:00Z", date(2026, 11, 25)),
    ],
)
def test_the_utc_day_of_a_timestamp(text: str, day: date) -> None:
    assert day_of_timestamp(text) == day


@pytest.mark.parametrize("text", ["yesterday", "2026-11-25T00:00:00", ""])
def test_an_unreadable_or_offsetless_timestamp_has_no_day(text: str) -> None:
    assert day_of_timestamp(text) is None


def test_keys_name_the_first_day_of_their_bucket() -> None:
    assert key_of_day(date(2026, 11, 25), 1) == "2026.11.25"
    weekly = {key_of_day(date(2026, 11, d), 7) for d in range(1, 31)}
    assert len(weekly) in (5, 6)
    assert all(key_of_day(key_date_of(k), 7) == k for k in weekly)
    assert key_of_ms(ms("2026-11-25T23:59:59.999+00:00"), 1) == "2026.11.25"
    assert key_of_ns(ms("2026-11-26T00:00:00+00:00") * 1_000_000, 1) == "2026.11.26"


def key_date_of(key: str) -> date:
    return datetime.strptime(key, "%Y.%m.%d").replace(tzinfo=UTC).date()


def test_partition_names_parse_back_and_nothing_else_does() -> None:
    name = partition_index("logs", "2026.11.25", 3)
    assert name == "logs-v3-2026.11.25"
    assert parse_partition("logs", name) == (3, "2026.11.25")
    for other in ("logs-v3", "logs-ids", "logs-lifecycle", "logsx-v3-2026.11.25", "logs-dropped"):
        assert parse_partition("logs", other) is None


def test_a_partition_expires_only_once_its_whole_bucket_is_past_retention() -> None:
    today = date(2026, 11, 25)
    assert cutoff_key(today, 10, 1) == "2026.11.15"
    assert is_expired("2026.11.14", today, 10, 1)
    assert not is_expired("2026.11.15", today, 10, 1)  # holds logs younger than 10 days
    assert not is_expired("2000.01.01", today, 0, 1)  # 0: forever


def event(value: dict[str, object], at: str) -> LogEvent:
    return decode_event(msgspec.json.encode(value), timestamp_ms=ms(at), max_bytes=1 << 20)


def test_a_log_wants_the_partition_of_its_timestamp_else_of_its_first_record() -> None:
    create = event(
        {"id": "a", "status": "processing", "timestamp": "2026-11-24T23:59:59.9Z"},
        "2026-11-24T23:59:59.950+00:00",
    )
    finish = event({"id": "a", "status": "success"}, "2026-11-25T00:00:02+00:00")
    correction = event({"id": "a", "cost": 1.0}, "2026-11-27T10:00:00+00:00")
    assert record_ms(finish) == ms("2026-11-25T00:00:02+00:00")
    assert wanted_key([finish, create, correction], 1) == "2026.11.24"
    assert wanted_key([correction, finish], 1) == "2026.11.25"
    assert wanted_keys({"a": [correction], "b": []}, 1) == {"a": "2026.11.27"}


def test_a_timestamp_from_a_broken_clock_does_not_create_a_partition_of_its_own() -> None:
    sent = "2026-11-25T10:00:00+00:00"
    tomorrow = event({"id": "a", "timestamp": "2026-11-26T09:00:00Z"}, sent)
    assert wanted_key([tomorrow], 1) == "2026.11.26"  # within a day: its own day
    future = event({"id": "a", "timestamp": "2262-01-01T00:00:00Z"}, sent)
    assert wanted_key([future], 1) == "2026.11.25"  # the record's day instead


def test_new_logs_are_created_in_their_home_and_stored_ones_where_they_are() -> None:
    create = event({"id": "a", "model": "m"}, "2026-11-25T00:00:00+00:00")
    todo = plan_writes({"a": [create]}, {}, {"a": "logs-v1-2026.11.25"})
    assert [(a.op, a.index) for a in todo.actions] == [("create", "logs-v1-2026.11.25")]
    body = bulk_body([Action(op="create", id="a", source=b"{}", index="logs-v1-2026.11.25")])
    assert body == b'{"create":{"_id":"a","_index":"logs-v1-2026.11.25"}}\n{}\n'
    assert bulk_body([Action(op="create", id="a", source=b"{}")]) == b'{"create":{"_id":"a"}}\n{}\n'


def test_the_lifecycle_plan() -> None:
    names = [
        "logs-v1",
        "logs-ids",
        "logs-v1-2026.10.01",
        "logs-v1-2026.11.10",
        "logs-v1-2026.11.20",
        "logs-v1-2026.11.24",
        "logs-v2-2026.11.01",
    ]
    todo = plan(
        names,
        alias="logs",
        today=date(2026, 11, 25),
        partition_days=1,
        retention_days=30,
        content_retention_days=3,
        stripped={"logs-v1-2026.11.10"},
    )
    assert todo.delete == ["logs-v1-2026.10.01"]
    assert todo.strip == ["logs-v1-2026.11.20", "logs-v2-2026.11.01"]
    assert todo.purge_below == "2026.09.26"
    nothing = plan(
        names,
        alias="logs",
        today=date(2026, 11, 25),
        partition_days=1,
        retention_days=0,
        content_retention_days=0,
        stripped=set(),
    )
    assert (nothing.delete, nothing.strip, nothing.purge_below) == ([], [], None)


def test_content_retention_keeps_every_queried_field() -> None:
    assert SEARCH_TEXT in CONTENT_FIELDS
    assert "input_history" in CONTENT_FIELDS
    assert not set(CONTENT_FIELDS) & set(_INDEXED)
    assert TOTAL_TOKENS not in CONTENT_FIELDS
    assert "token_usage" not in CONTENT_FIELDS
    assert "cache_debug" not in CONTENT_FIELDS  # cache_hit_type is derived from it


def test_a_lease_is_free_when_absent_expired_or_ours() -> None:
    assert free(None, "a", 10)
    assert free({"holder": "b", "expires_at": 10}, "a", 10)
    assert free({"holder": "a", "expires_at": 99}, "a", 10)
    assert not free({"holder": "b", "expires_at": 11}, "a", 10)


def test_the_ism_policy_deletes_after_retention() -> None:
    policy = ism_policy(alias="logs", partition_days=1, retention_days=30, content_retention_days=0)
    states = policy["policy"]["states"]
    assert states[0]["transitions"] == [
        {"state_name": "delete", "conditions": {"min_index_age": "31d"}}
    ]
    assert states[1]["actions"] == [{"delete": {}}]
    assert policy["policy"]["ism_template"][0]["index_patterns"] == ["logs-v1-*"]
    keep = ism_policy(alias="logs", partition_days=1, retention_days=0, content_retention_days=0)
    assert len(keep["policy"]["states"]) == 1


def test_joining_two_stored_states_holds_every_event_of_both() -> None:
    from ingest.merge import join, merge_all

    events = [
        event({"id": "a", "status": "processing", "model": "m"}, "2026-11-25T00:00:00+00:00"),
        event({"id": "a", "status": "success", "cost": 1.0}, "2026-11-25T00:00:01+00:00"),
        event({"id": "a", "cost": 2.0}, "2026-11-25T00:01:00+00:00"),
    ]
    whole = merge_all(None, events)
    first = merge_all(None, events[:2])
    last = merge_all(None, events[1:])
    assert whole is not None
    assert first is not None
    assert last is not None
    assert join(first, last) == whole
    assert join(last, first) == whole
    assert join(whole, first) == whole  # idempotent: copying again changes nothing


async def test_a_remembered_home_is_used_only_while_it_is_a_live_partition_of_the_version() -> None:
    store = Store(OpenSearchSettings(index_alias="logs"))
    try:
        router = Router(store, partition_days=1, retention_days=7)
        today = date(2026, 11, 25)
        assert router.usable("logs-v1", today)  # the write index (a legacy log)
        assert router.usable("logs-v1-2026.11.25", today)
        assert router.usable("logs-v1-2026.11.18", today)  # its bucket ended 7 days ago: kept
        assert not router.usable("logs-v1-2026.11.17", today)  # past retention: ask
        assert not router.usable("logs-v2-2026.11.25", today)  # another mapping version
        assert not router.usable("other-v1-2026.11.25", today)
        store.use_version(2)
        assert router.usable("logs-v2-2026.11.25", today)
        assert not router.usable("logs-v1-2026.11.25", today)
        assert not router.usable("logs-v1", today)
        assert Router(store, partition_days=1, retention_days=0).usable("logs-v2-2000.01.01", today)
    finally:
        await store.close()
