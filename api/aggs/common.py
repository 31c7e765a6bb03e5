"""What the rankings and filter-data aggregations share. Pure.

- The population of rankings: terminal statuses only (``success``, ``error``, ``cancelled``);
  ``processing`` logs are never ranked.
- The previous window of a trend: ``[start - d, start - 1 ns]`` with ``d = end - start``, only
  when both bounds are known and ``end > start``.
- Case-insensitive substring matching for ``q``, as a Lucene regular expression (exact on
  multi-valued keyword fields, where a query filter would also admit a document's other values).
- Fan-out of the multi-valued owners (teams, customers, business units): a log counts for every
  id in ``<dim>_id`` and ``<dim>_ids`` (de-duplicated), the same logs the ``<dim>_ids`` filter
  matches. Names of ids in the arrays are read positionally from ``_source`` (doc values are
  sorted, so they lose the pairing).
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
    """Where a dimension's id and name live; ``ids``/``names``: the multi-valued companions."""

    id: str
    name: str
    ids: str | None = None
    names: str | None = None


#: Collects, per document, ``{id: greatest name}`` from the scalar pair and the arrays, then
#: emits ``<id><US><name>`` (or ``<name><US><id>`` with ``params.name_first``), skipping empty
#: ids, empty names with ``params.require_name``, and with ``params.q`` names that do not
#: contain it (lower-cased).
_FAN_OUT: Final = """
Map m = new TreeMap();
if (doc[params.id].size() > 0) {
  String i = doc[params.id].value;
  if (i.length() > 0) { m.put(i, doc[params.name].size() > 0 ? doc[params.name].value : ''); }
}
if (doc[params.ids].size() > 0) {
  def ids = params._source[params.ids];
  def names = params._source[params.names];
  if (ids instanceof String) { ids = [ids]; names = [names]; }
  if (ids instanceof List) {
    for (int k = 0; k < ids.size(); k++) {
      def i = ids[k];
      if (!(i instanceof String) || i.length() == 0) { continue; }
      String n = '';
      if (names instanceof List && k < names.size() && names[k] instanceof String) { n = names[k]; }
      String old = m.get(i);
      if (old == null || n.compareTo(old) > 0) { m.put(i, n); }
    }
  }
}
List out = new ArrayList();
for (def e : m.entrySet()) {
  String n = e.getValue();
  if (params.require_name && n.length() == 0) { continue; }
  if (params.q != null && !n.toLowerCase().contains(params.q)) { continue; }
  out.add(params.name_first ? n + params.sep + e.getKey() : e.getKey() + params.sep + n);
}
return out;
"""


def fan_out_script(owner: Owner, *, name_first: bool, q: str | None = None) -> dict[str, Any]:
    """A terms source/aggregation script emitting the ``(id, name)`` pairs of a log;
    ``name_first`` (filter data): ``name<US>id``, only pairs with a name containing ``q``."""
    return {
        "lang": "painless",
        "source": _FAN_OUT,
        "params": {
            "id": owner.id,
            "name": owner.name,
            "ids": owner.ids,
            "names": owner.names,
            "sep": SEPARATOR,
            "name_first": name_first,
            "require_name": name_first,
            "q": q.lower() if q else None,
        },
    }


def split_pair(key: str) -> tuple[str, str]:
    first, _, second = key.partition(SEPARATOR)
    return first, second


def ci_substring_regex(q: str) -> str:
    """Lucene regexp matching any term that contains ``q``, ignoring case. Every character
    other than a letter or digit is escaped, so nothing in ``q`` is regex syntax."""
    parts: list[str] = []
    for char in q:
        lower, upper = char.lower(), char.upper()
        if char.isalpha() and len(lower) == 1 and len(upper) == 1 and lower != upper:
            parts.append(f"[{lower}{upper}]")
        elif char.isalnum():
            parts.append(char)
        else:
            parts.append("\\" + char)
    return ".*" + "".join(parts) + ".*"


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
