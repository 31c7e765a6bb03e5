"""Aggregation endpoints' pure core: ``build_*`` (filters -> OpenSearch body) and ``parse_*``
(raw OpenSearch response -> typed answer) for stats, histograms, rankings and filter data,
composed by the routes and the dashboard."""
