"""The page and its assets: ``/`` serves the built page, ``/static`` serves hashed assets
cached for a year, ``/docs`` loads nothing from another host, and the committed build is
exactly what ``web/``'s sources build to (``web/build.mjs``, run by ``npm run build``)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.settings import ApiSettings
from api.web import STATIC_DIR, manifest
from shared.settings import Secret

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"


def client(settings: ApiSettings | None = None) -> TestClient[Any]:
    return TestClient(create_app(settings or ApiSettings(opensearch_url="http://127.0.0.1:1")))


def test_root_serves_the_page_revalidated() -> None:
    with client() as c:
        response = c.get("/", params={"providers": "openai", "log": "x"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"
        m = manifest()
        assert f"/static/{m.app_js}" in response.text
        assert f"/static/{m.app_css}" in response.text


def test_static_assets_are_immutable_and_unknown_ones_are_bifrost_errors() -> None:
    with client() as c:
        asset = c.get(f"/static/{manifest().app_js}")
        assert asset.status_code == 200
        assert "javascript" in asset.headers["content-type"]
        assert asset.headers["cache-control"] == "max-age=31536000, public, immutable"
        missing = c.get("/static/nope.js")
        assert missing.status_code == 404
        assert missing.json()["error"]["message"]


def test_page_and_docs_stay_open_with_auth_on() -> None:
    settings = ApiSettings(opensearch_url="http://127.0.0.1:1", api_tokens=Secret("t"))
    with client(settings) as c:
        assert c.get("/").status_code == 200
        assert c.get(f"/static/{manifest().app_css}").status_code == 200
        assert c.get("/api/logs").status_code == 401


def test_docs_load_only_local_assets() -> None:
    with client() as c:
        html = c.get("/docs").text
        m = manifest()
        for path in (m.swagger_js, m.swagger_css, m.swagger_preset_js, m.swagger_favicon):
            assert f"/static/{path}" in html
            assert c.get(f"/static/{path}").status_code == 200
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
        unknown = c.get("/docs/nope")
        assert unknown.status_code == 404
        assert unknown.json()["status_code"] == 404


def test_committed_build_matches_the_sources(tmp_path: Path) -> None:
    out = tmp_path / "static"
    done = node_run("build.mjs", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    built = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(STATIC_DIR) for p in STATIC_DIR.rglob("*") if p.is_file())
    assert built == committed, "api/static is stale: run `npm run build` in web/ and commit it"
    stale = [str(p) for p in built if (out / p).read_bytes() != (STATIC_DIR / p).read_bytes()]
    assert not stale, f"api/static differs from its sources: {stale}; run `npm run build` in web/"


def node_run(*args: str) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node is not None, "Node.js is needed to check the page (see README)"
    assert (WEB / "node_modules").is_dir(), "run bin/bootstrap (npm ci in web/) first"
    return subprocess.run([node, *args], capture_output=True, text=True, check=False, cwd=WEB)


@pytest.mark.parametrize("project", ["tsconfig.json", "test/tsconfig.json"])
def test_page_typechecks_strictly(project: str) -> None:
    done = node_run("node_modules/typescript/bin/tsc", "--noEmit", "-p", project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"strict": true' in (WEB / "tsconfig.json").read_text()


def test_page_unit_tests() -> None:
    """web/test: the SSE parser of the Live toggle and the URL state (node --test)."""
    done = node_run("test/run.mjs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# fail 0" in done.stdout


def test_web_dependencies_are_pinned() -> None:
    text = (WEB / "package.json").read_text()
    assert '"preact"' in text
    assert not re.search(r'": "[\^~>=*]', text), "pin exact versions (npm install --save-exact)"
