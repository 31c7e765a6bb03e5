"""Fields Heimdall derives from a log for search: content text, total tokens, metadata pairs.

Each nested value is decoded by a small typed decoder that reads only what it needs and
ignores the rest; the stored bytes stay as the producer sent them. The same decoders
validate an incoming event (:func:`validate`), so a wrongly typed history is a bad event,
not a crash later.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, TypeVar

import msgspec

from shared.errors import BadEvent
from shared.index import (
    CACHE_HIT_TYPE,
    CACHED_READ_TOKENS,
    COMPLETION_TOKENS,
    METADATA_KV,
    METADATA_SEPARATOR,
    OWNER_FIELDS,
    PROMPT_TOKENS,
    SEARCH_TEXT,
    TOTAL_TOKENS,
)
from shared.schema import NO_VALUE, LogEntry

T = TypeVar("T")

_LONG_MIN: Final = -(2**63)
_LONG_MAX: Final = 2**63 - 1


class _Block(msgspec.Struct):
    text: str | None = None


class _Message(msgspec.Struct):
    content: str | list[_Block] | None = None


class _Summary(msgspec.Struct):
    text: str | None = None


class _ResponsesItem(msgspec.Struct):
    content: str | list[_Block] | None = None
    summary: list[_Summary] | None = None


class _Speech(msgspec.Struct):
    input: str | None = None


class _Transcription(msgspec.Struct):
    text: str | None = None


class _Prompted(msgspec.Struct):
    prompt: str | None = None


class _ErrorField(msgspec.Struct):
    message: str | None = None


class _Error(msgspec.Struct):
    error: _ErrorField | None = None


class _PromptDetails(msgspec.Struct):
    cached_read_tokens: int | None = None
    cached_tokens: int | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens_details: _PromptDetails | None = None


class _CacheDebug(msgspec.Struct):
    hit_type: str | None = None


def _content(content: str | list[_Block] | None) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    elif content:
        yield from (block.text for block in content if block.text)


def _messages(messages: list[_Message] | None) -> Iterator[str]:
    for message in messages or ():
        yield from _content(message.content)


def _message(message: _Message | None) -> Iterator[str]:
    if message is not None:
        yield from _content(message.content)


def _responses(items: list[_ResponsesItem] | None) -> Iterator[str]:
    for item in items or ():
        yield from _content(item.content)
        yield from (s.text for s in item.summary or () if s.text)


def _one(text: str | None) -> Iterator[str]:
    if text:
        yield text


class _Extractor(msgspec.Struct, frozen=True):
    decoder: msgspec.json.Decoder[Any]
    texts: Callable[[Any], Iterable[str]]


def _extractor(type_: type[T] | Any, texts: Callable[[T], Iterable[str]]) -> _Extractor:
    return _Extractor(msgspec.json.Decoder(type_ | None), lambda v: texts(v) if v else ())


#: Content-bearing fields, in the order their text is joined (spec README, content_search).
_TEXT_FIELDS: Final[dict[str, _Extractor]] = {
    "input_history": _extractor(list[_Message], _messages),
    "responses_input_history": _extractor(list[_ResponsesItem], _responses),
    "speech_input": _extractor(_Speech, lambda v: _one(v.input)),
    "image_generation_input": _extractor(_Prompted, lambda v: _one(v.prompt)),
    "video_generation_input": _extractor(_Prompted, lambda v: _one(v.prompt)),
    "output_message": _extractor(_Message, _message),
    "responses_output": _extractor(list[_ResponsesItem], _responses),
    "transcription_output": _extractor(_Transcription, lambda v: _one(v.text)),
    "error_details": _extractor(_Error, lambda v: _one(v.error.message if v.error else None)),
}
#: Payloads :func:`validate` decodes, which checks their top-level type on the way.
VALIDATED_FIELDS: Final = frozenset({*_TEXT_FIELDS, "token_usage", "cache_debug", "metadata"})
_USAGE: Final[msgspec.json.Decoder[_Usage | None]] = msgspec.json.Decoder(_Usage | None)
_CACHE_DEBUG: Final[msgspec.json.Decoder[_CacheDebug | None]] = msgspec.json.Decoder(
    _CacheDebug | None
)
_METADATA: Final[msgspec.json.Decoder[dict[str, Any] | None]] = msgspec.json.Decoder(
    dict[str, Any] | None
)


def decode_at(decoder: msgspec.json.Decoder[T], raw: bytes, path: str) -> T:
    """Decode one nested value; a wrong type is a :class:`BadEvent` naming its JSON path."""
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        # Re-root msgspec's "- at `$...`" onto the field's own path.
        message = str(exc).replace("`$", f"`{path}", 1)
        if "`" + path not in message:
            message = f"{message} - at `{path}`"
        raise BadEvent("invalid", message) from None


def validate(entry: LogEntry, path: str = "$") -> None:
    """Decode every nested value that derivation reads, raising :class:`BadEvent` with the
    JSON path on a wrong type."""
    for name, extractor in _TEXT_FIELDS.items():
        raw = getattr(entry, name)
        if raw is not NO_VALUE:
            decode_at(extractor.decoder, raw, f"{path}.{name}")
    if entry.token_usage is not NO_VALUE:
        usage = decode_at(_USAGE, entry.token_usage, f"{path}.token_usage")
        for name, tokens in (_counts(usage) if usage is not None else {}).items():
            if not _LONG_MIN <= tokens <= _LONG_MAX:
                raise BadEvent("invalid", f"{name} {tokens} out of range - at `{path}.token_usage`")
    if entry.cache_debug is not NO_VALUE:
        decode_at(_CACHE_DEBUG, entry.cache_debug, f"{path}.cache_debug")
    if entry.metadata is not NO_VALUE:
        decode_at(_METADATA, entry.metadata, f"{path}.metadata")


def search_text(fields: Mapping[str, msgspec.Raw]) -> str:
    parts: list[str] = []
    for name, extractor in _TEXT_FIELDS.items():
        raw = fields.get(name)
        if raw is not None:
            parts.extend(extractor.texts(extractor.decoder.decode(raw)))
    return "\n".join(parts)


def _total(usage: _Usage) -> int | None:
    if usage.total_tokens is not None:
        return usage.total_tokens
    if usage.prompt_tokens is None and usage.completion_tokens is None:
        return None
    return (usage.prompt_tokens or 0) + (usage.completion_tokens or 0)


def total_tokens(token_usage: msgspec.Raw | None) -> int | None:
    """``token_usage.total_tokens``, else prompt + completion, else unknown."""
    usage = _USAGE.decode(token_usage) if token_usage is not None else None
    return None if usage is None else _total(usage)


def token_counts(token_usage: msgspec.Raw | None) -> dict[str, int]:
    """The indexed token counts of a ``token_usage`` (decoded once): total (see
    :func:`total_tokens`), prompt, completion and cached-read
    (``prompt_tokens_details.cached_read_tokens``, else OpenAI's ``cached_tokens``); a count
    the usage does not give is left out."""
    usage = _USAGE.decode(token_usage) if token_usage is not None else None
    return {} if usage is None else _counts(usage)


def _counts(usage: _Usage) -> dict[str, int]:
    counts: dict[str, int] = {}
    total = _total(usage)
    if total is not None:
        counts[TOTAL_TOKENS] = total
    if usage.prompt_tokens is not None:
        counts[PROMPT_TOKENS] = usage.prompt_tokens
    if usage.completion_tokens is not None:
        counts[COMPLETION_TOKENS] = usage.completion_tokens
    details = usage.prompt_tokens_details
    if details is not None:
        cached = (
            details.cached_read_tokens
            if details.cached_read_tokens is not None
            else details.cached_tokens
        )
        if cached is not None:
            counts[CACHED_READ_TOKENS] = cached
    return counts


def cache_hit_type(cache_debug: msgspec.Raw | None) -> str | None:
    """``cache_debug.hit_type`` (``direct`` / ``semantic`` for Bifrost's cache hits)."""
    if cache_debug is None:
        return None
    debug = _CACHE_DEBUG.decode(cache_debug)
    return debug.hit_type if debug is not None and debug.hit_type else None


def metadata_value(value: Any) -> str | None:
    """How a metadata value is matched by ``metadata_<key>=<value>``: strings as they are,
    numbers and booleans as their JSON text; null, objects and arrays are not filterable."""
    if isinstance(value, str):
        return value
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)  # what ``json.dumps`` writes, without its call
    if isinstance(value, float):
        return json.dumps(value)
    return None


def metadata_pairs(metadata: msgspec.Raw | None) -> list[str]:
    if metadata is None:
        return []
    decoded = _METADATA.decode(metadata) or {}
    pairs = []
    for key, value in decoded.items():
        text = metadata_value(value)
        if text is not None:
            pairs.append(f"{key}{METADATA_SEPARATOR}{text}")
    return sorted(pairs)


_TEXT: Final[msgspec.json.Decoder[str | None]] = msgspec.json.Decoder(str | None)
_TEXTS: Final[msgspec.json.Decoder[list[str] | None]] = msgspec.json.Decoder(list[str] | None)


def owner_pairs(fields: Mapping[str, msgspec.Raw], derived: str) -> list[str]:
    """``name<US>id`` per owner: the scalar pair and the arrays (paired by position), one
    entry per non-empty id with the greatest name it is given (empty when none)."""
    id_field, name_field, ids_field, names_field = OWNER_FIELDS[derived]
    found: dict[str, str] = {}
    raw = fields.get(id_field)
    ident = _TEXT.decode(raw) if raw is not None else None
    if ident:
        raw = fields.get(name_field)
        found[ident] = (_TEXT.decode(raw) if raw is not None else None) or ""
    raw = fields.get(ids_field)
    ids = (_TEXTS.decode(raw) if raw is not None else None) or ()
    if ids:
        raw = fields.get(names_field)
        names = (_TEXTS.decode(raw) if raw is not None else None) or []
        for k, ident in enumerate(ids):
            if ident:
                found[ident] = max(found.get(ident, ""), names[k] if k < len(names) else "")
    return sorted(f"{name}{METADATA_SEPARATOR}{ident}" for ident, name in found.items())


def derived_fields(fields: Mapping[str, msgspec.Raw]) -> dict[str, Any]:
    """The derived part of a stored document, from a log's merged fields."""
    derived: dict[str, Any] = {SEARCH_TEXT: search_text(fields)}
    derived.update(token_counts(fields.get("token_usage")))
    hit_type = cache_hit_type(fields.get("cache_debug"))
    if hit_type is not None:
        derived[CACHE_HIT_TYPE] = hit_type
    pairs = metadata_pairs(fields.get("metadata"))
    if pairs:
        derived[METADATA_KV] = pairs
    for owners in OWNER_FIELDS:
        found = owner_pairs(fields, owners)
        if found:
            derived[owners] = found
    return derived
