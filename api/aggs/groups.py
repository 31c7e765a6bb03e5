"""What the rankings and filter-data aggregations share. Pure.

- The population of rankings: terminal statuses only (``success``, ``error``, ``cancelled``);
  ``processing`` logs are never ranked.
- The previous window of a trend: ``[start - d, start - 1 ns]`` with ``d = end - start``, only
  when both bounds are known and ``end > start``.
- Case-insensitive substring matching for ``q``, as a Lucene regular expression (exact on
  multi-valued keyword fields, where a query filter would also admit a document's other values).
- Fan-out of the multi-valued owners (teams, customers, business units): a log counts for every
  id in ``<dim>_id`` and ``<dim>_ids`` (de-duplicated), the same logs the ``<dim>_ids`` filter
  matches, through the ``<dim>_owners`` field derived at ingest (``name<US>id`` per owner, the
  arrays paired by position).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from api.filters import LogFilter
from shared.index import METADATA_SEPARATOR
from shared.schema import TERMINAL_STATUSES

TERMINAL: Final[dict[str, Any]] = {"terms": {"status": sorted(TERMINAL_STATUSES)}}
#: Separates the parts of a scripted key (``id<US>name``); never part of an id or a name.
SEPARATOR: Final = METADATA_SEPARATOR


class Owner(msgspec.Struct, frozen=True):
    """Where a dimension's id and name live; ``owners``: for the dimensions a log can have
    several of, the derived ``name<US>id`` field that fans it out (``shared.index``)."""

    id: str
    name: str
    owners: str | None = None


def split_pair(key: str) -> tuple[str, str]:
    first, _, second = key.partition(SEPARATOR)
    return first, second


def ci_substring_regex(q: str, *, anything: str = ".*") -> str:
    """Lucene regexp matching any term that contains ``q``, ignoring case (``anything``: what
    may surround it). Every character other than a letter or digit is escaped, so nothing in
    ``q`` is regex syntax."""
    parts: list[str] = []
    for char in q:
        lower, upper = char.lower(), char.upper()
        if char.isalpha() and len(lower) == 1 and len(upper) == 1 and lower != upper:
            parts.append(f"[{lower}{upper}]")
        elif char.isalnum():
            parts.append(char)
        else:
            parts.append("\\" + char)
    return anything + "".join(parts) + anything


def previous_window(f: LogFilter) -> LogFilter | None:
    """The same filters over ``[start - d, start - 1 ns]``, or None without a closed window."""
    if f.start_ns is None or f.end_ns is None or f.end_ns <= f.start_ns:
        return None
    duration = f.end_ns - f.start_ns
    return msgspec.structs.replace(
        f, start_ns=f.start_ns - duration, end_ns=f.start_ns - 1, period=None
    )


def pct_change(old: float, new: float) -> float:
    """Percent change from ``old`` to ``new``; 0 when ``old`` is 0 (Bifrost's ``pctChange``)."""
    return (new - old) / old * 100 if old else 0.0
