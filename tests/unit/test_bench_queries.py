"""The query benchmark's pure parts: the corpus and Bifrost's SQL (run on a real SQLite)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import timedelta
from typing import Any

import msgspec
import pytest

from bench import bifrost_dashboards as bd
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
from bench.heimdall import homed, sources
from bench.queries import main
from bench.query_tables import HEIMDALL, Results, Timing, growth_table, ratio, table
from shared.index import MAPPING_VERSION
from shared.partitions import parse_partition


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
        if qc.has_direct:
            assert qc.direct_body(qc.params)["query"]


def test_bifrost_dashboard_queries_run_and_agree(sqlite_logs: sqlite3.Connection) -> None:
    s = Search(start=START, end=END)
    terminal = [
        log.final
        for log in generate(300)
        if log.final["status"] in ("success", "error", "cancelled")
    ]

    def rows(statements: list[str]) -> list[tuple[Any, ...]]:
        return [r for sql in statements for r in sqlite_logs.execute(sql).fetchall()]

    assert bd.bucket_seconds(s) == 86_400  # 30 days: daily buckets, as Bifrost's table says
    assert bd.bucket_seconds(Search(start=END - timedelta(days=1), end=END)) == 3_600
    tokens = sum(log.get("token_usage", {}).get("total_tokens", 0) for log in terminal)
    assert sum(int(r[3]) for r in rows(bd.tokens_histogram("sqlite", s))) == tokens
    by_provider = rows(bd.tokens_by_provider("sqlite", s))
    assert sum(int(r[4]) for r in by_provider) == tokens
    cost = sum(log.get("cost", 0) for log in terminal if log.get("cost", 0) > 0)
    assert sum(float(r[2]) for r in rows(bd.cost_histogram("sqlite", s))) == pytest.approx(cost)
    assert sum(float(r[2]) for r in rows(bd.cost_by_provider("sqlite", s))) == pytest.approx(cost)
    assert sum(int(r[2]) for r in rows(bd.model_histogram("sqlite", s))) == len(terminal)
    assert len(rows(bd.requests_histogram("sqlite", s))) <= 31
    with_latency = [log for log in terminal if log.get("latency") is not None]
    assert len(rows(bd.latency_histogram("sqlite", s))) == len(with_latency)
    assert len(rows(bd.latency_by_provider("sqlite", s))) == len(with_latency)
    current, previous = (sqlite_logs.execute(q).fetchall() for q in bd.model_rankings("sqlite", s))
    assert sum(int(r[3]) for r in current) == len(terminal)
    assert previous == []  # the corpus starts with the window
    keys = rows(bd.virtual_key_rankings("sqlite", s)[:1])
    assert sum(int(r[2]) for r in keys) == sum(1 for log in terminal if log.get("virtual_key_id"))
    models, selected, virtual = (
        sqlite_logs.execute(q).fetchall() for q in bd.filterdata("sqlite", bd.month_before(END))
    )
    assert [m for (m,) in models] == sorted({log.final["model"] for log in generate(300)})
    assert selected
    assert virtual


def test_logs_are_homed_in_the_daily_partition_of_their_timestamp() -> None:
    logs = list(generate(200))
    actions = homed("bench-q-x", logs)
    assert [a.id for a in actions] == [log.id for log in logs]
    assert [a.source for a in actions] == [a.source for a in sources(logs)]
    keys = set()
    for log, action in zip(logs, actions, strict=True):
        parsed = parse_partition("bench-q-x", action.index)
        assert parsed is not None
        version, key = parsed
        assert version == MAPPING_VERSION
        assert key == log.final["timestamp"][:10].replace("-", ".")  # the corpus is UTC ("Z")
        keys.add(key)
    assert len(keys) > 20  # 200 logs over the corpus's 30 days


TIMES = "\u00d7"


def test_ratios_name_the_faster_anchor_and_timeouts_as_bounds() -> None:
    def timing(*ms: float) -> Timing:
        return Timing(samples=[m / 1000 for m in ms])

    assert ratio(timing(10, 10, 12), [timing(20, 20), timing(40)]) == f"2.0{TIMES} faster"
    assert ratio(timing(30), [timing(20), timing(10)]) == f"3.0{TIMES} slower"
    assert ratio(timing(30), [Timing(timed_out=60.0)]) == f">2,000.0{TIMES} faster"
    assert ratio(Timing(), [timing(1)]) == "n/a"
    large: Results = {"page": {HEIMDALL: timing(20), "sqlite": Timing(timed_out=60.0)}}
    small: Results = {"page": {HEIMDALL: timing(10), "sqlite": timing(5)}}
    grown = growth_table(small, large, (100, 1000), ["sqlite"])
    assert grown.splitlines()[-1] == f"| page | 2.0{TIMES} | n/a | timeout |"
    row = "| page | 20.0 ms / 20.0 ms | (several requests) | > 60 s | "
    assert table(large, ["sqlite"]).endswith(row + f">3,000.0{TIMES} faster | n/a |")


def test_heimdall_aliases_are_one_per_size() -> None:
    with pytest.raises(SystemExit):
        main(["--logs", "1000", "--growth-from", "100", "--heimdall-alias", "only-one"])
    with pytest.raises(SystemExit):
        main(["--load-only"])
