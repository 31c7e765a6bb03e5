"""Derived search fields: content text, total tokens, metadata pairs."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from ingest.decode import decode_event
from ingest.derive import derived_fields, metadata_pairs, owner_pairs, total_tokens
from shared.index import METADATA_KV, METADATA_SEPARATOR, SEARCH_TEXT, TOTAL_TOKENS


def derived(doc: dict[str, Any]) -> dict[str, Any]:
    event = decode_event(json.dumps({"id": "x", **doc}).encode(), timestamp_ms=0, max_bytes=1 << 20)
    return derived_fields(event.fields)


def test_search_text_covers_every_content_source() -> None:
    doc = {
        "input_history": [
            {"role": "system", "content": "sysprompt"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "blockone"},
                    {"type": "image_url", "image_url": {"url": "u"}},
                ],
            },
        ],
        "responses_input_history": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "respin"}],
            },
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking"}]},
        ],
        "responses_output": [
            {"type": "message", "content": [{"type": "output_text", "text": "respout"}]}
        ],
        "output_message": {"role": "assistant", "content": "answer"},
        "speech_input": {"input": "spoken"},
        "transcription_output": {"text": "transcribed"},
        "image_generation_input": {"prompt": "imageprompt"},
        "video_generation_input": {"prompt": "videoprompt"},
        "error_details": {"error": {"message": "ratelimited"}},
        "raw_request": "rawbody-not-searchable",
        "params": {"stop": "param-not-searchable"},
    }
    text = derived(doc)[SEARCH_TEXT]
    for word in (
        "sysprompt",
        "blockone",
        "respin",
        "thinking",
        "respout",
        "answer",
        "spoken",
        "transcribed",
        "imageprompt",
        "videoprompt",
        "ratelimited",
    ):
        assert word in text
    assert "not-searchable" not in text


def test_total_tokens() -> None:
    assert derived({"token_usage": {"total_tokens": 30, "prompt_tokens": 1}})[TOTAL_TOKENS] == 30
    assert (
        derived({"token_usage": {"prompt_tokens": 10, "completion_tokens": 5}})[TOTAL_TOKENS] == 15
    )
    assert TOTAL_TOKENS not in derived({"token_usage": {}})
    assert TOTAL_TOKENS not in derived({})
    assert total_tokens(None) is None


def test_metadata_pairs_are_scalar_only_and_json_texted() -> None:
    raw = msgspec.Raw(b'{"team":"search","n":3,"ok":true,"x":1.5,"nested":{"a":1},"none":null}')
    assert metadata_pairs(raw) == ["n\x1f3", "ok\x1ftrue", "team\x1fsearch", "x\x1f1.5"]
    assert METADATA_KV not in derived({"metadata": {}})


def test_token_counts_and_cache_hit_type_are_derived() -> None:
    fields = {
        "token_usage": msgspec.Raw(
            b'{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14,'
            b'"prompt_tokens_details":{"cached_read_tokens":6}}'
        ),
        "cache_debug": msgspec.Raw(b'{"cache_hit":true,"hit_type":"semantic"}'),
    }
    derived = derived_fields(fields)
    assert {k: derived[k] for k in derived if k != "search_text"} == {
        "total_tokens": 14,
        "prompt_tokens": 10,
        "completion_tokens": 4,
        "cached_read_tokens": 6,
        "cache_hit_type": "semantic",
    }


def test_openai_cached_tokens_count_as_cached_reads() -> None:
    usage = msgspec.Raw(b'{"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":2}}')
    assert derived_fields({"token_usage": usage})["cached_read_tokens"] == 2


def test_owners_pair_ids_with_names_by_position() -> None:
    fields = {
        name: msgspec.Raw(msgspec.json.encode(value))
        for name, value in {
            "team_id": "t1",
            "team_name": "One",
            "team_ids": ["t2", "t1", "", "t3"],
            "team_names": ["Two", "Uno"],
            "customer_id": "",
        }.items()
    }
    assert owner_pairs(fields, "team_owners") == [
        f"{METADATA_SEPARATOR}t3",  # no name at its position
        f"Two{METADATA_SEPARATOR}t2",
        f"Uno{METADATA_SEPARATOR}t1",  # the greatest of "One" and "Uno"
    ]
    derived = derived_fields(fields)
    assert "customer_owners" not in derived
    assert derived["team_owners"] == owner_pairs(fields, "team_owners")
