"""Fixtures shared by every test.

Integration tests (everything under ``tests/integration``) get real services from
:func:`tests.services.kafka_and_opensearch`: environment variables, else testcontainers when a
Docker engine answers, else the local stack (``bin/stack up``). A missing service fails the
test with a clear message; nothing is ever skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opensearchpy import AsyncOpenSearch

from shared.opensearch import make_client
from shared.settings import OpenSearchSettings

INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


class Services:
    def __init__(self, kafka_bootstrap: str, opensearch_url: str) -> None:
        self.kafka_bootstrap = kafka_bootstrap
        self.opensearch_url = opensearch_url


@pytest.fixture(scope="session")
def services() -> Services:
    from tests.services import kafka_and_opensearch

    kafka_bootstrap, opensearch_url = kafka_and_opensearch()
    return Services(kafka_bootstrap, opensearch_url)


@pytest.fixture
def unique_name() -> str:
    """A fresh lowercase name for a topic, index alias or consumer group."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def opensearch(services: Services) -> AsyncIterator[AsyncOpenSearch]:
    client = make_client(OpenSearchSettings(opensearch_url=services.opensearch_url))
    try:
        yield client
    finally:
        await client.close()
