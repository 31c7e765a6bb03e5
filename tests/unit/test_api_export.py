"""The export's pure core (:mod:`api.export`), and the new routes in the app: documented in
the OpenAPI document, strict about bad input (answered before OpenSearch is asked)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.export import (
    CSV_COLUMNS,
    CSV_PAYLOADS,
    build_page,
    csv_header,
    csv_row,
    filename,
    ndjson_line,
    parse_export,
)
from api.parsing import InvalidParameter
from api.query import LIST_EXCLUDES
from api.settings import ApiSettings

LOG: dict[str, Any] = {
    "id": "a,1",
    "timestamp": "2026-01-01T00:00:00Z",
    "status": "error",
    "provider": "openai",
    "model": 'gpt "4o"',
    "latency": 1e3,
    "cost": 0.25,
    "token_usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    "error_details": {"error": {"message": "line one\nline two"}},
    "input_history": [{"role": "user", "content": "hi, there"}],
    "raw_request": '{"model":"x"}',
    "search_text": "derived",
}


def raw(log: dict[str, Any]) -> msgspec.Raw:
    return msgspec.Raw(json.dumps(log).encode())


def refused(query: dict[str, list[str]]) -> str:
    with pytest.raises(InvalidParameter) as caught:
        parse_export(query)
    return caught.value.param


def test_parameters() -> None:
    assert refused({}) == "format"
    assert refused({"format": ["xml"]}) == "format"
    assert refused({"format": ["csv"], "cursor": ["x"]}) == "cursor"
    assert refused({"format": ["csv"], "highlight": ["true"]}) == "highlight"
    assert refused({"format": ["csv"], "payloads": ["perhaps"]}) == "payloads"
    assert refused({"format": ["csv"], "order": ["up"]}) == "order"
    e = parse_export(
        {"format": ["CSV"], "payloads": ["true"], "sort_by": ["cost"], "providers": ["openai"]}
    )
    assert (e.format, e.payloads, e.query.sort_by, e.query.order) == ("csv", True, "cost", "desc")
    assert e.query.values("provider") == ("openai",)


def test_page_bodies() -> None:
    ndjson = parse_export({"format": ["ndjson"]})
    body = build_page(ndjson, "pit", 100, [5, "a"])
    assert body["pit"] == {"id": "pit", "keep_alive": "2m"}
    assert body["search_after"] == [5, "a"]
    assert body["sort"][-1] == {"id": {"order": "asc"}}
    assert body["_source"] == {"excludes": LIST_EXCLUDES}
    assert "_source" not in build_page(
        parse_export({"format": ["ndjson"], "payloads": ["1"]}), "p", 1
    )
    table = build_page(parse_export({"format": ["csv"]}), "p", 1)["_source"]["excludes"]
    assert "total_tokens" not in table  # read by the CSV
    assert "raw_request" in table
    assert "search_text" in table


def test_ndjson_lines() -> None:
    plain = parse_export({"format": ["ndjson"]})
    line = ndjson_line(plain, msgspec.Raw(b'{"id": "a",\n "x": 1}'))
    assert line == b'{"id": "a",  "x": 1}\n'
    full = parse_export({"format": ["ndjson"], "payloads": ["true"]})
    decoded = json.loads(ndjson_line(full, raw(LOG)))
    assert "search_text" not in decoded  # derived fields never leave
    assert decoded["input_history"] == LOG["input_history"]


def test_csv_rows_follow_rfc_4180() -> None:
    e = parse_export({"format": ["csv"], "payloads": ["true"]})
    text = (csv_header(e) + csv_row(e, raw(LOG))).decode()
    assert text.endswith("\r\n")
    header, row = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(header) == (*CSV_COLUMNS, *CSV_PAYLOADS)
    cells = dict(zip(header, row, strict=True))
    assert cells["id"] == "a,1"
    assert cells["model"] == 'gpt "4o"'
    assert cells["latency"] == "1000.0"
    assert (cells["prompt_tokens"], cells["completion_tokens"], cells["total_tokens"]) == (
        "3",
        "4",
        "7",
    )
    assert cells["error"] == "line one\nline two"
    assert cells["virtual_key_id"] == ""
    assert json.loads(cells["input_history"]) == LOG["input_history"]
    assert cells["raw_request"] == '{"model":"x"}'
    assert cells["output_message"] == ""
    derived = {**LOG, "total_tokens": 70}
    assert (
        dict(
            zip(
                header,
                next(csv.reader(io.StringIO(csv_row(e, raw(derived)).decode()))),
                strict=True,
            )
        )["total_tokens"]
        == "70"
    )


def test_filename() -> None:
    assert filename(1_767_225_600_000_000_000, "csv") == "heimdall-logs-20260101T000000Z.csv"


@pytest.fixture(scope="module")
def client() -> Any:
    # Nothing listens on port 9: a request reaching OpenSearch would answer 503, not 400.
    app = create_app(ApiSettings(opensearch_url="http://127.0.0.1:9", index_alias="t-none"))
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize(
    ("path", "query", "param"),
    [
        ("/api/logs/export", {}, "format"),
        ("/api/logs/export", {"format": "csv", "bogus": "1"}, "bogus"),
        ("/api/logs/stream", {"limit": "1"}, "limit"),
        ("/api/logs/stream", {"min_latency": "x"}, "min_latency"),
        ("/api/logs/stream", {"last_event_id": "nope"}, "last_event_id"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(
    client: Any, path: str, query: dict[str, str], param: str
) -> None:
    response = client.get(path, params=query)
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["param"] == param
    assert body["status_code"] == 400


def test_a_bad_last_event_id_header_is_a_400(client: Any) -> None:
    response = client.get("/api/logs/stream", headers={"Last-Event-ID": "nope"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "last_event_id"


@pytest.mark.parametrize(
    ("path", "own"),
    [
        ("/api/logs/stream", {"last_event_id"}),
        ("/api/logs/export", {"format", "payloads", "sort_by", "order"}),
    ],
)
def test_the_routes_are_documented_with_every_filter(client: Any, path: str, own: set[str]) -> None:
    document = client.get("/docs/openapi.json").json()
    op = document["paths"][path]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert {"providers", "status", "start_time", "period", "content_search"} | own <= names
    assert not {"limit", "offset", "cursor"} & names
    assert {"200", "400", "401"} <= set(op["responses"])
    assert op["description"]
