"""``GET /api/whoami``: who the caller is and what its credentials let it see and do."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency

from api.routes.common import error_responses, json_response, ok
from api.tokens import ROLES, Access, Kind, Role, allows


class WhoAmI(msgspec.Struct, kw_only=True):
    """The caller's credentials as the API sees them (never a token or its hash)."""

    kind: Kind
    """token, basic, identity (forwarded by a trusted proxy) or anonymous (auth off)."""
    name: str
    """The token's name (HEIMDALL_API_TOKENS: the first 12 hex digits of its SHA-256), the
    Basic user, or the forwarded identity."""
    role: Role
    roles: list[Role]
    """Every role the caller's role includes (admin includes delete includes read)."""
    scoped: bool
    """Whether the caller sees only some logs."""
    scope: dict[str, str]
    """The scope as filter parameters of GET /api/logs (empty: every log); every query the
    caller sends is ANDed with it."""


def whoami_of(access: Access) -> WhoAmI:
    return WhoAmI(
        kind=access.kind,
        name=access.name,
        role=access.role,
        roles=[r for r in ROLES if allows(access.role, r)],
        scoped=not access.scope.unscoped,
        scope=dict(access.scope.params),
    )


@get(
    "/whoami",
    summary="Who am I",
    description=(
        "The caller's token name, role and scope (as log filter parameters). Every role may "
        "ask. See docs/security.md."
    ),
    operation_id="whoAmI",
    tags=["Access"],
    responses={**ok(WhoAmI), **error_responses(401, 500)},
)
async def whoami(access: NamedDependency[Access]) -> Response[bytes]:
    return json_response(whoami_of(access))


ROUTES: list[Any] = [whoami]
