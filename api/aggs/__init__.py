"""Aggregation endpoints' pure core: ``build_*`` (filter -> OpenSearch body) and ``parse_*``
(raw response -> typed answer) for ``/api/logs/stats`` and every histogram."""
