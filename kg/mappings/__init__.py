"""Declarative mappings: the ``*.mapping.toml`` format (:mod:`kg.mappings.mapping_file`) and the
SPARQL CONSTRUCT files mappings use (``tate/*.rq``). A package so that the ``.rq`` files ship."""
