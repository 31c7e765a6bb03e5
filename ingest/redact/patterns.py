"""What redaction looks for: the built-in detectors, as data (pure, no state).

Each :class:`Pattern` is a label (what the match becomes: ``[API_KEY]``, ``[EMAIL]``, ...), a
regular expression, and optionally a check that a match must pass (Luhn for cards, the
standard library's :mod:`ipaddress` for IPs, Google's libphonenumber metadata through
:mod:`phonenumbers` for phones). Patterns are tried in order; a later pattern never
re-matches text an earlier one replaced.

Provider key formats are those the providers publish (prefix + alphabet + length); a key
format not listed here is caught only by ``HEIMDALL_REDACTION_PATTERNS``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Callable
from typing import Final

import msgspec
import phonenumbers


class Pattern(msgspec.Struct, frozen=True):
    """One detector: what its matches become, how they are found and checked."""

    label: str
    regex: re.Pattern[str]
    #: A cheap substring that every match contains (skips the scan when it is absent).
    hint: str | None = None
    #: A match is kept only if this returns true for its text (``group("v")`` if any).
    check: Callable[[str], bool] | None = None
    #: The group replaced (others are kept, e.g. the ``Bearer `` prefix); 0: the match.
    group: int | str = 0
    #: A cheap test of the whole text that every text with a match passes.
    gate: Callable[[str], bool] | None = None
    #: Matches lie inside what this finds: the pattern runs on those spans only (with
    #: :data:`CONTEXT` characters each side for its lookarounds), not on the whole text.
    within: re.Pattern[str] | None = None


#: Characters kept each side of a ``within`` span (the longest lookaround of a pattern).
CONTEXT: Final = 2


def luhn(digits: str) -> bool:
    """The Luhn checksum of a card number (separators ignored)."""
    numbers = [int(c) for c in digits if c.isdigit()]
    if not 13 <= len(numbers) <= 19:
        return False
    total = 0
    for k, n in enumerate(reversed(numbers)):
        if k % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def is_ip(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    # IPv6 with three colons at least: "::1" or "a::b" (C++) say nothing about anyone.
    return address.version == 4 or text.count(":") >= 3


def _b64json(part: str) -> bool:
    try:
        decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return isinstance(json.loads(decoded), dict)
    except (binascii.Error, ValueError):
        return False


def is_jwt(token: str) -> bool:
    """A JWS compact token whose header and claims decode to JSON objects."""
    header, claims, *_ = token.split(".")
    return _b64json(header) and _b64json(claims)


def phone_check(region: str) -> Callable[[str], bool]:
    """A formatted number that libphonenumber finds valid (international if it starts with
    ``+``, else in ``region``)."""

    def check(text: str) -> bool:
        try:
            number = phonenumbers.parse(text, None if text.startswith("+") else region)
        except phonenumbers.NumberParseException:
            return False
        return bool(phonenumbers.is_valid_number(number))

    return check


_A: Final = r"A-Za-z0-9"
#: Not followed by a character a token could continue with.
_R: Final = r"(?![\w-])"


def _token(prefix: str, rest: str) -> str:
    """``prefix`` (a literal) not preceded by a token character, then ``rest``. The check
    before the prefix is a lookbehind *after* it, so the regex still starts with a literal,
    which the ``re`` engine finds with a fast substring search (a leading lookbehind makes
    it try every position: about 40 times slower on a 4 KB prompt)."""
    literal = re.escape(prefix)
    return rf"{literal}(?<![\w-]{literal}){rest}{_R}"


#: Provider API keys and other credentials, most specific first: (label, hint, regex).
SECRETS: Final[tuple[tuple[str, str, str], ...]] = (
    (
        "PRIVATE_KEY",
        "PRIVATE KEY-----",
        r"-----BEGIN[A-Z ]*PRIVATE KEY-----[\s\S]*?-----END[A-Z ]*PRIVATE KEY-----",
    ),
    ("API_KEY", "sk-ant-", _token("sk-ant-", rf"[a-z]+\d*-[{_A}_-]{{20,}}")),  # Anthropic
    ("API_KEY", "sk-", _token("sk-", rf"(?:proj-|svcacct-|admin-)?[{_A}_-]{{20,}}")),  # OpenAI
    ("API_KEY", "_live_", _token("sk_live_", rf"[{_A}]{{16,}}")),  # Stripe secret
    ("API_KEY", "_live_", _token("rk_live_", rf"[{_A}]{{16,}}")),  # Stripe restricted
    ("API_KEY", "_test_", _token("sk_test_", rf"[{_A}]{{16,}}")),  # Stripe test mode
    ("API_KEY", "AKIA", _token("AKIA", r"[A-Z0-9]{16}")),  # AWS access key id
    ("API_KEY", "ASIA", _token("ASIA", r"[A-Z0-9]{16}")),  # AWS temporary key id
    ("API_KEY", "AIza", _token("AIza", rf"[{_A}_-]{{35}}")),  # Google API key
    ("API_KEY", "gh", r"gh[pousr]_(?<![\w-]gh._)[A-Za-z0-9]{36,}(?![\w-])"),  # GitHub
    ("API_KEY", "github_pat_", _token("github_pat_", rf"[{_A}_]{{40,}}")),  # GitHub fine-grained
    ("API_KEY", "glpat-", _token("glpat-", rf"[{_A}_-]{{20,}}")),  # GitLab
    ("API_KEY", "xox", r"xox[abposr]-(?<![\w-]xox.-)[A-Za-z0-9-]{10,}(?![\w-])"),  # Slack
    ("API_KEY", "hooks.slack.com", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_]+"),
    ("API_KEY", "SG.", _token("SG.", rf"[{_A}_-]{{22}}\.[{_A}_-]{{43}}")),  # SendGrid
    ("API_KEY", "hf_", _token("hf_", rf"[{_A}]{{30,}}")),  # Hugging Face
    ("API_KEY", "gsk_", _token("gsk_", rf"[{_A}]{{40,}}")),  # Groq
    ("API_KEY", "xai-", _token("xai-", rf"[{_A}]{{40,}}")),  # xAI
    ("API_KEY", "pplx-", _token("pplx-", rf"[{_A}]{{40,}}")),  # Perplexity
    ("API_KEY", "npm_", _token("npm_", rf"[{_A}]{{36}}")),  # npm
    ("API_KEY", "pypi-AgE", _token("pypi-AgE", rf"[{_A}_-]{{50,}}")),  # PyPI
    ("API_KEY", "sq0", r"sq0(?:atp|csp)-(?<![\w-]sq0...-)[A-Za-z0-9_-]{22,43}(?![\w-])"),
    ("API_KEY", "AccountKey=", r"AccountKey=[A-Za-z0-9+/=]{88}"),  # Azure storage
)

# The others. Each starts with a character class and checks the character before it with
# a lookbehind placed after that first character (for the reason given in ``_token``).
_JWT: Final = r"eyJ(?<![\w-]eyJ)[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*(?![\w-])"
_BEARER: Final = r"[Bb](?<!\w[Bb])(?i:earer)\s+(?P<v>[A-Za-z0-9._~+/-]{16,}=*)"
_EMAIL: Final = (
    r"[A-Za-z0-9._%+-](?<![\w.+-].)[A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.[A-Za-z]{2,}(?![\w-])"
)
_CARD: Final = r"\d(?<![\d.-]\d)(?:[ -]?\d){12,18}(?![\d-])"
_IPV4: Final = r"\d(?<![\d.]\d)\d{0,2}(?:\.\d{1,3}){3}(?!\d|\.\d)"
_IPV6: Final = r"[0-9A-Fa-f:](?<![\w:.].)[0-9A-Fa-f]{0,3}:[0-9A-Fa-f:.]{1,41}(?<!\.)(?![\w:]|\.\w)"
#: A formatted phone number: ``+`` and digits, or groups split by spaces, dots, dashes or
#: parentheses. A bare run of digits (ids, timestamps) or an ISO date is never a phone.
_PHONE: Final = (
    r"[+(\d](?<![\w+.-].)(?!\d{3}-\d\d-\d\d)(?:(?<=\+)\d[\d ().-]{6,18}\d"
    r"|(?<=\()\d{2,4}\)[ .-]?\d{2,4}[ .-]\d{2,5}"
    r"|(?<=\d)\d{1,3}[ .-]\d{2,4}[ .-]\d{2,5}(?:[ .-]\d{2,5})?)(?![\w-]|\.\d)"
)


# Where matches can be: runs that the prefilter's one scan finds (ingest.redact.prefilter);
# the patterns then run only on them. (With ``re`` alone, a pattern that starts with a
# character class costs tens of microseconds per 4 KB: it cannot skip ahead to a literal.)
# Each run takes the character after it (or the end of the text), so that Hyperscan reports
# one match per run, not one per character of it.
#: Every card, IPv4 address and phone lies in such a run of digits and separators.
_NUMBER_RUN: Final = re.compile(r"[\d+(][\d .()+-]{5,}\d[ .()+-]*(?:[^\d .()+-]|$)")
#: Every email lies in such a run.
_EMAIL_RUN: Final = re.compile(
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?:[^A-Za-z0-9-]|$)"
)
#: Every IPv6 address this redacts (three colons at least, see ``is_ip``) lies in such a run.
_IPV6_RUN: Final = re.compile(
    r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*(?:[^0-9A-Fa-f:.]|$)"
)


def _may_hold_ipv6(text: str) -> bool:
    return "::" in text or text.count(":") >= 7


def _may_hold_bearer(text: str) -> bool:
    return "earer" in text or "EARER" in text


def builtins(phone_region: str) -> tuple[Pattern, ...]:
    """Every built-in detector, in the order they are applied."""
    found = [Pattern(label, re.compile(regex), hint or None) for label, hint, regex in SECRETS]
    # One alternation of the three number patterns would scan once too, but the engine then
    # loses the first character class it skips ahead with: about 5 times slower (measured).
    found += [
        Pattern("JWT", re.compile(_JWT), "eyJ", is_jwt),
        Pattern("TOKEN", re.compile(_BEARER), None, None, "v", gate=_may_hold_bearer),
        Pattern("EMAIL", re.compile(_EMAIL), "@", within=_EMAIL_RUN),
        Pattern("IP", re.compile(_IPV6), None, is_ip, gate=_may_hold_ipv6, within=_IPV6_RUN),
        Pattern("CARD", re.compile(_CARD), None, luhn, within=_NUMBER_RUN),
        Pattern("IP", re.compile(_IPV4), ".", is_ip, within=_NUMBER_RUN),
        Pattern("PHONE", re.compile(_PHONE), None, phone_check(phone_region), within=_NUMBER_RUN),
    ]
    return tuple(found)


#: An operator's label: what its matches become (``[EMPLOYEE_ID]``).
_LABEL: Final = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
_OPERATOR_PATTERNS: Final = msgspec.json.Decoder(dict[str, str])


def operator_patterns(text: str) -> tuple[Pattern, ...]:
    """``HEIMDALL_REDACTION_PATTERNS``: a JSON object ``{"LABEL": "regex", ...}``, e.g.
    ``{"EMPLOYEE_ID": "EMP-[0-9]{6}"}``. Raises :class:`ValueError` naming the first bad
    label or regex (not JSON, a label that is not upper-case ``A-Z0-9_``, a regex that does
    not compile or that matches the empty string)."""
    if not text.strip():
        return ()
    try:
        found = _OPERATOR_PATTERNS.decode(text)
    except msgspec.DecodeError as exc:
        raise ValueError(f'expected a JSON object {{"LABEL": "regex"}}: {exc}') from None
    patterns = []
    for label, source in found.items():
        if not _LABEL.fullmatch(label):
            raise ValueError(f"label {label!r} must be A-Z, 0-9 or _, starting with a letter")
        try:
            regex = re.compile(source)
        except re.error as exc:
            raise ValueError(f"pattern {label}: {exc}") from None
        if regex.search(""):
            raise ValueError(f"pattern {label} matches the empty string")
        patterns.append(Pattern(label, regex))
    return tuple(patterns)
