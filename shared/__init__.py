"""Code shared by the ingest worker and the search API: schema, index, settings, clients."""
