"""The query executor of the public SPARQL endpoint when the store is a remote SPARQL 1.1 server.

The same interface as :class:`sparql.executor.Executor` (``run`` → :class:`~sparql.executor.QueryRun`,
the same exceptions, ``form_of``, ``invalidate``, ``stats``, ``close``), so that ``sparql.protocol`` does
not know which one it holds; ``web.app.create_app`` picks this one for a store made by
``Store.connect``. Each query is forwarded to the server's query URL (``store.backend.query_url``, with
``store.backend.headers``) as a SPARQL 1.1 Protocol form POST over a small pool of kept-alive HTTP
connections, and its answer is read as it arrives, never whole.

Decisions (the local executor's module docs say why the limits exist):

- **Time limit**, measured from dispatch as a total deadline over connecting, sending and every read
  of the answer (each socket operation may wait only for what is left). Past it before the first byte:
  :class:`QueryTimeout` (503); once streaming: the same ``\\n!MOUSEION-ERROR: ...\\n`` last chunk as the
  local executor, then :class:`QueryTimeout`. The connection is closed, which is all a client can do:
  whether the evaluation stops is the server's business. Oxigraph stops a query that is *writing* its
  answer when the connection goes, but one still computing (an aggregate, an ORDER BY) runs to its end,
  and ``oxigraph serve --timeout-s`` (0.5) bounds HTTP reads and writes, not evaluation: give the
  server its own query limit where it has one (Virtuoso's ``MaxQueryExecutionTime``, QLever's
  ``timeout``).
- **Row cap.** The server is asked for TSV (SELECT) or N-Triples (CONSTRUCT, DESCRIBE) — one row or
  triple per line — and the local worker's own code (:meth:`sparql.executor_worker.Worker.capped`)
  counts lines up to cap + 1, stops reading (the connection is then closed: the server stops writing),
  re-serialises in the format asked for and marks the truncation, so a truncated answer is marked
  exactly as the local executor marks it. ASK is asked for as SPARQL/JSON and re-serialised.
  ``row_cap=0``: the server is asked for the client's format and its bytes are passed through.
- **Refusals** happen before anything is sent: SERVICE and LOAD (the lexical scan of
  :mod:`sparql.executor_scan`), an update sent as a query. The server's ``400`` is a
  :class:`QuerySyntaxError` carrying its message; Mouseion's predeclared prefixes (and ``base_iri``)
  are sent as a one-line prologue before the query, so an ``error at 1:COLUMN`` is shifted back to the
  client's column.
- **Dataset.** ``default_graphs`` / ``named_graphs`` become ``default-graph-uri`` / ``named-graph-uri``.
  ``union_default`` cannot be said in the protocol: the default graph is whatever the server's is — run
  ``oxigraph serve --union-default-graph`` (as ``kg.backends`` expects anyway).
- **Concurrency.** ``workers`` queries are forwarded at once; others wait for a slot as for a local
  worker (``queue_wait``, ``max_waiting``, then :class:`QueryBusy`). ``memory_limit``,
  ``checkpoint_root`` and ``isolate_network`` are accepted for the shared signature and mean nothing
  here: the server owns its memory, has no checkpoints and decides about the network.
"""

from __future__ import annotations

import http.client
import re
import select
import threading
import urllib.parse
from time import monotonic
from typing import TYPE_CHECKING, Iterator, Mapping

import pyoxigraph as ox

from kg.backends import RemoteBackend
from kg.errors import StoreError
from sparql import executor_worker as wire
from sparql.executor import (LIMITS_DOC, Executor, QueryBusy, QueryError, QueryFailed, QueryRun,
                             QuerySyntaxError, QueryTimeout, admit, set_limits)

if TYPE_CHECKING:
    from kg.store import Store

#: what the server is asked for when Mouseion caps the answer: one row (triple) per line
LINE_FORMATS = {"SELECT": "text/tab-separated-values", "CONSTRUCT": "application/n-triples",
                "DESCRIBE": "application/n-triples", "ASK": "application/sparql-results+json"}
#: bytes read from the server at a time
CHUNK = wire.CHUNK
#: at most this much of an error message (or of an ASK answer) is read
SMALL_BODY = 64 * 1024

_POSITION = re.compile(r"^(.*?error at )(\d+):(\d+)", re.DOTALL)


class RemoteExecutor:
    """Forwards public SPARQL queries to the store's SPARQL server, with a time limit and a row cap.

    >>> RemoteExecutor.form_of("PREFIX ex: <http://ex.org/> ASK { ?s ?p ?o }")
    'ASK'
    """

    form_of = staticmethod(Executor.form_of)

    def __init__(self, store: "Store", *, workers: int = 2, timeout: float = 30.0, row_cap: int = 10_000,
                 queue_wait: float = 10.0, max_waiting: int = 32, prefixes: Mapping[str, str] | None = None,
                 memory_limit: int = 0, truncation_doc: str | None = None, checkpoint_root=None,
                 isolate_network: bool = True) -> None:
        backend = store.backend
        if not isinstance(backend, RemoteBackend):
            raise StoreError("RemoteExecutor forwards queries to a SPARQL server; the embedded store uses Executor")
        set_limits(self, store, workers, timeout, row_cap, queue_wait, max_waiting, prefixes)
        self.url = backend.query_url
        self._headers = {**backend.headers, "Content-Type": "application/x-www-form-urlencoded"}
        #: for a server that does not answer at all when no time limit applies
        self._idle_timeout = backend.timeout
        # The worker's row-cap code, run in this process: it needs only its setup's truncation_doc.
        doc = truncation_doc or store.uris.base + LIMITS_DOC
        self._capper = wire.Worker(None, wire.Setup(doc, False, 0))
        self._pool = _Connections(self.url, keep=workers)
        self._lock = threading.Condition()
        self._busy = 0
        self._waiting = 0
        self._closed = False

    # ---------------------------------------------------------------- public API

    def run(self, query: str, *, result_format: str, default_graphs: list[str] | None = None,
            named_graphs: list[str] | None = None, union_default: bool = True, base_iri: str | None = None,
            timeout: float | None = None) -> QueryRun:
        """Forward ``query``; errors before the first byte are raised here (see :meth:`Executor.run`).
        ``union_default`` is the server's configuration (module docs)."""
        shape = admit(query, result_format)
        # an unknown form goes as a SELECT: the server's syntax error then says what is wrong
        form = shape.form if shape.form in LINE_FORMATS else "SELECT"
        formats = wire.GRAPH_FORMATS if form in ("CONSTRUCT", "DESCRIBE") else wire.SELECT_FORMATS
        media_type, fmt = wire._choose(formats, result_format)
        capped = self.row_cap > 0 and form != "ASK"
        asked = LINE_FORMATS[form] if capped or form == "ASK" else media_type
        prologue = _prologue(base_iri, {name: self.prefixes[name] for name in shape.prefixes
                                        if name in self.prefixes})
        params = [("query", prologue + query)]
        params += [("default-graph-uri", g) for g in default_graphs or ()]
        params += [("named-graph-uri", g) for g in named_graphs or ()]
        limit = self.timeout if timeout is None else timeout

        self._acquire(monotonic() + self.queue_wait)
        exchange = None
        try:
            deadline = monotonic() + limit if limit > 0 else None
            exchange = _Exchange(self, urllib.parse.urlencode(params).encode(), asked, deadline, limit)
            exchange.check(len(prologue))
            if form == "ASK":
                answer = ox.parse_query_results(exchange.small(), format=ox.QueryResultsFormat.JSON)
                exchange.finish(reuse=True)
                return QueryRun("ASK", media_type, iter((answer.serialize(format=fmt),)), False, 0)
            if capped:
                line_format = ox.QueryResultsFormat.TSV if form == "SELECT" else ox.RdfFormat.N_TRIPLES
                body, truncated = self._capper.capped(_Lines(exchange), form, fmt, line_format, self.row_cap)
                exchange.finish(reuse=not truncated)  # a truncated answer was left unread
                return QueryRun(form, media_type, iter((body,) if body else ()), truncated, self.row_cap)
            first = exchange.read()
            return QueryRun(form, media_type, _Stream(exchange, first), False, self.row_cap)
        except _Expired:
            raise QueryTimeout(_timeout_message(limit)) from None
        except (OSError, http.client.HTTPException) as error:
            raise QueryFailed(f"the SPARQL server {self.url} failed to answer: {error}") from None
        except (SyntaxError, ValueError) as error:
            raise QueryFailed(f"the SPARQL server {self.url} sent an answer that does not parse: {error}") from None
        finally:
            if exchange is None:
                self._release()
            elif not exchange.streaming:
                exchange.finish(reuse=False)  # no-op once finished; otherwise the answer was cut short

    def invalidate(self) -> None:
        """Nothing to do: every query reads the server's current state."""

    def stats(self) -> dict[str, object]:
        """The forwarding slots as they are now (for /-/health and tests)."""
        with self._lock:
            return {"workers": self.workers, "idle": self.workers - self._busy, "busy": self._busy,
                    "waiting": self._waiting, "remote": self.url, "connections": self._pool.idle_count()}

    def close(self) -> None:
        """Close the kept-alive connections; answers being streamed close theirs when they end."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._pool.close()

    def __enter__(self) -> "RemoteExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- slots

    def _acquire(self, until: float) -> None:
        with self._lock:
            if self._closed:
                raise QueryFailed("the query executor is closed")
            if self._busy >= self.workers and self._waiting >= self.max_waiting:
                raise QueryBusy(f"server busy: {self._waiting} queries are already waiting; try again later")
            self._waiting += 1
            try:
                while self._busy >= self.workers:
                    left = until - monotonic()
                    if left <= 0 or self._closed:
                        raise QueryBusy(f"server busy: all {self.workers} query slots stayed in use for "
                                        f"{self.queue_wait:g} s; try again later")
                    self._lock.wait(left)
                self._busy += 1
            finally:
                self._waiting -= 1

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1
            self._lock.notify()


class _Expired(Exception):
    """The deadline passed."""


def _timeout_message(limit: float) -> str:
    return f"query abandoned: it ran past the time limit of {limit:g} s"


def _prologue(base_iri: str | None, prefixes: Mapping[str, str]) -> str:
    """One line, so that the query's own line numbers stay as they are (a query's own PREFIX or BASE,
    coming later, wins)."""
    parts = [f"BASE {ox.NamedNode(base_iri)}"] if base_iri else []
    parts += [f"PREFIX {name}: {ox.NamedNode(iri)}" for name, iri in prefixes.items()]
    return " ".join(parts) + " " if parts else ""


def _unshift(message: str, shift: int) -> str:
    """The server's ``error at 1:COLUMN`` as a column of the client's query, not of prologue + query."""
    found = _POSITION.match(message)
    if found is None or found.group(2) != "1" or not shift:
        return message
    column = max(int(found.group(3)) - shift, 1)
    return f"{found.group(1)}1:{column}{message[found.end():]}"


class _Exchange:
    """One request to the server and its answer, read under the deadline."""

    def __init__(self, executor: RemoteExecutor, body: bytes, accept: str, deadline: float | None,
                 limit: float) -> None:
        self.executor = executor
        self.accept = accept
        self.deadline = deadline
        self.limit = limit
        #: handed on to a _Stream, which finishes it
        self.streaming = False
        self._finished = False
        pool = executor._pool
        for attempt in (1, 2):
            self.connection, reused = pool.take()
            try:
                self._settimeout(connecting=True)
                if self.connection.sock is None:
                    self.connection.connect()
                # kept here: http.client lets go of its socket once a response says it closes the connection
                self._socket = self.connection.sock
                self._settimeout()
                self.connection.request("POST", pool.target, body, {**executor._headers, "Accept": accept})
                self._settimeout()
                self.response = self.connection.getresponse()
                return
            except TimeoutError:
                self.connection.close()
                raise _Expired from None
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                if not (reused and attempt == 1):
                    raise
                # a kept-alive connection the server had closed meanwhile: once more on a fresh one
            except BaseException:
                self.connection.close()
                raise

    def _settimeout(self, *, connecting: bool = False) -> None:
        """Let the next socket operation wait only for what is left of the deadline."""
        if self.deadline is None:
            left = self.executor._idle_timeout
        else:
            left = self.deadline - monotonic()
            if left <= 0:
                raise _Expired
        if connecting:
            self.connection.timeout = left
        else:
            self._socket.settimeout(left)

    def check(self, shift: int) -> None:
        """Raise the error the server answered with, if it did."""
        status = self.response.status
        if status == 200:
            media = (self.response.getheader("Content-Type") or "").split(";")[0].strip().lower()
            if media != self.accept:
                raise QueryFailed(f"the SPARQL server {self.executor.url} answered {media or 'without a type'} "
                                  f"when asked for {self.accept}")
            return
        detail = self.small().decode("utf-8", "replace").strip() or self.response.reason
        if status == 400:
            raise QuerySyntaxError(_unshift(detail, shift))
        if status == 503:
            raise QueryBusy(f"the SPARQL server is busy: {detail}")
        if status in (408, 504):
            raise QueryTimeout(f"the SPARQL server stopped the query: {detail}")
        raise QueryFailed(f"the SPARQL server {self.executor.url} answered {status}: {detail}")

    def read(self) -> bytes:
        """The next piece of the answer (b"" at its end): what has arrived, up to CHUNK bytes. Servers
        send small HTTP chunks (Oxigraph: about 1 KB), and passing each on alone would cost more than
        the query; waiting for more than has arrived would hold back a slow answer."""
        piece = self._read1(CHUNK)
        parts, size = [piece], len(piece)
        while piece and size < CHUNK and select.select([self._socket], [], [], 0)[0]:
            piece = self._read1(CHUNK - size)
            parts.append(piece)
            size += len(piece)
        return b"".join(parts)

    def _read1(self, size: int) -> bytes:
        self._settimeout()
        try:
            piece = self.response.read1(size)
            if not piece:
                self.response.read()  # read1 leaves a body of known length open at its end; read() closes it
            return piece
        except TimeoutError:
            raise _Expired from None

    def small(self) -> bytes:
        """A short answer whole (an error message, an ASK result), at most SMALL_BODY bytes of it."""
        parts, size = [], 0
        while size < SMALL_BODY and (part := self.read()):
            parts.append(part)
            size += len(part)
        return b"".join(parts)[:SMALL_BODY]

    def finish(self, *, reuse: bool) -> None:
        """Give the connection back (answer read to its end) or close it (the server stops writing)."""
        if self._finished:
            return
        self._finished = True
        try:
            if reuse and self.response.isclosed() and not self.response.will_close:
                self.executor._pool.give(self.connection)
            else:
                self.response.close()
                self.connection.close()
        finally:
            self.executor._release()


class _Lines:
    """The server's one-row-per-line answer, offered as the pyoxigraph result that
    :meth:`sparql.executor_worker.Worker.capped` serialises: it copies the bytes as they arrive."""

    def __init__(self, exchange: _Exchange) -> None:
        self.exchange = exchange

    def serialize(self, output, format=None) -> None:
        while piece := self.exchange.read():
            output.write(piece)


class _Stream:
    """The chunks of an uncapped answer, read from the server as they are asked for."""

    def __init__(self, exchange: _Exchange, first: bytes) -> None:
        self._exchange: _Exchange | None = exchange
        exchange.streaming = True
        self._first: bytes | None = first
        self._error: QueryError | None = None

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._first:
            first, self._first = self._first, None
            return first
        self._first = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        exchange = self._exchange
        if exchange is None:
            raise StopIteration
        try:
            piece = exchange.read()
        except _Expired:
            return self._broken(QueryTimeout(_timeout_message(exchange.limit)))
        except (OSError, http.client.HTTPException) as error:
            return self._broken(QueryFailed(f"the SPARQL server stopped while sending this result: {error}"))
        if not piece:
            self._finish(reuse=True)
            raise StopIteration
        return piece

    def _broken(self, error: QueryError) -> bytes:
        """Mark the document as incomplete (as the local executor does), then raise ``error``."""
        self._finish(reuse=False)
        self._error = error
        return f"\n!MOUSEION-ERROR: {error}; the result above is incomplete\n".encode()

    def _finish(self, *, reuse: bool) -> None:
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            exchange.finish(reuse=reuse)

    def close(self) -> None:
        """Abandon the rest: the connection is closed, and the server stops writing."""
        self._first = None
        self._finish(reuse=False)

    def __del__(self) -> None:
        self.close()


class _Connections:
    """Kept-alive HTTP connections to the server, at most ``keep`` of them idle."""

    def __init__(self, url: str, keep: int) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StoreError(f"the SPARQL query URL {url!r} is not an http(s) URL")
        self._factory = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._host, self._port = parts.hostname, parts.port
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._keep = keep
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> tuple[http.client.HTTPConnection, bool]:
        """A connection, and whether it was used before (it may have been closed by the server since)."""
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._factory(self._host, self._port), False

    def give(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._keep:
                self._idle.append(connection)
                return
        connection.close()

    def idle_count(self) -> int:
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
