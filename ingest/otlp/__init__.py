"""OpenTelemetry (OTLP) input: GenAI spans and events from the Collector's Kafka exporter."""
