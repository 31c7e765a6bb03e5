"""Redaction at ingest: secrets and personal data masked before a log is indexed.

With ``HEIMDALL_REDACTION=mask`` or ``hash`` every event the worker decodes goes through
:meth:`Redactor.event` before it is merged: the strings of its content payloads are redacted
(:mod:`ingest.redact.payload`) by the detectors of :mod:`ingest.redact.patterns`, in the
mode of :mod:`ingest.redact.text` (which skips, with one Hyperscan pass,
:mod:`ingest.redact.prefilter`, the detectors that cannot match), and the mode is recorded
in the event's ``redaction`` field. Everything derived from the payloads (``search_text``)
is derived from the redacted values, so a redacted value can be neither read nor searched
for.

Redaction is a pure function of the event's bytes and the settings: a redelivered event is
redacted to the same bytes, so the merge stays idempotent and order-independent.
``python -m ingest backfill`` applies it to logs stored before (:meth:`Redactor.state`).
"""

from __future__ import annotations

from typing import Final

import msgspec

from ingest.decode import LogEvent
from ingest.merge import LogState
from ingest.redact.patterns import Pattern, builtins, operator_patterns
from ingest.redact.payload import REDACTED_FIELDS, redact_fields
from ingest.redact.text import Mode, TextRedactor
from shared.index import REDACTION

__all__ = ["REDACTED_FIELDS", "Mode", "Pattern", "Redactor", "TextRedactor"]

_MODE: Final = msgspec.json.Decoder(str)


class Redactor:
    """Applies one redaction mode to events and stored logs."""

    def __init__(
        self,
        mode: Mode,
        *,
        key: str = "",
        patterns: str = "",
        phone_region: str = "US",
    ) -> None:
        found = operator_patterns(patterns) + builtins(phone_region)
        self.text = TextRedactor(found, mode, key=key.encode(), phone_region=phone_region)
        self.mode = mode

    def __repr__(self) -> str:
        return f"Redactor(mode={self.mode!r})"

    def fields(self, fields: dict[str, msgspec.Raw]) -> dict[str, msgspec.Raw]:
        return redact_fields(fields, self.text.redact, self.mode)

    def event(self, event: LogEvent) -> LogEvent:
        """``event`` with its payloads redacted and the mode recorded."""
        return msgspec.structs.replace(event, fields=self.fields(event.fields))

    def state(self, state: LogState) -> LogState:
        """A stored log redacted as its events would have been (for the backfill); the mode
        gets the log's newest version, so a later event still overrides it."""
        if not state.fields:
            return state
        fields = self.fields(state.fields)
        versions = dict(state.versions)
        current = state.fields.get(REDACTION)
        if current is None or _MODE.decode(current) != self.mode:
            versions[REDACTION] = max(state.versions.values(), default="")
        else:
            fields[REDACTION] = current
        return LogState(id=state.id, fields=fields, versions=versions)
