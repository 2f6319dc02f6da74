"""SPARQL 1.1 protocol: request parsing, result formats, limits; named queries (*.rq)."""
