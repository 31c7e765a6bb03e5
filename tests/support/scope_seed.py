"""Logs inside and outside a scope (``virtual_key_ids=vk-in``) for the scope tests: each side
has its own values of every owner field, both share most content words, sessions cross the
boundary, and two ids are ones the router sends to fixed routes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec

from shared.schema import LogEntry
from tests.integration.api_seed import stored_document

BASE: Final = datetime(2025, 3, 1, tzinfo=UTC)
N: Final = 24
#: Values only the logs outside the scope have: none may appear in a scoped answer.
OUTSIDE_MARKERS: Final = (
    "vk-out",
    "anthropic",
    "bedrock",
    "claude-out",
    "team-out",
    "user-out",
    "cust-out",
    "bu-out",
    "key-out",
    "rule-out",
    "app-out",
    "agent-out",
    "env-out",
    "reason-out",
    "alias-out",
    "out-0",
    "histogram/tokens",
    "secretword",
)


def _log(side: str, i: int, log_id: str | None = None) -> LogEntry:
    """Log ``i`` of one side ("in": virtual key vk-in, or "out"); each side has its own
    provider, model, team, ... values, and both share most content words."""
    inside = side == "in"
    providers = ("openai", "gemini") if inside else ("anthropic", "bedrock")
    status = "error" if i % 7 == 3 else "success"
    prompt, completion = 10 + 7 * i, 3 + 5 * i
    words = "please process the refund for invoice weather report summary python"
    fields: dict[str, Any] = {
        "id": log_id or f"{side}-{i:03d}",
        "timestamp": (BASE + timedelta(minutes=13 * i)).isoformat().replace("+00:00", "Z"),
        "provider": providers[i % 2],
        "model": f"gpt-in-{i % 3}" if inside else f"claude-out-{i % 3}",
        "alias": f"alias-{side}",
        "object": "chat_completion",
        "status": status,
        "latency": 100.0 + 37 * i,
        "cost": round(0.001 * (i + 1), 6),
        "token_usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
        "virtual_key_id": f"vk-{side}",
        "virtual_key_name": f"vk-{side} name",
        "selected_key_id": f"key-{side}",
        "selected_key_name": f"key-{side} name",
        "routing_rule_id": f"rule-{side}",
        "routing_rule_name": f"rule-{side} name",
        "team_id": f"team-{side}",
        "team_name": f"team-{side} name",
        "customer_id": f"cust-{side}",
        "customer_name": f"cust-{side} name",
        "business_unit_id": f"bu-{side}",
        "business_unit_name": f"bu-{side} name",
        "user_id": f"user-{side}",
        "user_name": f"user-{side} name",
        "app": f"app-{side}",
        "user_agent": f"agent-{side}",
        "stop_reason": f"reason-{side}",
        "metadata": {"env": f"env-{side}"},
        "input_history": [{"role": "user", "content": f"{words} number {i}"}],
        "output_message": {
            "role": "assistant",
            "content": "refund done" if inside else "refund done secretword",
        },
    }
    if status == "error":
        fields["error_details"] = {"error": {"message": "upstream failed"}, "status_code": 500}
    # Sessions: in-000 has children on both sides; out-000 only outside.
    if (inside and i in (1, 2, 3)) or (not inside and i in (1, 2)):
        fields["parent_request_id"] = "in-000"
    if not inside and i in (4, 5):
        fields["parent_request_id"] = "out-000"
    if i % 5 == 4:
        fields["cache_debug"] = {"cache_hit": True, "hit_type": "direct"}
    return msgspec.json.decode(msgspec.json.encode(fields), type=LogEntry)


def seed_logs(n: int = N) -> list[dict[str, Any]]:
    logs = [_log(side, i) for side in ("in", "out") for i in range(n)]
    # Ids the router sends to a fixed route (/api/logs/histogram%2Fcost is decoded to
    # /api/logs/histogram/cost): answered by the misrouted-id hook, before the handler.
    logs += [_log("in", n, "histogram/cost"), _log("out", n, "histogram/tokens")]
    return [stored_document(entry) for entry in logs]
