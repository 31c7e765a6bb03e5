"""HTTP layer with a fake store: error mapping, auth, response shape."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.params import LogQuery
from api.query import Page, Stats
from api.settings import ApiSettings
from api.store import LogStore
from shared.errors import ConfigError, StoreUnavailable
from shared.settings import Secret, load


class FakeStore(LogStore):
    def __init__(self, settings: ApiSettings, *, fail: Exception | None = None) -> None:
        super().__init__(settings)
        self.fail = fail
        self.queries: list[LogQuery] = []

    async def search(self, q: LogQuery) -> Page:
        self.queries.append(q)
        if self.fail is not None:
            raise self.fail
        return Page(
            logs=[msgspec.Raw(b'{"id":"a","latency":1.5}')],
            total=1,
            offset=q.offset,
            stats=Stats(
                total_requests=1,
                success_rate=100.0,
                average_latency=1.5,
                total_tokens=3,
                total_cost=0.0,
            ),
            has_logs=True,
            next_cursor=None,
        )

    async def get(self, log_id: str) -> msgspec.Raw | None:
        if self.fail is not None:
            raise self.fail
        return msgspec.Raw(b'{"id":"a","raw_request":"{}"}') if log_id == "a" else None

    async def ping(self, seconds: float) -> bool:
        return self.fail is None


def client(settings: ApiSettings | None = None, fail: Exception | None = None) -> TestClient[Any]:
    settings = settings or ApiSettings(opensearch_url="http://127.0.0.1:1")
    return TestClient(create_app(settings, FakeStore(settings, fail=fail)))


@pytest.fixture
def api() -> Iterator[TestClient[Any]]:
    with client() as c:
        yield c


def assert_bifrost_error(response: Any, status: int, param: str | None = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"is_bifrost_error", "status_code", "error", "extra_fields"}
    assert body["status_code"] == status
    assert body["is_bifrost_error"] is False
    assert body["extra_fields"] == {}
    assert body["error"].get("param") == param
    assert "Traceback" not in response.text
    message: str = body["error"]["message"]
    return message


def test_list_response_has_both_shapes(api: TestClient[Any]) -> None:
    r = api.get("/api/logs", params={"limit": "10", "offset": "3", "sort_by": "cost"})
    assert r.status_code == 200
    body = r.json()
    assert body["logs"] == [{"id": "a", "latency": 1.5}]
    assert (body["total"], body["offset"], body["limit"]) == (1, 3, 10)
    assert body["pagination"] == {
        "limit": 10,
        "offset": 3,
        "sort_by": "cost",
        "order": "desc",
        "total_count": 1,
    }
    assert set(body["stats"]) == {
        "total_requests",
        "success_rate",
        "average_latency",
        "total_tokens",
        "total_cost",
    }
    assert body["has_logs"] is True
    assert body["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "param", "message"),
    [
        ("limit=0", "limit", "limit must be greater than 0"),
        ("limit=1001", "limit", "limit cannot exceed 1000"),
        ("offset=-1", "offset", "offset cannot be negative"),
        ("limit=abc", "limit", None),
        ("min_latency=x", "min_latency", None),
        ("missing_cost_only=perhaps", "missing_cost_only", None),
        ("start_time=2024-13-01T00:00:00Z", "start_time", None),
        ("sort_by=name", "sort_by", None),
        ("order=sideways", "order", None),
        ("min_cost=2&max_cost=1", "min_cost", None),
        ("cache_hit_types=x", "cache_hit_types", None),
        ("period=1h&start_time=2024-01-01T00:00:00Z", "period", None),
        ("nope=1", "nope", None),
        ("offset=9990&limit=50", "offset", None),
    ],
)
def test_invalid_parameters_are_400(
    api: TestClient[Any], query: str, param: str, message: str | None
) -> None:
    got = assert_bifrost_error(api.get(f"/api/logs?{query}"), 400, param)
    if message is not None:
        assert got == message


def test_get_by_id(api: TestClient[Any]) -> None:
    r = api.get("/api/logs/a")
    assert r.status_code == 200
    assert r.json() == {"id": "a", "raw_request": "{}"}


def test_unknown_id_is_404(api: TestClient[Any]) -> None:
    assert assert_bifrost_error(api.get("/api/logs/zzz"), 404) == "log not found"


def test_litestar_errors_are_bifrost_errors(api: TestClient[Any]) -> None:
    assert_bifrost_error(api.get("/api/nothing/here/at/all"), 404)
    assert_bifrost_error(api.post("/api/logs"), 405)
    assert_bifrost_error(api.delete("/api/logs/a"), 405)


def test_store_unavailable_is_503() -> None:
    with client(fail=StoreUnavailable("down")) as c:
        r = c.get("/api/logs")
        assert_bifrost_error(r, 503)
        assert_bifrost_error(c.get("/api/logs/a"), 503)
        h = c.get("/health")
        assert h.status_code == 503
        assert h.json() == {"status": "unavailable", "opensearch": "unreachable"}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_unexpected_error_is_generic_500() -> None:
    handler = _Records()
    logging.getLogger("api").addHandler(handler)
    try:
        with client(fail=RuntimeError("secret internals")) as c:
            r = c.get("/api/logs")
    finally:
        logging.getLogger("api").removeHandler(handler)
    message = assert_bifrost_error(r, 500)
    assert message == "internal server error"
    assert "secret internals" not in r.text
    # logged server-side, with the traceback
    assert any(
        rec.exc_info and "secret internals" in str(rec.exc_info[1]) for rec in handler.records
    )


def test_health_ok(api: TestClient[Any]) -> None:
    r = api.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "opensearch": "reachable"}


# ------------------------------------------------------------------ auth

AUTH = ApiSettings(
    opensearch_url="http://127.0.0.1:1",
    api_tokens=Secret("tok-one, tok-two"),
    api_basic_username="admin",
    api_basic_password=Secret("pa:ss"),
)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer tok-one"},
        {"Authorization": "bearer tok-two"},
        {"x-api-key": "tok-two"},
        basic("admin", "pa:ss"),
    ],
)
def test_valid_credentials(headers: dict[str, str]) -> None:
    with client(AUTH) as c:
        assert c.get("/api/logs", headers=headers).status_code == 200
        assert c.get("/api/logs/a", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer tok-one,tok-two"},
        {"x-api-key": "tok-on"},
        {"Authorization": "Token tok-one"},
        basic("admin", "wrong"),
        basic("root", "pa:ss"),
        {"Authorization": "Basic !!notbase64"},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xc3").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"adminpa:ss").decode()},
    ],
)
def test_invalid_credentials_are_401(headers: dict[str, str]) -> None:
    with client(AUTH) as c:
        for path in ("/api/logs", "/api/logs/a", "/api/logs?limit=0"):
            r = c.get(path, headers=headers)
            assert_bifrost_error(r, 401)
            assert "Bearer" in r.headers["www-authenticate"]
            assert "tok-one" not in r.text


def test_health_and_docs_stay_open() -> None:
    with client(AUTH) as c:
        assert c.get("/health").status_code == 200
        assert c.get("/docs/openapi.json").status_code == 200
        assert c.get("/docs").status_code == 200


def test_auth_off_by_default() -> None:
    assert not ApiSettings().auth_enabled()
    assert ApiSettings(api_tokens=Secret("x")).auth_enabled()
    assert ApiSettings(api_basic_username="u", api_basic_password=Secret("p")).auth_enabled()


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"HEIMDALL_API_BASIC_USERNAME": "admin"}, "HEIMDALL_API_BASIC_PASSWORD"),
        ({"HEIMDALL_API_BASIC_PASSWORD": "pw"}, "HEIMDALL_API_BASIC_USERNAME"),
        (
            {"HEIMDALL_API_BASIC_USERNAME": "a:b", "HEIMDALL_API_BASIC_PASSWORD": "pw"},
            "HEIMDALL_API_BASIC_USERNAME",
        ),
    ],
)
def test_half_basic_credentials_are_refused(
    environ: dict[str, str],
    named: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A lone username would accept an empty password (and a lone password an empty user):
    refused when the settings are built, and ``python -m api`` exits 2 with one line."""
    with pytest.raises(ConfigError, match=named):
        load(ApiSettings, environ)
    from api.__main__ import main

    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert main([]) == 2
    err = capsys.readouterr().err
    assert named in err
    assert len(err.strip().splitlines()) == 1
    assert "pw" not in err


def test_settings_from_environment_never_show_secrets() -> None:
    settings = load(
        ApiSettings,
        {
            "HEIMDALL_API_TOKENS": "a,b",
            "HEIMDALL_API_PORT": "9000",
            "HEIMDALL_API_BASIC_USERNAME": "admin",
            "HEIMDALL_API_BASIC_PASSWORD": "pw",
        },
    )
    assert settings.tokens() == [b"a", b"b"]
    assert settings.api_port == 9000
    assert "pw" not in repr(settings)
    assert "a,b" not in repr(settings)


def test_main_help(capsys: pytest.CaptureFixture[str]) -> None:
    from api.__main__ import main

    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "HEIMDALL_API_TOKENS" in out
    assert "HEIMDALL_API_PORT" in out


def test_main_rejects_bad_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.__main__ import main

    monkeypatch.setenv("HEIMDALL_API_PORT", "not-a-port")
    assert main([]) == 2
    assert "HEIMDALL_API_PORT" in capsys.readouterr().err
