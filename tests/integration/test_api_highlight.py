"""``highlight=true`` against real OpenSearch: snippets show why a log matched, the matched
words marked and everything else HTML-escaped; the stored values are untouched."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar.testing import AsyncTestClient

from api.app import create_app
from api.settings import ApiSettings
from shared.index import ensure_index
from shared.opensearch import make_client
from shared.schema import LogEntry
from tests.conftest import Services
from tests.integration.api_seed import load, stored_document


def entry(log_id: str, question: str, cost: str) -> LogEntry:
    wire = (
        f'{{"id":"{log_id}","status":"success","cost":{cost},'
        f'"input_history":[{{"role":"user","content":{msgspec.json.encode(question).decode()}}}]}}'
    )
    return msgspec.json.decode(wire, type=LogEntry)


async def test_highlights_mark_the_matched_words(services: Services) -> None:
    alias = f"t-hl-{uuid.uuid4().hex[:10]}"
    settings = ApiSettings(opensearch_url=services.opensearch_url, index_alias=alias)
    admin = make_client(settings)
    index = await ensure_index(admin, alias)
    try:
        await load(
            admin,
            alias,
            [
                stored_document(entry("a", "Please <b>refund</b> my invoice, order 42", "1e-7")),
                stored_document(entry("b", "What is the capital of Australia?", "0.5")),
            ],
        )
        async with AsyncTestClient(create_app(settings)) as api:
            found = await api.get(
                "/api/logs", params={"content_search": '"refund" invoice', "highlight": "true"}
            )
            plain = await api.get("/api/logs", params={"content_search": "refund"})
            no_search = await api.get("/api/logs", params={"highlight": "true"})
        assert found.status_code == 200, found.text
        logs: list[dict[str, Any]] = found.json()["logs"]
        assert [log["id"] for log in logs] == ["a"]
        snippets = logs[0]["highlights"]
        assert snippets == [
            "Please &lt;b&gt;<mark>refund</mark>&lt;&#x2F;b&gt; my <mark>invoice</mark>, order 42"
        ]
        # the item is the plain item plus its snippets, every stored value as it was
        assert {k: v for k, v in logs[0].items() if k != "highlights"} == plain.json()["logs"][0]
        assert all("highlights" not in log for log in no_search.json()["logs"])
    finally:
        await admin.indices.delete(index=index, ignore_unavailable=True)
        await admin.close()
