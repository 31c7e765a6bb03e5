"""What every route module shares: the documented filter parameters, the ``BifrostError``
responses of the OpenAPI document, and JSON responses encoded by msgspec.

Query parameters arrive as raw strings and are validated by the endpoint's pure parser
(:mod:`api.filters` and friends), which answers a 400 ``BifrostError`` naming the parameter.
The ``Annotated`` declarations here only describe them in the generated OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec
from litestar import Request, Response
from litestar.di import Provide
from litestar.openapi import ResponseSpec
from litestar.params import Parameter

from api.filters import CACHE_HIT_TYPES, MAX_CONTENT_SEARCH, PERIODS, STATUS_VALUES
from api.parsing import Raw, collect
from shared.schema import BifrostError

JSON: Final = "application/json"
#: The dependency name under which handlers receive the raw query string (:data:`Raw`).
QUERY: Final = "params"

_ERROR_DESCRIPTIONS: Final = {
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    500: "Internal server error",
    503: "Log store unavailable",
}


def param(description: str, **schema: Any) -> Any:
    """A documented query parameter; ``schema`` is its type in the OpenAPI document."""
    extra: dict[str, Any] = {"type": "string", **schema, "oneOf": None}
    return Parameter(description=description, required=False, schema_extra=extra)


def error_responses(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries of the ``BifrostError`` answers a route can give."""
    return {
        code: ResponseSpec(
            data_container=BifrostError,
            description=_ERROR_DESCRIPTIONS[code],
            generate_examples=False,
        )
        for code in codes
    }


def ok(data: type[Any], description: str = "Successful response") -> dict[int, ResponseSpec]:
    return {
        200: ResponseSpec(data_container=data, description=description, generate_examples=False)
    }


def json_response(body: Any, status_code: int = 200) -> Response[bytes]:
    return Response(content=msgspec.json.encode(body), media_type=JSON, status_code=status_code)


_LIST = "Comma-separated list"
_ARRAY = 'JSON array of strings (["a","b"]) or comma-separated list'


def _query(
    request: Request[Any, Any, Any],
    providers: Annotated[str | None, param(f"{_LIST} of providers")] = None,
    models: Annotated[str | None, param(f"{_LIST} of models")] = None,
    aliases: Annotated[str | None, param(f"{_LIST} of model aliases the caller used")] = None,
    status: Annotated[
        str | None, param(f"{_LIST} of statuses ({', '.join(STATUS_VALUES)})")
    ] = None,
    objects: Annotated[str | None, param(f"{_LIST} of object (request) types")] = None,
    selected_key_ids: Annotated[str | None, param(f"{_LIST} of selected key IDs")] = None,
    virtual_key_ids: Annotated[str | None, param(f"{_LIST} of virtual key IDs")] = None,
    routing_rule_ids: Annotated[str | None, param(f"{_LIST} of routing rule IDs")] = None,
    user_ids: Annotated[str | None, param(f"{_LIST} of user IDs")] = None,
    team_ids: Annotated[
        str | None, param(f"{_LIST} of team IDs (team_id or any of team_ids)")
    ] = None,
    customer_ids: Annotated[
        str | None, param(f"{_LIST} of customer IDs (customer_id or any of customer_ids)")
    ] = None,
    business_unit_ids: Annotated[
        str | None,
        param(f"{_LIST} of business unit IDs (business_unit_id or any of business_unit_ids)"),
    ] = None,
    stop_reasons: Annotated[str | None, param(f"{_LIST} of stop reasons")] = None,
    routing_engine_used: Annotated[
        str | None, param(f"{_LIST} of routing engines; matches a log that used any of them")
    ] = None,
    cache_hit_types: Annotated[
        str | None, param(f"{_LIST} of cache hit types ({', '.join(CACHE_HIT_TYPES)})")
    ] = None,
    user_agents: Annotated[str | None, param(f"{_ARRAY} of user agents")] = None,
    apps: Annotated[str | None, param(f"{_ARRAY} of apps")] = None,
    parent_request_id: Annotated[
        str | None, param("Fallback attempts of these original request ids (comma-separated)")
    ] = None,
    session_id: Annotated[
        str | None, param("Alias of parent_request_id (give one of the two)")
    ] = None,
    request_id: Annotated[str | None, param("Logs with these ids (comma-separated)")] = None,
    start_time: Annotated[
        str | None, param("Start of the window, inclusive (RFC 3339)", format="date-time")
    ] = None,
    end_time: Annotated[
        str | None, param("End of the window, inclusive (RFC 3339)", format="date-time")
    ] = None,
    period: Annotated[
        str | None,
        param(
            "Window ending now, instead of start_time/end_time",
            enum=list(PERIODS),
        ),
    ] = None,
    min_latency: Annotated[str | None, param("Minimum latency (ms, inclusive)", type="number")] = (
        None
    ),
    max_latency: Annotated[str | None, param("Maximum latency (ms, inclusive)", type="number")] = (
        None
    ),
    min_tokens: Annotated[
        str | None, param("Minimum total tokens (inclusive)", type="integer")
    ] = None,
    max_tokens: Annotated[
        str | None, param("Maximum total tokens (inclusive)", type="integer")
    ] = None,
    min_cost: Annotated[str | None, param("Minimum cost (USD, inclusive)", type="number")] = None,
    max_cost: Annotated[str | None, param("Maximum cost (USD, inclusive)", type="number")] = None,
    missing_cost_only: Annotated[
        str | None,
        param("Only logs with missing cost (absent or <= 0, status not error)", type="boolean"),
    ] = None,
    roots_only: Annotated[
        str | None, param("Only original requests (no parent_request_id)", type="boolean")
    ] = None,
    content_search: Annotated[
        str | None,
        param(
            "Search request/response content: every word must match (case-insensitive); "
            '"quoted phrases" match as phrases. Always literal text.',
            maxLength=MAX_CONTENT_SEARCH,
        ),
    ] = None,
) -> Raw:
    """The whole query string; the parameters above are only its documentation
    (``metadata_<key>=<value>`` filters are accepted too)."""
    return collect(request.query_params.dict())


#: Provides :data:`QUERY` to a handler and documents every filter parameter on its route.
PROVIDE_QUERY: Final = Provide(_query, sync_to_thread=False)
