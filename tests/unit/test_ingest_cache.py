"""The write cache: exact entries, bounded by bytes, forgotten by partition."""

from __future__ import annotations

from ingest.cache import WriteCache
from ingest.kafka import TP
from ingest.merge import from_source

P0, P1 = TP("logs", 0), TP("logs", 1)


def source(doc_id: str, size: int = 0) -> bytes:
    return b'{"id":"%s","model":"%s"}' % (doc_id.encode(), b"m" * size)


def test_an_entry_is_the_written_state_and_its_concurrency_token() -> None:
    cache = WriteCache(1 << 20)
    cache.put(P0, "a", source("a"), 12, 3)
    stored = cache.get("a")
    assert stored is not None
    assert (stored.seq_no, stored.primary_term) == (12, 3)
    assert stored.state == from_source("a", source("a"))
    assert cache.get("b") is None


def test_the_least_recently_written_go_first_when_over_budget() -> None:
    size = len(source("a", 100))
    cache = WriteCache(3 * size)
    for doc_id in "abcd":
        cache.put(P0, doc_id, source(doc_id, 100), 1, 1)
    assert [d for d in "abcd" if cache.get(d) is not None] == ["b", "c", "d"]
    cache.put(P0, "b", source("b", 100), 2, 1)  # rewritten: now the newest
    cache.put(P0, "e", source("e", 100), 1, 1)
    assert [d for d in "bcde" if cache.get(d) is not None] == ["b", "d", "e"]
    assert cache.bytes == 3 * size


def test_a_source_larger_than_the_budget_is_not_kept() -> None:
    cache = WriteCache(10)
    cache.put(P0, "a", source("a", 100), 1, 1)
    assert len(cache) == 0
    assert cache.bytes == 0


def test_revoked_partitions_are_forgotten() -> None:
    cache = WriteCache(1 << 20)
    cache.put(P0, "a", source("a"), 1, 1)
    cache.put(P1, "b", source("b"), 1, 1)
    cache.put(P1, "a", source("a"), 2, 1)  # the id's latest record moved partition
    cache.drop_partitions({P1})
    assert len(cache) == 0
    cache.put(P0, "c", source("c"), 1, 1)
    cache.drop_partitions({P1})
    assert cache.get("c") is not None
    cache.clear()
    assert (len(cache), cache.bytes) == (0, 0)


def test_a_home_outlives_its_source_but_not_a_new_mapping_version() -> None:
    cache = WriteCache(4096)
    assert cache.max_homes == 4
    cache.put(P0, "a", source("a", 100), 1, 1, "logs-v1-2026.11.20")
    cache.put(P0, "b", source("b", 100), 1, 1, "logs-v1-2026.11.21")
    cache.put(P0, "x", source("x"), 1, 1)  # the write index: no partition to remember
    cache.discard("a")  # a 409 or a rejected write: the source is gone, the home stays
    cache.drop_partitions({P0})  # revoked: likewise
    assert (cache.get("a"), cache.get("b"), len(cache)) == (None, None, 0)
    assert cache.homes(["a", "b", "x", "y"]) == {
        "a": "logs-v1-2026.11.20",
        "b": "logs-v1-2026.11.21",
    }
    cache.clear()
    assert cache.homes(["a", "b"]) == {}


def test_homes_are_bounded_least_recently_written_first_out() -> None:
    cache = WriteCache(2048)
    for doc_id in "abc":
        cache.put(P0, doc_id, source(doc_id), 1, 1, f"logs-v1-{doc_id}")
    assert list(cache.homes("abc")) == ["b", "c"]
    cache.put(P0, "b", source("b"), 2, 1, "logs-v1-b")  # rewritten: now the newest
    cache.put(P0, "d", source("d"), 1, 1, "logs-v1-d")
    assert list(cache.homes("abcd")) == ["b", "d"]


def test_a_disabled_cache_remembers_no_home() -> None:
    cache = WriteCache(0)
    cache.put(P0, "a", source("a"), 1, 1, "logs-v1-2026.11.20")
    assert cache.homes(["a"]) == {}
