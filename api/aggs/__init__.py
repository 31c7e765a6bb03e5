"""Aggregation endpoints: pure builders (filters -> OpenSearch body) and pure parsers
(raw OpenSearch response -> typed answer), composed by the routes and the dashboard."""
