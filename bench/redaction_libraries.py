"""The redaction detectors against the libraries considered for them, on one realistic prompt,
in one run (the numbers behind docs/security.md's library choice).

Presidio and detect-secrets are not dependencies of Heimdall: install them beside it first,
in a scratch environment (Presidio pulls spaCy; its recognizers run here without a model):

    uv venv /tmp/libs && uv pip install -p /tmp/libs . presidio-analyzer detect-secrets
    /tmp/libs/bin/python -m bench.redaction_libraries

A library that is not installed is left out of the table.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from typing import Any

from ingest.redact.patterns import builtins
from ingest.redact.text import TextRedactor

PROMPT = (
    "Hi, I'm debugging our billing integration. My email is jane.doe@example.com and my phone "
    "is +1 415-555-2671. The service at 10.20.30.40 returns 500 when called with header "
    "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345. Here is the config: "
    "OPENAI_API_KEY=sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdEFGH and "
    "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE. Card used in the test was 4111 1111 1111 1111, "
    "exp 12/29. Please explain why the retry logic in the following snippet double-charges "
    "customers:\n"
    + (
        "def charge(customer, amount):\n    for attempt in range(3):\n        try:\n"
        "            return stripe.Charge.create(amount=amount, currency='usd', "
        "customer=customer.id)\n        except Exception as exc:\n"
        "            log.warning('retry %s', exc)\n"
    )
    * 6
    + (
        "The error message says: card_declined for request req_8f7a6b5c4d3e2f1a at "
        "2024-05-01T10:00:00Z. We have about 12,000 customers in the US and 3,400 in Europe; "
        "revenue grew 23.5% quarter over quarter. "
    )
    * 8
)[:3530]
#: The same prompt without anything to redact.
CLEAN = PROMPT.split("customers:\n", 1)[1]


def best_us(call: Callable[[], object], n: int) -> float:
    """Microseconds per call, best of 5 rounds of ``n`` calls."""
    call()
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter() - started) / n)
    return best * 1e6


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def library_rows() -> dict[str, float]:
    rows: dict[str, float] = {}
    recognizers = _optional("presidio_analyzer.predefined_recognizers")
    if recognizers is not None:
        found = [r() for r in (recognizers.EmailRecognizer, recognizers.CreditCardRecognizer)]
        found.append(recognizers.IpRecognizer())
        phone = recognizers.PhoneRecognizer()

        def presidio() -> object:
            return [r.analyze(PROMPT, r.supported_entities, None) for r in found]

        rows["Presidio: email, card and IP recognizers"] = best_us(presidio, 20)
        rows["Presidio: phone recognizer"] = best_us(
            lambda: phone.analyze(PROMPT, phone.supported_entities, None), 3
        )
    phonenumbers = _optional("phonenumbers")
    rows["phonenumbers.PhoneNumberMatcher (US)"] = best_us(
        lambda: list(phonenumbers.PhoneNumberMatcher(PROMPT, "US")), 20
    )
    scan = _optional("detect_secrets.core.scan")
    if scan is not None:
        settings = importlib.import_module("detect_secrets.settings")
        with settings.default_settings():
            rows["detect-secrets, default plugins"] = best_us(
                lambda: [list(scan.scan_line(line)) for line in PROMPT.splitlines()], 3
            )
    return rows


def main() -> int:
    logging.disable(logging.CRITICAL)  # tldextract complains it is offline
    ours = TextRedactor(builtins("US"), "mask")
    plain = TextRedactor(builtins("US"), "mask", prefilter=False)
    rows = {
        "Heimdall's detectors, all (mask)": best_us(lambda: ours.redact(PROMPT), 200),
        "the same without the Hyperscan prefilter": best_us(lambda: plain.redact(PROMPT), 200),
        f"Heimdall's, on the code and prose part only ({len(CLEAN)} chars, nothing to redact)": (
            best_us(lambda: ours.redact(CLEAN), 200)
        ),
        "the same without the prefilter": best_us(lambda: plain.redact(CLEAN), 200),
    }
    rows.update(library_rows())
    base = rows["Heimdall's detectors, all (mask)"]
    print(f"prompt: {len(PROMPT)} characters\n")
    print("| detector | per prompt | against Heimdall's |\n| --- | --- | --- |")
    for name, micros in rows.items():
        print(f"| {name} | {micros / 1000:.3f} ms | {micros / base:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
