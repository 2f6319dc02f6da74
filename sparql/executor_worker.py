"""The query worker: a long-lived process that evaluates one query at a time over a read-only checkpoint.

Started by :class:`sparql.executor.Executor` as ``python -P executor_worker.py FD``: a fresh interpreter
(never a fork of the server, which holds RocksDB and threads; and unlike multiprocessing's spawn, it
does not re-import the server's ``__main__``), importing only the standard library and pyoxigraph, so
it starts in about 0.1 s. ``FD`` is its end of a socket pair, framed by
:class:`multiprocessing.connection.Connection`.

Protocol (every message is bytes; the first byte is its kind):

- parent → worker, once: a :class:`Setup`, pickled as a plain tuple; worker → parent: ``READY`` +
  ``b"1"`` when it runs without network access (see :func:`_isolate_network`), ``b"0"`` otherwise;
- parent → worker, per query: a :class:`Request`, pickled as a plain tuple;
- worker → parent: ``DONE`` + header + the whole result, or ``START`` + header + a first chunk, then
  ``MORE`` chunks and a closing ``LAST`` chunk; or ``ERROR`` + header (before or instead of any more
  chunks). The header is ``struct('!H')`` length + JSON.

The worker never decides about time: the parent kills it (SIGKILL) when a query runs too long. Its
memory is bounded by RLIMIT_DATA (``Setup.memory_limit``).
"""

from __future__ import annotations

import ctypes
import json
import os
import pickle
import resource
import struct
import sys
import threading
from multiprocessing.connection import Connection
from typing import NamedTuple

import pyoxigraph as ox

READY, DONE, START, MORE, LAST, ERROR = b"R", b"F", b"S", b"D", b"L", b"X"

#: bytes per streamed message: big enough that framing costs nothing, small enough to keep memory flat
CHUNK = 256 * 1024

SELECT_FORMATS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}


class Setup(NamedTuple):
    """Sent once, as a plain tuple (the worker runs as ``__main__``: no project class crosses the pipe)."""

    #: where a truncated answer points its readers (SPARQL results' ``link``)
    truncation_doc: str
    isolate_network: bool
    #: bytes of heap (RLIMIT_DATA) the worker may use; 0: no limit
    memory_limit: int


class Request(NamedTuple):
    """Sent per query, as a plain tuple."""

    checkpoint: str
    query: str
    media_type: str
    #: the form the scan found ('DESCRIBE' tells it from CONSTRUCT; the result kind decides the rest)
    form: str | None
    #: the predeclared prefixes this query uses
    prefixes: dict[str, str] | None
    row_cap: int
    default_graphs: tuple[str, ...] | None
    named_graphs: tuple[str, ...] | None
    union_default: bool
    base_iri: str | None


def frame(kind: bytes, header: dict, body: bytes = b"") -> bytes:
    meta = json.dumps(header, separators=(",", ":")).encode()
    return b"".join((kind, struct.pack("!H", len(meta)), meta, body))


def unframe(message: bytes) -> tuple[dict, memoryview]:
    (length,) = struct.unpack_from("!H", message, 1)
    return json.loads(message[3:3 + length]), memoryview(message)[3 + length:]


class _Enough(Exception):
    """Raised from inside pyoxigraph's serialiser to stop evaluation once the cap is passed."""


class _LineCounter:
    """A file that keeps the first ``keep`` lines and stops the serialiser at the line after them.

    TSV and N-Triples put exactly one solution / triple on a line (newlines in literals are escaped),
    so counting ``\\n`` counts rows without parsing anything.
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.lines = 0
        self.parts: list[bytes] = []
        self.truncated = False

    def write(self, data: bytes) -> int:
        if self.lines >= self.keep and data:
            self.truncated = True
            raise _Enough
        newlines = data.count(b"\n")
        if self.lines + newlines < self.keep or (self.lines + newlines == self.keep and data.endswith(b"\n")):
            self.parts.append(bytes(data))
            self.lines += newlines
            return len(data)
        cut = -1
        for _ in range(self.keep - self.lines):
            cut = data.index(b"\n", cut + 1)
        self.parts.append(bytes(data[:cut + 1]))
        self.lines = self.keep
        if len(data) > cut + 1:  # a further line has begun: the cap is passed
            self.truncated = True
            raise _Enough
        return len(data)

    def flush(self) -> None:
        pass

    def value(self) -> bytes:
        return b"".join(self.parts)


class _Streamer:
    """A file that sends what it is given to the parent in CHUNK-sized messages, as it comes."""

    def __init__(self, conn: Connection, header: dict) -> None:
        self.conn = conn
        self.header = header
        self.buffer = bytearray()
        self.started = False

    def write(self, data: bytes) -> int:
        self.buffer += data
        if len(self.buffer) >= CHUNK:
            self._send(MORE)
        return len(data)

    def flush(self) -> None:
        pass

    def _send(self, kind: bytes) -> None:
        if not self.started:
            self.conn.send_bytes(frame(DONE if kind == LAST else START, self.header, self.buffer))
            self.started = True
        else:
            self.conn.send_bytes(kind + bytes(self.buffer))
        self.buffer.clear()

    def close(self) -> None:
        self._send(LAST)


class Worker:
    def __init__(self, conn: Connection, setup: Setup) -> None:
        self.conn = conn
        self.setup = setup
        self.store: ox.Store | None = None
        self.checkpoint: str | None = None

    def serve(self) -> None:
        while True:
            try:
                message = self.conn.recv_bytes()
            except (EOFError, OSError):
                return
            try:
                self.answer(Request(*pickle.loads(message)))
            except OSError:  # the parent closed our pipe mid-answer: nobody is listening any more
                return

    def open(self, checkpoint: str) -> ox.Store:
        if checkpoint != self.checkpoint:
            self.store = None  # close the older checkpoint first: the parent deletes it once unused
            self.store = ox.Store.read_only(checkpoint)
            self.checkpoint = checkpoint
        return self.store

    def answer(self, request: Request) -> None:
        streamer = None
        try:
            results = self.open(request.checkpoint).query(
                request.query, base_iri=request.base_iri, prefixes=request.prefixes,
                use_default_graph_as_union=request.union_default and not request.default_graphs,
                default_graph=[ox.NamedNode(g) for g in request.default_graphs] if request.default_graphs else None,
                named_graphs=[ox.NamedNode(g) for g in request.named_graphs] if request.named_graphs is not None
                else None)
            if isinstance(results, ox.QueryBoolean):
                media_type, fmt = _choose(SELECT_FORMATS, request.media_type)
                self.conn.send_bytes(frame(DONE, _header("ASK", media_type), results.serialize(format=fmt)))
                return
            if isinstance(results, ox.QuerySolutions):
                form, formats, line_format = "SELECT", SELECT_FORMATS, ox.QueryResultsFormat.TSV
            else:
                form = "DESCRIBE" if request.form == "DESCRIBE" else "CONSTRUCT"
                formats, line_format = GRAPH_FORMATS, ox.RdfFormat.N_TRIPLES
            media_type, fmt = _choose(formats, request.media_type)
            if request.row_cap <= 0:
                streamer = _Streamer(self.conn, _header(form, media_type))
                results.serialize(streamer, format=fmt)
                streamer.close()
                return
            body, truncated = self.capped(results, form, fmt, line_format, request.row_cap)
            header = _header(form, media_type, truncated=truncated)
            self.conn.send_bytes(frame(DONE, header, body))
        except Exception as error:  # every failure goes back to the parent, which decides what it means
            kind = "syntax" if isinstance(error, SyntaxError) else "storage" if isinstance(error, OSError) \
                else "memory" if isinstance(error, MemoryError) else "invalid"
            message = str(error) or type(error).__name__
            if streamer is not None and streamer.started:
                kind = "broken:" + kind
            self.conn.send_bytes(frame(ERROR, {"kind": kind, "message": message}))  # OSError: see serve

    def capped(self, results, form: str, fmt, line_format, cap: int) -> tuple[bytes, bool]:
        """At most ``cap`` rows (triples), and whether there were more: evaluated as one-per-line text,
        stopped at row cap + 1, then re-serialised natively in the format asked for and marked."""
        counter = _LineCounter(cap + 1 if form == "SELECT" else cap)  # TSV has a header line
        try:
            results.serialize(counter, format=line_format)
        except _Enough:
            pass
        lines = counter.value()
        if form == "SELECT":
            if fmt == line_format and not counter.truncated:
                return lines, False
            body = ox.parse_query_results(lines, format=line_format).serialize(format=fmt)
            return (mark_solutions(body, fmt, self.setup.truncation_doc) if counter.truncated else body,
                    counter.truncated)
        if fmt == line_format and not counter.truncated:
            return lines, False
        body = ox.serialize(ox.parse(lines, format=line_format), format=fmt)
        return (mark_graph(body, fmt, cap, self.setup.truncation_doc) if counter.truncated else body,
                counter.truncated)


def _header(form: str, media_type: str, *, truncated: bool = False) -> dict:
    return {"form": form, "media_type": media_type, "truncated": truncated}


def _choose(formats: dict, media_type: str):
    """The format asked for, or the first of the right kind when the form did not match the request."""
    if media_type in formats:
        return media_type, formats[media_type]
    return next(iter(formats.items()))


def mark_solutions(body: bytes, fmt, doc: str) -> bytes:
    """Say in the document itself that rows were cut: a ``link`` in the head (JSON and XML results),
    plus a top-level ``"truncated": true`` member in JSON. CSV and TSV have no place for it that
    a client would not read as a row: the HTTP header ``Mouseion-Result-Truncated`` says it."""
    if fmt == ox.QueryResultsFormat.JSON:
        # {"head":{"vars":[...]},"results":...}: variable names never hold ']' or '"'
        end = body.index(b"]", body.index(b'"vars":')) + 1
        assert body[end:end + 1] == b"}"
        return b"".join((body[:end], b',"link":[', json.dumps(doc).encode(), b']},"truncated":true',
                         body[end + 1:]))
    if fmt == ox.QueryResultsFormat.XML:
        link = b'<link href="' + _xml_attr(doc) + b'"/>'
        if b"<head/>" in body:
            return body.replace(b"<head/>", b"<head>" + link + b"</head>", 1)
        return body.replace(b"</head>", link + b"</head>", 1)
    return body


def mark_graph(body: bytes, fmt, cap: int, doc: str) -> bytes:
    """A comment where the syntax has them (Turtle, N-Triples, RDF/XML); JSON-LD gets the object form
    ``{"truncated": true, "@graph": [...]}`` ("truncated" maps to no IRI, so JSON-LD processors drop it
    and the graph is unchanged)."""
    note = f"Mouseion: result truncated to the first {cap} triples (row cap); see {doc}"
    if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.N_TRIPLES):
        return b"# " + note.encode() + b"\n" + body
    if fmt == ox.RdfFormat.RDF_XML:
        comment = b"<!-- " + note.replace("--", "- -").encode() + b" -->\n"
        if body.startswith(b"<?xml"):
            end = body.index(b"?>") + 2
            return body[:end] + b"\n" + comment + body[end:].lstrip(b"\n")
        return comment + body
    if fmt == ox.RdfFormat.JSON_LD:
        return b'{"truncated":true,"@graph":' + body + b"}"
    return body


def _xml_attr(text: str) -> bytes:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").encode()


def _isolate_network() -> bool:
    """Leave the network: a new (empty) network namespace in a new user namespace (Linux, unprivileged,
    single-threaded callers only). pyoxigraph evaluates SERVICE with a real HTTP client; the executor
    refuses such queries, and this makes a query that slipped through fail instead of reaching out."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(0x10000000 | 0x40000000) == 0  # CLONE_NEWUSER | CLONE_NEWNET
    except (OSError, AttributeError):
        return False


def _watch_parent() -> None:
    """Exit when the parent is gone, even mid-query (a runaway would otherwise outlive the server)."""
    parent = os.getppid()
    stop = threading.Event()
    while not stop.wait(1.0):
        if os.getppid() != parent:
            os._exit(3)


def main(fd: int) -> None:
    conn = Connection(fd)
    setup = Setup(*pickle.loads(conn.recv_bytes()))
    isolated = setup.isolate_network and _isolate_network()  # before any thread exists
    if setup.memory_limit:
        # Past it, an allocation fails: Python raises MemoryError, Rust aborts (the parent sees SIGABRT).
        resource.setrlimit(resource.RLIMIT_DATA, (setup.memory_limit, setup.memory_limit))
    threading.Thread(target=_watch_parent, daemon=True, name="watch-parent").start()
    conn.send_bytes(READY + (b"1" if isolated else b"0"))
    Worker(conn, setup).serve()


if __name__ == "__main__":
    main(int(sys.argv[1]))
