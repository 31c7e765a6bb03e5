"""One pass over a text that tells which detectors can match in it, and where numbers are.

Python's ``re`` scans a text once per pattern: some thirty passes over every prompt, most of
them finding nothing. Hyperscan (Intel's multi-pattern engine, ``hyperscan`` on PyPI) finds
every detector's *hint* (the literal every match of it contains: ``sk-``, ``AKIA``, ``eyJ``,
...) and whether the text holds a *run* (a ``within`` pattern: where a number, an email or an
IPv6 address can be) in a single pass, at a few bytes per nanosecond; a second pass, only for
a text that holds runs, says where they are. The Python patterns then run only where their
hint was found, and the others only on their runs. What a pattern matches and how it is
checked does not change: the prefilter only skips work that could find nothing.

Not thread-safe (one scratch space per database): the worker redacts on one thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

import hyperscan

#: Matches of the run patterns one scan reports at most: past that (a text full of numbers,
#: where Hyperscan reports a match at almost every digit, each a Python call) the scan stops
#: and ``re`` finds the runs of that text: its cost stays bounded.
MAX_RUN_MATCHES: Final = 64

#: A run, ``[start, end)`` in characters (Hyperscan reports every match of the run pattern,
#: with its leftmost start; the ones that overlap are merged as they come).
Span = list[int]


class Found:
    """What one scan found: the hints present, and for each ``within`` pattern present, its
    runs (``None``: present, but where is for ``re`` to say: a non-ASCII text, whose byte
    offsets are not character offsets, or more than :data:`MAX_RUN_MATCHES` matches)."""

    __slots__ = ("hints", "runs")

    def __init__(self) -> None:
        self.hints: set[str] = set()
        self.runs: dict[str, list[Span] | None] = {}


def _database(expressions: list[str], flags: int) -> hyperscan.Database:
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=[e.encode() for e in expressions],
        ids=list(range(len(expressions))),
        elements=len(expressions),
        flags=flags,
    )
    return database


class Prefilter:
    """Two Hyperscan databases: which hints and runs a text holds (one match each at most),
    and, for an ASCII text that holds runs, where they are."""

    def __init__(self, hints: Iterable[str], runs: Iterable[re.Pattern[str]]) -> None:
        self._hints = sorted(set(hints))
        self._runs = sorted({pattern.pattern for pattern in runs})
        self._present = _database(
            [re.escape(h) for h in self._hints] + self._runs, hyperscan.HS_FLAG_SINGLEMATCH
        )
        self._where = _database(self._runs, hyperscan.HS_FLAG_SOM_LEFTMOST) if self._runs else None

    def scan(self, text: str) -> Found:
        """What ``text`` holds."""
        found = Found()
        data = text.encode("utf-8", "surrogatepass")  # a lone surrogate: kept
        n = len(self._hints)

        def present(ident: int, _start: int, _end: int, _flags: int, _ctx: object) -> None:
            if ident < n:
                found.hints.add(self._hints[ident])
            else:
                found.runs[self._runs[ident - n]] = None

        self._present.scan(data, match_event_handler=present)
        if found.runs and self._where is not None and text.isascii():
            self._locate(data, found)
        return found

    def _locate(self, data: bytes, found: Found) -> None:
        spans: dict[int, list[Span]] = {}
        budget = [MAX_RUN_MATCHES]

        def where(ident: int, start: int, end: int, _flags: int, _ctx: object) -> bool:
            runs = spans.setdefault(ident, [])
            if runs and start <= runs[-1][1]:
                runs[-1][0] = min(runs[-1][0], start)
                runs[-1][1] = max(runs[-1][1], end)
            else:
                runs.append([start, end])
            budget[0] -= 1
            return budget[0] <= 0  # true: stop the scan

        assert self._where is not None
        try:
            self._where.scan(data, match_event_handler=where)
        except hyperscan.ScanTerminated:
            return  # too many: re finds them
        for ident, source in enumerate(self._runs):
            if source in found.runs:
                found.runs[source] = spans.get(ident, [])
