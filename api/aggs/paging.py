"""Paging of composite aggregations: a pure step (:func:`next_page`) and the thin loop that
sends the pages (:func:`fetch_all`). Every aggregation paged here is named ``groups``.

The first page of every body goes out in one ``_msearch`` (e.g. the current and the previous
window of a ranking); later pages, only needed past :data:`PAGE_SIZE` groups, one by one. At
most :data:`MAX_GROUPS` groups are read: more is a 400 asking for narrower filters, never a
silently truncated answer.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Final, Protocol

import msgspec

from api.parsing import InvalidParameter

GROUPS: Final = "groups"
PAGE_SIZE: Final = 2000
MAX_GROUPS: Final = 100_000


class Searcher(Protocol):
    async def query(self, what: str, body: dict[str, Any]) -> bytes: ...

    async def multi_query(self, what: str, bodies: Sequence[dict[str, Any]]) -> list[bytes]: ...


class _Composite(msgspec.Struct):
    buckets: list[msgspec.Raw] = msgspec.field(default_factory=list)
    after_key: dict[str, Any] | None = None


class _Aggs(msgspec.Struct):
    groups: _Composite = msgspec.field(default_factory=_Composite)


class _Page(msgspec.Struct):
    aggregations: _Aggs = msgspec.field(default_factory=_Aggs)


_PAGE: Final = msgspec.json.Decoder(_Page)


def next_page(body: dict[str, Any], raw: bytes) -> dict[str, Any] | None:
    """The body of the page after ``raw`` (the answer to ``body``), or None on the last."""
    composite = body["aggs"][GROUPS]["composite"]
    groups = _PAGE.decode(raw).aggregations.groups
    if groups.after_key is None or len(groups.buckets) < composite["size"]:
        return None
    following = copy.deepcopy(body)
    following["aggs"][GROUPS]["composite"]["after"] = groups.after_key
    return following


async def fetch_all(
    store: Searcher, what: str, bodies: Sequence[dict[str, Any]]
) -> list[list[bytes]]:
    """Every page of every body (first pages in one ``_msearch``), in order."""
    firsts = await store.multi_query(what, bodies)
    max_pages = -(-MAX_GROUPS // PAGE_SIZE)
    out: list[list[bytes]] = []
    for body, raw in zip(bodies, firsts, strict=True):
        pages = [raw]
        following = next_page(body, raw)
        while following is not None:
            if len(pages) >= max_pages:
                raise InvalidParameter(
                    "start_time",
                    f"more than {MAX_GROUPS} groups match; narrow the filters or the time window",
                )
            raw = await store.query(what, following)
            pages.append(raw)
            following = next_page(following, raw)
        out.append(pages)
    return out
