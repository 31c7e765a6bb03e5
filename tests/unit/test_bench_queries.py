"""The query benchmark's pure parts: the corpus and Bifrost's SQL (run on a real SQLite)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import timedelta

import msgspec
import pytest

from bench.bifrost_sql import (
    Search,
    content_summary,
    create_statements,
    histogram_statements,
    index_statements,
    list_statements,
    row,
    sqlite_insert,
    sqlite_time,
    stats_statements,
)
from bench.classes import classes
from bench.corpus import END, START, VOCABULARY_SIZE, WORDS, generate
from bench.heimdall import sources


def test_corpus_is_deterministic_and_realistic() -> None:
    logs = list(generate(600))
    assert [log.final for log in logs] == [log.final for log in generate(600)]
    assert len(WORDS) == len(set(WORDS)) == VOCABULARY_SIZE
    statuses = Counter(log.final["status"] for log in logs)
    assert set(statuses) == {"success", "error", "cancelled", "processing"}
    assert any("parent_request_id" in log.final for log in logs)
    assert any(log.final["status"] == "success" and "cost" not in log.final for log in logs)
    times = [log.final["timestamp"] for log in logs]
    assert times == sorted(times)
    assert START.isoformat()[:10] <= times[0]
    assert times[-1] <= END.isoformat().replace("+00:00", "Z")
    words = Counter(w for log in logs[:200] for w in content_summary(log.final).split())
    # Zipf: the most frequent word is far more frequent than a mid-rank one.
    assert words["the"] > 20 * max(words[WORDS[999]], 1)
    size = sum(len(msgspec.json.encode(log.final)) for log in logs) / len(logs)
    assert 3000 < size < 5000


def test_worker_sources_hold_the_final_entry() -> None:
    for log, action in zip(generate(50), sources(list(generate(50))), strict=True):
        stored = msgspec.json.decode(action.source)
        assert action.id == log.id
        for name, value in log.final.items():
            if name not in ("timestamp", "created_at"):
                assert stored[name] == value, name
        assert stored["timestamp"] == log.final["timestamp"]


@pytest.fixture
def sqlite_logs() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    for statement in create_statements("sqlite"):
        db.execute(statement)
    rows = [row(log.final) for log in generate(300)]
    db.executemany(
        sqlite_insert(),
        [tuple(sqlite_time(v) if hasattr(v, "tzinfo") else v for v in r.values()) for r in rows],
    )
    for statement in index_statements("sqlite"):
        db.execute(statement)
    return db


def test_bifrost_list_query_counts_and_orders(sqlite_logs: sqlite3.Connection) -> None:
    week = Search(start=END - timedelta(days=7), end=END, providers=("openai", "anthropic"))
    count, page = list_statements("sqlite", week)
    (total,) = sqlite_logs.execute(count).fetchone()
    expected = sum(
        1
        for log in generate(300)
        if log.final["provider"] in ("openai", "anthropic")
        and log.final["timestamp"] >= (END - timedelta(days=7)).isoformat()[:19]
    )
    assert total == expected > 0
    ids = [r[0] for r in sqlite_logs.execute(page).fetchall()]
    assert len(ids) == min(total, 50)
    (_, page_asc) = list_statements("sqlite", Search(order="asc", limit=5))
    first = [r[0] for r in sqlite_logs.execute(page_asc).fetchall()]
    assert first == [log.id for log in generate(300)][:5]


def test_bifrost_stats_and_histogram_run(sqlite_logs: sqlite3.Connection) -> None:
    s = Search(start=START, end=END)
    count, aggregate = stats_statements("sqlite", s)
    (total,) = sqlite_logs.execute(count).fetchone()
    completed, success, *_ = sqlite_logs.execute(aggregate).fetchone()
    assert total == 300
    assert 0 < success < completed < total
    (histogram,) = histogram_statements("sqlite", s)
    buckets = sqlite_logs.execute(histogram).fetchall()
    assert sum(b[1] for b in buckets) == completed


def test_every_class_has_sql_for_every_store() -> None:
    for qc in classes():
        for dialect in ("postgres", "sqlite", "clickhouse"):
            assert qc.sql(dialect, qc.search)
        assert qc.direct_body(qc.params)["query"]
