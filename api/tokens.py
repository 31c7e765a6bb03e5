"""API tokens: who a caller is (:class:`Access`: name, role, scope), token hashing, and the
tokens file (TOML), re-read when it changes.

Tokens are 256-bit random values (:func:`new_token`); the file holds only a salted hash of
each (HMAC-SHA256 keyed with a random per-token salt). A slow password hash (scrypt,
PBKDF2) protects guessable secrets; a 256-bit random token cannot be guessed from its hash
whatever the hash costs, while verification checks EVERY entry on every request (no early
exit, so time does not tell which token matched): a slow hash would cost each request, and
each forged request, N slow hashes.

The file (``HEIMDALL_API_TOKENS_FILE``)::

    [[tokens]]
    name = "search-team"                 # shown by /api/whoami and in audit records
    role = "read"                        # read | delete | admin
    scope = "team_ids=search"            # filters of GET /api/logs; "" or absent: every log
    hash = "hmac-sha256$<salt>$<digest>" # from: python -m api token create

    [[identities]]                       # trusted-proxy identities (HEIMDALL_API_IDENTITY_HEADER)
    name = "alice@example.com"
    role = "read"
    scope = "virtual_key_ids=vk-1"
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
import tomllib
from collections.abc import Callable, Sequence
from typing import Final, Literal, get_args

import msgspec

from api.parsing import InvalidParameter
from api.scope import UNSCOPED, Scope, parse_scope
from shared.errors import ConfigError

log = logging.getLogger("api.tokens")

Role = Literal["read", "delete", "admin"]
#: Every role, each allowed what the ones before it are.
ROLES: Final[tuple[Role, ...]] = get_args(Role)
Kind = Literal["token", "basic", "identity", "anonymous"]
HASH_SCHEME: Final = "hmac-sha256"
TOKEN_PREFIX: Final = "hmd_"  # noqa: S105 (a prefix, not a secret)
NAME_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}"
NAME_RE: Final = re.compile(NAME_PATTERN)


def allows(role: Role, needed: Role) -> bool:
    """Whether ``role`` may do what ``needed`` is required for (admin > delete > read)."""
    return ROLES.index(role) >= ROLES.index(needed)


class Access(msgspec.Struct, frozen=True, kw_only=True):
    """Who a request comes from and what it may see and do."""

    kind: Kind
    name: str
    role: Role
    scope: Scope = UNSCOPED

    @property
    def principal(self) -> str:
        """For audit records: ``token:<name>``, ``basic:<user>``, ``identity:<name>`` or
        ``anonymous``."""
        return "anonymous" if self.kind == "anonymous" else f"{self.kind}:{self.name}"


#: Authentication off: every caller is this (unscoped, every route).
ANONYMOUS: Final = Access(kind="anonymous", name="anonymous", role="admin")


# ---------------------------------------------------------------- hashing


class TokenHash(msgspec.Struct, frozen=True):
    salt: bytes
    digest: bytes


def _digest(salt: bytes, token: bytes) -> bytes:
    return hmac.digest(salt, token, "sha256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_token() -> str:
    """A fresh token: ``hmd_`` and 256 random bits (URL-safe base64)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str, salt: bytes | None = None) -> str:
    """``hmac-sha256$<salt>$<digest>`` of ``token`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16) if salt is None else salt
    return f"{HASH_SCHEME}${_b64(salt)}${_b64(_digest(salt, token.encode()))}"


def parse_hash(text: str) -> TokenHash:
    scheme, _, rest = text.partition("$")
    salt_text, _, digest_text = rest.partition("$")
    if scheme != HASH_SCHEME or not salt_text or not digest_text:
        raise ValueError(f"expected '{HASH_SCHEME}$<salt>$<digest>' (python -m api token create)")
    try:
        salt, digest = _unb64(salt_text), _unb64(digest_text)
    except (binascii.Error, ValueError):
        raise ValueError("salt and digest must be URL-safe base64") from None
    if len(salt) < 16 or len(digest) != hashlib.sha256().digest_size:
        raise ValueError("salt must be at least 16 bytes and digest 32 bytes")
    return TokenHash(salt, digest)


class TokenEntry(msgspec.Struct, frozen=True):
    hash: TokenHash
    access: Access


def find_token(presented: str, entries: Sequence[TokenEntry]) -> Access | None:
    """The access of the entry ``presented`` matches. Every entry is checked, in constant
    time, with no early exit: the time taken does not depend on which one (if any) matched."""
    candidate = presented.strip().encode()
    found: Access | None = None
    for entry in entries:
        match = hmac.compare_digest(_digest(entry.hash.salt, candidate), entry.hash.digest)
        found = entry.access if match and found is None else found
    return found if candidate else None


# ---------------------------------------------------------------- the file


class _Entry(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    role: Role
    scope: str = ""
    hash: str | None = None


class _File(msgspec.Struct, forbid_unknown_fields=True):
    tokens: list[dict[str, object]] = msgspec.field(default_factory=list)
    identities: list[dict[str, object]] = msgspec.field(default_factory=list)


class AccessTable(msgspec.Struct, frozen=True):
    """What a tokens file grants: token hashes and trusted-proxy identities."""

    tokens: tuple[TokenEntry, ...] = ()
    identities: dict[str, Access] = msgspec.field(default_factory=dict)


def _entry(raw: dict[str, object], table: str, index: int, kind: Kind) -> tuple[Access, str]:
    where = f"{table}[{index}]"
    name = raw.get("name")
    if isinstance(name, str):
        where = f"{table[:-1] if table == 'tokens' else 'identity'} {name!r}"
    try:
        entry = msgspec.convert(raw, _Entry)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if not NAME_RE.fullmatch(entry.name):
        raise ConfigError(f"{where}: name must match {NAME_PATTERN}")
    try:
        scope = parse_scope(entry.scope)
    except InvalidParameter as exc:
        raise ConfigError(f"{where}: scope parameter {exc.param!r}: {exc.message}") from None
    if entry.role == "admin" and not scope.unscoped:
        raise ConfigError(f"{where}: role admin sees every log: give it no scope")
    if kind == "token" and entry.hash is None:
        raise ConfigError(f"{where}: hash is missing (python -m api token create)")
    if kind == "identity" and entry.hash is not None:
        raise ConfigError(f"{where}: an identity has no hash (the proxy authenticates it)")
    return Access(kind=kind, name=entry.name, role=entry.role, scope=scope), entry.hash or ""


def parse_token_file(text: str) -> AccessTable:
    """A tokens file's TOML -> :class:`AccessTable`; :class:`ConfigError` names the entry
    and the problem (for a scope: the filter parameter)."""
    try:
        document = msgspec.convert(tomllib.loads(text), _File)
    except (tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(str(exc)) from None
    tokens: list[TokenEntry] = []
    for i, raw in enumerate(document.tokens):
        access, hash_text = _entry(raw, "tokens", i, "token")
        try:
            tokens.append(TokenEntry(parse_hash(hash_text), access))
        except ValueError as exc:
            raise ConfigError(f"token {access.name!r}: hash: {exc}") from None
    identities = [
        _entry(raw, "identities", i, "identity")[0] for i, raw in enumerate(document.identities)
    ]
    for table, seen in (("tokens", tokens), ("identities", identities)):
        names = [a.access.name if isinstance(a, TokenEntry) else a.name for a in seen]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"{table}: each name once; given twice: {', '.join(twice)}")
    return AccessTable(tuple(tokens), {a.name: a for a in identities})


def load_token_file(path: str) -> AccessTable:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError(f"tokens file {path}: {exc.strerror or exc}") from None
    try:
        return parse_token_file(text)
    except ConfigError as exc:
        raise ConfigError(f"tokens file {path}: {exc}") from None


_Signature = tuple[int, int, int]


def _signature(path: str) -> _Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class TokenFile:
    """The tokens file, loaded at start-up (a broken file stops it) and re-read when it
    changes: its mtime, size and inode are checked at most every ``interval`` seconds, or
    at the next request after :meth:`check_soon` (SIGHUP). A file that became broken (or
    vanished) keeps the last good set and logs the error once."""

    def __init__(
        self, path: str, interval: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self.interval = interval
        self._clock = clock
        self._seen = _signature(path)
        self.table = load_token_file(path)
        self._checked = clock()

    def current(self) -> AccessTable:
        now = self._clock()
        if now - self._checked >= self.interval:
            self._checked = now
            self._reload()
        return self.table

    def check_soon(self) -> None:
        """Check the file at the next :meth:`current`, whatever the interval (and even if
        its signature looks unchanged)."""
        self._checked = float("-inf")
        self._seen = None

    def _reload(self) -> None:
        signature = _signature(self.path)
        if signature == self._seen:
            return
        self._seen = signature
        try:
            self.table = load_token_file(self.path)
        except ConfigError as exc:
            log.error("%s; keeping the previous tokens", exc)
            return
        log.info("tokens file %s re-read: %d token(s)", self.path, len(self.table.tokens))
