"""Realistic gateway logs for the query benchmark, streamed in constant memory.

Each log is about 4 KB as Bifrost writes it: a system prompt, a user message and (when
finished) an answer of 50-400 words each, drawn from a 20,000-word vocabulary whose
frequencies follow Zipf's law (rank r has weight 1/r, as word frequencies in natural text
do), over 6 providers, 20 models, 30 keys and 30 days. Statuses: success, error,
cancelled and processing; some logs have no cost; some errors are followed by a fallback
log (``parent_request_id``, ``fallback_index`` 1); every log has metadata.

:func:`generate` yields :class:`Log` values: the Bifrost ``LogEntry`` events (what the
gateway publishes) and the final entry (what Bifrost's own stores hold once the events are
applied). Everything depends only on the seed and the log's index.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec

VOCABULARY_SIZE: Final = 20_000
DAYS: Final = 30
#: The newest log's time: fixed, so that time-range queries select the same logs every run.
END: Final = datetime(2026, 11, 1, tzinfo=UTC)
START: Final = END - timedelta(days=DAYS)

PROVIDERS: Final[dict[str, list[str]]] = {
    "openai": ["gpt-4o", "gpt-4o-mini", "o3-mini", "gpt-4.1"],
    "anthropic": ["claude-sonnet-4", "claude-3-5-haiku", "claude-opus-4"],
    "gemini": ["gemini-2.0-flash", "gemini-1.5-pro", "gemini-2.5-pro"],
    "mistral": ["mistral-large", "codestral", "mistral-small"],
    "bedrock": ["llama-3-70b", "titan-text", "nova-pro"],
    "groq": ["llama-3.1-8b", "mixtral-8x7b", "gemma-2-9b", "qwen-2.5-32b"],
}
KEYS_PER_PROVIDER: Final = 5  # 6 providers x 5 = 30 keys
OBJECTS: Final = ["chat_completion"] * 6 + ["text_completion", "responses"]
TEAMS: Final = ["search", "billing", "support", "platform", "growth", "research"]
ERRORS: Final = [
    ("rate_limit_exceeded", 429, "Rate limit reached for requests"),
    ("context_length_exceeded", 400, "This model's maximum context length is 128000 tokens"),
    ("upstream_timeout", 504, "The upstream provider did not answer in time"),
]

#: The most frequent words lead the vocabulary, as in English text; the rest are made up.
_COMMON: Final = (  # noqa: SIM905
    "the of and to a in is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there one all we their been has when who will "
    "more no if out so said what up its about into than them can only other new some could "
    "time these two may then do first any my now such like our over man me even most made "
    "after also did many before must through back years where much your way well down should "
    "because each just those people how too little state good very make world still own see "
    "men work long get here between both life being under never day same another know while "
    "last might us great old year off come since against go came right used take three"
).split()
_ONSETS: Final = (
    "b c d f g h j k l m n p r s t v w z br ch cl dr fl gr kr pl pr sh st th tr".split()  # noqa: SIM905
)
_VOWELS: Final = "a e i o u ai ea ou io".split()  # noqa: SIM905
_CODAS: Final = ["", "n", "r", "s", "t", "l", "m", "nd", "st", "rk"]


def vocabulary() -> list[str]:
    """The 20,000 words, most frequent first (deterministic)."""
    words = list(dict.fromkeys(_COMMON))
    seen = set(words)
    syllables = [o + v + c for o in _ONSETS for v in _VOWELS for c in _CODAS]
    for length in (2, 3):
        for parts in itertools.product(syllables, repeat=length):
            word = "".join(parts)
            if word not in seen:
                seen.add(word)
                words.append(word)
                if len(words) == VOCABULARY_SIZE:
                    # Spread long and short made-up words over all ranks.
                    head, tail = words[: len(_COMMON)], words[len(_COMMON) :]
                    random.Random(7).shuffle(tail)
                    return head + tail
    raise AssertionError("not enough syllables for the vocabulary")


WORDS: Final = vocabulary()
_CUMULATIVE: Final = list(itertools.accumulate(1 / rank for rank in range(1, VOCABULARY_SIZE + 1)))


def rank_of(word: str) -> int:
    """1-based frequency rank of a vocabulary word."""
    return WORDS.index(word) + 1


class Log(msgspec.Struct, frozen=True):
    """One log: its events as published (key, value, Kafka timestamp) and its final entry."""

    id: str
    events: list[tuple[bytes, int]]
    final: dict[str, Any]


def _text(rng: random.Random, low: int, high: int) -> str:
    count = rng.randint(low, high)
    return " ".join(rng.choices(WORDS, cum_weights=_CUMULATIVE, k=count))


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class _Choice:
    status: str
    cost: bool


def _outcome(rng: random.Random) -> _Choice:
    draw = rng.random()
    if draw < 0.80:
        return _Choice("success", cost=rng.random() >= 0.05)
    if draw < 0.90:
        return _Choice("error", cost=False)
    if draw < 0.95:
        return _Choice("cancelled", cost=False)
    return _Choice("processing", cost=False)


_ENCODE: Final = msgspec.json.Encoder().encode


def _entry(
    rng: random.Random, index: int, moment: datetime, parent: str | None
) -> tuple[dict[str, Any], dict[str, Any], _Choice]:
    log_id = f"{index:08d}-{rng.getrandbits(64):016x}"
    provider = rng.choice(list(PROVIDERS))
    key = rng.randint(1, KEYS_PER_PROVIDER)
    create: dict[str, Any] = {
        "id": log_id,
        "timestamp": _rfc3339(moment),
        "created_at": _rfc3339(moment),
        "object": rng.choice(OBJECTS),
        "provider": provider,
        "model": rng.choice(PROVIDERS[provider]),
        "status": "processing",
        "stream": rng.random() < 0.3,
        "fallback_index": 1 if parent else 0,
        "input_history": [
            {"role": "system", "content": "You are a helpful assistant. " + _text(rng, 60, 160)},
            {"role": "user", "content": [{"type": "text", "text": _text(rng, 50, 400)}]},
        ],
        "params": {"temperature": round(rng.uniform(0, 1), 2), "max_tokens": 1024},
        "metadata": {"team": rng.choice(TEAMS), "env": rng.choice(["prod", "staging"])},
        "selected_key_id": f"key-{provider}-{key}",
        "selected_key_name": f"{provider} key {key}",
        "virtual_key_id": f"vk-{rng.randint(1, 10)}",
        "virtual_key_name": f"virtual key {rng.randint(1, 10)}",
    }
    if parent:
        create["parent_request_id"] = parent
    outcome = _outcome(rng)
    finish: dict[str, Any] = {"id": log_id, "status": outcome.status}
    if outcome.status == "processing":
        return create, {}, outcome
    finish["latency"] = round(rng.lognormvariate(7, 0.8), 3)
    finish["number_of_retries"] = rng.choice([0, 0, 0, 0, 1, 2])
    if outcome.status == "error":
        code, status_code, message = rng.choice(ERRORS)
        finish["error_details"] = {
            "status_code": status_code,
            "error": {"message": message, "type": code, "code": code},
        }
        return create, finish, outcome
    prompt, completion = rng.randint(60, 4000), rng.randint(50, 1200)
    finish["token_usage"] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if outcome.status == "success":
        finish["output_message"] = {"role": "assistant", "content": _text(rng, 50, 400)}
    if outcome.cost:
        finish["cost"] = round((prompt * 2.5 + completion * 10) / 1_000_000, 8)
    return create, finish, outcome


def generate(count: int, *, seed: int = 1) -> Iterator[Log]:
    """``count`` logs over the 30 days, oldest first (as a gateway appends them).

    Log ``i``'s time is ``START + i / count * 30 days`` plus jitter; 1 in 4 errors is
    followed by its fallback log.
    """
    span = (END - START).total_seconds()
    index = 0
    while index < count:
        rng = random.Random(seed * 1_000_003 + index)
        moment = START + timedelta(seconds=span * index / count + rng.uniform(0, span / count))
        parent: str | None = None
        for _attempt in range(2):
            create, finish, outcome = _entry(rng, index, moment, parent)
            final = {**create, **finish}
            base_ms = int(moment.timestamp() * 1000)
            events = [(_ENCODE({"type": "log", "operation": "create", "payload": create}), base_ms)]
            if finish:
                done_ms = base_ms + int(finish["latency"])
                events.append(
                    (_ENCODE({"type": "log", "operation": "update", "payload": finish}), done_ms)
                )
            yield Log(id=create["id"], events=events, final=final)
            index += 1
            if outcome.status != "error" or rng.random() >= 0.25 or index >= count:
                break
            parent = create["id"]
            moment += timedelta(milliseconds=finish["latency"] + 1)
