"""OpenTelemetry GenAI feed, end to end: what the Collector's Kafka exporter writes (spans and
details events made by the OpenTelemetry SDK, in both encodings, exported more than once) on
two topics beside the Bifrost topic -> one worker -> one log per call -> ``GET /api/logs``."""

from __future__ import annotations

import time
from typing import Any

import httpx
import msgspec
from opensearchpy import AsyncOpenSearch

from ingest.dead_letters import REASON_HEADER
from ingest.feeds import decode_log_entry
from ingest.merge import merge_all, to_source
from ingest.otlp.events import decode_logs, decode_traces
from ingest.samples import SampleRecord
from ingest.worker import Worker
from tests.conftest import Services
from tests.integration.test_smoke import api_url  # noqa: F401 (fixture)
from tests.support.cleanup import created
from tests.support.ingest import (
    create_topics,
    eventually,
    produce_located,
    produce_records,
    read_topic,
    running,
    wait_for_index,
    worker_settings,
)
from tests.support.otlp import (
    INPUT,
    OUTPUT,
    Instrumented,
    chat_attributes,
    export_logs,
    export_spans,
)

NOW = int(time.time() * 1000)


async def test_genai_spans_and_events_become_logs_served_by_the_api(
    services: Services,
    opensearch: AsyncOpenSearch,
    unique_name: str,
    api_url: str,  # noqa: F811
) -> None:
    name = unique_name
    spans_topic, logs_topic, dlq = f"{name}.otlp_spans", f"{name}.otlp_logs", f"{name}.dlq"
    app = Instrumented(service="checkout")
    agent = app.parent()
    # Call 1: span without messages, details event with them (and a model the span overrides).
    trace_id, first = app.call(
        chat_attributes(**{"gen_ai.input.messages": None, "gen_ai.output.messages": None}),
        parent=agent,
        event_attributes={
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.input.messages": INPUT,
            "gen_ai.output.messages": OUTPUT,
        },
    )
    # Call 2, in the same trace: failed, older attribute names.
    _, second = app.call(
        {"gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet-4"},
        parent=agent,
        error="rate_limited",
    )
    agent.end()
    spans, logs = app.finished_spans(), app.finished_logs()
    key = trace_id.encode()  # the exporter's partition_traces_by_id
    span_records = [
        SampleRecord(key, export_spans(spans, "otlp_proto"), NOW),
        SampleRecord(key, export_spans(spans[:1], "otlp_json"), NOW + 5),  # exported again
        SampleRecord(key, b"\x0a\xff not protobuf", NOW + 6),
    ]
    log_records = [SampleRecord(b"", export_logs(logs, "otlp_json"), NOW + 1)]
    bifrost = {"id": "bifrost-1", "provider": "openai", "status": "success"}
    bifrost_records = [SampleRecord(b"bifrost-1", msgspec.json.encode(bifrost), NOW)]

    events = [
        *(
            e
            for r in span_records[:2]
            for e in decode_traces(r.value, timestamp_ms=r.timestamp_ms, max_bytes=4 << 20)
        ),
        *decode_logs(log_records[0].value, timestamp_ms=NOW + 1, max_bytes=4 << 20),
        *decode_log_entry(bifrost_records[0].value, timestamp_ms=NOW, max_bytes=4 << 20),
    ]
    expected: dict[str, Any] = {}
    for log_id in {e.id for e in events}:
        state = merge_all(None, [e for e in events if e.id == log_id])
        assert state is not None
        expected[log_id] = msgspec.json.decode(to_source(state))
    assert set(expected) == {f"{trace_id}-{first}", f"{trace_id}-{second}", "bifrost-1"}

    settings = worker_settings(
        services.kafka_bootstrap,
        services.opensearch_url,
        name,
        otlp_traces_topic=spans_topic,
        otlp_logs_topic=logs_topic,
    )
    async with created(
        services.kafka_bootstrap, opensearch, name, name, spans_topic, logs_topic, dlq
    ):
        await create_topics(services.kafka_bootstrap, name, spans_topic, logs_topic, dlq)
        await produce_records(services.kafka_bootstrap, spans_topic, span_records)
        # The exporter keys log records by nothing (or by resource): no key.
        await produce_located(
            services.kafka_bootstrap,
            logs_topic,
            [(None, r.value, r.timestamp_ms) for r in log_records],
        )
        await produce_records(services.kafka_bootstrap, name, bifrost_records)
        async with running(Worker(settings)) as worker:
            found = await wait_for_index(opensearch, name, expected)
            [dead] = await read_topic(services.kafka_bootstrap, dlq, 1)
        assert worker.metrics.value("heimdall_ingest_consumed_total") == 5

        call = found[f"{trace_id}-{first}"]
        assert call["model"] == "gpt-4o"
        assert call["search_text"] == "Weather in Paris?\nSunny, 21 degrees."
        failed = found[f"{trace_id}-{second}"]
        assert (failed["status"], failed["provider"]) == ("error", "anthropic")
        assert dead.value == span_records[2].value
        assert dict(dead.headers)[REASON_HEADER] == b"undecodable"

        async with httpx.AsyncClient(base_url=api_url, timeout=5) as http:

            async def the_trace() -> dict[str, Any] | None:
                response = await http.get(
                    "/api/logs",
                    params={"metadata_trace_id": trace_id, "sort_by": "timestamp", "order": "asc"},
                )
                body: dict[str, Any] = response.json()
                return body if body.get("total") == 2 else None

            page = await eventually(the_trace, what="the trace's two calls via GET /api/logs")
        assert {log["id"] for log in page["logs"]} == {
            f"{trace_id}-{first}",
            f"{trace_id}-{second}",
        }
        by_id = {log["id"]: log for log in page["logs"]}
        assert by_id[f"{trace_id}-{first}"]["token_usage"]["total_tokens"] == 17
        assert by_id[f"{trace_id}-{second}"]["status"] == "error"
