"""Redaction of one string: every detector in turn, each match replaced by a token (pure).

- ``mask``: ``jane@example.com`` -> ``[EMAIL]``;
- ``hash``: ``jane@example.com`` -> ``[EMAIL:5b2f0c1d9e8a]``, the first 12 hex digits of
  ``HMAC-SHA256(key, label + US + normalised value)``. Normalised: emails in lower case, card
  numbers as digits, phones in E.164, IPs in canonical form; so equal values (however they
  were written) give equal tokens, and a token can be searched for.

Deterministic (no state, no clock, no randomness) and idempotent: a token never matches a
detector again, so redacting a redacted text changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable, Sequence
from typing import Final, Literal

import phonenumbers

from ingest.redact.patterns import CONTEXT, Pattern

Mode = Literal["off", "mask", "hash"]
#: Strings shorter than this hold nothing any detector can find (the shortest is an IPv4).
MIN_LENGTH: Final = 7
HASH_HEX: Final = 12


def _phone_e164(text: str, region: str) -> str:
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return text
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise(label: str, value: str, region: str) -> str:
    """The form of ``value`` that is hashed (see the module docstring)."""
    if label == "EMAIL":
        return value.lower()
    if label == "CARD":
        return "".join(c for c in value if c.isdigit())
    if label == "PHONE":
        return _phone_e164(value, region)
    if label == "IP":
        return str(ipaddress.ip_address(value))
    return value


class TextRedactor:
    """Replaces what ``patterns`` find in a string, in ``mode`` (``mask`` or ``hash``)."""

    def __init__(
        self,
        patterns: Sequence[Pattern],
        mode: Mode,
        *,
        key: bytes = b"",
        phone_region: str = "US",
    ) -> None:
        if mode == "off":
            raise ValueError("redaction mode 'off' has no redactor")
        if mode == "hash" and not key:
            raise ValueError("redaction mode 'hash' needs a key")
        self.mode: Mode = mode
        self.patterns = tuple(patterns)
        self._key = key
        self._region = phone_region
        #: Consecutive patterns with the same ``within`` run together, on its spans.
        self._steps: list[tuple[re.Pattern[str] | None, list[_Step]]] = []
        for pattern in self.patterns:
            step = (pattern, self._replacer(pattern))
            if self._steps and pattern.within is not None and self._steps[-1][0] is pattern.within:
                self._steps[-1][1].append(step)
            else:
                self._steps.append((pattern.within, [step]))

    def __repr__(self) -> str:  # never shows the key
        return f"TextRedactor(mode={self.mode!r}, patterns={len(self.patterns)})"

    def token(self, label: str, value: str) -> str:
        """What ``value``, found by a detector labelled ``label``, becomes."""
        if self.mode == "mask":
            return f"[{label}]"
        message = f"{label}\x1f{normalise(label, value, self._region)}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).hexdigest()[:HASH_HEX]
        return f"[{label}:{digest}]"

    def _replacer(self, pattern: Pattern) -> Callable[[re.Match[str]], str]:
        check, group, label = pattern.check, pattern.group, pattern.label

        def replace(match: re.Match[str]) -> str:
            value = match.group(group)
            if check is not None and not check(value):
                return match.group(0)
            if group == 0:
                return self.token(label, value)
            whole, start = match.group(0), match.start(group) - match.start(0)
            return whole[:start] + self.token(label, value) + whole[start + len(value) :]

        return replace

    def redact(self, text: str) -> str:
        """``text`` with every detected value replaced (the very same object if none)."""
        if len(text) < MIN_LENGTH:
            return text
        result = text
        for within, steps in self._steps:
            result = _apply(steps, result) if within is None else _inside(within, steps, result)
        return text if result == text else result


_Step = tuple[Pattern, Callable[[re.Match[str]], str]]


def _apply(steps: Sequence[_Step], text: str) -> str:
    for pattern, replace in steps:
        if pattern.hint is not None and pattern.hint not in text:
            continue
        if pattern.gate is not None and not pattern.gate(text):
            continue
        text = pattern.regex.sub(replace, text)
    return text


def _inside(within: re.Pattern[str], steps: Sequence[_Step], text: str) -> str:
    """``steps`` applied to each span ``within`` finds (widened by :data:`CONTEXT`, merged
    where they touch), the rest of ``text`` kept as it is."""
    spans: list[list[int]] = []
    for match in within.finditer(text):
        start, end = max(match.start() - CONTEXT, 0), match.end() + CONTEXT
        if spans and start <= spans[-1][1]:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    if not spans:
        return text
    pieces, last = [], 0
    for start, end in spans:
        pieces += [text[last:start], _apply(steps, text[start:end])]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)
