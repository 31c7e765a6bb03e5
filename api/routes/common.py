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
from api.parsing import (
    LONG_MAX,
    LONG_MIN,
    NUMBER_MAX,
    RFC3339_PATTERN,
    STRING_ARRAY_PATTERN,
    Raw,
    collect,
    enum_list_pattern,
)
from shared.schema import BifrostError

JSON: Final = "application/json"
#: The dependency name under which handlers receive the raw query string (:data:`Raw`).
QUERY: Final = "params"
#: ``opt`` keys of a route: the role it needs (``/api`` routes: ``read`` unless they say
#: otherwise), or that it needs no credentials at all (see :func:`api.app.create_app`).
ROLE_OPT: Final = "role"
PUBLIC_OPT: Final = "public"

_ERROR_DESCRIPTIONS: Final = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden: the caller's role does not allow this",
    404: "Not found",
    500: "Internal server error",
    503: "Log store unavailable",
}


def param(description: str, **schema: Any) -> Any:
    """A documented query parameter; ``schema`` is its type in the OpenAPI document, stating
    every constraint the parser enforces on the value alone (``enum``, ``pattern``, ranges,
    ``format``). Rules across parameters are stated in the descriptions of both."""
    extra: dict[str, Any] = {"type": "string", **schema, "oneOf": None}
    return Parameter(description=description, required=False, schema_extra=extra)


def enum_list(description: str, allowed: tuple[str, ...]) -> Any:
    """A comma list of enumerated items, documented as a ``string`` with a ``pattern``: the
    contract types these parameters as strings, and a generated client then sends the value
    as given (``status=success,error``) and can validate it before sending."""
    return param(
        f"{description}: comma-separated, each item one of {', '.join(allowed)}",
        pattern=enum_list_pattern(allowed),
    )


def number_param(description: str) -> Any:
    return param(description, type="number", minimum=-NUMBER_MAX, maximum=NUMBER_MAX)


def time_param(description: str) -> Any:
    return param(description, format="date-time", pattern=RFC3339_PATTERN)


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
    status: Annotated[str | None, enum_list("Statuses", STATUS_VALUES)] = None,
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
    cache_hit_types: Annotated[str | None, enum_list("Cache hit types", CACHE_HIT_TYPES)] = None,
    user_agents: Annotated[
        str | None, param(f"{_ARRAY} of user agents", pattern=STRING_ARRAY_PATTERN)
    ] = None,
    apps: Annotated[str | None, param(f"{_ARRAY} of apps", pattern=STRING_ARRAY_PATTERN)] = None,
    parent_request_id: Annotated[
        str | None,
        param(
            "Fallback attempts of these original request ids (comma-separated); "
            "not together with session_id"
        ),
    ] = None,
    session_id: Annotated[
        str | None, param("Alias of parent_request_id; not together with parent_request_id")
    ] = None,
    request_id: Annotated[str | None, param("Logs with these ids (comma-separated)")] = None,
    start_time: Annotated[
        str | None,
        time_param(
            "Start of the window, inclusive (RFC 3339 with an offset, at most 9 fraction "
            "digits); not later than end_time; not together with period"
        ),
    ] = None,
    end_time: Annotated[
        str | None,
        time_param(
            "End of the window, inclusive (RFC 3339 with an offset, at most 9 fraction "
            "digits); not earlier than start_time; not together with period"
        ),
    ] = None,
    period: Annotated[
        str | None,
        param(
            "Window ending now, instead of start_time/end_time (not together with them)",
            enum=list(PERIODS),
        ),
    ] = None,
    min_latency: Annotated[
        str | None, number_param("Minimum latency (ms, inclusive); at most max_latency")
    ] = None,
    max_latency: Annotated[
        str | None, number_param("Maximum latency (ms, inclusive); at least min_latency")
    ] = None,
    min_tokens: Annotated[
        str | None,
        param(
            "Minimum total tokens (inclusive); at most max_tokens",
            type="integer",
            minimum=LONG_MIN,
            maximum=LONG_MAX,
        ),
    ] = None,
    max_tokens: Annotated[
        str | None,
        param(
            "Maximum total tokens (inclusive); at least min_tokens",
            type="integer",
            minimum=LONG_MIN,
            maximum=LONG_MAX,
        ),
    ] = None,
    min_cost: Annotated[
        str | None, number_param("Minimum cost (USD, inclusive); at most max_cost")
    ] = None,
    max_cost: Annotated[
        str | None, number_param("Maximum cost (USD, inclusive); at least min_cost")
    ] = None,
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
