"""The realtime single-log read: request body and response parsing (pure)."""

from __future__ import annotations

import msgspec
import pytest

from api.query import MgetFailed, alias_indices, build_mget, parse_mget


def test_the_id_travels_in_the_body() -> None:
    assert build_mget("team/a b") == {"ids": ["team/a b"]}


def test_the_id_is_asked_of_every_partition_newest_first() -> None:
    listing = b'{"logs-v1":{"aliases":{"logs":{}}},"logs-v1-2026.11.25":{"aliases":{"logs":{}}}}'
    indices = alias_indices(listing)
    assert indices == ["logs-v1-2026.11.25", "logs-v1"]
    assert build_mget("a", indices) == {
        "docs": [{"_index": "logs-v1-2026.11.25", "_id": "a"}, {"_index": "logs-v1", "_id": "a"}]
    }


def test_the_partition_holding_the_log_answers_and_a_deleted_one_is_skipped() -> None:
    body = (
        b'{"docs":[{"_index":"logs-v1-2026.11.25","_id":"a","found":false},'
        b'{"_index":"logs-v1-2026.11.24","_id":"a","error":{"type":"index_not_found_exception",'
        b'"reason":"gone"}},'
        b'{"_index":"logs-v1-2026.11.23","_id":"a","found":true,"_source":{"id":"a"}}]}'
    )
    found = parse_mget(body)
    assert found is not None
    assert bytes(found) == b'{"id":"a"}'


def test_a_found_log_keeps_its_bytes_without_derived_fields() -> None:
    body = (
        b'{"docs":[{"_index":"logs-v1","_id":"a","_version":1,"_seq_no":0,"_primary_term":1,'
        b'"found":true,"_source":{"id":"a","cost":1e16,"search_text":"x","merge_versions":{}}}]}'
    )
    found = parse_mget(body)
    assert found is not None
    assert bytes(found) == b'{"id":"a","cost":1e16}'


@pytest.mark.parametrize(
    "body",
    [
        b'{"docs":[{"_index":"logs-v1","_id":"a","found":false}]}',
        b'{"docs":[{"_index":"logs","_id":"a","error":{"type":"index_not_found_exception",'
        b'"reason":"no such index [logs]"}}]}',
        b'{"docs":[]}',
    ],
    ids=["missing", "no-index", "empty"],
)
def test_absent_logs_are_none(body: bytes) -> None:
    assert parse_mget(body) is None


def test_another_error_is_raised() -> None:
    body = msgspec.json.encode(
        {
            "docs": [
                {
                    "_id": "a",
                    "error": {
                        "type": "illegal_argument_exception",
                        "reason": "alias [logs] has more than one index associated with it",
                    },
                }
            ]
        }
    )
    with pytest.raises(MgetFailed, match="more than one index"):
        parse_mget(body)
