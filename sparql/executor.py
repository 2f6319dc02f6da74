"""The query executor of the public SPARQL endpoint: limits that really stop evaluation.

pyoxigraph's Python API has no query timeout, and a thread evaluating a query cannot be stopped. So
queries run in a small pool of long-lived worker *processes* (:mod:`sparql.executor_worker`), each
over a read-only checkpoint of the store, one query at a time; a query that runs past its time limit is
stopped by killing its worker (SIGKILL), which is replaced while the other workers keep answering.

>>> import tempfile
>>> from kg.store import Store
>>> folder = tempfile.TemporaryDirectory()
>>> store = Store.open(f"{folder.name}/store", "http://example.org/")
>>> with Executor(store, workers=1, timeout=10) as executor:
...     Executor.form_of("PREFIX ex: <http://example.org/> ASK { ?s ?p ?o }")
...     run = executor.run("SELECT (1 + 1 AS ?two) {}", result_format="text/csv")
...     run.form, run.media_type, run.read(), run.truncated
'ASK'
('SELECT', 'text/csv', b'two\\r\\n2\\r\\n', False)
>>> store.close(); folder.cleanup()

Decisions:

- **Checkpoints.** The store is checkpointed (a RocksDB backup: hard links, cheap) when a query arrives
  after :meth:`Executor.invalidate` was called or the store's ``generation`` moved; workers open it
  read-only with pyoxigraph directly (``kg.store.Store.open`` would cost each worker ~0.4 s of
  owlready2 hierarchy loading it never uses). A checkpoint is deleted once no query runs on it.
  An in-memory store (doctests, tests) is copied into an on-disk checkpoint instead: O(store size)
  per checkpoint, fine for the small stores that live in memory.
- **Time limit**, measured from dispatch to a worker. Before the first byte: the worker is killed and
  :class:`QueryTimeout` raised (HTTP 503). Once streaming has begun (only uncapped results stream;
  capped ones arrive whole, see below): the worker is killed, the stream yields a last chunk
  ``\\n!MOUSEION-ERROR: ...\\n`` — invalid in every result syntax, so even a saved copy cannot pass for
  complete — and then raises :class:`QueryTimeout`, which the HTTP layer must let escape so that the
  chunked response is cut off rather than terminated cleanly.
- **Memory limit** (``memory_limit`` bytes of heap per worker, RLIMIT_DATA): a query that needs more
  fails at once — the engine aborts, the worker is replaced — with :class:`QueryOutOfMemory` (503).
- **A worker that dies** mid-query: killed with SIGKILL from outside (an operator, the OOM killer) —
  the query is tried once more on another worker, within what is left of its time; crashed otherwise —
  :class:`QueryFailed` (500). A worker found dead while idle is replaced before it is used.
- **Queueing.** N workers answer N queries at once. Further requests wait for a free worker up to
  ``queue_wait`` seconds, at most ``max_waiting`` of them; beyond either, :class:`QueryBusy`
  (a :class:`QueryTimeout`, HTTP 503, with ``retry_after`` seconds).
- **Row cap** (``row_cap`` solutions for SELECT, triples for CONSTRUCT/DESCRIBE; ASK has none). The
  worker evaluates at most cap + 1 rows before sending anything, so ``QueryRun.truncated`` is known
  when :meth:`Executor.run` returns and the answer is marked *in the document*: JSON results get
  ``head.link`` [the limits documentation] and a top-level ``"truncated": true``; XML results a
  ``<link href>`` in the head; Turtle and N-Triples a leading ``#`` comment; RDF/XML an XML comment;
  JSON-LD the object form ``{"truncated": true, "@graph": [...]}``. CSV and TSV have no place a
  client would not read as a row: there, as everywhere, the HTTP layer sends
  ``Mouseion-Result-Truncated: true``. ``row_cap=0`` turns the cap off: results then stream from the
  worker in flat memory in both processes.
- **SERVICE and LOAD** are refused (:class:`QueryRefused`) after a lexical scan
  (:mod:`sparql.executor_scan`); as a second wall, workers run without network access where Linux
  allows an unprivileged network namespace (``Executor.stats()["isolated"]``).
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Iterator, Mapping

from sparql import executor_worker as wire
from sparql.executor_scan import QUERY_FORMS, UPDATE_KEYWORDS, Shape, scan

if TYPE_CHECKING:
    from kg.store import Store

log = logging.getLogger(__name__)

RESULT_FORMATS = tuple(wire.SELECT_FORMATS)  # for SELECT and ASK
GRAPH_FORMATS = tuple(wire.GRAPH_FORMATS)  # for CONSTRUCT and DESCRIBE
#: where the documentation of the limits lives, under the service prefix of the base URI
LIMITS_DOC = "-/limits#row-cap"
#: seconds a fresh worker may take to start before it counts as failed
STARTUP_LIMIT = 30.0


class QueryError(Exception):
    """A query that cannot be answered; ``status`` is the HTTP status the protocol layer sends."""

    status = 400


class QuerySyntaxError(QueryError):
    """The query does not parse; the message holds the position as ``error at LINE:COLUMN: ...``."""


class QueryRefused(QueryError):
    """The query asks for something the public endpoint does not do (SERVICE, LOAD)."""

    status = 400


class QueryTimeout(QueryError):
    """The query was stopped by the time limit; the message names the limit in seconds."""

    status = 503


class QueryBusy(QueryTimeout):
    """Every worker stayed busy for as long as a request may wait (or too many already wait)."""

    retry_after = 5


class QueryOutOfMemory(QueryError):
    """The query needed more memory than a worker may use; the message names the limit."""

    status = 503


class QueryFailed(QueryError):
    """The engine failed (storage error, worker crash): not the client's fault."""

    status = 500


@dataclass
class QueryRun:
    """A query being answered. ``chunks`` streams the serialised result; close the run (or exhaust
    ``chunks``) so that its worker is freed — an abandoned stream costs a worker restart."""

    form: str  # "SELECT" | "ASK" | "CONSTRUCT" | "DESCRIBE"
    media_type: str  # of the serialised bytes
    chunks: Iterator[bytes]
    #: rows (triples) beyond the cap were dropped; the document says so too (see module docs)
    truncated: bool = False
    #: the cap that applied (0: none)
    row_cap: int = 0

    def read(self) -> bytes:
        """The whole result (for small results and tests)."""
        return b"".join(self.chunks)

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> "QueryRun":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def set_limits(executor, store: "Store", workers: int, timeout: float, row_cap: int, queue_wait: float,
               max_waiting: int, prefixes: Mapping[str, str] | None) -> None:
    """The settings both executors share, checked and stored once."""
    if workers < 1:
        raise ValueError("an executor needs at least one worker")
    if prefixes is None:
        from ontology.namespaces import prefix_map
        prefixes = prefix_map()
    executor.store = store
    executor.workers = workers
    executor.timeout = timeout
    executor.row_cap = row_cap
    executor.queue_wait = queue_wait
    executor.max_waiting = max_waiting
    executor.prefixes = dict(prefixes)


def admit(query: str, result_format: str) -> Shape:
    """What the public endpoint refuses before anything runs (both executors): an unknown format,
    SERVICE, LOAD, an update sent as a query. Returns the query's lexical shape."""
    if result_format not in wire.SELECT_FORMATS and result_format not in wire.GRAPH_FORMATS:
        raise ValueError(f"unknown result format {result_format!r}")
    shape = scan(query)
    if shape.service:
        raise QueryRefused("SERVICE (federated query) is refused on the public endpoint: "
                           "it does not fetch data from other servers")
    if shape.load or shape.form == "LOAD":
        raise QueryRefused("LOAD is refused on the public endpoint")
    if shape.form in UPDATE_KEYWORDS:
        raise QuerySyntaxError(f"error at {shape.line}:{shape.column}: {shape.form} starts a SPARQL Update, "
                               "not a query")
    return shape


class Executor:
    """Runs public SPARQL queries in ``workers`` processes with a time limit and a row cap.

    ``timeout`` (seconds) and ``row_cap`` (rows; 0: none) are the defaults for :meth:`run`;
    ``queue_wait`` and ``max_waiting`` bound the queue for a free worker; ``memory_limit`` (bytes; 0:
    none) the heap of each worker. ``prefixes`` are predeclared for every query (default: every
    namespace the project knows, as ``mouseion query`` does; a query's own PREFIX wins).
    """

    def __init__(self, store: "Store", *, workers: int = 2, timeout: float = 30.0, row_cap: int = 10_000,
                 queue_wait: float = 10.0, max_waiting: int = 32, prefixes: Mapping[str, str] | None = None,
                 memory_limit: int = 2 * 1024**3, truncation_doc: str | None = None,
                 checkpoint_root: str | Path | None = None, isolate_network: bool = True) -> None:
        set_limits(self, store, workers, timeout, row_cap, queue_wait, max_waiting, prefixes)
        self.memory_limit = memory_limit
        store.oxi  # noqa: B018 -- raises StoreError for a remote SPARQL store, which applies its own limits
        base = store.uris.base if hasattr(store, "uris") else ""
        self._setup = wire.Setup(truncation_doc or base + LIMITS_DOC, isolate_network, memory_limit)
        self._checkpoints = _Checkpoints(store, checkpoint_root)
        self._lock = threading.Condition()
        self._idle: list[_Worker] = []
        self._live: set[_Worker] = set()
        self._waiting = 0
        self._closed = False
        starters = [threading.Thread(target=self._replace, args=(None, False), daemon=True) for _ in range(workers)]
        for thread in starters:
            thread.start()
        for thread in starters:
            thread.join()
        if not self._live:
            self.close()
            raise QueryFailed("no query worker could be started (see the log)")
        for _ in range(workers - len(self._live)):
            threading.Thread(target=self._replace, args=(None,), daemon=True, name="executor-replace").start()

    # ---------------------------------------------------------------- public API

    @staticmethod
    def form_of(query: str) -> str:
        """``SELECT``, ``ASK``, ``CONSTRUCT`` or ``DESCRIBE``, from a lexical scan (nothing is evaluated).

        >>> Executor.form_of("# what is there?\\nPREFIX ex: <http://ex.org/> describe ex:x")
        'DESCRIBE'
        """
        shape = scan(query)
        if shape.form in QUERY_FORMS:
            return shape.form
        if shape.form in UPDATE_KEYWORDS:
            raise QuerySyntaxError(f"error at {shape.line}:{shape.column}: {shape.form} starts a SPARQL Update, "
                                   "not a query (SELECT, ASK, CONSTRUCT or DESCRIBE)")
        raise QuerySyntaxError(f"error at {shape.line}:{shape.column}: expected SELECT, ASK, CONSTRUCT or "
                               "DESCRIBE (after any PREFIX and BASE declarations)")

    def run(self, query: str, *, result_format: str, default_graphs: list[str] | None = None,
            named_graphs: list[str] | None = None, union_default: bool = True, base_iri: str | None = None,
            timeout: float | None = None) -> QueryRun:
        """Evaluate ``query`` in a worker; errors before the first byte are raised here.

        ``default_graphs`` / ``named_graphs`` are the protocol's ``default-graph-uri`` /
        ``named-graph-uri``; without default graphs, ``union_default`` makes the default graph the
        union of all graphs. ``timeout`` overrides the executor's (the caller clamps it); 0: no limit.
        """
        shape = admit(query, result_format)
        limit = self.timeout if timeout is None else timeout
        # Only the prefixes the query uses: pyoxigraph converts the whole map on every call (~25 µs).
        prefixes = {name: self.prefixes[name] for name in shape.prefixes if name in self.prefixes}
        request = wire.Request("", query, result_format, shape.form, prefixes or None, self.row_cap,
                               tuple(default_graphs) if default_graphs else None,
                               tuple(named_graphs) if named_graphs is not None else None,
                               union_default, base_iri)
        arrived = monotonic()
        deadline: float | None = None
        for attempt in (1, 2):
            checkpoint = self._checkpoints.acquire()
            try:
                worker = self._acquire(arrived + self.queue_wait)
            except BaseException:
                self._checkpoints.release(checkpoint)
                raise
            if deadline is None and limit > 0:
                deadline = monotonic() + limit  # from the first dispatch: a retry gets what is left
            try:
                worker.conn.send_bytes(pickle.dumps(tuple(request._replace(checkpoint=str(checkpoint.path)))))
                message = _receive(worker, deadline)
            except (EOFError, OSError):
                code = worker.exit_code()
                self._discard(worker, checkpoint)
                if code == -signal.SIGKILL and attempt == 1:
                    # Killed from outside (an operator, the OOM killer), likely while idle: once, try
                    # another worker, so that a client does not pay for what happened between queries.
                    continue
                if code == -signal.SIGABRT and self.memory_limit:
                    raise QueryOutOfMemory(_memory_message(self.memory_limit)) from None
                raise QueryFailed(f"the query engine stopped (exit status {code}) while evaluating this query") \
                    from None
            except _Expired:
                self._discard(worker, checkpoint)
                raise QueryTimeout(_timeout_message(limit)) from None
            return self._answer(worker, checkpoint, message, deadline, limit)
        raise AssertionError("unreachable")

    def invalidate(self) -> None:
        """The store was written: queries from now on run on a new checkpoint."""
        self._checkpoints.invalidate()

    def stats(self) -> dict[str, object]:
        """The pool as it is now (for /-/health and tests)."""
        with self._lock:
            live = sorted(self._live, key=lambda w: w.pid)
            return {
                "workers": len(live),
                "idle": len(self._idle),
                "busy": len(live) - len(self._idle),
                "waiting": self._waiting,
                "pids": [w.pid for w in live],
                "busy_pids": [w.pid for w in live if w not in self._idle],
                "isolated": bool(live) and all(w.isolated for w in live),
                "checkpoint": self._checkpoints.current_path(),
            }

    def close(self) -> None:
        """Stop every worker and delete every checkpoint."""
        with self._lock:
            self._closed = True
            workers, idle = list(self._live), list(self._idle)
            self._live.clear()
            self._idle.clear()
            self._lock.notify_all()
        for worker in workers:
            if worker in idle:
                worker.conn.close()  # an idle worker leaves at the end of its input
            else:
                # A busy one is killed; the thread reading its answer sees the end and gives up.
                os.kill(worker.pid, signal.SIGKILL)
        for worker in workers:
            try:
                worker.proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.proc.wait()
        self._checkpoints.close()

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- answers

    def _answer(self, worker: "_Worker", checkpoint: "_Checkpoint", message: bytes,
                deadline: float | None, limit: float) -> QueryRun:
        kind = message[:1]
        header, body = wire.unframe(message)
        if kind == wire.ERROR:
            if header["kind"] == "memory":
                self._discard(worker, checkpoint)  # a heap that hit its limit is not worth keeping
            else:
                self._release(worker, checkpoint)
            raise _error(header, self.memory_limit)
        if kind == wire.DONE:
            self._release(worker, checkpoint)
            chunks: Iterator[bytes] = iter((bytes(body),) if body else ())
        else:
            chunks = _Stream(self, worker, checkpoint, bytes(body), deadline, limit)
        return QueryRun(header["form"], header["media_type"], chunks, header["truncated"],
                        0 if header["form"] == "ASK" else self.row_cap)

    # ---------------------------------------------------------------- the pool

    def _acquire(self, until: float) -> "_Worker":
        with self._lock:
            if self._closed:
                raise QueryFailed("the query executor is closed")
            if not self._idle and self._waiting >= self.max_waiting:
                raise QueryBusy(f"server busy: {self._waiting} queries are already waiting for a worker; "
                                "try again later")
            self._waiting += 1
            try:
                while True:
                    while self._idle:
                        worker = self._idle.pop()  # the most recently used: its caches are warm
                        if worker.proc.poll() is None:
                            return worker
                        self._discard_locked(worker)  # died while idle
                    left = until - monotonic()
                    if left <= 0 or self._closed:
                        raise QueryBusy(f"server busy: all {self.workers} query workers stayed in use for "
                                        f"{self.queue_wait:g} s; try again later")
                    self._lock.wait(left)
            finally:
                self._waiting -= 1

    def _release(self, worker: "_Worker", checkpoint: "_Checkpoint") -> None:
        self._checkpoints.release(checkpoint)
        with self._lock:
            if worker in self._live:
                self._idle.append(worker)
                self._lock.notify()

    def _discard(self, worker: "_Worker", checkpoint: "_Checkpoint | None" = None) -> None:
        """Kill a worker (stuck, dead or abandoned mid-stream) and start its replacement."""
        if checkpoint is not None:
            self._checkpoints.release(checkpoint)
        with self._lock:
            self._discard_locked(worker)

    def _discard_locked(self, worker: "_Worker") -> None:
        worker.kill()
        if worker in self._live:
            self._live.discard(worker)
            if not self._closed:
                threading.Thread(target=self._replace, args=(worker,), daemon=True,
                                 name="executor-replace").start()

    def _replace(self, old: "_Worker | None", retry: bool = True) -> None:
        """Reap ``old`` (if any) and start a worker in its place, retrying while the executor is open."""
        if old is not None:
            old.proc.wait()
        pause = 0.5
        while True:
            with self._lock:
                if self._closed:
                    return
            try:
                worker = _Worker.start(self._setup)
            except (OSError, EOFError, _Expired, ValueError) as error:
                log.error("query worker failed to start: %s", error)
                if not retry:
                    return
                threading.Event().wait(pause)
                pause = min(pause * 2, 30.0)
                continue
            with self._lock:
                if not self._closed:
                    self._live.add(worker)
                    self._idle.append(worker)
                    self._lock.notify()
                    return
            worker.kill()
            return


class _Expired(Exception):
    """The deadline passed while waiting for a worker's message."""


def _receive(worker: "_Worker", deadline: float | None) -> bytes:
    """The worker's next message; past the deadline, even one already waiting counts as too late."""
    if deadline is not None:
        left = deadline - monotonic()
        if left <= 0 or not worker.conn.poll(left):
            raise _Expired
    return worker.conn.recv_bytes()


def _timeout_message(limit: float) -> str:
    return f"query stopped: it ran past the time limit of {limit:g} s"


def _memory_message(limit: int) -> str:
    return f"query stopped: it needed more than the {limit / 1024**2:g} MiB of memory a query may use"


def _error(header: dict, memory_limit: int = 0) -> QueryError:
    kind, message = header["kind"].removeprefix("broken:"), header["message"]
    if kind == "syntax":
        return QuerySyntaxError(message)
    if kind == "memory":
        return QueryOutOfMemory(_memory_message(memory_limit)) if memory_limit else \
            QueryFailed("the query engine ran out of memory")
    if kind == "storage":
        return QueryFailed(f"query evaluation failed: {message}")
    return QueryError(message)


class _Stream:
    """The chunks of a streamed result, read from the worker as they are asked for."""

    def __init__(self, executor: Executor, worker: "_Worker", checkpoint: "_Checkpoint", first: bytes,
                 deadline: float | None, limit: float) -> None:
        self._executor = executor
        self._worker: _Worker | None = worker
        self._checkpoint = checkpoint
        self._first: bytes | None = first
        self._deadline = deadline
        self._limit = limit
        self._error: QueryError | None = None

    def __iter__(self) -> "_Stream":
        return self

    def __next__(self) -> bytes:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if self._worker is None:
            raise StopIteration
        try:
            message = _receive(self._worker, self._deadline)
        except _Expired:
            return self._broken(QueryTimeout(_timeout_message(self._limit)), kill=True)
        except (EOFError, OSError):
            if self._worker.exit_code() == -signal.SIGABRT and self._executor.memory_limit:
                return self._broken(QueryOutOfMemory(_memory_message(self._executor.memory_limit)), kill=True)
            return self._broken(QueryFailed("the query engine stopped while sending this result"), kill=True)
        kind = message[:1]
        if kind == wire.MORE:
            return message[1:]
        if kind == wire.LAST:
            self._finish(kill=False)
            if len(message) > 1:
                return message[1:]
            raise StopIteration
        header, _ = wire.unframe(message)
        return self._broken(_error(header, self._executor.memory_limit), kill=False)

    def _broken(self, error: QueryError, *, kill: bool) -> bytes:
        """Mark the document as incomplete, then raise ``error`` at the next step."""
        self._finish(kill=kill)
        self._error = error
        return f"\n!MOUSEION-ERROR: {error}; the result above is incomplete\n".encode()

    def _finish(self, *, kill: bool) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        if kill:
            self._executor._discard(worker, self._checkpoint)
        else:
            self._executor._release(worker, self._checkpoint)

    def close(self) -> None:
        """Abandon the rest: the worker is mid-answer, so it is killed and replaced."""
        self._first = None
        self._finish(kill=True)

    def __del__(self) -> None:
        self.close()


class _Worker:
    """One worker process and our end of its socket pair."""

    def __init__(self, proc: subprocess.Popen, conn: Connection, isolated: bool) -> None:
        self.proc = proc
        self.conn = conn
        self.pid = proc.pid
        self.isolated = isolated

    @classmethod
    def start(cls, setup: wire.Setup) -> "_Worker":
        ours, theirs = socket.socketpair()
        try:
            # A fresh interpreter, never a fork of this process (it holds RocksDB and threads). -P: the
            # script's folder (sparql/) is not put on sys.path. A new session: Ctrl-C at the server's
            # terminal stops the server, which closes the pipes; workers leave by themselves.
            proc = subprocess.Popen(
                [sys.executable, "-P", wire.__file__, str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True,
                env={**os.environ, "RUST_BACKTRACE": "0"})  # an allocation past the memory limit: one line
        finally:
            theirs.close()
        conn = Connection(ours.detach())
        worker = cls(proc, conn, False)
        try:
            conn.send_bytes(pickle.dumps(tuple(setup)))
            ready = _receive(worker, monotonic() + STARTUP_LIMIT)
        except BaseException:
            worker.kill()
            proc.wait()
            raise
        if ready[:1] != wire.READY:
            worker.kill()
            raise ValueError(f"unexpected first message from a query worker: {ready[:20]!r}")
        worker.isolated = ready[1:2] == b"1"
        return worker

    def exit_code(self) -> int | None:
        """How the process ended, once its end of the pipe closed (None: it still runs)."""
        try:
            return self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.conn.close()


@dataclass(eq=False)
class _Checkpoint:
    path: Path
    generation: object
    #: queries in flight on it
    users: int = 0


class _Checkpoints:
    """Read-only checkpoints of the store: taken when needed, deleted when no query uses them."""

    def __init__(self, store: "Store", root: str | Path | None) -> None:
        self.store = store
        self._own_root = root is None  # ours to remove when empty; a root we were given is left alone
        if root is None:
            path = getattr(store, "path", None)
            root = path.with_name(path.name + ".checkpoints") if path is not None else \
                Path(tempfile.gettempdir()) / "mouseion-checkpoints"
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        _remove_orphans(root)
        # Our own folder, named after our pid, so that a later process can tell orphans from the living.
        self.folder = root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.folder.mkdir()
        self._lock = threading.Lock()  # guards the fields below
        self._taking = threading.Lock()  # one checkpoint at a time
        self._current: _Checkpoint | None = None
        self._stale = True
        self._sequence = 0

    def invalidate(self) -> None:
        with self._lock:
            self._stale = True

    def _fresh(self) -> _Checkpoint | None:
        current = self._current
        if current is None or self._stale or current.generation != getattr(self.store, "generation", None):
            return None
        current.users += 1
        return current

    def acquire(self) -> _Checkpoint:
        """The checkpoint a new query runs on, counted as in use until :meth:`release`."""
        with self._lock:
            fresh = self._fresh()
        if fresh is not None:
            return fresh
        with self._taking:
            with self._lock:
                fresh = self._fresh()
                if fresh is not None:
                    return fresh
                # Read before the checkpoint is taken: a write racing with it leaves the
                # checkpoint stale, never a checkpoint that claims a write it may lack.
                self._stale = False
                generation = getattr(self.store, "generation", None)
                self._sequence += 1
                path = self.folder / str(self._sequence)
            try:
                _checkpoint(self.store, path)
            except Exception as error:
                with self._lock:
                    self._stale = True
                shutil.rmtree(path, ignore_errors=True)
                raise QueryFailed(f"cannot checkpoint the store for querying: {error}") from None
            fresh = _Checkpoint(path, generation, users=1)
            with self._lock:
                old, self._current = self._current, fresh
                unused = old is not None and old.users == 0
        if unused:
            shutil.rmtree(old.path, ignore_errors=True)
        return fresh

    def release(self, checkpoint: _Checkpoint) -> None:
        with self._lock:
            checkpoint.users -= 1
            unused = checkpoint.users == 0 and checkpoint is not self._current
        if unused:
            shutil.rmtree(checkpoint.path, ignore_errors=True)

    def current_path(self) -> str | None:
        with self._lock:
            return str(self._current.path) if self._current is not None else None

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._own_root:
            try:
                self.folder.parent.rmdir()  # unless another executor still uses it
            except OSError:
                pass


def _checkpoint(store: "Store", target: Path) -> None:
    """A read-only copy of the store at ``target`` (which must not exist), through kg's API; an in-memory
    store is copied into a new on-disk store (``Store.checkpoint`` refuses those)."""
    if getattr(store, "path", None) is None:
        _copy_in_memory(store, target)
    elif hasattr(store, "checkpoint"):
        store.checkpoint(target)
    else:  # a kg older than Store.checkpoint
        store.oxi.backup(str(target))


def _copy_in_memory(store: "Store", target: Path) -> None:
    import pyoxigraph as ox

    data = store.oxi.dump(format=ox.RdfFormat.N_QUADS)
    copy = ox.Store(str(target))
    copy.bulk_load(data, format=ox.RdfFormat.N_QUADS)
    copy.flush()
    del copy  # closes the database, so that workers can open it


def _remove_orphans(root: Path) -> None:
    """Delete checkpoint folders left behind by executors whose process is gone (a crash, a kill)."""
    for folder in root.iterdir():
        pid, _, _ = folder.name.partition("-")
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            pass
