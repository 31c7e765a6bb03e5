"""Fixtures shared by every test.

Integration tests (everything under ``tests/integration``) get real services from
:func:`tests.services.kafka_and_opensearch`: environment variables, else testcontainers when a
Docker engine answers, else the local stack (``bin/stack up``). A missing service fails the
test with a clear message; nothing is ever skipped.
"""

from __future__ import annotations

import asyncio
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


#: Every name ``unique_name`` handed out in this session (checked at session end).
_NAMES: list[str] = []


@pytest.fixture
async def unique_name(services: Services) -> AsyncIterator[str]:
    """A fresh lowercase name for a topic, index alias or consumer group. At teardown the
    indices ``<name>*`` and the topics ``<name>``, ``<name>.*``, ``<name>-*`` are deleted."""
    from tests.support.cleanup import remove

    name = f"t-{uuid.uuid4().hex[:12]}"
    _NAMES.append(name)
    try:
        yield name
    finally:
        await remove(services.kafka_bootstrap, services.opensearch_url, [name])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a test left one of its topics or indices behind."""
    if not _NAMES:
        return
    from tests.services import kafka_and_opensearch
    from tests.support.cleanup import leftovers

    bootstrap, opensearch_url = kafka_and_opensearch()
    left = asyncio.run(leftovers(bootstrap, opensearch_url, _NAMES))
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"tests left {len(left)} topic(s)/index(es) behind: {', '.join(left[:10])}"
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
async def opensearch(services: Services) -> AsyncIterator[AsyncOpenSearch]:
    client = make_client(OpenSearchSettings(opensearch_url=services.opensearch_url))
    try:
        yield client
    finally:
        await client.close()
