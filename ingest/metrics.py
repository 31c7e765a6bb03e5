"""Prometheus metrics of one worker, on a private registry (no global state)."""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: The steps of a batch, timed by ``heimdall_ingest_stage_seconds``; a claim made while the
#: previous batch is written is timed as :data:`CLAIM_AHEAD`, and the time the loop, with
#: the next batch ready, waits for the previous one to be written and committed as
#: :data:`WAIT` (near 0: the loop, not OpenSearch, sets the pace).
STAGES: Final = ("poll", "decode", "claim", "read", "merge", "write", "commit")
CLAIM_AHEAD: Final = "claim ahead"
WAIT: Final = "wait"
_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.consumed = Counter(
            "heimdall_ingest_consumed", "Records consumed from Kafka.", registry=r
        )
        self.indexed = Counter(
            "heimdall_ingest_indexed", "Documents written to OpenSearch.", registry=r
        )
        self.skipped_unchanged = Counter(
            "heimdall_ingest_skipped_unchanged",
            "Documents not written because the merge left them unchanged (redelivery).",
            registry=r,
        )
        self.dead_lettered = Counter(
            "heimdall_ingest_dead_lettered",
            "Records sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=r,
        )
        self.conflicts = Counter(
            "heimdall_ingest_conflicts",
            "Bulk items refused with 409 (concurrent write) and re-merged.",
            registry=r,
        )
        self.retries = Counter(
            "heimdall_ingest_retries",
            "Batch attempts that failed transiently (OpenSearch or Kafka) and were retried.",
            registry=r,
        )
        self.bulk_latency = Histogram(
            "heimdall_ingest_bulk_latency_seconds",
            "Duration of one _bulk request.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.stage_seconds = Histogram(
            "heimdall_ingest_stage_seconds",
            "Duration of one step of a batch: poll (a getmany that returned records), "
            "decode, claim (homes of new ids in the id directory, before the batch's write), "
            "claim ahead (the same, while the previous batch is written), read (_mget of ids "
            "refused with 409), merge (planning the writes), write (_bulk), commit (dead "
            "letters excluded), wait (the next batch ready, for the previous one to finish).",
            ["stage"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "heimdall_ingest_consumer_lag",
            "High watermark minus the next offset to commit, per partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.paused = Gauge(
            "heimdall_ingest_paused",
            "1 while consumption is paused because OpenSearch or Kafka is failing.",
            registry=r,
        )

    def stage(self, stage: str, seconds: float) -> None:
        self.stage_seconds.labels(stage).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 if absent): for tests and benchmarks."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found
