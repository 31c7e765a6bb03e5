"""Typed settings, loaded once from the environment, failing fast, never printing secrets.

A settings class is a :class:`msgspec.Struct` whose fields carry their documentation in
``Annotated[..., msgspec.Meta(description=...)]``. Field ``foo_bar`` is read from
``HEIMDALL_FOO_BAR``. :func:`describe` renders the same metadata for ``--help``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar, get_args, get_origin, get_type_hints

import msgspec

from shared.errors import ConfigError

PREFIX = "HEIMDALL_"

S = TypeVar("S", bound=msgspec.Struct)


class Secret(str):
    """A string that never shows its value in ``repr``, logs or ``--help``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"

    def reveal(self) -> str:
        return str.__str__(self)


#: A log level name, in any case (``info``, ``INFO``); users normalise it.
LogLevel = Annotated[str, msgspec.Meta(pattern=r"^(?i:debug|info|warning|error)$")]


def env_name(field: str) -> str:
    return PREFIX + field.upper()


def _dec_hook(type_: type, obj: Any) -> Any:
    if type_ is Secret and isinstance(obj, str):
        return Secret(obj)
    raise NotImplementedError(type_)


def load(cls: type[S], environ: Mapping[str, str] | None = None) -> S:
    """Build ``cls`` from ``HEIMDALL_*`` variables; raise :class:`ConfigError` naming the
    variable and the problem on the first invalid value."""
    env = os.environ if environ is None else environ
    raw: dict[str, str] = {}
    for field in cls.__struct_fields__:
        value = env.get(env_name(field))
        if value is not None and value != "":
            raw[field] = value
    try:
        return msgspec.convert(raw, cls, strict=False, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        # msgspec says e.g. "Expected `int`, got `str` - at `$.api_port`".
        message = str(exc)
        for field in cls.__struct_fields__:
            message = message.replace(f"`$.{field}`", env_name(field))
        raise ConfigError(f"invalid setting: {message}") from None


def describe(cls: type[msgspec.Struct]) -> str:
    """One paragraph per setting: variable, type, default, description."""
    hints = get_type_hints(cls, include_extras=True)
    defaults = dict(
        zip(
            cls.__struct_fields__[len(cls.__struct_fields__) - len(cls.__struct_defaults__) :],
            cls.__struct_defaults__,
            strict=True,
        )
    )
    lines: list[str] = []
    for field in cls.__struct_fields__:
        hint = hints[field]
        description = ""
        base = hint
        if get_origin(hint) is Annotated:
            base, *extras = get_args(hint)
            for extra in extras:
                if isinstance(extra, msgspec.Meta) and extra.description:
                    description = extra.description
        type_name = getattr(base, "__name__", str(base))
        default = defaults.get(field, msgspec.NODEFAULT)
        if default is msgspec.NODEFAULT:
            shown = "required"
        elif base is Secret:
            shown = "unset" if not default else "set"
        else:
            shown = repr(default)
        lines.append(f"  {env_name(field)}  ({type_name}, default {shown})\n      {description}")
    return "\n".join(lines)


def _doc(description: str) -> msgspec.Meta:
    return msgspec.Meta(description=description)


class OpenSearchSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Settings both services need to reach the log index."""

    opensearch_url: Annotated[
        str, _doc("OpenSearch base URL, e.g. http://127.0.0.1:9200 (https for TLS).")
    ] = "http://127.0.0.1:9200"
    opensearch_username: Annotated[str, _doc("Basic-auth user for OpenSearch; empty: none.")] = ""
    opensearch_password: Annotated[Secret, _doc("Basic-auth password for OpenSearch.")] = Secret("")
    opensearch_verify_certs: Annotated[
        bool, _doc("Verify OpenSearch's TLS certificate (https only).")
    ] = True
    opensearch_timeout: Annotated[
        float, msgspec.Meta(gt=0, description="Seconds before one OpenSearch request fails.")
    ] = 10.0
    index_alias: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            pattern=r"^[a-z0-9][a-z0-9_.-]*$",
            description="Alias of the log index; the versioned index behind it is "
            "<alias>-v<mapping version>.",
        ),
    ] = "heimdall-logs"
