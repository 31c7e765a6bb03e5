"""The README stays true: it documents every setting the services read."""

from __future__ import annotations

import re
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


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as dashes."""
    found: set[str] = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (heading := re.match(r"#+\s+(.*)", line)):
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            n = 0
            while (f"{slug}-{n}" if n else slug) in found:
                n += 1
            found.add(f"{slug}-{n}" if n else slug)
    return found


def test_every_relative_link_and_anchor_exists() -> None:
    root = Path(__file__).parents[2]
    pages = [*root.glob("*.md"), *root.glob("docs/*.md"), *root.glob("deploy/*.md")]
    broken: list[str] = []
    for page in pages:
        for link in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if link.startswith(("http:", "https:", "mailto:")):
                continue
            path, _, anchor = link.partition("#")
            target = page.parent / path if path else page
            if not target.exists():
                broken.append(f"{page.relative_to(root)}: {link}")
                continue
            known = _anchors(target.read_text()) if target.suffix == ".md" else set()
            missing = bool(anchor) and target.suffix == ".md" and anchor not in known
            if missing:
                broken.append(f"{page.relative_to(root)}: {link}")
    assert not broken, broken


@pytest.mark.parametrize("package", ["shared", "ingest/redact"])
def test_every_module_of_the_shared_packages_is_described(package: str) -> None:
    root = Path(__file__).parents[2]
    modules = sorted(p.name for p in (root / package).glob("*.py") if p.name != "__init__.py")
    missing = [m for m in modules if f"`{m}`" not in README]
    assert not missing, f"README.md's module list does not describe {missing}"
