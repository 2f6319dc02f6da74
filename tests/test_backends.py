"""The store contract holds on both backends: the embedded pyoxigraph store and a real SPARQL 1.1
server (`oxigraph serve`, started here on loopback)."""

from __future__ import annotations

import gzip
import io

import pytest
from pyoxigraph import Literal, NamedNode, Triple

from kg.backends import RemoteBackend
from kg.record import Origin, Record
from kg.store import Store
from kg.writes import graph_triples, replace_graphs
from ontology.namespaces import CRM, RDF, RDFS
from tests.servers import oxigraph_server

BASE = "http://localhost:8000/"


@pytest.fixture(params=["embedded", "oxigraph-server"])
def store(request, tmp_path):
    if request.param == "embedded":
        yield Store.open(tmp_path / "store", BASE)
    else:
        with oxigraph_server(tmp_path / "server") as url:
            yield Store.connect(f"{url}/query", BASE, update_url=f"{url}/update")


def record(n: int, title: str) -> Record:
    obj = NamedNode(f"{BASE}id/object/r-{n}")
    return Record(f"r/{n}", "r", [Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]),
                                  Triple(obj, RDFS.label, Literal(title, language="en"))], Origin("r.ttl"))


def test_commit_change_log_and_tombstones(store):
    assert [o.status for o in store.commit([record(1, "Vase"), record(2, "Urn")], now="2026-01-01T00:00:00Z")] \
        == ["created", "created"]
    assert store.commit([record(1, "Vase")])[0].status == "unchanged"
    assert store.commit([record(1, "Jar")], now="2026-01-02T00:00:00Z")[0].status == "modified"
    store.delete(["r/2"], now="2026-01-03T00:00:00Z")
    log = [(c.key, c.modified, c.deleted) for c in store.changes()]
    assert log == [("r/1", "2026-01-02T00:00:00Z", False), ("r/2", "2026-01-03T00:00:00Z", True)]
    assert [c.key for c in store.changes(since="2026-01-02T12:00:00Z")] == ["r/2"]
    assert {t.object.value for t in store.record_triples("r/1") if t.predicate == RDFS.label} == {"Jar"}


def test_union_queries_see_inferred_types(store):
    store.commit([record(1, "Vase")])
    assert bool(store.query("ASK { ?o a crm:E70_Thing }"))
    stats = store.stats()
    assert stats["records"] == 1 and stats["classes"][CRM["E22_Human-Made_Object"].value] == 1


def test_plain_graph_writes_and_dump(store):
    graph = NamedNode("http://example.org/g")
    replace_graphs(store, {graph: [Triple(NamedNode("http://example.org/a"), RDFS.label, Literal("a"))]},
                   gate=None, origin="test")
    assert len(graph_triples(store, graph)) == 1
    out = io.BytesIO()
    count = store.dump(out)
    lines = gzip.decompress(out.getvalue()).decode().splitlines()
    assert len(lines) == count and any("http://example.org/g" in line for line in lines)


def test_statements_by_predicate_come_in_the_order_asked(store):
    store.commit([record(1, "Vase"), record(2, "Urn")])
    obj = NamedNode(f"{BASE}id/object/r-1")
    absent = NamedNode("http://example.org/absent")
    groups = list(store.backend.by_predicate(obj, [absent, RDFS.label, RDF.type]))
    assert [predicate for predicate, _ in groups] == [RDFS.label, RDF.type], "absent predicates are left out"
    assert [q.object for q in groups[0][1]] == [Literal("Vase", language="en")], "only r-1's own label"
    types = {q.object for q in groups[1][1]}
    assert CRM["E22_Human-Made_Object"] in types and CRM.E70_Thing in types, "every graph: inferred types too"
    assert all(q.subject == obj for _, quads in groups for q in quads)


def test_remote_binding_escapes_values():
    from kg.backends import bind
    import pyoxigraph as ox
    text = bind("SELECT ?s WHERE { ?s ?p ?o }", {ox.Variable("o"): ox.Literal('x" } ; DROP ALL ; #')})
    assert "DROP ALL" in text and '\\"' in text  # the quote is escaped: it stays inside the literal
    assert RemoteBackend  # imported for the contract


def test_updates_keep_off_record_graphs_on_a_remote_store(store):
    from kg.writes import ReservedGraph, apply_update
    apply_update(store, 'INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/a> <http://example.org/p> "x" } }',
                 gate=None)
    assert len(graph_triples(store, NamedNode("http://example.org/g"))) == 1
    if store.path is None:  # remote: what could reach a record graph is refused before it is sent
        with pytest.raises(ReservedGraph):
            apply_update(store, "DELETE WHERE { GRAPH ?g { ?s ?p ?o } }", gate=None)
        assert len(graph_triples(store, NamedNode("http://example.org/g"))) == 1
