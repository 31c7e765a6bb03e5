"""The README stays true: it documents every setting the services read."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import ApiSettings
from ingest.bridge.settings import BridgeSettings
from ingest.settings import WorkerSettings
from shared.settings import env_name

README = (Path(__file__).parents[2] / "README.md").read_text()


@pytest.mark.parametrize("settings", [WorkerSettings, ApiSettings, BridgeSettings])
def test_every_setting_is_documented(
    settings: type[WorkerSettings | ApiSettings | BridgeSettings],
) -> None:
    missing = [env_name(f) for f in settings.__struct_fields__ if env_name(f) not in README]
    assert not missing, f"README.md does not document {missing}"


def test_quickstart_is_two_commands_that_exist() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in quickstart.strip().splitlines()]
    assert commands == ["bin/demo", "bin/test"]
    root = Path(__file__).parents[2]
    assert all((root / c).is_file() for c in commands)
