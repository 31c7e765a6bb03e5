"""Kafka -> OpenSearch ingest worker for gateway log events."""
