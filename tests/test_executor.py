"""The query executor: worker processes over checkpoints, time limit, row cap, refusals, streaming."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import psutil
import pyoxigraph as ox
import pytest
from pyoxigraph import BlankNode, Literal, NamedNode, Quad

from kg.record import Origin, Record
from kg.store import Store
from ontology.namespaces import RDF, RDFS, XSD
from sparql.executor import (GRAPH_FORMATS, RESULT_FORMATS, Executor, QueryBusy, QueryError, QueryFailed,
                             QueryOutOfMemory, QueryRefused, QuerySyntaxError, QueryTimeout)

BASE = "http://localhost:8000/"
EX = "http://example.org/"
DATA = NamedNode(BASE + "graph/test/data")
P, Q = NamedNode(EX + "p"), NamedNode(EX + "q")
SRX = "{http://www.w3.org/2005/sparql-results#}"

#: a cartesian product over 3 × 2,000 triples: 8·10⁹ rows to count, i.e. never done
RUNAWAY = f"SELECT (COUNT(*) AS ?n) {{ ?a <{Q.value}> ?x . ?b <{Q.value}> ?y . ?c <{Q.value}> ?z }}"
TEN = f"SELECT ?s ?o {{ ?s <{P.value}> ?o }} ORDER BY ?o"


def wait_until(condition, timeout: float = 10.0) -> None:
    """Wait for a condition on the executor's state (polled: the pool offers no event to wait on)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def fill(store: Store) -> None:
    quads = [Quad(NamedNode(f"{EX}s{i}"), P, Literal(i), DATA) for i in range(1, 11)]
    quads += [Quad(NamedNode(f"{EX}r{i}"), Q, Literal(i), DATA) for i in range(2000)]
    odd = NamedNode(EX + "odd/é")
    quads += [
        Quad(odd, RDFS.label, Literal('a "quoted"\tline\nbreak, with; commas', language="en"), DATA),
        Quad(odd, RDFS.comment, Literal("1.0", datatype=XSD.decimal), DATA),
        Quad(odd, RDFS.seeAlso, BlankNode("b1"), DATA),
        Quad(BlankNode("b1"), RDF.value, Literal("€ ünïcödé"), DATA),
    ]
    store.oxi.extend(quads)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    store = Store.open(tmp_path_factory.mktemp("executor") / "store", BASE)
    fill(store)
    yield store
    store.close()


@pytest.fixture(scope="module")
def executor(store: Store) -> Executor:
    with Executor(store, workers=2, timeout=20, row_cap=10_000) as executor:
        yield executor


@pytest.fixture()
def own_store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "store", BASE)
    fill(store)
    yield store
    store.close()


def direct(store: Store, query: str, fmt) -> bytes:
    return store.oxi.query(query, use_default_graph_as_union=True).serialize(format=fmt)


# ---------------------------------------------------------------- formats

ODD = f"SELECT ?p ?o ?x {{ <{EX}odd/é> ?p ?o OPTIONAL {{ ?o ?y ?x }} }} ORDER BY ?p"


@pytest.mark.parametrize("media_type", RESULT_FORMATS)
def test_select_in_every_format_is_what_pyoxigraph_writes(store, executor, media_type):
    fmt = ox.QueryResultsFormat.from_media_type(media_type)
    for query in (ODD, TEN, "SELECT * {}", "SELECT ?nothing { FILTER(false) }"):
        run = executor.run(query, result_format=media_type)
        assert (run.form, run.media_type, run.truncated) == ("SELECT", media_type, False)
        assert run.read() == direct(store, query, fmt), query


@pytest.mark.parametrize("media_type", RESULT_FORMATS)
def test_ask_in_every_format(store, executor, media_type):
    fmt = ox.QueryResultsFormat.from_media_type(media_type)
    for query in (f"ASK {{ ?s <{P.value}> 3 }}", f"ASK {{ ?s <{P.value}> 11 }}"):
        run = executor.run(query, result_format=media_type)
        assert (run.form, run.media_type, run.truncated, run.row_cap) == ("ASK", media_type, False, 0)
        assert run.read() == direct(store, query, fmt)


@pytest.mark.parametrize("media_type", GRAPH_FORMATS)
def test_construct_and_describe_in_every_format(store, executor, media_type):
    fmt = ox.RdfFormat.from_media_type(media_type)
    construct = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o FILTER(?s = <{EX}odd/é> || ?p = <{P.value}>) }}"
    describe = f"PREFIX ex: <{EX}> DESCRIBE <{EX}s1>"
    for query, form in ((construct, "CONSTRUCT"), (describe, "DESCRIBE")):
        run = executor.run(query, result_format=media_type)
        assert (run.form, run.media_type, run.truncated) == (form, media_type, False)
        body = run.read()
        expected = direct(store, query, fmt)
        assert set(ox.parse(body, format=fmt)) == set(ox.parse(expected, format=fmt))


def test_a_format_of_the_wrong_kind_falls_back_to_the_first_of_the_right_kind(executor):
    run = executor.run(TEN, result_format="text/turtle")
    assert run.media_type == "application/sparql-results+json"
    assert len(json.loads(run.read())["results"]["bindings"]) == 10
    with pytest.raises(ValueError):
        executor.run(TEN, result_format="text/html")


def test_form_of_reads_past_prologue_comments_and_strings():
    assert Executor.form_of("# SELECT\nPREFIX a: <http://x/#ASK>\nBASE <http://b/>\n construct {} WHERE {}") \
        == "CONSTRUCT"
    assert Executor.form_of("PREFIX:<http://x/>ASK{}") == "ASK"
    with pytest.raises(QuerySyntaxError, match="error at 2:3"):
        Executor.form_of("PREFIX a: <http://x/>\n  SELEKT * {}")
    with pytest.raises(QuerySyntaxError, match="Update"):
        Executor.form_of("INSERT DATA { <a:b> <a:c> <a:d> }")


def test_the_project_prefixes_are_predeclared(executor):
    query = "SELECT ?c ?mine { BIND(crm:E22_Human-Made_Object AS ?c) BIND(<urn:x> AS ?mine) }"
    assert executor.run(query, result_format="text/csv").read() == \
        b"c,mine\r\nhttp://www.cidoc-crm.org/cidoc-crm/E22_Human-Made_Object,urn:x\r\n"
    own = "PREFIX crm: <http://example.org/crm/> SELECT ?c { BIND(crm:x AS ?c) }"
    assert executor.run(own, result_format="text/csv").read() == b"c\r\nhttp://example.org/crm/x\r\n"
    with pytest.raises(QuerySyntaxError):
        executor.run("SELECT ?c { BIND(nosuchprefix:x AS ?c) }", result_format="text/csv")


def test_dataset_options(store, executor):
    count = f"SELECT (COUNT(*) AS ?n) {{ ?s <{P.value}> ?o }}"

    def n(**options) -> int:
        return int(json.loads(executor.run(count, result_format=RESULT_FORMATS[0], **options).read())
                   ["results"]["bindings"][0]["n"]["value"])

    assert n() == 10
    assert n(union_default=False) == 0
    assert n(default_graphs=[DATA.value]) == 10
    assert n(default_graphs=[BASE + "graph/none"]) == 0
    graph = f"SELECT (COUNT(*) AS ?n) {{ GRAPH ?g {{ ?s <{P.value}> ?o }} }}"
    assert json.loads(executor.run(graph, result_format=RESULT_FORMATS[0], named_graphs=[BASE + "graph/none"])
                      .read())["results"]["bindings"][0]["n"]["value"] == "0"
    relative = executor.run("SELECT ?x { BIND(<thing> AS ?x) }", result_format="text/tab-separated-values",
                            base_iri="http://example.org/sparql")
    assert relative.read() == b"?x\n<http://example.org/thing>\n"


# ---------------------------------------------------------------- row cap

@pytest.fixture(scope="module")
def capped(store: Store) -> Executor:
    with Executor(store, workers=1, timeout=20, row_cap=4) as executor:
        yield executor


def test_row_cap_marks_json_results(capped):
    run = capped.run(TEN, result_format="application/sparql-results+json")
    assert (run.truncated, run.row_cap) == (True, 4)
    document = json.loads(run.read())
    assert [b["o"]["value"] for b in document["results"]["bindings"]] == ["1", "2", "3", "4"]
    assert document["truncated"] is True
    assert document["head"]["link"] == [BASE + "-/limits#row-cap"]
    assert document["head"]["vars"] == ["s", "o"]


def test_row_cap_marks_xml_results(capped):
    run = capped.run(TEN, result_format="application/sparql-results+xml")
    assert run.truncated
    root = ET.fromstring(run.read())
    head = root.find(SRX + "head")
    assert [v.get("name") for v in head.findall(SRX + "variable")] == ["s", "o"]
    assert head.find(SRX + "link").get("href") == BASE + "-/limits#row-cap"
    assert len(root.find(SRX + "results").findall(SRX + "result")) == 4


@pytest.mark.parametrize("media_type", ["text/csv", "text/tab-separated-values"])
def test_row_cap_in_csv_and_tsv_is_told_by_the_run_only(capped, media_type):
    run = capped.run(TEN, result_format=media_type)
    assert run.truncated  # the HTTP layer turns this into Mouseion-Result-Truncated: true
    rows = list(csv.reader(io.StringIO(run.read().decode()), delimiter="," if "csv" in media_type else "\t"))
    assert len(rows) == 1 + 4


def test_exactly_the_cap_is_not_truncated(capped):
    query = f"SELECT ?o {{ ?s <{P.value}> ?o FILTER(?o <= 4) }}"
    for media_type in RESULT_FORMATS:
        run = capped.run(query, result_format=media_type)
        assert not run.truncated
        assert b"truncated" not in run.read()
    run = capped.run(f"SELECT ?o {{ ?s <{P.value}> ?o FILTER(?o <= 5) }}", result_format="text/csv")
    assert run.truncated and run.read().count(b"\r\n") == 5


@pytest.mark.parametrize("media_type", GRAPH_FORMATS)
def test_row_cap_marks_every_graph_format(capped, media_type):
    fmt = ox.RdfFormat.from_media_type(media_type)
    run = capped.run(f"CONSTRUCT WHERE {{ ?s <{P.value}> ?o }}", result_format=media_type)
    assert (run.form, run.truncated) == ("CONSTRUCT", True)
    body = run.read()
    assert len(list(ox.parse(body, format=fmt))) == 4  # the marker is no triple
    if media_type == "application/ld+json":
        assert json.loads(body)["truncated"] is True
    elif media_type == "application/rdf+xml":
        assert b"<!-- Mouseion: result truncated to the first 4 triples" in body
        ET.fromstring(body)
    else:
        assert body.startswith(b"# Mouseion: result truncated to the first 4 triples")


def test_ask_has_no_cap(capped):
    assert capped.run(f"ASK {{ ?s <{Q.value}> ?o }}", result_format="text/csv").read() == b"true"


# ---------------------------------------------------------------- refusals and errors

@pytest.mark.parametrize("query", [
    "SELECT * { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "select * { service silent <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "PREFIX e: <http://127.0.0.1:9/> SELECT * { SERVICEe:x {} }",
    "SELECT * { ?s ?p ?o OPTIONAL {} SERVICE:x {} }",
    "SELECT * { ?s ?p true SERVICE <http://127.0.0.1:9/> {} }",
    # '<' as less-than, then a string that (read as an IRI) would hide the SERVICE clause
    "SELECT * { FILTER(?a<?b)'x>'<http://p> ?o . SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } ?s ?p '' }",
    "SELECT * { ?s ?p ?o FILTER EXISTS { SERVICE ?g { ?s ?p ?o } } }",
])
def test_service_is_refused(executor, query):
    with pytest.raises(QueryRefused, match="SERVICE") as caught:
        executor.run(query, result_format="application/sparql-results+json")
    assert caught.value.status == 400


def test_load_is_refused(executor):
    with pytest.raises(QueryRefused, match="LOAD"):
        executor.run("LOAD <http://example.org/data.ttl>", result_format="text/csv")


def test_service_in_strings_iris_comments_and_names_is_fine(executor):
    query = ("PREFIX svc: <http://example.org/service#>\n# SERVICE <http://nowhere/>\n"
             "SELECT ?service { BIND('SERVICE <http://x/> {}' AS ?service) "
             "FILTER(?service != <http://example.org/SERVICE/load>) }")
    assert executor.run(query, result_format="text/csv").read() == b"service\r\nSERVICE <http://x/> {}\r\n"


def test_workers_cannot_reach_the_network_even_past_the_scan(executor, monkeypatch):
    if not executor.stats()["isolated"]:
        pytest.skip("this kernel does not let unprivileged processes leave the network (user namespaces off)")
    from sparql import executor as module
    original = module.scan
    monkeypatch.setattr(module, "scan", lambda text: original("SELECT * {}"))  # as if the scan missed it
    with pytest.raises(QueryFailed, match="(?i)network|connect|unreachable|refused|resolve|dns"):
        executor.run("SELECT * { SERVICE <http://127.0.0.1:8/> { ?s ?p ?o } }", result_format="text/csv")


def test_syntax_error_names_the_position(executor):
    with pytest.raises(QuerySyntaxError, match=r"error at 3:\d+") as caught:
        executor.run("SELECT *\nWHERE {\n  ?s ?p }", result_format="text/csv")
    assert caught.value.status == 400


def test_evaluation_error_is_a_query_error(executor):
    with pytest.raises(QueryError):
        executor.run("SELECT * { BIND(1 AS ?x) BIND(2 AS ?x) }", result_format="text/csv")


# ---------------------------------------------------------------- time limit and pool

def test_runaway_is_killed_while_another_query_answers(store):
    with Executor(store, workers=2, timeout=1.5) as executor:
        outcome: dict = {}

        def runaway() -> None:
            started = time.monotonic()
            try:
                executor.run(RUNAWAY, result_format="text/csv")
            except QueryError as error:
                outcome["error"] = error
            outcome["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=runaway)
        thread.start()
        wait_until(lambda: executor.stats()["busy"] == 1)
        victim = [pid for pid in executor.stats()["pids"]]
        started = time.monotonic()
        assert executor.run(f"ASK {{ ?s <{P.value}> 3 }}", result_format="text/csv").read() == b"true"
        assert time.monotonic() - started < 0.5
        thread.join(10)
        assert isinstance(outcome["error"], QueryTimeout)
        assert outcome["error"].status == 503 and "1.5 s" in str(outcome["error"])
        assert 1.5 <= outcome["seconds"] < 2.5
        # the killed worker is replaced
        wait_until(lambda: executor.stats()["workers"] == 2 and executor.stats()["idle"] == 2)
        assert len(set(executor.stats()["pids"]) - set(victim)) == 1
        assert executor.run("ASK {}", result_format="text/csv").read() == b"true"


def test_per_query_timeout(store):
    with Executor(store, workers=1, timeout=30) as executor:
        started = time.monotonic()
        with pytest.raises(QueryTimeout, match="0.5 s"):
            executor.run(RUNAWAY, result_format="text/csv", timeout=0.5)
        assert time.monotonic() - started < 1.5


def test_a_full_pool_says_busy(store):
    with Executor(store, workers=1, timeout=1.5, queue_wait=0.3) as executor:
        errors: list = []

        def runaway() -> None:
            try:
                executor.run(RUNAWAY, result_format="text/csv")
            except QueryError as error:
                errors.append(error)

        thread = threading.Thread(target=runaway)
        thread.start()
        wait_until(lambda: executor.stats()["busy"] == 1)
        started = time.monotonic()
        with pytest.raises(QueryBusy, match="busy") as caught:
            executor.run("ASK {}", result_format="text/csv")
        assert 0.3 <= time.monotonic() - started < 1.0
        assert caught.value.status == 503 and caught.value.retry_after > 0
        thread.join(10)
        assert [type(e) for e in errors] == [QueryTimeout]
        assert executor.run("ASK {}", result_format="text/csv").read() == b"true"


def test_memory_limit_stops_a_query_at_once(store):
    hungry = f"SELECT * {{ ?a <{Q.value}> ?x . ?b <{Q.value}> ?y }} ORDER BY ?y ?x LIMIT 1"
    with Executor(store, workers=1, timeout=30, memory_limit=256 * 1024**2) as executor:
        started = time.monotonic()
        with pytest.raises(QueryOutOfMemory, match="256 MiB") as caught:
            executor.run(hungry, result_format="text/csv")
        assert caught.value.status == 503
        assert time.monotonic() - started < 10
        assert executor.run("ASK {}", result_format="text/csv").read() == b"true"


def test_a_worker_killed_mid_query_gets_one_more_try(store):
    twelve_million = f"SELECT (COUNT(*) AS ?n) {{ ?a <{Q.value}> ?x . ?b <{Q.value}> ?y . ?c <{Q.value}> ?z " \
        "FILTER(?z < 3) }"
    with Executor(store, workers=2, timeout=30) as executor:
        outcome: list = []
        thread = threading.Thread(target=lambda: outcome.append(
            executor.run(twelve_million, result_format="text/csv").read()))
        thread.start()
        wait_until(lambda: executor.stats()["busy"] == 1)
        [victim] = executor.stats()["busy_pids"]
        os.kill(victim, signal.SIGKILL)
        thread.join(30)
        assert outcome == [b"n\r\n12000000\r\n"]
        assert victim not in executor.stats()["pids"]


def test_a_worker_killed_from_outside_is_replaced_transparently(store):
    with Executor(store, workers=2, timeout=10) as executor:
        before = executor.stats()["pids"]
        for pid in before:
            os.kill(pid, signal.SIGKILL)
        for _ in range(4):
            assert executor.run("ASK {}", result_format="text/csv").read() == b"true"
        wait_until(lambda: executor.stats()["workers"] == 2)
        assert not set(executor.stats()["pids"]) & set(before)


def test_an_abandoned_stream_frees_its_worker(store):
    big = f"SELECT * {{ ?a <{Q.value}> ?x . ?b <{Q.value}> ?y }}"
    with Executor(store, workers=1, timeout=10, row_cap=0) as executor:
        run = executor.run(big, result_format="text/tab-separated-values")
        assert next(run.chunks).startswith(b"?a\t?b\t?x\t?y\n")
        run.close()
        assert executor.run("ASK {}", result_format="text/csv").read() == b"true"


def test_a_stream_past_its_time_ends_with_an_error_marker(store):
    big = f"SELECT * {{ ?a <{Q.value}> ?x . ?b <{Q.value}> ?y }}"
    with Executor(store, workers=1, timeout=1.0, row_cap=0) as executor:
        run = executor.run(big, result_format="application/sparql-results+json")
        chunks = iter(run.chunks)
        next(chunks)
        time.sleep(1.0)  # the time limit itself, not a guess: the stream must be cut after it
        tail = b""
        with pytest.raises(QueryTimeout):
            for chunk in chunks:
                tail = chunk
        assert tail.startswith(b"\n!MOUSEION-ERROR: query stopped")
        assert executor.run("ASK {}", result_format="text/csv").read() == b"true"


# ---------------------------------------------------------------- checkpoints

def count_p(executor: Executor) -> int:
    body = executor.run(f"SELECT (COUNT(*) AS ?n) {{ ?s <{P.value}> ?o }}", result_format="text/csv").read()
    return int(body.split(b"\r\n")[1])


def test_a_write_and_invalidate_are_seen_by_the_next_query(own_store):
    with Executor(own_store, workers=2, timeout=10) as executor:
        assert count_p(executor) == 10
        first = executor.stats()["checkpoint"]
        thing = own_store.uris.entity("object", "new")
        own_store.commit([Record("test/new", "test", [ox.Triple(thing, P, Literal(99))], Origin("test"))])
        if not hasattr(own_store, "generation"):
            assert count_p(executor) == 10  # still the checkpoint taken before the write
        executor.invalidate()
        assert count_p(executor) == 11
        assert count_p(executor) == 11
        assert executor.stats()["checkpoint"] != first
        # the older checkpoint is gone once no query uses it
        assert not Path(first).exists()
        assert [p.name for p in Path(first).parent.iterdir()] == [Path(executor.stats()["checkpoint"]).name]
    assert not Path(first).parent.exists()


def test_an_in_memory_store_is_copied_into_a_checkpoint(tmp_path):
    store = Store.open(None, BASE)
    fill(store)
    with Executor(store, workers=1, checkpoint_root=tmp_path) as executor:
        assert count_p(executor) == 10
    assert list(tmp_path.iterdir()) == []


def test_orphaned_checkpoints_are_removed(own_store, tmp_path):
    orphan = tmp_path / "999999999-deadbeef"
    (orphan / "1").mkdir(parents=True)
    with Executor(own_store, workers=1, checkpoint_root=tmp_path) as executor:
        assert count_p(executor) == 10
        assert not orphan.exists()


# ---------------------------------------------------------------- memory

@pytest.mark.slow
def test_a_million_rows_stream_in_flat_memory(own_store):
    """1,000 × 1,000 rows (~160 MB of JSON): both processes stay within a few MB of where they began."""
    thousand = [Quad(NamedNode(f"{EX}m{i}"), NamedNode(EX + "m"), Literal(i), DATA) for i in range(1000)]
    own_store.oxi.extend(thousand)
    query = f"SELECT ?a ?x ?b ?y {{ ?a <{EX}m> ?x . ?b <{EX}m> ?y }}"
    with Executor(own_store, workers=1, timeout=120, row_cap=0) as executor:
        executor.run("ASK {}", result_format="text/csv").read()  # checkpoint taken, worker warm
        worker = psutil.Process(executor.stats()["pids"][0])
        parent = psutil.Process()
        worker_start, parent_start = worker.memory_info().rss, parent.memory_info().rss
        worker_peak = parent_peak = 0
        rows = size = 0
        tail = b""
        run = executor.run(query, result_format="application/sparql-results+json")
        for i, chunk in enumerate(run.chunks):
            size += len(chunk)
            rows += (tail + chunk[:3]).count(b'"a":') + chunk.count(b'"a":')
            tail = chunk[-3:]
            if i % 16 == 0:
                worker_peak = max(worker_peak, worker.memory_info().rss)
                parent_peak = max(parent_peak, parent.memory_info().rss)
        print(f"\n1M rows: {size / 1e6:.0f} MB; worker RSS {worker_start >> 20} -> peak {worker_peak >> 20} MiB, "
              f"server RSS {parent_start >> 20} -> peak {parent_peak >> 20} MiB")
        assert rows == 1_000_000 and size > 100_000_000
        assert worker_peak - worker_start < 64 * 1024**2, (worker_start, worker_peak)
        assert parent_peak - parent_start < 32 * 1024**2, (parent_start, parent_peak)
