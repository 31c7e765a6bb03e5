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
from ingest.redact.prefilter import Found, Prefilter, Span

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
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:  # an operator's pattern may be labelled IP too
            return value
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
        prefilter: bool = True,
    ) -> None:
        if mode == "off":
            raise ValueError("redaction mode 'off' has no redactor")
        if mode == "hash" and not key:
            raise ValueError("redaction mode 'hash' needs a key")
        self.mode: Mode = mode
        self.patterns = tuple(patterns)
        self._key = key
        self._region = phone_region
        #: Consecutive patterns with the same ``within`` run together (on its runs).
        self._steps: list[tuple[re.Pattern[str] | None, list[_Step]]] = []
        for pattern in self.patterns:
            step = (pattern, self._replacer(pattern))
            if self._steps and self._steps[-1][0] is pattern.within:
                self._steps[-1][1].append(step)
            else:
                self._steps.append((pattern.within, [step]))
        self._prefilter = (
            Prefilter(
                (p.hint for p in self.patterns if p.hint is not None and p.within is None),
                (p.within for p in self.patterns if p.within is not None),
            )
            if prefilter
            else None
        )

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
        found = self._prefilter.scan(text) if self._prefilter is not None else None
        result = text
        # Runs found for the text as it came are good until a replacement moves them.
        for within, steps in self._steps:
            if within is None:
                result = _apply(steps, result, found)
                continue
            spans: list[Span] | None = None
            if found is not None and self._prefilter is not None:
                if within.pattern not in found.runs:
                    continue  # no run in the text: nothing to look at
                if result is not text:  # earlier replacements moved the runs: scan again
                    found = self._prefilter.scan(result)
                    if within.pattern not in found.runs:
                        continue
                spans = found.runs[within.pattern]
            if spans is None:
                spans = [[m.start(), m.end()] for m in within.finditer(result)]
            result = _inside(spans, steps, result)
        return text if result == text else result


_Step = tuple[Pattern, Callable[[re.Match[str]], str]]


def _apply(steps: Sequence[_Step], text: str, found: Found | None = None) -> str:
    """``steps`` in turn; a pattern whose hint is not in the text (as ``found`` says, else
    as a substring search says) or whose gate refuses it is skipped."""
    for pattern, replace in steps:
        hint = pattern.hint
        if hint is not None and (hint not in found.hints if found else hint not in text):
            continue
        if pattern.gate is not None and not pattern.gate(text):
            continue
        text = pattern.regex.sub(replace, text)
    return text


def _inside(runs: Sequence[Span], steps: Sequence[_Step], text: str) -> str:
    """``steps`` applied to each run (widened by :data:`CONTEXT`, merged where they touch),
    the rest of ``text`` kept as it is."""
    windows: list[Span] = []
    for start, end in sorted(runs):
        start, end = max(start - CONTEXT, 0), end + CONTEXT
        if windows and start <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], end)
        else:
            windows.append([start, end])
    if not windows:
        return text
    pieces, last = [], 0
    for start, end in windows:
        pieces += [text[last:start], _apply(steps, text[start:end])]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)
