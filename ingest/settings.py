"""The ingest worker's settings, each read from ``HEIMDALL_<FIELD>`` (see ``--help``)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from ingest.redact.patterns import operator_patterns
from shared.settings import LogLevel, OpenSearchSettings, Secret

#: Shortest ``HEIMDALL_REDACTION_KEY`` accepted (a guessable key makes hashes reversible).
MIN_REDACTION_KEY: int = 16


class WorkerSettings(OpenSearchSettings, kw_only=True, frozen=True):
    """Everything ``python -m ingest`` reads from the environment."""

    kafka_bootstrap: Annotated[
        str, msgspec.Meta(min_length=1, description="Kafka bootstrap servers, host:port[,...].")
    ] = "127.0.0.1:9092"
    topic: Annotated[
        str, msgspec.Meta(min_length=1, description="Topic the gateway writes log events to.")
    ] = "bifrost.logs"
    otlp_traces_topic: Annotated[
        str,
        msgspec.Meta(
            description="Topic the OpenTelemetry Collector's Kafka exporter writes traces to "
            "(otlp_proto or otlp_json; e.g. otlp_spans): GenAI spans become logs. Empty: not "
            "consumed.",
        ),
    ] = ""
    otlp_logs_topic: Annotated[
        str,
        msgspec.Meta(
            description="Topic the Collector's Kafka exporter writes logs to (e.g. otlp_logs): "
            "gen_ai.client.inference.operation.details events merge into their span's log. "
            "Empty: not consumed.",
        ),
    ] = ""
    dlq_topic: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            description="Dead-letter topic: original bytes of every bad event, with "
            "x-heimdall-* headers (reason, detail, source topic/partition/offset).",
        ),
    ] = "bifrost.logs.dlq"
    consumer_group: Annotated[
        str, msgspec.Meta(min_length=1, description="Kafka consumer group of the workers.")
    ] = "heimdall-ingest"
    max_batch: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=100_000,
            description="Most records taken per poll; one batch = one _bulk (plus a claim "
            "_bulk of the ids not written recently, and an _mget of the ids refused with 409).",
        ),
    ] = 1000
    max_batch_bytes: Annotated[
        int,
        msgspec.Meta(
            ge=1024,
            description="Most record bytes per batch, about: each poll takes at most this "
            "divided by the average record size seen so far (bounds memory and bulk size).",
        ),
    ] = 4 * 1024 * 1024
    fetch_max_bytes: Annotated[
        int,
        msgspec.Meta(
            ge=1024,
            description="Most bytes one Kafka fetch returns (bounds the worker's memory).",
        ),
    ] = 16 * 1024 * 1024
    max_event_bytes: Annotated[
        int,
        msgspec.Meta(
            ge=64,
            description="Events larger than this many bytes go to the dead-letter topic "
            "(reason too_large).",
        ),
    ] = 4 * 1024 * 1024
    write_cache_bytes: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            description="Bytes of recently written documents kept to merge their next events "
            "without reading them back (writes stay guarded by seq_no; 0: keep none); the "
            "home partitions of one written id per KiB of it are kept longer, so a later "
            "event of such a log skips the id directory.",
        ),
    ] = 16 * 1024 * 1024
    poll_timeout_ms: Annotated[
        int, msgspec.Meta(ge=1, description="Longest wait for new records in one poll, ms.")
    ] = 1000
    backoff_initial_seconds: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="First wait after OpenSearch or Kafka fails; doubles (with jitter) "
            "on each further failure.",
        ),
    ] = 0.5
    backoff_max_seconds: Annotated[
        float, msgspec.Meta(gt=0, description="Cap of the retry wait, seconds.")
    ] = 30.0
    rebalance_timeout_seconds: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="On a partition revoke, how long to wait for the in-flight batch to "
            "be written and committed before giving the partitions up (they are then "
            "redelivered; writes are idempotent).",
        ),
    ] = 30.0
    worker_host: Annotated[
        str, msgspec.Meta(description="Address of the /health and /metrics HTTP server.")
    ] = "127.0.0.1"
    worker_port: Annotated[
        int,
        msgspec.Meta(ge=0, le=65535, description="Port of /health and /metrics (0: any free)."),
    ] = 9100
    index_shards: Annotated[
        int, msgspec.Meta(ge=1, description="Primary shards of a newly created log index.")
    ] = 1
    index_replicas: Annotated[
        int, msgspec.Meta(ge=0, description="Replicas of a newly created log index.")
    ] = 0
    index_refresh_interval: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^(-1|\d+(ms|s|m))$",
            description="refresh_interval of a newly created log index (e.g. 1s, 30s, -1).",
        ),
    ] = "1s"
    partition_days: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=366,
            description="Days of logs per partition (index <alias>-v<N>-<first day>), by "
            "each log's timestamp, UTC: every partition is a shard each query visits, so "
            "fewer, larger ones answer faster; 1 for gateways above ~50 requests/s. See "
            "docs/lifecycle.md for sizing.",
        ),
    ] = 7
    retention_days: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            description="Delete whole partitions once all their logs are older than this "
            "many days; a later event of such a log is dead-lettered (reason expired). "
            "0: keep forever.",
        ),
    ] = 0
    content_retention_days: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            description="Past this many days, drop the payloads (messages, raw bodies, "
            "outputs) and the search text of a partition's logs, keeping every field that "
            "filters, sorts, stats and histograms use. 0: keep forever.",
        ),
    ] = 0
    lifecycle_interval_seconds: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            description="How often a worker tries to run the lifecycle (retention, content "
            "retention); one worker at a time holds its lease. 0: never from the worker "
            "(run python -m ingest lifecycle instead).",
        ),
    ] = 3600.0
    lifecycle_lease_seconds: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="How long a lifecycle run's lease lasts before another worker may "
            "take it over (a runner that died holds it at most this long).",
        ),
    ] = 900.0
    migrate_grace_seconds: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            description="python -m ingest migrate: after moving the writes to the next mapping "
            "version, wait this long (longer than a bulk request can be in flight) before "
            "the last pass over the previous version.",
        ),
    ] = 30.0
    log_level: Annotated[
        LogLevel, msgspec.Meta(description="DEBUG, INFO, WARNING or ERROR (any case).")
    ] = "INFO"
    redaction: Annotated[
        Literal["off", "mask", "hash"],
        msgspec.Meta(
            description="Redaction of secrets and personal data before a log is indexed: off "
            "(stored as sent), mask (replaced by [EMAIL], [API_KEY], ...) or hash (by a keyed "
            "hash, [EMAIL:5b2f0c1d9e8a], so equal values still match). See docs/security.md.",
        ),
    ] = "off"
    redaction_key: Annotated[
        Secret,
        msgspec.Meta(
            description=f"HMAC-SHA256 key of redaction mode hash, at least {MIN_REDACTION_KEY} "
            "characters; never printed. Changing it changes every token from then on.",
        ),
    ] = Secret("")
    redaction_patterns: Annotated[
        str,
        msgspec.Meta(
            description='More values to redact: a JSON object {"LABEL": "regex", ...}, e.g. '
            '{"EMPLOYEE_ID": "EMP-[0-9]{6}"}; a match becomes [LABEL]. Tried before the '
            "built-in detectors.",
        ),
    ] = ""
    redaction_phone_region: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^[A-Z]{2}$",
            description="Region (ISO 3166 alpha-2) of phone numbers written without a "
            "+country code, as libphonenumber validates them.",
        ),
    ] = "US"

    def __post_init__(self) -> None:
        inputs = [t for t in (self.topic, self.otlp_traces_topic, self.otlp_logs_topic) if t]
        if len(set(inputs)) != len(inputs) or self.dlq_topic in inputs:
            raise ValueError(
                "HEIMDALL_TOPIC, HEIMDALL_OTLP_TRACES_TOPIC, HEIMDALL_OTLP_LOGS_TOPIC and "
                "HEIMDALL_DLQ_TOPIC must be different topics"
            )
        if self.redaction == "hash" and len(self.redaction_key) < MIN_REDACTION_KEY:
            raise ValueError(
                f"HEIMDALL_REDACTION=hash needs HEIMDALL_REDACTION_KEY of at least "
                f"{MIN_REDACTION_KEY} characters"
            )
        try:
            operator_patterns(self.redaction_patterns)
        except ValueError as exc:
            raise ValueError(f"HEIMDALL_REDACTION_PATTERNS: {exc}") from None
