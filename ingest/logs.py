"""Structured logs: one JSON object per line on stderr.

Extra context is passed with ``logger.info("...", extra={"where": "t[0]@5", ...})``; every
non-standard attribute of the record becomes a key. Secrets never reach a log: settings are
logged through :func:`safe_settings`.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

_STANDARD: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)
_ENCODER: Final = msgspec.json.Encoder(enc_hook=str)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry).decode()


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiokafka logs every rebalance step and opensearch-py every request at INFO.
    quiet = max(logging.getLevelName(level), logging.WARNING)
    logging.getLogger("aiokafka").setLevel(quiet)
    logging.getLogger("opensearch").setLevel(quiet)


def safe_settings(settings: msgspec.Struct) -> dict[str, Any]:
    """Settings as a dict with every secret masked."""
    out: dict[str, Any] = {}
    for field in settings.__struct_fields__:
        value = getattr(settings, field)
        out[field] = repr(value) if hasattr(value, "reveal") else value
    return out
