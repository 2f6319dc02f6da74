"""The query page for people: an editor, the example queries, results rendered in the page.

The SPARQL protocol handler answers ``GET /sparql`` with this page when the client wants HTML and
sent no query; the page itself sends its queries back to the same URL (``fetch`` with JavaScript,
a plain ``<form method="get">`` without). Everything it needs is served from ``/static``: no CDN,
no build step.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import render_template, request

from ontology.namespaces import prefix_map
from sparql.examples import example, examples

#: (media type, label, file suffix) of each result format the page offers, by the kind of query
#: that gives it: SELECT and ASK give tables, CONSTRUCT and DESCRIBE give graphs. The protocol
#: takes the media type as ``format=``, so a plain link or form can ask for any of them.
TABLE_FORMATS = [
    ("application/sparql-results+json", "SPARQL JSON", "srj"),
    ("application/sparql-results+xml", "SPARQL XML", "srx"),
    ("text/csv", "CSV", "csv"),
    ("text/tab-separated-values", "TSV", "tsv"),
]
GRAPH_FORMATS = [
    ("text/turtle", "Turtle", "ttl"),
    ("application/n-triples", "N-Triples", "nt"),
    ("application/rdf+xml", "RDF/XML", "rdf"),
    ("application/ld+json", "JSON-LD", "jsonld"),
]


def query_page():
    """``GET /sparql`` for a browser: ``?example=name`` opens that example in the editor."""
    listed = examples()
    wanted = request.args.get("example")
    selected = example(wanted) if wanted else listed[0]
    status = 200
    if selected is None:
        selected, status = listed[0], 404
    return render_template(
        "sparql.html",
        examples=listed,
        example_data=[asdict(e) for e in listed],
        selected=selected,
        unknown_example=wanted if status == 404 else None,
        endpoint=request.path,
        table_formats=TABLE_FORMATS,
        graph_formats=GRAPH_FORMATS,
        prefixes=prefix_map(),
    ), status
