"""Authentication of ``/api/*``: Bearer / x-api-key tokens and Basic credentials, compared
in constant time. Off unless a credential is configured."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Final

from api.settings import ApiSettings
from shared.errors import HeimdallError

ANONYMOUS: Final = "anonymous"
WWW_AUTHENTICATE: Final = 'Bearer realm="heimdall", Basic realm="heimdall"'


class Unauthorized(HeimdallError):
    """Credentials missing or wrong (HTTP 401)."""


class Authenticator:
    """Bearer / x-api-key tokens and Basic credentials, compared in constant time."""

    def __init__(self, settings: ApiSettings) -> None:
        self.tokens = settings.tokens()
        self.basic: tuple[bytes, bytes] | None = None
        if settings.basic_enabled():
            self.basic = (
                settings.api_basic_username.encode(),
                settings.api_basic_password.reveal().encode(),
            )
        self.enabled = bool(self.tokens) or self.basic is not None

    def _token_ok(self, presented: str) -> bool:
        candidate = presented.strip().encode()
        ok = False
        for token in self.tokens:  # no early exit: time does not depend on which token
            ok |= hmac.compare_digest(candidate, token)
        return ok and bool(candidate)

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

    def check(self, headers: Mapping[str, str]) -> None:
        authorization = headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        api_key = headers.get("x-api-key")
        if api_key is not None and self.tokens and self._token_ok(api_key):
            return
        if scheme.lower() == "bearer" and self.tokens and self._token_ok(credentials):
            return
        if scheme.lower() == "basic" and self._basic_ok(credentials):
            return
        if api_key is None and not authorization:
            raise Unauthorized(
                "authentication required: send 'Authorization: Bearer <token>', "
                "'x-api-key: <token>' or HTTP Basic credentials"
            )
        raise Unauthorized("invalid credentials")

    def principal(self, headers: Mapping[str, str]) -> str:
        """Who a request (already admitted by :meth:`check`) comes from, for audit records:
        ``basic:<username>``, ``token:<first 12 hex digits of the token's SHA-256>`` (never
        the token), or ``anonymous`` when authentication is off."""
        if not self.enabled:
            return ANONYMOUS
        authorization = headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "basic" and self._basic_ok(credentials) and self.basic is not None:
            return f"basic:{self.basic[0].decode()}"
        token = headers.get("x-api-key")
        if token is None or not self._token_ok(token):
            token = credentials
        digest = hashlib.sha256(token.strip().encode()).hexdigest()[:12]
        return f"token:{digest}"
