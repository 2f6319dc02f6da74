"""The clients linked-data consumers use, against the real endpoint: SPARQLWrapper for every result
format, rdflib's SPARQLStore / SPARQLUpdateStore (with the bearer token) for reads and writes."""

from __future__ import annotations

import urllib.error
import xml.dom.minidom

import pytest
import rdflib
from rdflib.plugins.stores.sparqlstore import SPARQLStore, SPARQLUpdateStore
from SPARQLWrapper import CSV, JSON, JSONLD, N3, POST, RDFXML, TSV, TURTLE, XML, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

from tests.sparql_fixtures import BACKENDS, real_store_on, snapshot
from tests.test_sparql_protocol import TOKEN, running

OBJECTS = "SELECT DISTINCT ?o WHERE { ?o a crm:E22_Human-Made_Object FILTER(isIRI(?o)) } ORDER BY STR(?o)"
CONSTRUCT = ("CONSTRUCT { ?o a crm:E22_Human-Made_Object ; rdfs:label ?label } "
             "WHERE { ?o a crm:E22_Human-Made_Object FILTER(isIRI(?o)) OPTIONAL { ?o rdfs:label ?label } }")


@pytest.fixture(scope="module", params=BACKENDS)
def store(request, tmp_path_factory, data_dir):
    with real_store_on(request.param, tmp_path_factory.mktemp("clients"), data_dir) as store:
        yield store


@pytest.fixture(scope="module")
def endpoint(store):
    with running(store) as root:
        yield f"{root}sparql"


@pytest.fixture(scope="module")
def objects(store) -> list[str]:
    found = [r["o"].value for r in store.query(OBJECTS)]
    assert len(found) >= 10
    return sorted(found)


def wrapper(endpoint: str, query: str, fmt: str, method: str = "GET"):
    client = SPARQLWrapper(endpoint)
    client.setQuery(query)
    client.setReturnFormat(fmt)
    client.setMethod(method)
    return client.query()


@pytest.mark.parametrize("method", ["GET", POST])
def test_select_as_json(endpoint, objects, method):
    result = wrapper(endpoint, OBJECTS, JSON, method)
    assert result.info()["content-type"].startswith("application/sparql-results+json")
    assert [b["o"]["value"] for b in result.convert()["results"]["bindings"]] == objects


def test_select_as_xml(endpoint, objects):
    document = wrapper(endpoint, OBJECTS, XML).convert()
    assert isinstance(document, xml.dom.minidom.Document)
    assert [u.firstChild.data for u in document.getElementsByTagName("uri")] == objects


@pytest.mark.parametrize("fmt, separator", [(CSV, ","), (TSV, "\t")])
def test_select_as_csv_and_tsv(endpoint, objects, fmt, separator):
    lines = wrapper(endpoint, OBJECTS, fmt).convert().decode().splitlines()
    assert lines[0] == ("o" if fmt == CSV else "?o")
    assert [line.strip("<>") for line in lines[1:]] == objects


@pytest.mark.parametrize("fmt", [JSON, XML, CSV, TSV])
def test_ask_in_every_format(endpoint, fmt):
    result = wrapper(endpoint, "ASK { ?o a crm:E22_Human-Made_Object }", fmt).convert()
    if fmt == JSON:
        assert result["boolean"] is True
    elif fmt == XML:
        assert result.getElementsByTagName("boolean")[0].firstChild.data == "true"
    else:
        assert result.decode().strip().splitlines()[-1] == "true"


@pytest.mark.parametrize("fmt, expected, rdflib_format", [
    (TURTLE, "text/turtle", "turtle"), (N3, "text/turtle", "turtle"), (RDFXML, "application/rdf+xml", None),
    (XML, "application/rdf+xml", None), (JSONLD, "application/ld+json", None),
])
def test_construct_in_every_format(endpoint, objects, fmt, expected, rdflib_format):
    result = wrapper(endpoint, CONSTRUCT, fmt)
    assert result.info()["content-type"].split(";")[0] == expected
    converted = result.convert()
    graph = converted if isinstance(converted, rdflib.Graph) else rdflib.Graph().parse(data=converted,
                                                                                       format=rdflib_format)
    assert sorted({str(s) for s in graph.subjects(rdflib.RDF.type, None)}) == objects


def test_describe(endpoint, objects):
    graph = wrapper(endpoint, f"DESCRIBE <{objects[0]}>", RDFXML).convert()
    assert (rdflib.URIRef(objects[0]), None, None) in graph


def test_syntax_error_reaches_the_client(endpoint):
    with pytest.raises(QueryBadFormed) as error:
        wrapper(endpoint, "SELECT * WHERE { ?s ?p }", JSON)
    assert "syntax error" in str(error.value)


def test_rdflib_reads_and_writes_with_the_token(endpoint, store):
    graph_iri = rdflib.URIRef("http://example.org/clients/rdflib")
    remote = SPARQLUpdateStore(endpoint, endpoint, headers={"Authorization": f"Bearer {TOKEN}"})
    graph = rdflib.Graph(remote, identifier=graph_iri)
    subject, predicate = rdflib.URIRef("http://example.org/clients/a"), rdflib.URIRef("http://example.org/clients/p")
    graph.add((subject, predicate, rdflib.Literal("written by rdflib")))
    graph.add((subject, predicate, rdflib.Literal(42)))
    assert len(list(store.backend.quads(None, None, None, rdflib_node(graph_iri)))) == 2
    assert set(graph.objects(subject, predicate)) == {rdflib.Literal("written by rdflib"), rdflib.Literal(42)}
    remote.update("DELETE DATA { GRAPH <http://example.org/clients/rdflib> "
                  "{ <http://example.org/clients/a> <http://example.org/clients/p> 42 } }")
    assert set(graph.objects(subject, predicate)) == {rdflib.Literal("written by rdflib")}
    reader = rdflib.Graph(SPARQLStore(endpoint))
    rows = list(reader.query("SELECT (COUNT(*) AS ?n) WHERE { ?o a <http://www.cidoc-crm.org/cidoc-crm/E22_Human-Made_Object> }"))
    assert int(rows[0][0]) >= 10
    remote.close()


def test_rdflib_without_the_right_token_is_refused(endpoint, store):
    before = snapshot(store)
    for headers, status in (({}, 401), ({"Authorization": "Bearer wrong"}, 403)):
        remote = SPARQLUpdateStore(endpoint, endpoint, headers=headers)
        with pytest.raises(urllib.error.HTTPError) as error:
            remote.update("INSERT DATA { <http://example.org/clients/x> <http://example.org/clients/p> 1 }")
        assert error.value.code == status
    assert snapshot(store) == before


def rdflib_node(iri: rdflib.URIRef):
    import pyoxigraph as ox
    return ox.NamedNode(str(iri))
