"""One pass over a text that tells which detectors can match in it, and where numbers are.

Python's ``re`` scans a text once per pattern: some thirty passes over every prompt, most of
them finding nothing. Hyperscan (Intel's multi-pattern engine, ``hyperscan`` on PyPI) finds
every detector's *hint* (the literal every match of it contains: ``sk-``, ``AKIA``, ``@``,
...) and every run of digits (the ``within`` of the number detectors) in a single pass, at
a few bytes per nanosecond; the Python patterns then run only where a hint was found, and the
number patterns only on the runs. What a pattern matches and how it is checked does not
change: the prefilter only skips work that could find nothing.

Not thread-safe (one scratch space per database): the worker redacts on one thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

import hyperscan

#: Matches of a run pattern one scan reports at most: past that (a text full of numbers,
#: where Hyperscan reports a match at almost every digit) the scan stops and the caller falls
#: back to plain ``re`` for that text: its cost stays bounded.
MAX_RUN_MATCHES: Final = 256

#: A run, ``[start, end)`` in characters (Hyperscan reports every match of the run pattern,
#: with its leftmost start; the ones that overlap are merged as they come).
Span = list[int]


class Found:
    """What one scan found: the hints present, and the runs of each ``within`` pattern
    (``None`` for a non-ASCII text: its byte offsets are not character offsets)."""

    __slots__ = ("hints", "runs")

    def __init__(self) -> None:
        self.hints: set[str] = set()
        self.runs: dict[str, list[Span] | None] = {}


class Prefilter:
    def __init__(self, hints: Iterable[str], runs: Iterable[re.Pattern[str]]) -> None:
        self._hints = sorted(set(hints))
        self._runs = sorted({pattern.pattern for pattern in runs})
        expressions = [re.escape(h).encode() for h in self._hints]
        expressions += [source.encode() for source in self._runs]
        flags = [hyperscan.HS_FLAG_SINGLEMATCH] * len(self._hints)
        flags += [hyperscan.HS_FLAG_SOM_LEFTMOST] * len(self._runs)
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(
            expressions=expressions,
            ids=list(range(len(expressions))),
            elements=len(expressions),
            flags=flags,
        )

    def scan(self, text: str) -> Found | None:
        """What ``text`` holds; ``None`` if the scan was cut short (see
        :data:`MAX_RUN_MATCHES`)."""
        found = Found()
        budget = [MAX_RUN_MATCHES]
        ascii_only = text.isascii()
        n = len(self._hints)
        spans: dict[int, list[Span]] = {}

        def on_match(ident: int, start: int, end: int, _flags: int, _ctx: object) -> bool:
            if ident < n:
                found.hints.add(self._hints[ident])
                return False
            budget[0] -= 1
            runs = spans.setdefault(ident, [])
            if runs and start <= runs[-1][1]:
                runs[-1][0] = min(runs[-1][0], start)
                runs[-1][1] = max(runs[-1][1], end)
            else:
                runs.append([start, end])
            return budget[0] <= 0  # true: stop the scan

        try:
            self._db.scan(text.encode(), match_event_handler=on_match)
        except hyperscan.ScanTerminated:
            return None
        for ident, source in enumerate(self._runs, start=n):
            if ident in spans:
                found.runs[source] = spans[ident] if ascii_only else None
        return found
