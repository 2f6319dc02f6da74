"""Replaying the HTTP exchanges of the protocol/ and graph-store-protocol/ tests.

Each test is a sequence of ``ht:Request``s whose paths start with ``/sparql/`` (SPARQL 1.1
Protocol, https://www.w3.org/TR/sparql11-protocol/) or ``/gsp`` (Graph Store HTTP Protocol,
https://www.w3.org/TR/sparql11-http-rdf-update/). The manifests ask runners to rewrite those
prefixes to the endpoint under test; a service may answer queries and updates at different
URLs, so a ``/sparql/`` request goes to the update URL when it carries an update.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

from . import compare
from .client import HttpClient, Response
from .manifest import Exchange, SuiteTest

if TYPE_CHECKING:
    from .runner import Endpoint

#: hts: status names used by the manifests -> the codes they allow.
STATUS = {
    "OK": {200},
    "Created": {201},
    "NoContent": {204},
    "NotFound": {404},
    "StatusCode2xx": set(range(200, 300)),
    "StatusCode3xx": set(range(300, 400)),
    "StatusCode4xx": set(range(400, 500)),
}

#: mf:expectedFormat -> media types that satisfy it (the manifest's own lists: "expect one of: ...").
FORMATS = {
    "boolean": {"application/sparql-results+xml", "application/sparql-results+json"},
    "tabular": {
        "application/sparql-results+xml",
        "application/sparql-results+json",
        "text/csv",
        "text/tab-separated-values",
    },
    # RDF/XML, Turtle, N-Triples (and its pre-2014 media type), RDFa
    "RDF": {
        "application/rdf+xml",
        "text/turtle",
        "application/n-triples",
        "text/plain",
        "application/xhtml+xml",
        "text/html",
    },
}


def run_exchanges(test: SuiteTest, client: HttpClient, endpoint: Endpoint) -> str | None:
    """Send a test's requests in order; None when every response is as expected, else why not."""
    variables: dict[str, str] = {}
    for number, exchange in enumerate(test.exchanges, 1):
        url = _substitute(target_url(exchange, endpoint), variables)
        body = exchange.body
        if body is not None:
            body = _substitute(body.decode("utf-8"), variables).encode("utf-8") if variables else body
        response = client.request(exchange.method, url, body, dict(exchange.headers))
        if reason := _check(exchange, response, url, variables):
            return f"request {number} ({exchange.method} {exchange.path[:60]}): {reason}"
    return None


def target_url(exchange: Exchange, endpoint: Endpoint) -> str:
    """The manifest's path rewritten onto the endpoint's URLs.

    >>> from sparql.conformance.runner import Endpoint
    >>> e = Endpoint("http://h/query", "http://h/update", "http://h/store")
    >>> target_url(Exchange("GET", "/sparql/?query=ASK%7B%7D", (), None, frozenset()), e)
    'http://h/query?query=ASK%7B%7D'
    >>> target_url(Exchange("GET", "/gsp/person/1.ttl", (), None, frozenset()), e)
    'http://h/store/person/1.ttl'
    """
    path = exchange.path
    if path.startswith("/gsp"):
        base, rest = endpoint.graph_store_url, path[len("/gsp"):]
        if rest.startswith("/"):
            return base.rstrip("/") + rest
    elif path.startswith("/sparql/"):
        base, rest = (endpoint.update_url if _is_update(exchange) else endpoint.query_url), path[len("/sparql/"):]
    else:
        raise ValueError(f"unexpected path {path} (neither /sparql/ nor /gsp)")
    query = rest[1:] if rest.startswith("?") else rest
    if not query:
        return base
    return base + ("&" if "?" in base else "?") + query


def _is_update(exchange: Exchange) -> bool:
    content_type = dict(exchange.headers).get("content-type", "")
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(exchange.path).query)
    body = (exchange.body or b"").lstrip()
    return (
        content_type.startswith("application/sparql-update")
        or "update" in params
        or any(name.startswith("using-") for name in params)
        or body.startswith(b"update=")
    )


def _substitute(text: str, variables: dict[str, str]) -> str:
    for name, value in variables.items():
        text = text.replace(name, value)
    return text


def _check(exchange: Exchange, response: Response, url: str, variables: dict[str, str]) -> str | None:
    allowed = set().union(*(STATUS[s] for s in exchange.expect_status)) if exchange.expect_status else None
    if allowed is not None and response.status not in allowed:
        return f"expected status {'/'.join(sorted(exchange.expect_status))}, got {response.summary()}"
    if exchange.expect_location:
        location = response.headers.get("location")
        if not location:
            return "no Location header"
        variables[exchange.expect_location] = urllib.parse.urljoin(url, location)
    if exchange.expect_format and response.media_type not in FORMATS[exchange.expect_format]:
        return f"expected a {exchange.expect_format} result format, got {response.media_type or 'no Content-Type'}"
    if exchange.expect_boolean is not None:
        fmt = compare.RESULT_FORMATS.get(response.media_type)
        if fmt is None:
            return f"cannot read a boolean from {response.media_type or 'no Content-Type'}"
        answer = compare.parse_results(response.body, fmt)
        if answer is not exchange.expect_boolean:
            return f"expected {exchange.expect_boolean}, got {answer if isinstance(answer, bool) else 'solutions'}"
    for name, value in exchange.expect_headers:
        if name == "content-type":
            wanted = value.split(";")[0].strip().lower()
            if response.media_type != wanted:
                return f"expected Content-Type {wanted}, got {response.media_type or 'none'}"
        elif response.headers.get(name) != value:
            return f"expected {name}: {value}, got {response.headers.get(name)}"
    if exchange.expect_body is not None:
        fmt = compare.RDF_FORMATS.get(response.media_type)
        if fmt is None:
            return f"cannot read RDF from {response.media_type or 'no Content-Type'}"
        expected = compare.parse_rdf(exchange.expect_body.encode("utf-8"), compare.RDF_FORMATS["text/turtle"], url)
        return compare.compare_graphs(expected, compare.parse_rdf(response.body, fmt, url))
    return None
