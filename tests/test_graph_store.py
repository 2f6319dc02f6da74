"""Graph Store HTTP Protocol at /sparql/graphs over real HTTP, on a store of real records."""

from __future__ import annotations

import json
import urllib.parse

import pyoxigraph as ox
import pytest
import rdflib

from tests.sparql_fixtures import BACKENDS, real_store_on, snapshot
from tests.test_sparql_protocol import TOKEN, call, focus_of, record_key, running

TURTLE = b"""@prefix ex: <http://example.org/gsp/> .
ex:a ex:p "one" ; ex:q ex:b .
"""
MORE = b'<http://example.org/gsp/c> <http://example.org/gsp/p> "three" .\n'


@pytest.fixture(scope="module", params=BACKENDS)
def store(request, tmp_path_factory, data_dir):
    with real_store_on(request.param, tmp_path_factory.mktemp("graph-store"), data_dir) as store:
        yield store


@pytest.fixture(scope="module")
def root(store):
    with running(store, max_body_bytes=32 * 1024) as url:
        yield url


@pytest.fixture
def unchanged(store):
    before = snapshot(store)
    yield
    assert snapshot(store) == before


def at(root: str, graph: str | None = None) -> str:
    if graph is None:
        return f"{root}sparql/graphs"
    return f"{root}sparql/graphs?" + ("default" if graph == "default" else urllib.parse.urlencode({"graph": graph}))


def parsed(body: bytes, media_type: str) -> rdflib.Graph:
    return rdflib.Graph().parse(data=body, format={"text/turtle": "turtle", "application/n-triples": "nt",
                                                   "application/rdf+xml": "xml", "application/ld+json": "json-ld"}[media_type])


def test_put_get_post_delete_round_trip(root, store):
    graph = "http://example.org/gsp/graph1"
    url = at(root, graph)
    assert call("GET", url)[0] == 404
    status, _, body = call("PUT", url, TURTLE, {"Content-Type": "text/turtle"}, token=TOKEN)
    assert status == 201, body
    status, headers, body = call("GET", url)
    assert status == 200 and headers["content-type"].startswith("text/turtle")  # Turtle by default
    assert len(parsed(body, "text/turtle")) == 2
    for media_type in ("application/n-triples", "application/rdf+xml", "application/ld+json"):
        status, headers, body = call("GET", url, headers={"Accept": media_type})
        assert headers["content-type"].split(";")[0] == media_type
        assert parsed(body, media_type).isomorphic(parsed(call("GET", url)[2], "text/turtle"))
    status, headers, body = call("HEAD", url)
    assert status == 200 and body == b"" and headers["content-type"].startswith("text/turtle")
    assert call("PUT", url, TURTLE, {"Content-Type": "text/turtle"}, token=TOKEN)[0] == 204  # replaced, existed
    assert call("POST", url, MORE, {"Content-Type": "application/n-triples"}, token=TOKEN)[0] == 204  # merged
    assert len(parsed(call("GET", url)[2], "text/turtle")) == 3
    # queries see the write at once (the executor was told)
    status, _, body = call("GET", f"{root}sparql?query=" + urllib.parse.quote(
        f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"), headers={"Accept": "text/csv"})
    assert body.split(b"\r\n")[1] == b"3"
    assert call("DELETE", url, token=TOKEN)[0] == 204
    assert call("GET", url)[0] == 404 and call("HEAD", url)[0] == 404
    assert call("DELETE", url, token=TOKEN)[0] == 404


def test_post_to_the_service_creates_a_graph_with_a_location(root, store):
    status, headers, body = call("POST", at(root), TURTLE, {"Content-Type": "text/turtle"}, token=TOKEN)
    assert status == 201
    created = headers["location"]  # the new graph's IRI, as the W3C GSP tests use it
    assert created.startswith("http://localhost:8000/graph/upload/")
    assert store.backend.contains_graph(ox.NamedNode(created))
    status, _, body = call("GET", at(root, created))
    assert status == 200 and len(parsed(body, "text/turtle")) == 2
    link = headers["link"].split(";")[0].strip("<>")
    assert link == at(root, created) and call("GET", link)[0] == 200


def test_json_ld_and_rdf_xml_bodies(root):
    graph = at(root, "http://example.org/gsp/formats")
    jsonld = json.dumps({"@id": "http://example.org/gsp/x", "http://example.org/gsp/p": "x"}).encode()
    assert call("PUT", graph, jsonld, {"Content-Type": "application/ld+json"}, token=TOKEN)[0] == 201
    rdfxml = (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/gsp/">'
              b'<rdf:Description rdf:about="http://example.org/gsp/y"><ex:p>y</ex:p></rdf:Description></rdf:RDF>')
    assert call("POST", graph, rdfxml, {"Content-Type": "application/rdf+xml"}, token=TOKEN)[0] == 204
    assert len(parsed(call("GET", graph)[2], "text/turtle")) == 2


def test_post_merges_multipart_form_data(root):
    url = at(root, "http://example.org/gsp/multipart")
    boundary = "a6fe4cd636164618814be9f8d3d1a0de"
    parts = [("first.ttl", "text/turtle; charset=utf-8", '<http://example.org/gsp/p1> <http://example.org/gsp/n> "a" .'),
             ("second.nt", None, '<http://example.org/gsp/p1> <http://example.org/gsp/n> "b" .')]
    body = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
                   + (f"Content-Type: {media}\r\n" if media else "") + f"\r\n{data}\r\n" for name, media, data in parts)
    body += f"--{boundary}--\r\n"
    status, _, text = call("POST", url, body.encode(), {"Content-Type": f"multipart/form-data; boundary={boundary}"},
                           token=TOKEN)
    assert status == 201, text
    assert len(parsed(call("GET", url)[2], "text/turtle")) == 2


DEFAULT_ONLY = TURTLE.replace(b"http://example.org/gsp/", b"http://example.org/default-graph-only/")


def test_default_graph(root, store):
    # statements of its own: a union-default-graph server (the remote backend) tells the default graph's
    # statements apart only from those no named graph also holds (kg/backends.py)
    url = at(root, "default")
    assert DEFAULT_ONLY != TURTLE
    assert call("PUT", url, DEFAULT_ONLY, {"Content-Type": "text/turtle"}, token=TOKEN)[0] == 204  # always exists
    assert len(list(store.backend.quads(None, None, None, ox.DefaultGraph()))) == 2
    status, _, body = call("GET", url, headers={"Accept": "application/n-triples"})
    assert status == 200 and len(parsed(body, "application/n-triples")) == 2
    assert call("DELETE", url, token=TOKEN)[0] == 204
    assert not list(store.backend.quads(None, None, None, ox.DefaultGraph()))


def test_put_on_a_record_graph_goes_through_the_gate_and_the_change_log(root, store):
    key = record_key(store, "linked-art")
    graph = store.uris.record_graph(key).value
    url = at(root, graph)
    status, _, original = call("GET", url, headers={"Accept": "application/n-triples"})
    assert status == 200
    before = store.record_states([key])[key]
    focus = focus_of(store, key)
    changed = original + f'<{focus}> <http://www.w3.org/2000/01/rdf-schema#comment> "via GSP" .\n'.encode()
    assert call("PUT", url, changed, {"Content-Type": "application/n-triples"}, token=TOKEN)[0] == 204
    after = store.record_states([key])[key]
    assert after.content_hash != before.content_hash and after.created == before.created
    # a graph that breaks SHACL: 422 with the report, nothing written
    state = snapshot(store)
    broken = original + f'<{focus}> <http://www.cidoc-crm.org/cidoc-crm/P2_has_type> "not a type" .\n'.encode()
    status, headers, body = call("PUT", url, broken, {"Content-Type": "application/n-triples"}, token=TOKEN)
    assert status == 422 and b"crm-type-iri" in body
    assert snapshot(store) == state
    # DELETE of a record graph leaves a tombstone in the change log
    assert call("DELETE", url, token=TOKEN)[0] == 204
    assert store.record_states([key])[key].deleted


@pytest.mark.parametrize("method, graph, body, headers, token, expected", [
    ("GET", "http://example.org/gsp/missing", None, {}, None, 404),
    ("DELETE", "http://example.org/gsp/missing", None, {}, TOKEN, 404),
    ("PUT", "http://example.org/gsp/bad", TURTLE, {"Content-Type": "text/turtle"}, None, 401),
    ("PUT", "http://example.org/gsp/bad", TURTLE, {"Content-Type": "text/turtle"}, "wrong", 403),
    ("DELETE", "http://example.org/gsp/bad", None, {}, None, 401),
    ("PUT", "http://example.org/gsp/bad", TURTLE, {"Content-Type": "text/plain"}, TOKEN, 415),
    ("PUT", "http://example.org/gsp/bad", TURTLE, {}, TOKEN, 415),
    ("POST", "http://example.org/gsp/bad", b"<a> <b> <c> .", {"Content-Type": "application/n-quads"}, TOKEN, 415),
    ("PUT", "http://example.org/gsp/bad", b"@prefix ex: <http://x/> .\nex:a ex:b \"open", {"Content-Type": "text/turtle"},
     TOKEN, 400),
    ("PUT", "http://example.org/gsp/bad", b"x" * (40 * 1024), {"Content-Type": "text/turtle"}, TOKEN, 413),
    ("PUT", "http://localhost:8000/graph/meta/records", TURTLE, {"Content-Type": "text/turtle"}, TOKEN, 403),
    ("PUT", "http://localhost:8000/graph/run/forged", TURTLE, {"Content-Type": "text/turtle"}, TOKEN, 403),
    ("POST", "http://localhost:8000/graph/meta/runs", TURTLE, {"Content-Type": "text/turtle"}, TOKEN, 403),
    ("PUT", "relative/graph", TURTLE, {"Content-Type": "text/turtle"}, TOKEN, 400),
    ("PATCH", "http://example.org/gsp/bad", TURTLE, {"Content-Type": "text/turtle"}, TOKEN, 405),
    ("PUT", None, TURTLE, {"Content-Type": "text/turtle"}, TOKEN, 400),  # PUT needs a graph
    ("GET", None, None, {}, None, 400),
])
def test_refused_graph_store_requests(root, unchanged, method, graph, body, headers, token, expected):
    status, response_headers, text = call(method, at(root, graph), body, headers, token=token)
    assert status == expected, text
    assert text.strip()
    assert response_headers["access-control-allow-origin"] == "*"
    if expected == 405:
        assert "PUT" in response_headers["allow"]
    if expected == 401:
        assert response_headers["www-authenticate"].startswith("Bearer")


def test_turtle_syntax_error_names_the_line(root, unchanged):
    body = b"@prefix ex: <http://example.org/> .\nex:a ex:b ex:c .\nex:d ex:e \"unterminated .\n"
    status, _, text = call("PUT", at(root, "http://example.org/gsp/syntax"), body,
                           {"Content-Type": "text/turtle", "Accept": "application/json"}, token=TOKEN)
    problem = json.loads(text)
    assert status == 400 and problem["line"] == 3 and "text/turtle syntax error" in problem["detail"]


def test_both_graph_and_default_is_400(root, unchanged):
    status, _, text = call("GET", f"{root}sparql/graphs?default&graph=http%3A%2F%2Fexample.org%2Fg")
    assert status == 400 and b"either" in text
