"""Flask adapter for the SPARQL protocols: builds ``sparql.protocol.Request`` from Flask's request and
sends the ``Response`` back, streaming result chunks as the executor produces them.

Routes (in ``web.app.ROUTES``): ``/sparql`` (Query, Update, service description), ``/sparql/graphs``
(Graph Store HTTP Protocol), ``/.well-known/void`` (VoID).
"""

from __future__ import annotations

from flask import Response, current_app, render_template_string, request

from sparql import protocol
from web.conditional import revalidated

#: every method is routed here, so that the protocol, not Flask, answers 405 (with its Allow header)
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

_MINIMAL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SPARQL endpoint</title></head>
<body><h1>SPARQL endpoint</h1>
<form method="get" action="{{ endpoint }}">
<textarea name="query" rows="12" cols="80">SELECT ?class (COUNT(*) AS ?n) WHERE { ?s a ?class } GROUP BY ?class ORDER BY DESC(?n) LIMIT 20</textarea>
<p><select name="format"><option>json</option><option>xml</option><option>csv</option><option>tsv</option></select>
<button>Run</button></p></form>
<p>Service description: ask this URL for <code>text/turtle</code>. Dataset statistics: <a href="{{ void }}">VoID</a>.</p>
</body></html>"""


def service() -> protocol.Service:
    return current_app.extensions["mouseion.sparql"]


def _request() -> protocol.Request:
    return protocol.Request(method=request.method, args=list(request.args.items(multi=True)),
                            headers=dict(request.headers), stream=request.stream,
                            content_length=request.content_length, root=request.url_root)


def _send(answer: protocol.Response) -> Response:
    if answer.page == "query":
        return _query_page(answer)
    body = answer.body
    if isinstance(body, (bytes, bytearray)):
        return Response(body, status=answer.status, headers=answer.headers)
    # a result stream: passed through chunk by chunk, never joined
    return Response(body, status=answer.status, headers=answer.headers, direct_passthrough=True)


def _query_page(answer: protocol.Response) -> Response:
    try:
        from web.sparql_page import query_page
    except ImportError:
        page = render_template_string(_MINIMAL_PAGE, endpoint=request.base_url, void=request.url_root + ".well-known/void")
        response = Response(page, status=200, mimetype="text/html")
    else:
        response = current_app.make_response(query_page())
    response.headers.update(answer.headers)
    return response


def sparql_endpoint() -> Response:
    return _send(protocol.handle(protocol.sparql_endpoint, _request(), service()))


def graph_store() -> Response:
    return _send(protocol.handle(protocol.graph_store, _request(), service()))


@revalidated("Accept")
def void() -> Response:
    return _send(protocol.handle(protocol.void, _request(), service()))
