"""The live tail's pure core (:mod:`api.stream`) and the ``/ws`` Origin rule."""

from __future__ import annotations

import base64
import json
from typing import Any, cast

import msgspec
import pytest

from api.filters import LogFilter
from api.live import LiveHub
from api.origins import origin_allowed
from api.parsing import InvalidParameter
from api.settings import ApiSettings
from api.store import LogStore
from api.stream import (
    HEARTBEAT,
    Change,
    build_changes,
    build_matching,
    build_replay,
    current_window,
    decode_token,
    encode_token,
    filter_key,
    operation,
    parse_changes,
    parse_matching,
    parse_replay,
    parse_stream,
    sse_event,
    sse_reset,
    ws_frame,
)
from shared.errors import StoreUnavailable

NOW = 1_800_000_000_000_000_000
HOUR = 3600


def decode(token: str) -> Change:
    return decode_token(token, now_ns=NOW, max_age_s=HOUR)


def refused(call: Any) -> InvalidParameter:
    with pytest.raises(InvalidParameter) as caught:
        call()
    return caught.value


def test_a_token_names_its_change_and_survives_a_restart() -> None:
    change = Change(NOW - 5, "team/a b é")
    token = encode_token(change)
    assert decode(token) == change
    assert encode_token(change) == token  # no process state: the same after a restart
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "!!!!", "é", base64.urlsafe_b64encode(b'[1,2,"x"]').decode()],
)
def test_a_malformed_token_is_a_400_naming_last_event_id(token: str) -> None:
    assert refused(lambda: decode(token)).param == "last_event_id"


def test_an_altered_token_is_refused() -> None:
    token = encode_token(Change(NOW - 5, "a"))
    blob = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    blob[-3] = ord("b")  # ...,"a"] -> ...,"b"]  with the old checksum
    altered = base64.urlsafe_b64encode(bytes(blob)).decode()
    assert refused(lambda: decode(altered)).param == "last_event_id"


def test_a_token_too_old_is_refused_saying_so() -> None:
    old = encode_token(Change(NOW - (HOUR + 1) * 1_000_000_000, "a"))
    error = refused(lambda: decode(old))
    assert error.param == "last_event_id"
    assert "too old" in error.message


@pytest.mark.parametrize("name", ["limit", "offset", "cursor", "sort_by", "order", "bogus"])
def test_stream_parameters_are_the_list_filters_only(name: str) -> None:
    error = refused(lambda: parse_stream({name: ["1"]}, None, now_ns=NOW, max_age_s=HOUR))
    assert error.param == name


def test_filters_and_metadata_are_accepted() -> None:
    request = parse_stream(
        {"providers": ["openai"], "metadata_env": ["prod"]}, None, now_ns=NOW, max_age_s=HOUR
    )
    assert request.filter.values("provider") == ("openai",)
    assert request.filter.metadata == (("env", "prod"),)
    assert request.resume is None


def test_the_header_wins_over_the_parameter() -> None:
    header, query = Change(NOW - 2, "h"), Change(NOW - 1, "q")
    raw = {"last_event_id": [encode_token(query)]}
    both = parse_stream(raw, encode_token(header), now_ns=NOW, max_age_s=HOUR)
    assert both.resume == header
    assert parse_stream(raw, None, now_ns=NOW, max_age_s=HOUR).resume == query
    assert parse_stream({}, "", now_ns=NOW, max_age_s=HOUR).resume is None


def test_a_period_window_slides_and_shares_its_key() -> None:
    a = parse_stream({"period": ["1h"]}, None, now_ns=NOW, max_age_s=HOUR).filter
    b = parse_stream({"period": ["1h"]}, None, now_ns=NOW + 10, max_age_s=HOUR).filter
    assert filter_key(a) == filter_key(b)
    later = current_window(a, NOW + 60_000_000_000)
    assert later.end_ns == NOW + 60_000_000_000
    assert later.start_ns == later.end_ns - 3600 * 1_000_000_000
    fixed = LogFilter(start_ns=1, end_ns=2)
    assert current_window(fixed, NOW) is fixed


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        (
            {
                "status": "processing",
                "created_at": "2026-01-01T00:00:00Z",
                "timestamp": "2026-01-01T00:00:00.000Z",
            },
            "create",
        ),
        (
            {
                "status": "processing",
                "created_at": "2026-01-01T00:00:00Z",
                "timestamp": "2026-01-01T00:00:01Z",
            },
            "update",
        ),
        (
            {
                "status": "success",
                "created_at": "2026-01-01T00:00:00Z",
                "timestamp": "2026-01-01T00:00:00Z",
            },
            "update",
        ),
        ({"status": "processing"}, "update"),
        ({"status": "processing", "created_at": "bad", "timestamp": "bad"}, "update"),
    ],
)
def test_operation_follows_bifrosts_rule(log: dict[str, Any], expected: str) -> None:
    assert operation(msgspec.Raw(json.dumps(log).encode())) == expected


def test_an_event_is_one_sse_record_even_for_pretty_printed_json() -> None:
    log = msgspec.Raw(b'{"id": "a",\n "status": "success",\r\n "note": "x\\ny"}')
    change = Change(NOW, "a")
    event = sse_event(change, log)
    assert event.endswith(b"\n\n")
    lines = event[:-2].split(b"\n")
    assert lines[0] == b"id: " + encode_token(change).encode()
    assert lines[1] == b"event: log"
    assert len(lines) == 3
    assert lines[2].startswith(b"data: ")
    data = json.loads(lines[2][len(b"data: ") :])
    log_back = {"id": "a", "status": "success", "note": "x\ny"}
    assert data == {"operation": "update", "log": log_back}
    assert sse_reset("why") == b'event: reset\ndata: {"reason":"why"}\n\n'
    assert HEARTBEAT == b": heartbeat\n\n"


def test_a_ws_frame_is_bifrosts_envelope() -> None:
    frame = json.loads(ws_frame(msgspec.Raw(b'{"id":"a","status":"error"}')))
    assert frame == {
        "type": "log",
        "operation": "update",
        "payload": {"id": "a", "status": "error"},
    }


def test_polling_bodies() -> None:
    changes = build_changes(NOW, 10, Change(NOW, "a"))
    assert changes["search_after"] == [NOW, "a"]
    assert changes["_source"] is False
    [since] = changes["query"]["bool"]["filter"]
    assert since["range"]["indexed_at"]["gte"].endswith(".000000000Z")
    f = LogFilter(filters=(("provider", ("openai",)),))
    matching = build_matching(f, ["a", "b"])
    assert {"ids": {"values": ["a", "b"]}} in matching["query"]["bool"]["filter"]
    assert {"terms": {"provider": ["openai"]}} in matching["query"]["bool"]["filter"]
    replay = build_replay(f, Change(NOW, "a"), 5)
    assert replay["search_after"] == [NOW, "a"]
    assert {"terms": {"provider": ["openai"]}} in replay["query"]["bool"]["filter"]


def test_parsing_answers() -> None:
    answer = json.dumps(
        {
            "hits": {
                "hits": [
                    {"_id": "a", "sort": [5, "a"], "_source": {"id": "a"}},
                    {"_id": "b", "sort": [6, "b"]},
                ]
            }
        }
    ).encode()
    assert parse_changes(answer) == [Change(5, "a"), Change(6, "b")]
    assert {k: bytes(v) for k, v in parse_matching(answer).items()} == {"a": b'{"id": "a"}'}
    [(change, log)] = parse_replay(answer)
    assert (change, bytes(log)) == (Change(5, "a"), b'{"id": "a"}')


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "expected"),
    [
        (None, "localhost:8080", [], True),
        (None, "127.0.0.1", [], True),
        (None, "[::1]:8080", [], True),
        (None, None, [], True),
        (None, "heimdall.example.com", [], False),
        (None, "heimdall.example.com", ["*"], False),
        ("http://localhost:3000", "heimdall.example.com", [], True),
        ("http://127.0.0.1", "x", [], True),
        ("http://[::1]:5173", "x", [], True),
        ("https://ui.example.com", "x", [], False),
        ("https://ui.example.com", "x", ["https://ui.example.com"], True),
        ("https://ui.example.com", "x", ["*"], True),
        ("https://a.example.com", "x", ["https://*.example.com"], True),
        ("https://example.com", "x", ["https://*.example.com"], False),
        ("https://a.example.com.evil.io", "x", ["https://*.example.com"], False),
        ("http://a.example.com", "x", ["https://*.example.com"], False),
        ("null", "x", ["https://ui.example.com"], False),
        ("https://localhost.evil.io", "x", [], False),
    ],
)
def test_the_ws_origin_rule(
    origin: str | None, host: str | None, allowed: list[str], expected: bool
) -> None:
    assert origin_allowed(origin, host, allowed) is expected


class _FlakyStore:
    """A log store whose changes are fixed and whose first matching ``_msearch`` fails
    (OpenSearch answered 429), as the live tail's poller sees it."""

    def __init__(self, changes: list[Change]) -> None:
        self.changes = changes
        self.failures = 1

    async def query(self, what: str, body: dict[str, Any]) -> bytes:
        hits = [{"_id": c.id, "sort": [c.marker, c.id]} for c in self.changes]
        return json.dumps({"hits": {"hits": hits[: body["size"]]}}).encode()

    async def multi_query(self, what: str, bodies: list[dict[str, Any]]) -> list[bytes]:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("OpenSearch answered 429 in _msearch")
        answers = []
        for body in bodies:
            [ids] = [c["ids"]["values"] for c in body["query"]["bool"]["filter"] if "ids" in c]
            hits = [{"_id": i, "_source": {"id": i}} for i in ids]
            answers.append(json.dumps({"hits": {"hits": hits}}).encode())
        return answers


async def test_a_change_whose_matching_failed_is_sent_at_the_next_poll() -> None:
    store = _FlakyStore([Change(NOW, "old")])
    # Polled by hand here: the hub's own round would come only in an hour.
    hub = LiveHub(cast("LogStore", store), ApiSettings(api_stream_poll_seconds=3600))
    subscriber = hub.subscribe(LogFilter())
    try:
        assert await hub.ready(5)
        store.changes.append(Change(NOW + 1, "new"))
        with pytest.raises(StoreUnavailable):
            await hub.poll()  # found, but not matched: not delivered
        await hub.poll()
        got = await subscriber.next(1)
        assert got is not None
        assert got[0] == Change(NOW + 1, "new")
        await hub.poll()  # delivered once only
        assert await subscriber.next(0.05) is None
    finally:
        hub.unsubscribe(subscriber)
        await hub.close()
