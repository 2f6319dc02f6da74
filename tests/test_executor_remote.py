"""The executor for a store on a SPARQL server (`oxigraph serve`, started on loopback): the local
executor's answers, byte for byte, over the same data — truncation marks included — its refusals, the
server's syntax errors and a deadline that holds."""

from __future__ import annotations

import json
import threading
import time
from typing import Iterator

import pyoxigraph as ox
import pytest
from pyoxigraph import Literal, NamedNode, Quad

from kg.backends import RemoteBackend
from kg.errors import StoreError
from kg.record import Origin, Record, Uris
from kg.settings import Settings
from kg.store import Store
from ontology.namespaces import RDFS, XSD
from sparql.executor import (GRAPH_FORMATS, RESULT_FORMATS, Executor, QueryBusy, QueryError, QueryRefused,
                             QuerySyntaxError, QueryTimeout)
from sparql.executor_remote import RemoteExecutor
from tests.servers import free_port, oxigraph_server

BASE = "http://localhost:8000/"
EX = "http://example.org/"
DATA = NamedNode(BASE + "graph/test/data")
P, Q = NamedNode(EX + "p"), NamedNode(EX + "q")
ODD = NamedNode(EX + "odd/é")
TEN = f"SELECT ?s ?o {{ ?s <{P.value}> ?o }} ORDER BY ?o"
#: a cartesian product over 3 × 2,000 triples: 8·10⁹ rows to count, i.e. never done (the server that
#: evaluates it is stopped with its test)
RUNAWAY = f"SELECT (COUNT(*) AS ?n) {{ ?a <{Q.value}> ?x . ?b <{Q.value}> ?y . ?c <{Q.value}> ?z }}"
BIG = f"SELECT * {{ ?a <{Q.value}> ?x . ?b <{Q.value}> ?y }}"

QUADS = [Quad(NamedNode(f"{EX}s{i}"), P, Literal(i), DATA) for i in range(1, 11)]
QUADS += [Quad(NamedNode(f"{EX}r{i}"), Q, Literal(i), DATA) for i in range(2000)]
QUADS += [Quad(ODD, RDFS.label, Literal('a "quoted"\tline\nbreak, with; commas', language="en"), DATA),
          Quad(ODD, RDFS.comment, Literal("1.0", datatype=XSD.decimal), DATA),
          Quad(ODD, RDFS.seeAlso, Literal("€ ünïcödé"), DATA)]


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> Iterator[Store]:
    store = Store.open(tmp_path_factory.mktemp("local") / "store", BASE)
    store.backend.extend(QUADS)
    yield store
    store.close()


@pytest.fixture(scope="module")
def remote(tmp_path_factory) -> Iterator[Store]:
    with oxigraph_server(tmp_path_factory.mktemp("remote") / "server") as url:
        store = Store.connect(f"{url}/query", BASE, update_url=f"{url}/update")
        store.backend.extend(QUADS)
        yield store


@pytest.fixture
def lone_server(tmp_path) -> Iterator[Store]:
    """A server of its own, for a test that leaves a query evaluating there: stopped with the test."""
    with oxigraph_server(tmp_path / "server") as url:
        store = Store.connect(f"{url}/query", BASE, update_url=f"{url}/update")
        store.backend.extend(QUADS)
        yield store


def pair(local: Store, remote: Store, **options) -> tuple[Executor, RemoteExecutor]:
    return Executor(local, workers=1, timeout=20, **options), RemoteExecutor(remote, workers=2, timeout=20, **options)


@pytest.fixture(scope="module", params=[10_000, 4, 0], ids=["capped", "truncating", "streaming"])
def executors(request, local, remote) -> Iterator[tuple[Executor, RemoteExecutor]]:
    """The local and the remote executor, with the same row cap."""
    here, there = pair(local, remote, row_cap=request.param)
    with here, there:
        yield here, there


def same(executors, query: str, media_type: str, **options) -> bytes:
    """Run ``query`` on both executors; assert that the runs agree; the remote's bytes."""
    here, there = (executor.run(query, result_format=media_type, **options) for executor in executors)
    mine, theirs = here.read(), there.read()
    assert (there.form, there.media_type, there.truncated, there.row_cap) == \
        (here.form, here.media_type, here.truncated, here.row_cap), query
    assert theirs == mine, query
    return theirs


# ---------------------------------------------------------------- formats and truncation marks

SELECTS = [TEN, f"SELECT ?p ?o {{ <{ODD.value}> ?p ?o }} ORDER BY ?p", "SELECT * {}",
           "SELECT ?nothing { FILTER(false) }", f"SELECT ?o {{ ?s <{P.value}> ?o FILTER(?o <= 4) }} ORDER BY ?o"]


@pytest.mark.parametrize("media_type", RESULT_FORMATS)
def test_select_and_ask_are_what_the_local_executor_writes(executors, media_type):
    for query in SELECTS:
        same(executors, query, media_type)
    for query in (f"ASK {{ ?s <{P.value}> 3 }}", f"ASK {{ ?s <{P.value}> 11 }}"):
        same(executors, query, media_type)


@pytest.mark.parametrize("media_type", GRAPH_FORMATS)
def test_construct_and_describe_are_what_the_local_executor_writes(executors, media_type):
    construct = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o FILTER(?s = <{ODD.value}> || ?p = <{P.value}>) }}"
    for query in (construct, f"CONSTRUCT WHERE {{ ?s <{P.value}> ?o }}", f"DESCRIBE <{EX}s1>"):
        same(executors, query, media_type)


def test_truncation_is_marked_as_the_local_executor_marks_it(local, remote):
    here, there = pair(local, remote, row_cap=4)
    with here, there:
        marks = {"application/sparql-results+json": b'"truncated":true',
                 "application/sparql-results+xml": b'<link href="http://localhost:8000/-/limits#row-cap"/>',
                 "text/csv": b"", "text/tab-separated-values": b""}  # (CSV, TSV: the run and the HTTP header)
        for media_type in RESULT_FORMATS:
            assert marks[media_type] in same((here, there), TEN, media_type)
        for media_type in GRAPH_FORMATS:
            assert b"truncated" in same((here, there), f"CONSTRUCT WHERE {{ ?s <{P.value}> ?o }}", media_type)
        run = there.run(TEN, result_format="application/sparql-results+json")
        document = json.loads(run.read())
        assert (run.truncated, run.row_cap, document["truncated"]) == (True, 4, True)
        assert document["head"]["link"] == [BASE + "-/limits#row-cap"]
        exactly = there.run(f"SELECT ?o {{ ?s <{P.value}> ?o FILTER(?o <= 4) }}", result_format="text/csv")
        assert not exactly.truncated and exactly.read().count(b"\r\n") == 5


def test_a_format_of_the_wrong_kind_falls_back_as_locally(executors):
    run = executors[1].run(TEN, result_format="text/turtle")
    assert run.media_type == "application/sparql-results+json"
    with pytest.raises(ValueError):
        executors[1].run(TEN, result_format="text/html")


def test_prefixes_base_and_dataset(executors, remote):
    there = executors[1]
    query = "SELECT ?c ?mine { BIND(crm:E22_Human-Made_Object AS ?c) BIND(<urn:x> AS ?mine) }"
    assert same(executors, query, "text/csv") == \
        b"c,mine\r\nhttp://www.cidoc-crm.org/cidoc-crm/E22_Human-Made_Object,urn:x\r\n"
    same(executors, "PREFIX crm: <http://example.org/crm/> SELECT ?c { BIND(crm:x AS ?c) }", "text/csv")
    assert same(executors, "SELECT ?x { BIND(<thing> AS ?x) }", "text/tab-separated-values",
                base_iri="http://example.org/sparql") == b"?x\n<http://example.org/thing>\n"
    count = f"SELECT (COUNT(*) AS ?n) {{ ?s <{P.value}> ?o }}"

    def n(query: str = count, **options) -> int:
        return int(json.loads(there.run(query, result_format=RESULT_FORMATS[0], **options).read())
                   ["results"]["bindings"][0]["n"]["value"])

    assert n() == n(default_graphs=[DATA.value]) == 10
    assert n(default_graphs=[BASE + "graph/none"]) == 0
    assert n(f"SELECT (COUNT(*) AS ?n) {{ GRAPH ?g {{ ?s <{P.value}> ?o }} }}", named_graphs=[BASE + "graph/none"]) == 0
    # the union default graph is the server's configuration (`oxigraph serve --union-default-graph`)
    assert n(union_default=False) == 10


# ---------------------------------------------------------------- refusals and errors

def test_syntax_errors_are_the_servers_at_the_clients_positions(executors):
    for query in ("SELECT *\nWHERE {\n  ?s ?p }", "SELECT ?c { BIND(crm:x AS ?c) ?s ?p }",
                  "SELECT ?c { BIND(nosuchprefix:x AS ?c) }"):
        errors = []
        for executor in executors:
            with pytest.raises(QuerySyntaxError) as caught:
                executor.run(query, result_format="text/csv")
            errors.append(str(caught.value))
        assert errors[1] == errors[0] and errors[1].startswith("error at "), query
        assert caught.value.status == 400


def test_an_evaluation_error_is_a_query_error(executors):
    with pytest.raises(QueryError):
        executors[1].run("SELECT * { BIND(1 AS ?x) BIND(2 AS ?x) }", result_format="text/csv")


@pytest.mark.parametrize("query, refused", [
    ("SELECT * { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }", QueryRefused),
    ("SELECT * { FILTER(?a<?b)'x>'<http://p> ?o . SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } ?s ?p '' }", QueryRefused),
    ("LOAD <http://example.org/data.ttl>", QueryRefused),
    ("INSERT DATA { <urn:a> <urn:b> <urn:c> }", QuerySyntaxError),
])
def test_refused_before_anything_is_sent(query, refused):
    """To a server that is not there: a refusal, not a failure to connect, proves nothing was sent."""
    nowhere = f"http://127.0.0.1:{free_port()}/query"
    store = Store(RemoteBackend(nowhere), Uris(BASE), None)
    with RemoteExecutor(store) as executor:
        with pytest.raises(refused, match="SERVICE|LOAD|Update"):
            executor.run(query, result_format="text/csv")


def test_each_store_gets_its_own_executor(local, remote):
    from web.app import create_app
    with pytest.raises(StoreError):
        RemoteExecutor(local)
    with pytest.raises(StoreError):
        Executor(remote)
    app = create_app(remote, Settings.from_env({}, base_uri=BASE))
    assert isinstance(app.extensions["mouseion.executor"], RemoteExecutor)
    app.extensions["mouseion.executor"].close()


# ---------------------------------------------------------------- time limit, slots, connections

def test_a_slow_query_is_abandoned_at_the_deadline(lone_server):
    with RemoteExecutor(lone_server, workers=2, timeout=0.5) as executor:
        started = time.monotonic()
        with pytest.raises(QueryTimeout, match="0.5 s") as caught:
            executor.run(RUNAWAY, result_format="text/csv")
        assert caught.value.status == 503
        assert 0.5 <= time.monotonic() - started < 1.5
        started = time.monotonic()
        with pytest.raises(QueryTimeout, match="0.2 s"):
            executor.run(RUNAWAY, result_format="text/csv", timeout=0.2)
        assert time.monotonic() - started < 1.0
        # the server goes on evaluating them (see sparql/executor_remote.py); its other threads answer
        assert executor.run(f"ASK {{ ?s <{P.value}> 3 }}", result_format="text/csv").read() == b"true"
        assert executor.stats()["busy"] == 0


def test_a_full_set_of_slots_says_busy(lone_server):
    with RemoteExecutor(lone_server, workers=1, timeout=1.5, queue_wait=0.3) as executor:
        errors: list = []

        def runaway() -> None:
            try:
                executor.run(RUNAWAY, result_format="text/csv")
            except QueryError as error:
                errors.append(error)

        thread = threading.Thread(target=runaway)
        thread.start()
        deadline = time.monotonic() + 5
        while executor.stats()["busy"] != 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        started = time.monotonic()
        with pytest.raises(QueryBusy, match="busy") as caught:
            executor.run("ASK {}", result_format="text/csv")
        assert 0.3 <= time.monotonic() - started < 1.0
        assert caught.value.status == 503 and caught.value.retry_after > 0
        thread.join(10)
        assert [type(e) for e in errors] == [QueryTimeout]
        assert executor.run("ASK {}", result_format="text/csv").read() == b"true"


def test_a_stream_past_its_time_ends_with_the_error_marker(remote):
    with RemoteExecutor(remote, workers=1, timeout=1.0, row_cap=0) as executor:
        run = executor.run(BIG, result_format="application/sparql-results+json")
        chunks = iter(run.chunks)
        next(chunks)
        time.sleep(1.0)  # the time limit itself: the stream must be cut after it
        tail = b""
        with pytest.raises(QueryTimeout):
            for chunk in chunks:
                tail = chunk
        assert tail.startswith(b"\n!MOUSEION-ERROR: query abandoned")
        assert executor.stats()["busy"] == 0
        assert executor.run("ASK {}", result_format="text/csv").read() == b"true"


def test_connections_are_kept_alive_and_an_abandoned_stream_frees_its_slot(remote):
    with RemoteExecutor(remote, workers=1, timeout=10, row_cap=0) as executor:
        for _ in range(3):
            assert executor.run("ASK {}", result_format="text/csv").read() == b"true"
            assert executor.stats()["connections"] == 1
        run = executor.run(BIG, result_format="text/tab-separated-values")
        assert next(run.chunks).startswith(b"?a\t?b\t?x\t?y\n")
        run.close()
        assert executor.stats()["busy"] == 0
        assert executor.run("ASK {}", result_format="text/csv").read() == b"true"


def test_writes_are_seen_by_the_next_query(tmp_path):
    with oxigraph_server(tmp_path / "server") as url:
        store = Store.connect(f"{url}/query", BASE, update_url=f"{url}/update")
        count = f"SELECT (COUNT(*) AS ?n) {{ ?s <{P.value}> ?o }}"
        with RemoteExecutor(store, workers=1) as executor:
            assert executor.run(count, result_format="text/csv").read() == b"n\r\n0\r\n"
            thing = store.uris.entity("object", "new")
            store.commit([Record("test/new", "test", [ox.Triple(thing, P, Literal(99))], Origin("test"))])
            executor.invalidate()  # nothing to do: the server is the store
            assert executor.run(count, result_format="text/csv").read() == b"n\r\n1\r\n"


def test_an_unreachable_server_is_a_failure(tmp_path):
    from sparql.executor import QueryFailed
    store = Store(RemoteBackend(f"http://127.0.0.1:{free_port()}/query"), Uris(BASE), None)
    with RemoteExecutor(store) as executor:
        with pytest.raises(QueryFailed, match="failed to answer") as caught:
            executor.run("ASK {}", result_format="text/csv")
        assert caught.value.status == 500
        assert executor.stats()["busy"] == 0

