"""The README's Dashboards API curls (rankings, filter data, sessions) return data from the
demo's logs (``python -m ingest.demo``), sent through Kafka and the real worker."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from api.app import create_app
from api.settings import ApiSettings
from ingest.samples import sample_records
from shared.opensearch import make_client
from shared.settings import OpenSearchSettings
from tests.conftest import Services
from tests.support.dashboard_seed import seeded

README = Path(__file__).resolve().parents[2] / "README.md"
SUB_LIST = "- Rankings, filter values and sessions:"


def readme_paths() -> list[str]:
    text = README.read_text()
    section = text[text.index(SUB_LIST) :]
    block = section[: section.index("```", section.index("```") + 3)]
    return re.findall(r"curl '[^']*?(/api/[^']+)'", block)


def has_data(body: Any) -> bool:
    main = body.get("rankings", body.get("logs"))
    if main is not None:
        return bool(main)
    if "count" in body:
        return bool(body["count"])
    return all(body[key] for key in body if key != "counts")


async def test_readme_curls_return_demo_data(services: Services) -> None:
    paths = readme_paths()
    assert len(paths) == 5, paths
    logs = sample_records(200, seed=8)
    session = next(log[0].key.decode() for log in logs if len({r.key for r in log}) > 1)
    name = f"t-readme-{uuid.uuid4().hex[:10]}"
    client = make_client(OpenSearchSettings(opensearch_url=services.opensearch_url))
    records = [r for log in logs for r in log]
    try:
        async with seeded(services.kafka_bootstrap, services.opensearch_url, client, name, records):
            settings = ApiSettings(opensearch_url=services.opensearch_url, index_alias=name)
            async with AsyncTestClient(create_app(settings)) as api:
                for path in paths:
                    response = await api.get(path.replace("<session id>", session))
                    assert response.status_code == 200, (path, response.text)
                    assert has_data(response.json()), (path, response.text)
    finally:
        await client.close()
