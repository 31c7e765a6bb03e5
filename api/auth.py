"""Authentication: who a request comes from (:class:`api.tokens.Access`). Off unless a
credential is configured.

In order: an identity forwarded by a trusted reverse proxy (only from its addresses), then a
token (``Authorization: Bearer`` or ``x-api-key``) checked against every entry of
``HEIMDALL_API_TOKENS`` and the tokens file in constant time, then HTTP Basic. Tokens of
``HEIMDALL_API_TOKENS`` and Basic credentials are unscoped admins, as before roles existed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from typing import Final

from api.settings import ApiSettings
from api.tokens import (
    ANONYMOUS,
    Access,
    AccessTable,
    Role,
    TokenEntry,
    TokenFile,
    allows,
    find_token,
    hash_token,
    parse_hash,
)
from shared.errors import HeimdallError

WWW_AUTHENTICATE: Final = 'Bearer realm="heimdall", Basic realm="heimdall"'
_NO_FILE: Final = AccessTable()


class Unauthorized(HeimdallError):
    """Credentials missing or wrong (HTTP 401)."""


class Forbidden(HeimdallError):
    """Valid credentials, but not allowed this (HTTP 403)."""


def env_token_name(token: bytes) -> str:
    """A ``HEIMDALL_API_TOKENS`` token's name: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(token).hexdigest()[:12]


def require_role(access: Access, needed: Role) -> None:
    if not allows(access.role, needed):
        raise Forbidden(
            f"{access.principal} has role {access.role}; this operation needs role {needed}"
        )


class Authenticator:
    def __init__(self, settings: ApiSettings) -> None:
        # Kept only as salted hashes, verified like the file's tokens.
        self.env_tokens = tuple(
            TokenEntry(
                parse_hash(hash_token(token.decode())),
                Access(kind="token", name=env_token_name(token), role="admin"),
            )
            for token in settings.tokens()
        )
        self.basic: tuple[bytes, bytes] | None = None
        if settings.basic_enabled():
            self.basic = (
                settings.api_basic_username.encode(),
                settings.api_basic_password.reveal().encode(),
            )
        self.file: TokenFile | None = None
        if settings.api_tokens_file:
            self.file = TokenFile(settings.api_tokens_file, settings.api_tokens_reload_seconds)
        self.proxies = settings.trusted_networks()
        self.identity_header = settings.api_identity_header.strip().lower()
        self.enabled = bool(self.env_tokens) or self.basic is not None or self.file is not None

    def _basic_ok(self, encoded: str) -> bool:
        if self.basic is None:
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, sep, password = decoded.partition(b":")
        user_ok = hmac.compare_digest(user, self.basic[0])
        password_ok = hmac.compare_digest(password, self.basic[1])
        return bool(sep) and user_ok and password_ok

    def _trusted(self, peer: str | None) -> bool:
        if not self.proxies or not peer:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:10.0.0.5 on a dual-stack socket
        return any(address in network for network in self.proxies)

    def _identity(
        self, headers: Mapping[str, str], peer: str | None, table: AccessTable
    ) -> Access | None:
        """The identity a trusted proxy forwarded; ``None`` when there is none (or the
        request does not come from a trusted proxy: then the header means nothing)."""
        if not self.identity_header or not self._trusted(peer):
            return None
        identity = headers.get(self.identity_header, "").strip()
        if not identity:
            return None
        access = table.identities.get(identity)
        if access is None:
            raise Forbidden(f"identity {identity!r} has no entry in the tokens file")
        return access

    def authenticate(self, headers: Mapping[str, str], peer: str | None = None) -> Access:
        """Who sent a request with ``headers`` from address ``peer``; :class:`Unauthorized`
        when credentials are missing or wrong."""
        if not self.enabled:
            return ANONYMOUS
        table = self.file.current() if self.file is not None else _NO_FILE
        identity = self._identity(headers, peer, table)
        if identity is not None:
            return identity
        entries = self.env_tokens + table.tokens
        authorization = headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        api_key = headers.get("x-api-key")
        if api_key is not None and (found := find_token(api_key, entries)) is not None:
            return found
        if scheme.lower() == "bearer" and (found := find_token(credentials, entries)) is not None:
            return found
        if scheme.lower() == "basic" and self._basic_ok(credentials) and self.basic is not None:
            return Access(kind="basic", name=self.basic[0].decode(), role="admin")
        if api_key is None and not authorization:
            raise Unauthorized(
                "authentication required: send 'Authorization: Bearer <token>', "
                "'x-api-key: <token>' or HTTP Basic credentials"
            )
        raise Unauthorized("invalid credentials")
