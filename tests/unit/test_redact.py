"""Redaction at ingest (pure): detectors on realistic prompts, both modes, payload walking,
determinism and idempotence, operator patterns, and the settings that configure it."""

from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.decode import LogEvent, decode_event
from ingest.feeds import decoders, redactor_of
from ingest.logs import safe_settings
from ingest.merge import LogState, from_source, merge_all, to_source
from ingest.redact import Redactor
from ingest.redact.patterns import builtins, is_jwt, luhn, operator_patterns
from ingest.redact.text import TextRedactor
from ingest.settings import WorkerSettings
from shared.errors import ConfigError
from shared.settings import load

KEY = "k3y-for-tests-only-0123456789"
MAX = 1 << 20


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


JWT = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64({'sub': '42', 'name': 'Jane'})}.c2lnbmF0dXJl"
OPENAI = "sk-proj-Xa7mQ2kL9pR4tV8wZ1cN5bH3jF6dG0sE2yU4iO7qW9"
ANTHROPIC = "sk-ant-api03-pQ8rT2vX6zB0nM4kL7jH1gF5dS9aW3eR6tY2uI8oP4lK"
AWS = "AKIAZ5XQ7MR2PL4TN6VB"
GOOGLE = "AIzaSyD8xQ2mN7kP4rT9vL3wZ6bJ1cF5hG0sY8e"
GITHUB = "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngOnlyAbCdEf"
SLACK = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
STRIPE = "sk_live_51HxYzAbCdEfGhIjKlMnOpQr"
VALID_CARD = "4539 1488 0343 6467"  # Luhn-valid
INVALID_CARD = "4539 1488 0343 6468"  # one digit off
EMAIL = "jane.doe@example.com"
PHONE = "+1 415-555-2671"
IPV4 = "203.0.113.42"
IPV6 = "2001:db8:85a3::8a2e:370:7334"

PROMPT = (
    f"Hi, I'm Jane ({EMAIL}, call me on {PHONE}). Our gateway at {IPV4} (v6 {IPV6}) fails "
    f"with 401 when I send Authorization: Bearer {JWT}. My keys: OPENAI_API_KEY={OPENAI}, "
    f"ANTHROPIC_API_KEY={ANTHROPIC}, aws {AWS}, google {GOOGLE}, github {GITHUB}, slack "
    f"{SLACK}, stripe {STRIPE}. The card {VALID_CARD} was charged twice; order "
    f"{INVALID_CARD} is an order number. Python 3.11.7 on build 2024-05-01, 12,000 users."
)
SECRETS = [EMAIL, PHONE, IPV4, IPV6, JWT, OPENAI, ANTHROPIC, AWS, GOOGLE, GITHUB, SLACK, STRIPE]


def mask() -> TextRedactor:
    return TextRedactor(builtins("US"), "mask")


def hashed(key: str = KEY) -> TextRedactor:
    return TextRedactor(builtins("US"), "hash", key=key.encode())


def test_mask_finds_every_secret_in_a_realistic_prompt() -> None:
    out = mask().redact(PROMPT)
    for secret in [*SECRETS, VALID_CARD]:
        assert secret not in out
    assert out == (
        "Hi, I'm Jane ([EMAIL], call me on [PHONE]). Our gateway at [IP] (v6 [IP]) fails "
        "with 401 when I send Authorization: Bearer [JWT]. My keys: OPENAI_API_KEY=[API_KEY], "
        "ANTHROPIC_API_KEY=[API_KEY], aws [API_KEY], google [API_KEY], github [API_KEY], "
        "slack [API_KEY], stripe [API_KEY]. The card [CARD] was charged twice; order "
        f"{INVALID_CARD} is an order number. Python 3.11.7 on build 2024-05-01, 12,000 users."
    )


@pytest.mark.parametrize(
    "text",
    [
        "Python 3.11.7 and version 1.2.3.4.5",
        "order 1732540000 at 2024-05-01T10:00:00Z, id 8f7a6b5c4d3e2f1a",
        "req_01HZX3 costs 12,345.67 USD; 999.999.999.999 is not an address",
        "see https://example.com/docs?page=2 and `a::b` in C++, ratio 16:9",
        "tokens: 4096, temperature 0.7, top_p 0.95",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask().redact(text) is text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: bearer abcdefghijklmnop0123456789", "Authorization: bearer [TOKEN]"),
        ("call (415) 555-2671 today", "call [PHONE] today"),
        ("ring +44 20 7946 0958.", "ring [PHONE]."),
        ("card 4111111111111111 ok", "card [CARD] ok"),
        ("card 4111111111111112 ok", "card 4111111111111112 ok"),
        ("host ::1 and fe80::1ff:fe23:4567:890a.", "host ::1 and [IP]."),
        ("ip 10.0.0.1.", "ip [IP]."),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "[PRIVATE_KEY]"),
        ("disk-0123456789abcdefghijKLMNOP", "disk-0123456789abcdefghijKLMNOP"),  # not a key
        (f"{AWS}X", f"{AWS}X"),  # a longer token is not a key
    ],
)
def test_detectors(text: str, expected: str) -> None:
    assert mask().redact(text) == expected


def test_luhn_and_jwt_checks() -> None:
    assert luhn(VALID_CARD)
    assert not luhn(INVALID_CARD)
    assert luhn("4111-1111-1111-1111")
    assert not luhn("1234")
    assert is_jwt(JWT)
    assert not is_jwt("eyJhbGciOi.eyJzdWIi.bad")


def test_hash_is_keyed_deterministic_and_normalised() -> None:
    a = hashed().redact(f"mail {EMAIL} or {EMAIL.upper()}, phone {PHONE} or (415) 555-2671")
    tokens = a.split()
    assert tokens[1] == tokens[3].rstrip(",")  # case-insensitive email
    assert tokens[5] == tokens[7]  # same phone, two spellings
    assert EMAIL not in a
    assert "555" not in a
    assert hashed().redact(PROMPT) == hashed().redact(PROMPT)
    other = hashed("another-key-0123456789").redact(f"mail {EMAIL}")
    assert other != hashed().redact(f"mail {EMAIL}")
    assert hashed().redact(f"mail {EMAIL}").startswith("mail [EMAIL:")


@pytest.mark.parametrize("redactor", [mask(), hashed()])
def test_redaction_is_idempotent(redactor: TextRedactor) -> None:
    once = redactor.redact(PROMPT)
    assert redactor.redact(once) == once


def test_operator_patterns() -> None:
    patterns = operator_patterns('{"EMPLOYEE_ID": "EMP-[0-9]{6}", "TICKET": "JIRA-\\\\d+"}')
    redactor = TextRedactor([*patterns, *builtins("US")], "mask")
    assert redactor.redact("EMP-123456 filed JIRA-77 for jane@x.io") == (
        "[EMPLOYEE_ID] filed [TICKET] for [EMAIL]"
    )


def test_operator_labels_may_reuse_built_in_ones_in_hash_mode() -> None:
    patterns = operator_patterns('{"IP": "host-[a-z]+", "PHONE": "ext\\\\.[0-9]+"}')
    redactor = TextRedactor([*patterns, *builtins("US")], "hash", key=KEY.encode())
    out = redactor.redact("host-alpha on ext.4412 and 10.0.0.1")
    assert "alpha" not in out
    assert "4412" not in out
    assert out.count("[IP:") == 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[1]", "JSON object"),
        ('{"lower": "x"}', "label 'lower'"),
        ('{"BAD": "(unclosed"}', "pattern BAD"),
        ('{"EMPTY": "a*"}', "empty string"),
    ],
)
def test_bad_operator_patterns_fail(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        operator_patterns(text)


def _event(doc: dict[str, Any], at: int = 1000) -> LogEvent:
    return decode_event(json.dumps(doc).encode(), timestamp_ms=at, max_bytes=MAX)


CHAT = {
    "id": "L1",
    "status": "success",
    "model": "gpt-4o",
    "user_name": "Jane Doe",
    "input_history": [
        {"role": "system", "content": "You are a billing assistant."},
        {"role": "user", "content": [{"type": "text", "text": PROMPT}]},
    ],
    "output_message": {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {
                    "name": "refund",
                    "arguments": json.dumps({"card": VALID_CARD, "notify": {"email": EMAIL}}),
                },
            }
        ],
    },
    "raw_request": json.dumps({"messages": [{"role": "user", "content": f"key {OPENAI}"}]}),
    "raw_response": {"choices": [{"message": {"content": f"Sent to {EMAIL}"}}], "created": 1},
    "metadata": {"contact": PHONE, "attempt": 2},
    "token_usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    "embedding_output": [[0.1, 0.2]],
    "params": {"temperature": 0.7},
}


def test_an_event_is_redacted_everywhere_and_marked() -> None:
    event = Redactor("mask").event(_event(CHAT))
    stored = to_source(merge_all(None, [event]) or LogState(id="", fields={}, versions={}))
    text = stored.decode()
    for secret in [*SECRETS, VALID_CARD.replace(" ", "")]:
        assert secret not in text
        assert json.dumps(secret)[1:-1] not in text
    source = msgspec.json.decode(stored)
    assert source["redaction"] == "mask"
    assert "[CARD]" in source["output_message"]["tool_calls"][0]["function"]["arguments"]
    assert "[API_KEY]" in source["raw_request"]
    assert source["metadata"] == {"contact": "[PHONE]", "attempt": 2}
    assert "[EMAIL]" in source["search_text"]
    assert "[JWT]" in source["search_text"]
    assert source["total_tokens"] == 17
    assert source["user_name"] == "Jane Doe"  # scalars are not redacted


def test_payloads_without_findings_keep_their_bytes() -> None:
    event = _event(CHAT)
    redacted = Redactor("mask").event(event)
    for name in ("token_usage", "embedding_output", "params"):
        assert redacted.fields[name] is event.fields[name]
    assert redacted.version == event.version


def test_redelivery_and_order_give_the_same_document() -> None:
    redactor = Redactor("hash", key=KEY)
    create = {"id": "L1", "status": "processing", "input_history": CHAT["input_history"]}
    finish = {"id": "L1", "status": "success", "output_message": CHAT["output_message"]}
    first = [redactor.event(_event(create, 1)), redactor.event(_event(finish, 2))]
    again = [redactor.event(_event(finish, 2)), redactor.event(_event(create, 1))]
    one = merge_all(None, first)
    assert one is not None
    assert one == merge_all(None, again) == merge_all(one, again)
    assert to_source(one) == to_source(from_source("L1", to_source(one)))


def test_backfill_redacts_a_stored_log_once() -> None:
    state = merge_all(None, [_event(CHAT)])
    assert state is not None
    redactor = Redactor("mask")
    redacted = redactor.state(from_source("L1", to_source(state)))
    assert EMAIL not in to_source(redacted).decode()
    assert redacted.versions["redaction"] == max(state.versions.values())
    assert redactor.state(redacted) == redacted
    assert Redactor("mask").state(LogState(id="x", fields={}, versions={})).fields == {}


def _settings(**env: str) -> WorkerSettings:
    return load(WorkerSettings, {f"HEIMDALL_{k.upper()}": v for k, v in env.items()})


def test_settings_fail_fast() -> None:
    assert _settings().redaction == "off"
    with pytest.raises(ConfigError, match="HEIMDALL_REDACTION_KEY"):
        _settings(redaction="hash")
    with pytest.raises(ConfigError, match="HEIMDALL_REDACTION_KEY"):
        _settings(redaction="hash", redaction_key="short")
    with pytest.raises(ConfigError, match="HEIMDALL_REDACTION_PATTERNS: pattern X"):
        _settings(redaction="mask", redaction_patterns='{"X": "("}')
    with pytest.raises(ConfigError, match="HEIMDALL_REDACTION"):
        _settings(redaction="scramble")
    settings = _settings(redaction="hash", redaction_key=KEY)
    assert KEY not in repr(settings)
    assert KEY not in repr(safe_settings(settings))


def test_the_documented_token_one_liner() -> None:
    redactor = redactor_of(_settings(redaction="hash", redaction_key=KEY))
    assert redactor is not None
    token = redactor.text.token("EMAIL", EMAIL)
    assert token == hashed().redact(EMAIL)
    assert repr(redactor) == "Redactor(mode='hash')"


def test_worker_decoders_redact_only_when_on() -> None:
    value = json.dumps(CHAT).encode()
    off = decoders(_settings())["bifrost.logs"](value, timestamp_ms=1, max_bytes=MAX)
    assert "redaction" not in off[0].fields
    assert EMAIL in bytes(off[0].fields["raw_response"]).decode()
    on = decoders(_settings(redaction="mask"))["bifrost.logs"](value, timestamp_ms=1, max_bytes=MAX)
    assert bytes(on[0].fields["redaction"]) == b'"mask"'
    assert EMAIL not in bytes(on[0].fields["raw_response"]).decode()


FRAGMENTS = [
    *SECRETS,
    VALID_CARD,
    INVALID_CARD,
    "(415) 555-2671",
    "2026-05-01",
    "3.11.7",
    "Bearer abcdefghijklmnop0123456789",
    "fe80::1ff:fe23:4567:890a",
    "héllo wörld ✓",
    "日本語のテキスト",
    "12,345.67",
    "+44 20 7946 0958",
    "\n",
    " ",
    "-",
    ".",
    "(",
    "word",
    "deadbeef",
    "::",
    "a:b:c:d",
    "10:00:00Z",
    "jane@",
    "@example.com",
    "+1",
]


@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12), st.sampled_from(["", " ", "\n", "-"]))
@settings(max_examples=500, deadline=None)
def test_the_prefilter_changes_nothing_but_the_cost(parts: list[str], glue: str) -> None:
    text = glue.join(parts)
    fast = TextRedactor(builtins("US"), "mask")
    plain = TextRedactor(builtins("US"), "mask", prefilter=False)
    assert fast.redact(text) == plain.redact(text)


def test_a_text_full_of_numbers_falls_back_to_plain_scans() -> None:
    text = "id 1234 5678 9012 " * 200 + f"card {VALID_CARD} mail {EMAIL}"
    out = mask().redact(text)
    assert out == TextRedactor(builtins("US"), "mask", prefilter=False).redact(text)
    assert out.endswith("card [CARD] mail [EMAIL]")


def test_the_prefilter_on_a_non_ascii_prompt() -> None:
    text = "Grüße, réponds à " + PROMPT + " — merci ✓ 415-555-2671"
    fast, plain = mask(), TextRedactor(builtins("US"), "mask", prefilter=False)
    assert fast.redact(text) == plain.redact(text)
    assert EMAIL not in fast.redact(text)


def test_a_lone_surrogate_does_not_stop_redaction() -> None:
    text = f"a\ud800b {EMAIL} {PHONE}"
    assert mask().redact(text) == "a\ud800b [EMAIL] [PHONE]"
