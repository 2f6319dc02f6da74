"""SPARQL 1.1 Protocol (https://www.w3.org/TR/sparql11-protocol/) and Graph Store HTTP Protocol
(https://www.w3.org/TR/sparql11-http-rdf-update/), as pure functions from a small ``Request`` to a
``Response``. No Flask here: ``web/sparql.py`` builds the ``Request`` and sends the ``Response``.

Queries run on the process-pool ``Executor`` (timeouts, row cap); writes go through ``kg.writes``
(SHACL gate for record graphs, change log, reserved graphs refused). Every refusal is a
``ProtocolError`` with its HTTP status, rendered in one shape by ``error_response``: a text/plain
message, or a JSON problem object for clients that accept JSON but not plain text.

>>> parse_content_type("application/sparql-query; charset=UTF-8")
('application/sparql-query', 'utf-8')
>>> plan = UpdatePlan.of("PREFIX : <http://e/> DELETE WHERE { ?s :p ?o } ; INSERT { ?s :q 1 } WHERE { ?s :p 2 }")
>>> print(plan.with_dataset(["http://e/g"], []))
PREFIX : <http://e/> DELETE { ?s :p ?o } USING <http://e/g> WHERE { ?s :p ?o } ; INSERT { ?s :q 1 } USING <http://e/g> WHERE { ?s :p 2 }
"""

from __future__ import annotations

import hmac
import json
import re
import uuid
from dataclasses import dataclass, field
from email import policy as email_policy
from email.parser import BytesParser
from typing import BinaryIO, Callable, Iterable, Iterator, Mapping, Sequence
from urllib.parse import parse_qsl, quote

import pyoxigraph as ox
from pyoxigraph import DefaultGraph, NamedNode, Triple

from kg.errors import NotFound, StoreError
from kg.settings import Settings
from kg.store import Store
from kg.writes import ReservedGraph, WriteRejected, apply_update, check_update_syntax, graph_triples, replace_graphs
from ontology.namespaces import prefix_map
from sparql import descriptions
from sparql.executor import QueryBusy, QueryError, QuerySyntaxError
from sparql.executor_scan import scan
from sparql.negotiation import (DESCRIPTIONS, GRAPH_INPUTS, GRAPHS, HTML, MESSAGES, RESULTS, Format,
                                NotAcceptable, choose, parse_accept)

FORM = "application/x-www-form-urlencoded"
QUERY = "application/sparql-query"
UPDATE = "application/sparql-update"

#: response header set when a result was cut at the row cap (the executor marks the document too,
#: where the format has room for it: see sparql/executor.py)
TRUNCATED_HEADER = "Mouseion-Result-Truncated"
#: parameters naming a result format outright, as SPARQLWrapper, YASGUI and Virtuoso clients send them
FORMAT_PARAMS = ("format", "output")

SPARQL_METHODS = ("GET", "HEAD", "POST", "OPTIONS")
GRAPH_STORE_METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS")
READ_METHODS = ("GET", "HEAD", "OPTIONS")
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": f"Location, Link, WWW-Authenticate, Retry-After, {TRUNCATED_HEADER}, Mouseion-Row-Cap",
}


# ------------------------------------------------------------------------------------ request / response


@dataclass
class Request:
    """What the protocol needs of an HTTP request. ``headers`` keys are matched case-insensitively."""

    method: str
    #: the URL query parameters, in order, repeats kept
    args: Sequence[tuple[str, str]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: BinaryIO | None = None
    content_length: int | None = None
    #: the application's root URL, ending in '/': the endpoint is ``{root}sparql``
    root: str = "http://localhost:8000/"

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == name), None)

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.args if k == name]


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    #: bytes, or an iterator of chunks that the adapter streams
    body: bytes | Iterable[bytes] = b""
    #: set instead of a body when a person asked for HTML: the adapter renders that page
    page: str | None = None


class Service:
    """What the handlers are handed: the store, the settings and the query executor."""

    def __init__(self, store: Store, settings: Settings, executor) -> None:
        self.store = store
        self.settings = settings
        self.executor = executor
        self._gate = None

    def gate(self):
        """The SHACL gate for record graphs (loaded on first write: pySHACL is slow to import)."""
        if not self.settings.validate:
            return None
        if self._gate is None:
            from shapes.gate import Gate
            self._gate = Gate.default()
        return self._gate


# ------------------------------------------------------------------------------------ errors


_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 406: "Not Acceptable", 413: "Content Too Large",
            415: "Unsupported Media Type", 422: "Unprocessable Content", 500: "Internal Server Error",
            503: "Service Unavailable"}


class ProtocolError(Exception):
    """A request the protocol refuses; ``extra`` lands in the JSON error object."""

    def __init__(self, status: int, message: str, *, headers: Mapping[str, str] | None = None,
                 extra: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def bad_request(message: str, **extra) -> ProtocolError:
    return ProtocolError(400, message, extra=extra)


def syntax_error(what: str, error: BaseException) -> ProtocolError:
    """400 with the parser's own message, and its line and column where it gives them."""
    message = str(error.args[0] if error.args else error)
    line, column = getattr(error, "lineno", None), getattr(error, "offset", None)
    found = re.search(r"at (\d+):(\d+)", message)  # the SPARQL parser's "error at LINE:COLUMN"
    if line is None and found:
        line, column = int(found.group(1)), int(found.group(2))
    extra = {"line": line, "column": column} if line is not None else {}
    return ProtocolError(400, f"{what} syntax error: {message}", extra=extra)


def method_not_allowed(method: str, allowed: Sequence[str]) -> ProtocolError:
    return ProtocolError(405, f"{method} is not allowed here; use {', '.join(allowed)}",
                         headers={"Allow": ", ".join(allowed)})


def unsupported_media_type(message: str, accepted: Sequence[str]) -> ProtocolError:
    return ProtocolError(415, f"{message}; send one of: {', '.join(accepted)}", headers={"Accept-Post": ", ".join(accepted)})


def not_acceptable(error: NotAcceptable) -> ProtocolError:
    offered = [f.media_type for f in error.offers]
    return ProtocolError(406, f"{error}. Offered:\n" + "\n".join(offered), extra={"offered": offered})


def error_response(error: ProtocolError, accept: str | None) -> Response:
    """The one error shape: plain text, unless the client takes JSON and not plain text."""
    headers = dict(error.headers)
    if _wants_json(accept):
        problem = {"type": "about:blank", "title": _REASONS.get(error.status, "Error"), "status": error.status,
                   "detail": error.message, **error.extra}
        headers["Content-Type"] = "application/json"
        return Response(error.status, headers, json.dumps(problem, indent=1).encode() + b"\n")
    headers["Content-Type"] = "text/plain; charset=utf-8"
    return Response(error.status, headers, error.message.encode() + b"\n")


def _wants_json(accept: str | None) -> bool:
    ranges = [r for r in parse_accept(accept) if r.q > 0]
    takes_text = any(r.matches("text/plain") for r in ranges) or not ranges
    return not takes_text and any(r.subtype == "json" or r.subtype.endswith("+json") for r in ranges)


def handle(handler: Callable[[Request, Service], Response], request: Request, service: Service) -> Response:
    """Run a handler, turning refusals into the error shape; every answer carries the CORS headers."""
    try:
        response = handler(request, service)
    except NotAcceptable as error:
        response = error_response(not_acceptable(error), request.header("Accept"))
    except ProtocolError as error:
        response = error_response(error, request.header("Accept"))
    response.headers.update(CORS_HEADERS)
    return response


def preflight(methods: Sequence[str]) -> Response:
    """Answer to OPTIONS, and to a CORS preflight."""
    return Response(204, {"Allow": ", ".join(methods), "Access-Control-Allow-Methods": ", ".join(methods),
                          "Access-Control-Allow-Headers": "Content-Type, Authorization, Accept",
                          "Access-Control-Max-Age": "86400"})


# ------------------------------------------------------------------------------------ request bodies


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """(media type, charset), both lower-cased; (None, None) without a Content-Type."""
    if not value or not value.strip():
        return None, None
    media, *params = [p.strip() for p in value.split(";")]
    charset = None
    for param in params:
        name, _, raw = param.partition("=")
        if name.strip().lower() == "charset":
            charset = raw.strip().strip('"').lower()
    return media.lower(), charset


def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 once it passes ``limit`` bytes — by its declared
    Content-Length before reading anything, and while reading when it is sent chunked or lies."""
    too_large = ProtocolError(413, f"request body larger than {limit} bytes (MOUSEION_MAX_BODY_BYTES)")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    if request.stream is None:
        return b""
    body = bytearray()
    while True:
        chunk = request.stream.read(min(64 * 1024, limit + 1 - len(body)))
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > limit:
            raise too_large


def _utf8(body: bytes, charset: str | None, what: str) -> str:
    if charset not in (None, "utf-8", "utf8"):
        raise unsupported_media_type(f"{what} must be UTF-8, not {charset}", [f"{QUERY}; charset=utf-8"])
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise bad_request(f"{what} is not valid UTF-8 (byte {error.start})") from None


def _form(body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=False,
                         encoding="utf-8", errors="strict")
    except UnicodeError:
        raise bad_request("form body is not URL-encoded UTF-8") from None


def _iri(value: str, parameter: str) -> str:
    try:
        return NamedNode(value).value
    except ValueError as error:
        raise bad_request(f"{parameter}={value!r} is not an absolute IRI: {error}") from None


def _iris(params: Sequence[tuple[str, str]], name: str) -> list[str]:
    return [_iri(v, name) for k, v in params if k == name]


def _authorize(request: Request, settings: Settings) -> None:
    """Writes need ``Authorization: Bearer <MOUSEION_UPDATE_TOKEN>``; without a configured token, none pass."""
    if not settings.update_token:
        raise ProtocolError(403, "writes are disabled on this server: no update token is configured "
                                 "(set MOUSEION_UPDATE_TOKEN)")
    header = request.header("Authorization") or ""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProtocolError(401, "writes need an 'Authorization: Bearer <token>' header",
                            headers={"WWW-Authenticate": 'Bearer realm="mouseion"'})
    if not hmac.compare_digest(token.strip().encode(), settings.update_token.encode()):
        raise ProtocolError(403, "the bearer token is not valid for writes")


# ------------------------------------------------------------------------------------ /sparql


def sparql_endpoint(request: Request, service: Service) -> Response:
    """Query (GET, form POST, direct POST), update (form POST, direct POST), or the service description."""
    method = request.method.upper()
    if method == "OPTIONS":
        return preflight(SPARQL_METHODS)
    if method not in SPARQL_METHODS:
        raise method_not_allowed(method, SPARQL_METHODS)
    params = list(request.args)
    if method == "POST":
        media, charset = parse_content_type(request.header("Content-Type"))
        accepted = [FORM, QUERY, UPDATE]
        if media is None:
            raise unsupported_media_type("a POST to the SPARQL endpoint needs a Content-Type", accepted)
        if media not in accepted:
            raise unsupported_media_type(f"{media} is not a SPARQL protocol request", accepted)
        body = read_body(request, service.settings.max_body_bytes)
        if media == QUERY:
            _no_operation_in(params, "a direct POST query")
            return _query(request, service, _utf8(body, charset, "the query"), params)
        if media == UPDATE:
            _no_operation_in(params, "a direct POST update")
            return _update(request, service, _utf8(body, charset, "the update"), params)
        if charset not in (None, "utf-8", "utf8"):
            raise unsupported_media_type(f"form bodies must be UTF-8, not {charset}", [FORM])
        params = _form(body) + params
    queries, updates = [v for k, v in params if k == "query"], [v for k, v in params if k == "update"]
    if queries and updates:
        raise bad_request("a request carries either 'query' or 'update', not both")
    if updates:
        if method != "POST":
            raise bad_request("SPARQL Update must be sent with POST (form or application/sparql-update)")
        if len(updates) > 1:
            raise bad_request(f"{len(updates)} 'update' parameters: send exactly one")
        return _update(request, service, updates[0], params)
    if len(queries) > 1:
        raise bad_request(f"{len(queries)} 'query' parameters: send exactly one")
    if queries:
        return _query(request, service, queries[0], params)
    if method == "POST":
        raise bad_request("the form has neither a 'query' nor an 'update' parameter")
    return _service_description(request, service)


def _no_operation_in(params: Sequence[tuple[str, str]], what: str) -> None:
    if any(k in ("query", "update") for k, _ in params):
        raise bad_request(f"{what} carries its operation in the body, not in a 'query'/'update' parameter")


def endpoint_url(request: Request) -> str:
    return request.root + "sparql"


def _query(request: Request, service: Service, text: str, params: Sequence[tuple[str, str]]) -> Response:
    executor = service.executor
    default_graphs = _iris(params, "default-graph-uri")
    named_graphs = _iris(params, "named-graph-uri")
    try:
        form = executor.form_of(text)
    except QueryError as error:
        raise _query_error(error) from None
    offers = RESULTS if form in ("SELECT", "ASK") else GRAPHS
    chosen = choose(offers, request.header("Accept"), [v for k, v in params if k in FORMAT_PARAMS])
    try:
        run = executor.run(text, result_format=chosen.media_type, default_graphs=default_graphs or None,
                           named_graphs=named_graphs or None, union_default=service.settings.union_default_graph,
                           base_iri=endpoint_url(request))
        # evaluation errors and timeouts that come before the first byte still get their status
        chunks = _Chunks(run.chunks)
    except QueryError as error:
        raise _query_error(error) from None
    headers = {"Content-Type": _content_type(run.media_type), "Vary": "Accept"}
    if run.truncated:
        headers[TRUNCATED_HEADER] = "true"
        headers["Mouseion-Row-Cap"] = str(run.row_cap)
    return Response(200, headers, chunks)


def _query_error(error: QueryError) -> ProtocolError:
    if isinstance(error, QuerySyntaxError):
        return syntax_error("query", error)
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, QueryBusy) else None
    return ProtocolError(error.status, str(error), headers=headers)


class _Chunks:
    """A result's chunks with the first one already pulled, so that failures before it surface while a
    status can still be sent. ``close`` (called by the server when the client goes away, and for HEAD)
    releases the executor's run."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._iterator = iter(chunks)
        self._first = next(self._iterator, None)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return next(self._iterator)

    def close(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()


def _content_type(media_type: str) -> str:
    return f"{media_type}; charset=utf-8" if media_type.startswith("text/") else media_type


# ------------------------------------------------------------------------------------ updates


_TOKEN = re.compile(r'''
    (?P<space>\s+|\#[^\n\r]*)
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<string>"""(?:(?:"|"")?(?:[^"\\]|\\[\s\S]))*"""|\'\'\'(?:(?:'|'')?(?:[^'\\]|\\[\s\S]))*\'\'\'
               |"(?:[^"\\\n\r]|\\[\s\S])*"|'(?:[^'\\\n\r]|\\[\s\S])*')
  | (?P<var>[?$]\w+)
  | (?P<word>[A-Za-z_][\w.\-]*(?::[^\s{}()\[\];,<>"'\#]*)?|:[^\s{}()\[\];,<>"'\#]*)
  | (?P<other>.)
''', re.X | re.S)


@dataclass
class _Token:
    kind: str
    text: str
    start: int
    end: int
    depth: int

    @property
    def keyword(self) -> str:
        return self.text.upper() if self.kind == "word" and ":" not in self.text else ""


def _tokens(text: str) -> list[_Token]:
    """SPARQL tokens outside comments, each with its brace depth (strings and IRIs are single tokens)."""
    tokens, depth = [], 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "space":
            continue
        value = match.group()
        if value == "}":
            depth -= 1
        tokens.append(_Token(kind, value, match.start(), match.end(), depth))
        if value == "{":
            depth += 1
    return tokens


@dataclass
class UpdatePlan:
    """What the protocol must know of an update before running it: whether it LOADs or calls SERVICE,
    whether it names its own dataset (USING / USING NAMED / WITH), and where the protocol's
    ``using-graph-uri`` / ``using-named-graph-uri`` go: before the WHERE of every DELETE/INSERT operation
    (a ``DELETE WHERE {P}`` becomes the equivalent ``DELETE {P} USING … WHERE {P}``, which can take them)."""

    text: str
    loads: bool = False
    services: bool = False
    names_dataset: bool = False
    #: (offset, pattern span or None): where a USING clause goes, and for DELETE WHERE the pattern to copy
    wheres: list[tuple[int, tuple[int, int] | None]] = field(default_factory=list)

    @classmethod
    def of(cls, text: str) -> "UpdatePlan":
        shape = scan(text)  # the executor's scan, which also follows both readings of '<'
        plan = cls(text, loads=shape.load, services=shape.service)
        tokens = _tokens(text)
        in_modify = False
        for i, token in enumerate(tokens):
            word = token.keyword
            if word == "SERVICE":
                plan.services = True
            if token.depth != 0 or not word:
                continue
            following = tokens[i + 1].keyword if i + 1 < len(tokens) else ""
            if word == "LOAD":
                plan.loads = True
            elif word in ("USING", "WITH"):
                plan.names_dataset = True
                in_modify = in_modify or word == "WITH"
            elif word == "DELETE" and following == "WHERE":
                span = _group_span(tokens, i + 2)
                if span is not None:
                    plan.wheres.append((token.end, span))
            elif word in ("DELETE", "INSERT") and following != "DATA":
                in_modify = True
            elif word == "WHERE" and in_modify and tokens[i - 1].keyword != "DELETE":
                plan.wheres.append((token.start, None))
                in_modify = False
        return plan

    def with_dataset(self, using: Sequence[str], using_named: Sequence[str]) -> str:
        clause = " ".join([f"USING <{g}>" for g in using] + [f"USING NAMED <{g}>" for g in using_named])
        text = self.text
        for offset, pattern in sorted(self.wheres, reverse=True):
            if pattern is None:  # before the WHERE of DELETE/INSERT … WHERE
                text = f"{text[:offset]}{clause} {text[offset:]}"
            else:  # right after DELETE of DELETE WHERE {P}: DELETE {P} USING … WHERE {P}
                start, end = pattern
                text = f"{text[:offset]} {self.text[start:end]} {clause}{text[offset:]}"
        return text


def _group_span(tokens: Sequence[_Token], i: int) -> tuple[int, int] | None:
    """The text span of the ``{…}`` group that starts at token ``i``."""
    if i >= len(tokens) or tokens[i].text != "{":
        return None
    depth = tokens[i].depth
    for token in tokens[i + 1:]:
        if token.text == "}" and token.depth == depth:
            return tokens[i].start, token.end
    return None


def _check_syntax_without_running(text: str) -> None:
    """A malformed update is a 400 even when it asks for LOAD. pyoxigraph has no parse-only call and would
    fetch the URL, so rdflib's SPARQL Update grammar answers instead."""
    from pyparsing import ParseException
    from rdflib.plugins.sparql.parser import parseUpdate
    try:
        parseUpdate(text)
    except ParseException as error:
        raise bad_request(f"update syntax error at {error.lineno}:{error.col}: {error.msg}") from None


def _update(request: Request, service: Service, text: str, params: Sequence[tuple[str, str]]) -> Response:
    _authorize(request, service.settings)
    using, using_named = _iris(params, "using-graph-uri"), _iris(params, "using-named-graph-uri")
    plan = UpdatePlan.of(text)
    if plan.loads:
        _check_syntax_without_running(text)
        raise ProtocolError(403, "LOAD is not allowed on the public endpoint: load files with `mouseion load`, "
                                 "or PUT/POST them to the graph store (/sparql/graphs)")
    if plan.services:
        raise bad_request("SERVICE (federated query) is not allowed on this endpoint")
    rewritten = text
    if using or using_named:
        if plan.names_dataset:
            raise bad_request("the update names its own dataset (USING, USING NAMED or WITH) and the request "
                              "gives using-graph-uri / using-named-graph-uri: give one or the other")
        rewritten = plan.with_dataset(using, using_named)
    store = service.store
    try:
        outcomes = apply_update(store, rewritten, gate=service.gate(), base_iri=endpoint_url(request))
    except SyntaxError as error:
        if rewritten is not text:
            try:
                check_update_syntax(text)
            except SyntaxError as original:
                raise syntax_error("update", original) from None
            raise bad_request(f"cannot apply using-graph-uri / using-named-graph-uri to this update: {error}") from None
        raise syntax_error("update", error) from None
    except (ReservedGraph, WriteRejected, StoreError) as error:
        raise _write_error(error) from None
    except RuntimeError as error:
        # pyoxigraph's evaluation errors (DROP or COPY of a graph that does not exist, CREATE of one that
        # does): the update is well-formed but fails, and per SPARQL Update nothing of it is applied
        raise ProtocolError(500, f"the update failed, nothing was written: {error}") from None
    finally:
        # a failed write changed nothing, but invalidating is cheap and never wrong
        service.executor.invalidate()
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return _report(request, 200, "update applied" + "".join(f"; {n} record(s) {s}" for s, n in sorted(counts.items())),
                   {"records": [{"key": o.key, "status": o.status} for o in outcomes]})


def _write_error(error: Exception) -> ProtocolError:
    if isinstance(error, ReservedGraph):
        return ProtocolError(403, str(error))
    if isinstance(error, WriteRejected):
        rejections = [{"record": r.key, "source": str(r.origin), "reasons": r.reasons} for r in error.rejections]
        report = "\n".join(str(r) for r in error.rejections)
        return ProtocolError(422, f"the write would break the SHACL shapes; nothing was written\n{report}",
                             extra={"rejections": rejections})
    return ProtocolError(500, f"the store could not be written; nothing was written: {error}")


def _report(request: Request, status: int, message: str, details: Mapping[str, object],
            headers: Mapping[str, str] | None = None) -> Response:
    """A short success report: text, or JSON for clients that prefer it."""
    try:
        chosen = choose(MESSAGES, request.header("Accept"))
    except NotAcceptable:
        chosen = MESSAGES[0]
    out = dict(headers or {})
    if chosen.media_type == "application/json":
        out["Content-Type"] = "application/json"
        return Response(status, out, json.dumps({"message": message, **details}).encode())
    out["Content-Type"] = "text/plain; charset=utf-8"
    return Response(status, out, message.encode() + b"\n")


# ------------------------------------------------------------------------------------ descriptions


def _rdf_response(request: Request, triples: Sequence[Triple], offers: Sequence[Format],
                  requested: Sequence[str] = ()) -> Response:
    chosen = choose(offers, request.header("Accept"), requested)
    if chosen is HTML:
        return Response(200, {"Vary": "Accept"}, page="query")
    options = {}
    if chosen.media_type != "application/n-triples":
        options["prefixes"] = _prefixes_used(triples)
    body = ox.serialize(triples, format=chosen.rdf_format, **options)
    return Response(200, {"Content-Type": _content_type(chosen.media_type), "Vary": "Accept"}, body)


def _prefixes_used(triples: Sequence[Triple]) -> dict[str, str]:
    """The known prefixes whose namespace some IRI in ``triples`` is in (no wall of unused @prefix lines)."""
    iris = {term.value for t in triples for term in (t.subject, t.predicate, t.object) if isinstance(term, NamedNode)}
    known = {**prefix_map(), **descriptions.PREFIXES}
    return {name: ns for name, ns in known.items() if any(iri.startswith(ns) for iri in iris)}


def _service_description(request: Request, service: Service) -> Response:
    triples = descriptions.service_description(endpoint_url(request), request.root + descriptions.VOID_PATH,
                                               service.settings)
    return _rdf_response(request, triples, DESCRIPTIONS, request.values("format"))


def void(request: Request, service: Service) -> Response:
    """``/.well-known/void``: the VoID description of the dataset, statistics cached per store generation."""
    method = request.method.upper()
    if method == "OPTIONS":
        return preflight(READ_METHODS)
    if method not in ("GET", "HEAD"):
        raise method_not_allowed(method, READ_METHODS)
    triples = descriptions.void_description(service.store, request.root, endpoint_url(request))
    return _rdf_response(request, triples, [f for f in DESCRIPTIONS if f is not HTML], request.values("format"))


# ------------------------------------------------------------------------------------ graph store


def _target(request: Request) -> NamedNode | DefaultGraph | None:
    """The graph a Graph Store request names: ``?graph=<iri>``, ``?default``, or none (the service itself)."""
    graphs, default = request.values("graph"), any(k == "default" for k, _ in request.args)
    if (graphs and default) or len(graphs) > 1:
        raise bad_request("name one graph: either ?graph=<iri> or ?default")
    if default:
        return DefaultGraph()
    return NamedNode(_iri(graphs[0], "graph")) if graphs else None


def _current(store: Store, graph: NamedNode | DefaultGraph | None) -> list[Triple] | None:
    """The graph's statements, or None when it does not exist (the default graph always does)."""
    if graph is None:
        return None
    try:
        return graph_triples(store, graph)
    except NotFound:
        return None


def _parse_graph(request: Request, service: Service, base: str, *, multipart: bool = False) -> list[Triple]:
    """The statements of an RDF request body; with ``multipart``, also a multipart/form-data body, each part
    an RDF document (its Content-Type, or its file name's suffix, saying which format)."""
    media, charset = parse_content_type(request.header("Content-Type"))
    accepted = [f.media_type for f in GRAPH_INPUTS] + (["multipart/form-data"] if multipart else [])
    if multipart and media == "multipart/form-data":
        body = read_body(request, service.settings.max_body_bytes)
        triples = []
        for name, part_type, data in _form_parts(body, request.header("Content-Type") or ""):
            chosen = _input_format(part_type, name)
            if chosen is None:
                raise unsupported_media_type(f"cannot read the part {name!r} sent as {part_type or 'no Content-Type'}",
                                             accepted)
            triples += _parse(data, chosen, base, f"{chosen.media_type} (part {name!r})")
        return triples
    chosen = _input_format(media, None)
    if chosen is None:
        raise unsupported_media_type(f"cannot read a graph sent as {media or 'no Content-Type'}", accepted)
    if charset not in (None, "utf-8", "utf8"):
        raise unsupported_media_type(f"RDF bodies must be UTF-8, not {charset}", accepted)
    return _parse(read_body(request, service.settings.max_body_bytes), chosen, base, chosen.media_type)


def _input_format(media: str | None, filename: str | None) -> Format | None:
    if media is not None:
        return next((f for f in GRAPH_INPUTS if f.known_as(media)), None)
    suffix = (filename or "").rpartition(".")[2].lower()
    return next((f for f in GRAPH_INPUTS if suffix and f.known_as(suffix)), None)


def _parse(data: bytes, chosen: Format, base: str, what: str) -> list[Triple]:
    try:
        return [q.triple for q in ox.parse(data, format=chosen.rdf_format, base_iri=base)]
    except SyntaxError as error:
        raise syntax_error(what, error) from None
    except ValueError as error:
        raise bad_request(f"cannot read the {what} body: {error}") from None


def _form_parts(body: bytes, content_type: str) -> list[tuple[str, str | None, bytes]]:
    """(name, media type or None, bytes) of each part of a multipart/form-data body."""
    message = BytesParser(policy=email_policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise bad_request("the multipart/form-data body has no parts (is the boundary right?)")
    parts = []
    for i, part in enumerate(message.iter_parts()):
        name = part.get_filename() or part.get_param("name", header="content-disposition") or f"#{i + 1}"
        media = part.get_content_type() if part["Content-Type"] is not None else None
        parts.append((str(name), media, part.get_payload(decode=True) or b""))
    return parts


def graph_store(request: Request, service: Service) -> Response:
    """The Graph Store HTTP Protocol, indirect graph identification, at ``/sparql/graphs``."""
    method = request.method.upper()
    if method == "OPTIONS":
        return preflight(GRAPH_STORE_METHODS)
    if method not in GRAPH_STORE_METHODS:
        raise method_not_allowed(method, GRAPH_STORE_METHODS)
    target = _target(request)
    store = service.store
    if method in ("GET", "HEAD"):
        if target is None:
            raise bad_request("name a graph: ?graph=<iri> or ?default (the whole dataset is at /sparql)")
        try:
            triples = graph_triples(store, target)
        except NotFound as error:
            raise ProtocolError(404, str(error)) from None
        return _rdf_response(request, triples, GRAPHS, [v for k, v in request.args if k in FORMAT_PARAMS])
    _authorize(request, service.settings)
    if target is None and method != "POST":
        raise bad_request(f"{method} needs a graph: ?graph=<iri> or ?default")
    current = _current(store, target)
    existed = current is not None
    headers: dict[str, str] = {}
    if method == "DELETE":
        if not existed:
            raise ProtocolError(404, f"no graph <{target.value}>")
        contents = {target: []}
    elif method == "PUT":
        contents = {target: _parse_graph(request, service, _base(request, target))}
    else:
        if target is None:  # POST to the service: a new graph, named by us. Location is its IRI (what
            # GSP clients put in ?graph=); Link gives the URL it is read at here.
            target = NamedNode(f"{store.uris.base}graph/upload/{uuid.uuid4()}")
            headers["Location"] = target.value
            headers["Link"] = f'<{request.root}sparql/graphs?graph={quote(target.value, safe="")}>; rel="alternate"'
        incoming = _parse_graph(request, service, _base(request, target), multipart=True)
        contents = {target: (current or []) + incoming}
    try:
        replace_graphs(store, contents, gate=service.gate(), origin=f"Graph Store {method}")
    except (ReservedGraph, WriteRejected, StoreError) as error:
        raise _write_error(error) from None
    finally:
        service.executor.invalidate()
    if method != "DELETE" and not existed:
        name = target.value if isinstance(target, NamedNode) else "the default graph"
        return _report(request, 201, f"created <{name}>", {"graph": name}, headers)
    return Response(204, headers)


def _base(request: Request, graph: NamedNode | DefaultGraph) -> str:
    return graph.value if isinstance(graph, NamedNode) else endpoint_url(request) + "/graphs?default"

