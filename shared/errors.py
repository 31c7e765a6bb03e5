"""One rooted exception tree.

Behaviour lives on the classes, so callers decide between retry, dead-letter and stop
without matching strings:

- ``retriable``: the same operation may succeed later (back off and try again).
- ``dead_letter``: the input itself is bad; park it on the dead-letter topic and move on.

Anything that is neither is fatal for the process (configuration, programming errors).
"""

from __future__ import annotations


class HeimdallError(Exception):
    """Root of every error Heimdall raises on purpose."""

    retriable: bool = False
    dead_letter: bool = False


class ConfigError(HeimdallError):
    """A setting is missing or invalid. Fatal: fix the environment and restart."""


class BadEvent(HeimdallError):
    """An event that can never be indexed (undecodable, wrong types, no id, too large).

    ``reason`` is a short machine-readable kind; ``detail`` says where and what,
    e.g. ``Expected `int`, got `str` - at `$.latency```.
    """

    dead_letter = True

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class DocumentRejected(BadEvent):
    """OpenSearch rejected a document permanently (4xx other than 409/429)."""


class StoreUnavailable(HeimdallError):
    """OpenSearch is unreachable or overloaded (connection error, timeout, 429, 5xx)."""

    retriable = True


class VersionConflict(HeimdallError):
    """Another writer changed the document between our read and our write; re-read and retry."""

    retriable = True
