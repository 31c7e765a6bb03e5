"""Heimdall's search API: a Bifrost-compatible ``GET /api/logs`` and ``GET /api/logs/{id}``
over the OpenSearch log index.

Layout: :mod:`api.params` (query string -> :class:`api.params.LogQuery`, pure),
:mod:`api.query` (LogQuery -> OpenSearch request body, pure), :mod:`api.store` (the one
OpenSearch adapter), :mod:`api.app` (Litestar handlers and the one error mapping).
"""
