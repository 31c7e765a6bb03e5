"""The OpenSearch adapter's request shapes and failure classification (fake transport)."""

from __future__ import annotations

from typing import Any, cast

import msgspec
import pytest
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, NotFoundError, TransportError

from ingest.decode import REJECTED
from ingest.merge import LogState, to_source
from ingest.plan import Action
from ingest.store import Store, StoreFailure
from shared.errors import DocumentRejected, StoreUnavailable
from shared.settings import OpenSearchSettings


class FakeTransport:
    def __init__(self, *responses: str | Exception) -> None:
        self.responses = list(responses)
        self.calls: list[tuple[str, str, bytes | None]] = []

    async def perform_request(
        self, method: str, url: str, body: bytes | None = None, **_: Any
    ) -> str:
        self.calls.append((method, url, body))
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        return response


class FakeClient:
    def __init__(self, transport: FakeTransport) -> None:
        self.transport = transport

    async def close(self) -> None:
        pass


def make_store(*responses: str | Exception) -> tuple[Store, FakeTransport]:
    transport = FakeTransport(*responses)
    client = cast(AsyncOpenSearch, FakeClient(transport))
    return Store(OpenSearchSettings(index_alias="logs"), client=client), transport


STATE = LogState(
    id="a",
    fields={"status": msgspec.Raw(b'"success"'), "raw_response": msgspec.Raw(b'{"x":[1,2]}')},
    versions={"status": "1:0000000000001000:ab", "raw_response": "1:0000000000001000:ab"},
)


async def test_fetch_is_one_mget_and_keeps_sources_raw() -> None:
    source = to_source(STATE).decode()
    store, transport = make_store(
        '{"docs":[{"_index":"logs-v1","_id":"a","_version":3,"_seq_no":12,"_primary_term":2,'
        f'"found":true,"_source":{source}}},'
        '{"_index":"logs-v1","_id":"b","found":false}]}'
    )
    found = await store.fetch(["a", "b"])
    assert transport.calls == [
        (
            "POST",
            "/logs/_mget",
            b'{"docs":[{"_index":"logs-v1","_id":"a"},{"_index":"logs-v1","_id":"b"}]}',
        )
    ]
    assert list(found) == ["a"]
    assert (found["a"].seq_no, found["a"].primary_term) == (12, 2)
    assert found["a"].state == STATE
    assert await store.fetch([]) == {}
    assert len(transport.calls) == 1


@pytest.mark.parametrize(
    "error",
    [
        OSConnectionError("N/A", "connection refused", None),
        ConnectionTimeout("TIMEOUT", "timed out", None),
        TransportError(503, "unavailable_shards_exception", {}),
        TransportError(429, "es_rejected_execution_exception", {}),
    ],
)
async def test_transient_failures_are_retriable(error: Exception) -> None:
    store, _ = make_store(error)
    with pytest.raises(StoreUnavailable) as caught:
        await store.fetch(["a"])
    assert caught.value.retriable
    assert "/_mget" in str(caught.value) or "_mget" in str(caught.value)


async def test_other_request_failures_are_fatal() -> None:
    store, _ = make_store(NotFoundError(404, "index_not_found_exception", {}))
    with pytest.raises(StoreFailure) as caught:
        await store.fetch(["a"])
    assert not caught.value.retriable
    assert not caught.value.dead_letter


async def test_shard_failure_in_mget_item_is_retriable() -> None:
    store, _ = make_store('{"docs":[{"_id":"a","error":{"type":"no_shard_available"}}]}')
    with pytest.raises(StoreUnavailable):
        await store.fetch(["a"])


ACTIONS = [
    Action(op="create", id="ok", source=b'{"id":"ok"}'),
    Action(op="index", id="raced", source=b'{"id":"raced"}', if_seq_no=1, if_primary_term=1),
    Action(op="create", id="bad", source=b'{"id":"bad"}'),
]


async def test_write_classifies_every_item() -> None:
    store, transport = make_store(
        '{"took":3,"errors":true,"items":['
        '{"create":{"_index":"logs-v1","_id":"ok","status":201,"_seq_no":0}},'
        '{"index":{"_index":"logs-v1","_id":"raced","status":409,'
        '"error":{"type":"version_conflict_engine_exception","reason":"conflict"}}},'
        '{"create":{"_index":"logs-v1","_id":"bad","status":400,'
        '"error":{"type":"mapper_parsing_exception","reason":"failed to parse [timestamp]"}}}'
        "]}"
    )
    result = await store.write(ACTIONS)
    assert transport.calls[0][:2] == ("POST", "/logs/_bulk")
    assert transport.calls[0][2] is not None
    assert transport.calls[0][2].count(b"\n") == 6
    assert result.written == ["ok"]
    assert result.conflicts == ["raced"]
    assert list(result.rejected) == ["bad"]
    rejected = result.rejected["bad"]
    assert isinstance(rejected, DocumentRejected)
    assert rejected.dead_letter
    assert rejected.reason == REJECTED
    assert "mapper_parsing_exception" in rejected.detail


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_transient_item_failure_fails_the_write(status: int) -> None:
    store, _ = make_store(
        '{"took":3,"errors":true,"items":['
        '{"create":{"_id":"ok","status":201}},'
        f'{{"create":{{"_id":"bad","status":{status},"error":{{"type":"x","reason":"y"}}}}}}'
        "]}"
    )
    with pytest.raises(StoreUnavailable):
        await store.write(ACTIONS[:2])


async def test_empty_write_sends_nothing() -> None:
    store, transport = make_store()
    result = await store.write([])
    assert result.written == []
    assert transport.calls == []
