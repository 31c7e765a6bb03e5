"""The page-load benchmark's pure parts: view URLs, API call names, medians and the table."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from bench.corpus import END, START
from bench.page_load import (
    VIEWS,
    Ready,
    Samples,
    call_name,
    calls_table,
    median,
    table,
    view_url,
)


def test_view_urls_carry_the_api_parameters() -> None:
    assert view_url("http://127.0.0.1:9", {}) == "http://127.0.0.1:9/"
    url = view_url("http://127.0.0.1:9", {"providers": "openai", "status": "error"})
    assert parse_qs(urlsplit(url).query) == {"providers": ["openai"], "status": ["error"]}


def test_the_30_day_view_is_the_corpus_window() -> None:
    (view,) = [v for v in VIEWS if v.name.startswith("30 d")]
    assert view.query == {
        "start_time": START.isoformat().replace("+00:00", "Z"),
        "end_time": END.isoformat().replace("+00:00", "Z"),
    }
    assert (END - START).days == 30


def test_every_view_is_a_load_a_click_or_the_rest_of_the_click_before() -> None:
    assert VIEWS[0].query == {}, "the clicks start from the default page"
    previous = None
    for view in VIEWS:
        assert not (view.query is not None and view.click is not None)
        if view.query is None and view.click is None:
            assert previous is not None, view.name
            assert previous.click is not None, view.name
        previous = view


def test_ready_is_sent_to_the_page_with_every_condition() -> None:
    arg = Ready(status="error", after_row=50).js_arg()
    assert arg["status"] == "error"
    assert arg["afterRow"] == 50
    assert arg["tiles"] is True
    assert arg["charts"] is True
    assert arg["detail"] is None


def test_call_names_drop_the_query_and_the_log_id() -> None:
    base = "http://127.0.0.1:9"
    assert call_name(f"{base}/api/logs?limit=50&sort_by=cost") == "/api/logs"
    assert call_name(f"{base}/api/logs/histogram/cost?x=1") == "/api/logs/histogram/cost"
    assert call_name(f"{base}/api/logs/stats?compare_to_previous=true") == "/api/logs/stats"
    assert call_name(f"{base}/api/logs/00000007-abc") == "/api/logs/{id}"
    assert call_name(f"{base}/api/logs/00000007-abc/similar?limit=5") == "/api/logs/{id}/similar"
    assert call_name(f"{base}/api/logs/sessions/00000007-abc?limit=100") == (
        "/api/logs/sessions/{id}"
    )


def test_median() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5


def test_samples_name_the_slowest_call_by_its_median() -> None:
    s = Samples()
    base = "http://h/api/logs"
    s.add(0.5, [(f"{base}?limit=50", 0.1), (f"{base}/stats?a=1", 0.9)])
    s.add(0.7, [(f"{base}?limit=50", 0.3), (f"{base}/stats?a=1", 0.2)])
    s.add(0.6, [(f"{base}?limit=50", 0.2), (f"{base}/stats?a=1", 0.1)])
    assert s.p50() == 0.6
    assert s.slowest_call() == ("/api/logs", 0.2)
    assert Samples().slowest_call() is None


def test_table_has_p50_max_ratio_and_the_slowest_call_per_view() -> None:
    results = {n: {v.name: Samples() for v in VIEWS} for n in (100, 1000)}
    for n, scale in ((100, 1.0), (1000, 3.0)):
        for v in VIEWS:
            for t in (0.1, 0.2, 0.4):
                results[n][v.name].add(t * scale, [("http://h/api/logs/stats", t * scale / 2)])
    lines = table(results, [100, 1000]).splitlines()
    assert lines[0] == (
        "| view | 100 logs p50 / max | 1,000 logs p50 / max | p50 ratio 1,000 / 100 "
        "| slowest API call at 1,000 (p50) |"
    )
    assert len(lines) == 2 + len(VIEWS)
    assert lines[2] == (
        "| default page (all logs) | 200 ms / 400 ms | 600 ms / 1,200 ms "
        "| 3.0\N{MULTIPLICATION SIGN} | `/api/logs/stats` 300 ms |"
    )


def test_table_of_one_size_has_no_ratio_and_unmeasured_views_say_so() -> None:
    results = {5: {v.name: Samples() for v in VIEWS}}
    lines = table(results, [5]).splitlines()
    assert lines[0] == "| view | 5 logs p50 / max | slowest API call at 5 (p50) |"
    assert lines[2] == "| default page (all logs) | n/a | \N{EN DASH} |"


def test_calls_table_lists_each_views_calls_slowest_first() -> None:
    samples = {v.name: Samples() for v in VIEWS}
    samples[VIEWS[0].name].add(
        1.0, [("http://h/api/logs?limit=50", 0.05), ("http://h/api/logs/histogram/latency", 0.9)]
    )
    lines = calls_table(samples, 1000).splitlines()
    assert lines[0] == "| view, 1,000 logs | API calls, p50 |"
    assert lines[2] == (
        "| default page (all logs) | `/api/logs/histogram/latency` 900 ms, `/api/logs` 50 ms |"
    )
    assert lines[3].endswith("| \N{EN DASH} |")
