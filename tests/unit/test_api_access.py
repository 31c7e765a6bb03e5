"""Who may call what: authentication, roles, trusted-proxy identities, and the inventory of
``/api`` routes (each has a role and a scope test). No OpenSearch is needed: every request
here is answered (or refused) before a query is sent."""

from __future__ import annotations

import base64
import importlib
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute, WebSocketRoute
from litestar.testing import TestClient

from api.app import create_app
from api.auth import Authenticator, Forbidden, Unauthorized, env_token_name, require_role
from api.routes.common import PUBLIC_OPT, ROLE_OPT
from api.settings import ApiSettings
from api.store import LogStore
from api.tokens import ROLES, Access, allows, hash_token
from shared.errors import ConfigError
from shared.settings import Secret

NOWHERE = "http://127.0.0.1:1"

#: The roles of the routes that need more than ``read``. Every route that needs credentials
#: must declare its role (a route outside /api that declares none needs admin: fail closed).
EXPECTED_ROLES: dict[tuple[str, str], str] = {
    ("DELETE", "/api/logs"): "delete",
    ("GET", "/api/logs/dropped"): "admin",
}


def _tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.toml"
    path.write_text(
        "\n".join(
            f'[[tokens]]\nname = "{role}-token"\nrole = "{role}"\n'
            + ('scope = "team_ids=t"\n' if role != "admin" else "")
            + f'hash = "{hash_token(role + "-secret")}"\n'
            for role in ROLES
        )
        + '[[identities]]\nname = "alice@example.com"\nrole = "read"\nscope = "user_ids=alice"\n'
    )
    return path


def _settings(tmp_path: Path, **extra: Any) -> ApiSettings:
    return ApiSettings(opensearch_url=NOWHERE, api_tokens_file=str(_tokens_file(tmp_path)), **extra)


def _routes(app: Litestar) -> list[tuple[str, str, Any]]:
    found: list[tuple[str, str, Any]] = []
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                if method != "OPTIONS":
                    found.append((method, route.path, handler))
        elif isinstance(route, WebSocketRoute):
            found.append(("WS", route.path, route.route_handler))
    return found


def test_roles_include_the_ones_before() -> None:
    assert [(r, n) for r in ROLES for n in ROLES if allows(r, n)] == [
        ("read", "read"),
        ("delete", "read"),
        ("delete", "delete"),
        ("admin", "read"),
        ("admin", "delete"),
        ("admin", "admin"),
    ]
    reader = Access(kind="token", name="r", role="read")
    with pytest.raises(Forbidden, match="token:r has role read; this operation needs role delete"):
        require_role(reader, "delete")


def _guarded(app: Litestar) -> list[tuple[str, str, Any]]:
    """Every route that needs credentials (all but /health, /docs, / and /static)."""
    return [(m, p, h) for m, p, h in _routes(app) if not h.opt.get(PUBLIC_OPT)]


def _open_without_credentials(path: str) -> bool:
    """/health, the docs, the logs explorer page and its static assets (no log data)."""
    return path in ("/health", "/") or path.startswith(("/docs", "/static"))


def test_only_health_docs_and_the_page_are_public() -> None:
    app = create_app(ApiSettings(opensearch_url=NOWHERE))
    public = {p for m, p, h in _routes(app) if h.opt.get(PUBLIC_OPT)}
    assert all(_open_without_credentials(p) for p in public), public
    assert {"/health", "/"} <= public


def test_every_route_declares_its_role() -> None:
    app = create_app(ApiSettings(opensearch_url=NOWHERE))
    guarded = _guarded(app)
    assert len(guarded) > 20
    for method, path, handler in guarded:
        expected = EXPECTED_ROLES.get((method, path), "read")
        assert handler.opt.get(ROLE_OPT) == expected, (method, path)


def test_every_route_has_a_scope_test() -> None:
    scope_tests = importlib.import_module("tests.integration.test_api_scope")
    app = create_app(ApiSettings(opensearch_url=NOWHERE))
    routes = {(m, p) for m, p, _ in _guarded(app)}
    missing = sorted(routes - set(scope_tests.SCOPE_TESTS))
    assert not missing, f"routes without a scope test in test_api_scope.SCOPE_TESTS: {missing}"
    assert not set(scope_tests.SCOPE_TESTS) - routes, "SCOPE_TESTS lists routes that are gone"
    for name in set(scope_tests.SCOPE_TESTS.values()):
        assert callable(getattr(scope_tests, name, None)), name


def test_roles_are_enforced_before_anything_is_queried(tmp_path: Path) -> None:
    def bearer(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {role}-secret"}

    with TestClient(app=create_app(_settings(tmp_path))) as client:
        for role in ("read", "delete"):
            refused = client.get("/api/logs/dropped", headers=bearer(role))
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["message"] == (
                f"token:{role}-token has role {role}; this operation needs role admin"
            )
        refused = client.delete("/api/logs", params={"all": "true"}, headers=bearer("read"))
        assert refused.status_code == 403
        assert client.get("/api/logs").status_code == 401
        assert client.get("/api/logs", headers={"x-api-key": "wrong"}).status_code == 401
        assert client.get("/api/whoami", headers=bearer("delete")).json() == {
            "kind": "token",
            "name": "delete-token",
            "role": "delete",
            "roles": ["read", "delete"],
            "scoped": True,
            "scope": {"team_ids": "t"},
        }
        assert client.get("/docs/openapi.json").status_code == 200  # public
        assert client.get("/health").status_code != 401  # public


def test_legacy_settings_are_unscoped_admins() -> None:
    settings = ApiSettings(
        api_tokens=Secret("one, two"), api_basic_username="ops", api_basic_password=Secret("pw")
    )
    auth = Authenticator(settings)
    access = auth.authenticate({"x-api-key": "two"})
    assert (access.role, access.scope.unscoped, access.name) == (
        "admin",
        True,
        env_token_name(b"two"),
    )
    basic = "Basic " + base64.b64encode(b"ops:pw").decode()
    assert auth.authenticate({"authorization": basic}).principal == "basic:ops"
    with pytest.raises(Unauthorized):
        auth.authenticate({"authorization": "Bearer three"})
    off = Authenticator(ApiSettings()).authenticate({})
    assert (off.kind, off.role, off.scope.unscoped) == ("anonymous", "admin", True)


def test_file_and_env_tokens_work_together(tmp_path: Path) -> None:
    auth = Authenticator(_settings(tmp_path, api_tokens=Secret("legacy")))
    assert auth.authenticate({"x-api-key": "legacy"}).role == "admin"
    read = auth.authenticate({"authorization": "Bearer read-secret"})
    assert (read.name, read.role, read.scope.params) == ("read-token", "read", {"team_ids": "t"})


def _proxied(tmp_path: Path) -> Authenticator:
    return Authenticator(
        _settings(
            tmp_path,
            api_trusted_proxies="10.0.0.0/8, 192.168.1.5",
            api_identity_header="X-Forwarded-User",
        )
    )


def test_a_trusted_proxy_forwards_an_identity(tmp_path: Path) -> None:
    auth = _proxied(tmp_path)
    headers = {"x-forwarded-user": "alice@example.com"}
    for peer in ("10.1.2.3", "192.168.1.5", "::ffff:10.1.2.3"):
        alice = auth.authenticate(headers, peer)
        assert (alice.kind, alice.name, alice.role) == ("identity", "alice@example.com", "read")
        assert alice.scope.params == {"user_ids": "alice"}
    with pytest.raises(Forbidden, match="'mallory' has no entry"):
        auth.authenticate({"x-forwarded-user": "mallory"}, "10.1.2.3")
    # From a trusted proxy without the header: the usual credentials.
    assert auth.authenticate({"x-api-key": "admin-secret"}, "10.1.2.3").role == "admin"


@pytest.mark.parametrize("peer", ["192.168.1.6", "11.0.0.1", "::1", "testclient", None])
def test_the_identity_header_means_nothing_from_elsewhere(tmp_path: Path, peer: str | None) -> None:
    auth = _proxied(tmp_path)
    with pytest.raises(Unauthorized):
        auth.authenticate({"x-forwarded-user": "alice@example.com"}, peer)
    token = {"x-forwarded-user": "alice@example.com", "x-api-key": "read-secret"}
    assert auth.authenticate(token, peer).name == "read-token"


def test_the_identity_header_is_off_by_default(tmp_path: Path) -> None:
    auth = Authenticator(_settings(tmp_path))
    with pytest.raises(Unauthorized):
        auth.authenticate({"x-forwarded-user": "alice@example.com"}, "127.0.0.1")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"api_trusted_proxies": "10.0.0.0/8"}, "together or neither"),
        ({"api_identity_header": "x-forwarded-user"}, "together or neither"),
        (
            {"api_trusted_proxies": "10.0.0.0/8", "api_identity_header": "x-user"},
            "HEIMDALL_API_IDENTITY_HEADER needs HEIMDALL_API_TOKENS_FILE",
        ),
        (
            {"api_trusted_proxies": "10.0.0.0/33", "api_identity_header": "x-user"},
            "'10.0.0.0/33' is not an IP address or CIDR",
        ),
    ],
)
def test_proxy_settings_fail_fast(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ApiSettings(**settings)  # type: ignore[arg-type]


class _OneLog(LogStore):
    """Every id is a log of that id; any other query fails the test."""

    async def get(self, log_id: str) -> msgspec.Raw | None:
        return msgspec.Raw(msgspec.json.encode({"id": log_id, "scope": self.scope.text}))

    async def query(self, what: str, body: dict[str, Any], index: str | None = None) -> bytes:
        raise AssertionError(f"{what}: only the log was to be read")


def test_a_log_named_like_an_admin_route_needs_role_read(tmp_path: Path) -> None:
    """``/api/logs/dropped%2F`` is the log ``dropped/``, served by the misrouted-id hook:
    a read token may read it (in its scope); ``/api/logs/dropped`` stays admin-only."""
    settings = _settings(tmp_path)
    app = create_app(settings, store=_OneLog(settings))
    with TestClient(app=app) as client:
        reader = {"Authorization": "Bearer read-secret"}
        for path, log_id in (
            ("/api/logs/dropped%2F", "dropped/"),
            ("/api/logs/%2Fdropped", "/dropped"),
        ):
            answer = client.get(path, headers=reader)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"id": log_id, "scope": "team_ids=t"}
            assert client.get(path).status_code == 401
        assert client.get("/api/logs/dropped", headers=reader).status_code == 403
