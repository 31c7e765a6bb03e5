"""OTLP GenAI spans and events -> log events, with payloads made by the OpenTelemetry SDK and
its OTLP encoder, in both of the Collector Kafka exporter's encodings."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import msgspec
import pytest

from ingest.decode import INVALID, MISSING_ID, TOO_LARGE, UNDECODABLE, LogEvent
from ingest.feeds import decode_log_entry, decoders
from ingest.merge import merge_all, to_source
from ingest.otlp.events import decode_logs, decode_traces
from ingest.settings import WorkerSettings
from shared.errors import BadEvent
from tests.support.otlp import (
    INPUT,
    OUTPUT,
    T0,
    Encoding,
    Instrumented,
    chat_attributes,
    export_logs,
    export_spans,
)

ENCODINGS: tuple[Encoding, ...] = ("otlp_proto", "otlp_json")
MAX = 4 << 20
RECORDED = Path(__file__).parents[1] / "data" / "otlp"


def fields(event: LogEvent) -> dict[str, Any]:
    return {name: msgspec.json.decode(raw) for name, raw in event.fields.items()}


def stored(events: list[LogEvent]) -> dict[str, Any]:
    state = merge_all(None, events)
    assert state is not None
    document: dict[str, Any] = msgspec.json.decode(to_source(state))
    return document


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_genai_span_becomes_a_finished_log(encoding: Encoding) -> None:
    app = Instrumented()
    agent = app.parent()
    trace_id, span_id = app.call(chat_attributes(), parent=agent)
    agent.end()

    events = decode_traces(
        export_spans(app.finished_spans(), encoding), timestamp_ms=1000, max_bytes=MAX
    )

    assert len(events) == 1  # the agent span is not a model call
    [event] = events
    parent_span_id = f"{agent.get_span_context().span_id:016x}"
    assert event.id == f"{trace_id}-{span_id}"
    assert event.version.startswith("1:0000000000001000:")
    assert fields(event) == {
        "parent_request_id": f"{trace_id}-{parent_span_id}",
        "provider": "openai",
        "model": "gpt-4o",
        "status": "success",
        "object": "chat_completion",
        "timestamp": "2025-11-24T16:00:00Z",
        "created_at": "2025-11-24T16:00:00Z",
        "latency": 812.0,
        "token_usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
        "input_history": [{"role": "user", "content": "Weather in Paris?"}],
        "output_message": {"role": "assistant", "content": "Sunny, 21 degrees."},
        "params": {"temperature": 0.2, "max_completion_tokens": 200},
        "metadata": {
            "response_id": "chatcmpl-1",
            "response_model": "gpt-4o-2024-08-06",
            "finish_reasons": ["stop"],
            "operation": "chat",
            "service_name": "checkout",
            "trace_id": trace_id,
            "span_id": span_id,
            "parent_span_id": parent_span_id,
        },
    }


def test_both_encodings_give_the_same_events() -> None:
    app = Instrumented()
    app.call(chat_attributes(), event_attributes={"gen_ai.input.messages": INPUT})
    spans, logs = app.finished_spans(), app.finished_logs()
    proto, json = (export_spans(spans, e) for e in ENCODINGS)
    assert decode_traces(proto, timestamp_ms=5, max_bytes=MAX) == decode_traces(
        json, timestamp_ms=5, max_bytes=MAX
    )
    proto, json = (export_logs(logs, e) for e in ENCODINGS)
    assert decode_logs(proto, timestamp_ms=5, max_bytes=MAX) == decode_logs(
        json, timestamp_ms=5, max_bytes=MAX
    )


def test_older_attribute_names_still_map() -> None:
    app = Instrumented()
    app.call(
        {
            "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4",
            "gen_ai.usage.prompt_tokens": 30,
            "gen_ai.usage.completion_tokens": 7,
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "Be brief.",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "Hi",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "Hello.",
        }
    )
    [event] = decode_traces(export_spans(app.finished_spans()), timestamp_ms=1, max_bytes=MAX)
    got = fields(event)
    assert got["provider"] == "anthropic"
    assert "object" not in got  # no gen_ai.operation.name: the request type is unknown
    assert got["token_usage"] == {"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37}
    assert got["input_history"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert got["output_message"] == {"role": "assistant", "content": "Hello."}


def test_provider_name_wins_over_the_older_system() -> None:
    app = Instrumented()
    app.call(chat_attributes(**{"gen_ai.system": "az.ai.openai"}))
    [event] = decode_traces(export_spans(app.finished_spans()), timestamp_ms=1, max_bytes=MAX)
    assert fields(event)["provider"] == "openai"


def test_a_failed_call_is_an_error_log() -> None:
    app = Instrumented()
    app.call(chat_attributes(**{"gen_ai.usage.output_tokens": None}), error="timeout")
    [event] = decode_traces(export_spans(app.finished_spans()), timestamp_ms=1, max_bytes=MAX)
    got = fields(event)
    assert got["status"] == "error"
    assert got["error_details"] == {
        "is_bifrost_error": False,
        "error": {"message": "timeout: upstream failed", "type": "timeout"},
    }
    assert got["token_usage"] == {"prompt_tokens": 12, "completion_tokens": 0, "total_tokens": 12}


def test_system_instructions_tools_and_tool_results_map_to_chat_messages() -> None:
    messages = [
        {"role": "user", "parts": [{"type": "text", "content": "Weather?"}]},
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "P"}}
            ],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": 21}]},
    ]
    app = Instrumented()
    app.call(
        chat_attributes(
            **{
                "gen_ai.input.messages": msgspec.json.encode(messages).decode(),
                "gen_ai.system_instructions": '[{"type": "text", "content": "Be brief."}]',
            }
        )
    )
    [event] = decode_traces(export_spans(app.finished_spans()), timestamp_ms=1, max_bytes=MAX)
    assert fields(event)["input_history"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"P"}'},
                    "id": "c1",
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "21"},
    ]


def test_spans_and_logs_that_are_not_genai_calls_are_skipped() -> None:
    app = Instrumented()
    app.parent("GET /checkout").end()
    app.call({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather"})
    app.logger.emit(body="an ordinary application log line")
    assert decode_traces(export_spans(app.finished_spans()), timestamp_ms=1, max_bytes=MAX) == []
    assert decode_logs(export_logs(app.finished_logs()), timestamp_ms=1, max_bytes=MAX) == []


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_span_and_details_event_of_one_call_merge_into_one_log(encoding: Encoding) -> None:
    app = Instrumented()
    # The span carries no messages (content capture off on spans); the event carries them,
    # as OTLP structured values, plus a model that disagrees with the span's.
    attributes = chat_attributes(**{"gen_ai.input.messages": None, "gen_ai.output.messages": None})
    trace_id, span_id = app.call(
        attributes,
        event_attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.input.messages": INPUT,
            "gen_ai.output.messages": OUTPUT,
        },
    )
    span_events = decode_traces(
        export_spans(app.finished_spans(), encoding), timestamp_ms=2000, max_bytes=MAX
    )
    log_events = decode_logs(
        export_logs(app.finished_logs(), encoding), timestamp_ms=3000, max_bytes=MAX
    )
    assert [e.id for e in span_events + log_events] == [f"{trace_id}-{span_id}"] * 2

    documents = [
        stored(list(order))
        for order in itertools.permutations(span_events + log_events + span_events)
    ]
    assert all(d == documents[0] for d in documents)  # any order, a re-export changes nothing
    document = documents[0]
    assert document["model"] == "gpt-4o"  # the span is authoritative...
    assert document["timestamp"] == "2025-11-24T16:00:00Z"  # ...on its start time too
    assert document["search_text"] == "Weather in Paris?\nSunny, 21 degrees."  # event fills in
    assert document["total_tokens"] == 17


def test_repeated_exports_of_a_span_merge_into_one_log() -> None:
    app = Instrumented()
    app.call(chat_attributes())
    payload = export_spans(app.finished_spans())
    first = decode_traces(payload, timestamp_ms=1000, max_bytes=MAX)
    again = decode_traces(payload, timestamp_ms=9000, max_bytes=MAX)  # a retried export
    assert stored(first + again) == stored(again + first)
    assert {k: v for k, v in stored(first + again).items() if k != "merge_versions"} == {
        k: v for k, v in stored(first).items() if k != "merge_versions"
    }


def test_one_export_holds_many_calls() -> None:
    app = Instrumented()
    ids = [app.call(chat_attributes(), start_ns=T0 + n) for n in range(5)]
    events = decode_traces(export_spans(app.finished_spans()), timestamp_ms=1, max_bytes=MAX)
    assert [e.id for e in events] == [f"{t}-{s}" for t, s in ids]


@pytest.mark.parametrize(
    ("value", "reason", "detail"),
    [
        (None, UNDECODABLE, "tombstone"),
        (b"\xff\xfe not protobuf", UNDECODABLE, "not an OTLP protobuf"),
        (b"{not json", UNDECODABLE, "not OTLP/JSON"),
        (b'{"id": "a Bifrost event", "status": "success"}', INVALID, "not an OTLP export"),
        (b"\x12\x00", INVALID, "holds no resourceSpans"),
        (b'{"resourceSpans": 3}', INVALID, "not an OTLP/JSON ExportTraceServiceRequest"),
        (
            b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}',
            INVALID,
            "`traceId` is not a hex id",
        ),
        (b"{" + b" " * MAX, TOO_LARGE, "HEIMDALL_MAX_EVENT_BYTES"),
    ],
)
def test_records_that_are_not_otlp_are_bad_events(
    value: bytes | None, reason: str, detail: str
) -> None:
    with pytest.raises(BadEvent) as caught:
        decode_traces(value, timestamp_ms=1, max_bytes=MAX)
    assert caught.value.reason == reason
    assert detail in caught.value.detail


def test_a_genai_span_with_a_wrong_attribute_type_spoils_its_record() -> None:
    app = Instrumented()
    app.call(chat_attributes())
    app.call(chat_attributes(**{"gen_ai.usage.input_tokens": "12"}))
    with pytest.raises(BadEvent) as caught:
        decode_traces(export_spans(app.finished_spans()), timestamp_ms=1, max_bytes=MAX)
    assert caught.value.reason == INVALID
    assert caught.value.detail == (
        "`gen_ai.usage.input_tokens` must be an int, got str "
        "- at span `resourceSpans[0].scopeSpans[0].spans[1]`"
    )


def test_a_mapped_call_is_validated_like_any_log_entry() -> None:
    app = Instrumented()
    # Each count fits in OTLP's int64, their total does not.
    app.call(
        chat_attributes(**{"gen_ai.usage.input_tokens": 2**62, "gen_ai.usage.output_tokens": 2**62})
    )
    with pytest.raises(BadEvent) as caught:
        decode_traces(export_spans(app.finished_spans()), timestamp_ms=1, max_bytes=MAX)
    assert caught.value.reason == INVALID
    assert caught.value.detail.startswith("`resourceSpans[0].scopeSpans[0].spans[0]` mapped to")


def test_a_details_event_outside_a_span_has_no_log_id() -> None:
    app = Instrumented()
    app.logger.emit(
        event_name="gen_ai.client.inference.operation.details",
        attributes={"gen_ai.provider.name": "openai"},
    )
    with pytest.raises(BadEvent) as caught:
        decode_logs(export_logs(app.finished_logs()), timestamp_ms=1, max_bytes=MAX)
    assert caught.value.reason == MISSING_ID


RECORDED_ID = "5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174"
RECORDED_METADATA = {
    "service_name": "bifrost",
    "trace_id": "5b8efff798038103d269b633813fc60c",
    "span_id": "eee19b7ec3c1b174",
}
RECORDED_SPAN = {
    "parent_request_id": "5b8efff798038103d269b633813fc60c-eee19b7ec3c1b173",
    "provider": "openai",
    "model": "gpt-4o",
    "status": "success",
    "object": "chat_completion",
    "timestamp": "2025-11-24T16:00:00Z",
    "created_at": "2025-11-24T16:00:00Z",
    "latency": 812.0,
    "token_usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    "input_history": [{"role": "user", "content": "Weather in Paris?"}],
    "output_message": {"role": "assistant", "content": "Sunny."},
    "params": {"temperature": 0.2},
    "metadata": {
        "finish_reasons": ["stop"],
        "operation": "chat",
        **RECORDED_METADATA,
        "parent_span_id": "eee19b7ec3c1b173",
    },
}
RECORDED_EVENT = {
    "provider": "openai",
    "status": "success",
    "object": "chat_completion",
    "timestamp": "2025-11-24T16:00:00.812000Z",
    "created_at": "2025-11-24T16:00:00.812000Z",
    "input_history": [{"role": "user", "content": "Weather in Paris?"}],
    "metadata": {"operation": "chat", **RECORDED_METADATA},
}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("traces.binpb", RECORDED_SPAN),
        ("traces.json", RECORDED_SPAN),
        ("logs.binpb", RECORDED_EVENT),
        ("logs.json", RECORDED_EVENT),
    ],
)
def test_payloads_recorded_with_the_collector_s_encoders(
    name: str, expected: dict[str, Any]
) -> None:
    """One call in each encoding, as the Collector's pdata marshalers write it
    (tests/data/otlp/README.md)."""
    value = (RECORDED / name).read_bytes()
    decode = decode_traces if name.startswith("traces") else decode_logs
    [event] = decode(value, timestamp_ms=1, max_bytes=MAX)
    assert event.id == RECORDED_ID
    assert fields(event) == expected


def test_each_input_topic_has_its_decoder() -> None:
    settings = WorkerSettings(otlp_traces_topic="otlp_spans", otlp_logs_topic="otlp_logs")
    assert decoders(settings) == {
        "bifrost.logs": decode_log_entry,
        "otlp_spans": decode_traces,
        "otlp_logs": decode_logs,
    }
    assert list(decoders(WorkerSettings())) == ["bifrost.logs"]


def test_input_topics_must_differ() -> None:
    with pytest.raises(msgspec.ValidationError, match="must be different topics"):
        msgspec.convert({"otlp_traces_topic": "bifrost.logs"}, WorkerSettings)


def test_the_mapping_table_names_every_mapped_attribute() -> None:
    from ingest.otlp.genai import METADATA, OPERATIONS, PARAMS

    doc = (Path(__file__).parents[2] / "docs" / "events.md").read_text()
    table = doc.split("### Mapping", 1)[1]
    short = {k.removeprefix("gen_ai.request") for k in PARAMS}
    missing = [
        name
        for name in [*short, *PARAMS.values(), *METADATA, *METADATA.values(), *OPERATIONS]
        if f"`{name}" not in table and f"{name}`" not in table
    ]
    assert not missing, f"docs/events.md's mapping table does not name {missing}"


def test_a_genai_span_with_a_malformed_trace_id_has_no_log_id() -> None:
    span = {
        "traceId": "abcd",
        "spanId": "eee19b7ec3c1b174",
        "attributes": [{"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}}],
    }
    value = msgspec.json.encode({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
    with pytest.raises(BadEvent) as caught:
        decode_traces(value, timestamp_ms=1, max_bytes=MAX)
    assert caught.value.reason == MISSING_ID
    assert "16-byte trace id" in caught.value.detail


def test_messages_without_a_role_take_their_side_s_role() -> None:
    app = Instrumented()
    app.call(
        chat_attributes(
            **{
                "gen_ai.input.messages": '[{"parts": [{"type": "text", "content": "Hi"}]}]',
                "gen_ai.output.messages": '[{"parts": [{"type": "text", "content": "Hello"}]}]',
            }
        )
    )
    [event] = decode_traces(export_spans(app.finished_spans()), timestamp_ms=1, max_bytes=MAX)
    assert fields(event)["input_history"] == [{"role": "user", "content": "Hi"}]
    assert fields(event)["output_message"] == {"role": "assistant", "content": "Hello"}
