"""SPARQL 1.1 Protocol at /sparql over real HTTP (waitress on loopback), a real store of real records,
run on the embedded store and on `oxigraph serve` (tests/sparql_fixtures.py).

Every refused request is checked to leave the store exactly as it was. The helpers at the top
(``running``, ``call``) are shared with test_graph_store.py and test_sparql_clients.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
import urllib.parse
from typing import Iterator

import psutil
import pyoxigraph as ox
import pytest
import rdflib

from kg.settings import Settings
from kg.store import Store
from tests.servers import serving_app
from tests.sparql_fixtures import BACKENDS, BASE, is_remote, real_store_on, refused_on_remote, snapshot

TOKEN = "s3cret-token"
RDFS_COMMENT = "http://www.w3.org/2000/01/rdf-schema#comment"


# ------------------------------------------------------------------------------------ shared helpers


@contextlib.contextmanager
def running(store: Store, **settings) -> Iterator[str]:
    """The whole application served by waitress on a free loopback port; yields its root URL."""
    options = {"base_uri": BASE, "update_token": TOKEN, "query_workers": 2, **settings}
    with serving_app(store, Settings.from_env({}, **options)) as root:
        yield root + "/"


def call(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
         token: str | None = None) -> tuple[int, dict, bytes]:
    """One request, sending exactly the headers given (urllib would add a form Content-Type to every
    body); (status, lower-cased headers, body) whatever the status."""
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(method, f"{parts.path}?{parts.query}" if parts.query else parts.path, body, headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def q(text: str) -> str:
    return urllib.parse.quote(text)


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module", params=BACKENDS)
def store(request, tmp_path_factory, data_dir) -> Iterator[Store]:
    with real_store_on(request.param, tmp_path_factory.mktemp("protocol"), data_dir) as store:
        yield store


@pytest.fixture(scope="module")
def root(store) -> Iterator[str]:
    with running(store, row_cap=100, query_timeout=3.0, max_body_bytes=64 * 1024) as url:
        yield url


@pytest.fixture(scope="module")
def open_root(store) -> Iterator[str]:
    """No update token configured; no row cap (results stream from the worker)."""
    with running(store, update_token="", row_cap=0, query_timeout=60.0) as url:
        yield url


@pytest.fixture
def unchanged(store):
    """Asserts, after the test, that the store holds exactly what it held before."""
    before = snapshot(store)
    generation = store.generation
    yield
    assert snapshot(store) == before
    if not is_remote(store):  # a remote store counts every update it forwards, even one the server refuses
        assert store.generation == generation


def record_key(store: Store, prefix: str) -> str:
    return next(s.key for s in store.changes() if s.key.startswith(prefix))


def focus_of(store: Store, key: str) -> str:
    focus = ox.NamedNode("https://w3id.org/mouseion/ns#focus")
    return next(store.backend.quads(store.uris.record_graph(key), focus, None, store.uris.meta_graph)).object.value


# ------------------------------------------------------------------------------------ queries


COUNT_OBJECTS = "SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE { ?o a crm:E22_Human-Made_Object }"


def test_query_by_get_form_post_and_direct_post_agree(root, store):
    expected = str(len({r["o"] for r in store.query("SELECT ?o { ?o a crm:E22_Human-Made_Object }")}))
    accept = {"Accept": "application/sparql-results+json"}
    answers = [
        call("GET", f"{root}sparql?query={q(COUNT_OBJECTS)}", headers=accept),
        call("POST", f"{root}sparql", urllib.parse.urlencode({"query": COUNT_OBJECTS}).encode(),
             {**accept, "Content-Type": "application/x-www-form-urlencoded"}),
        call("POST", f"{root}sparql", COUNT_OBJECTS.encode(), {**accept, "Content-Type": "application/sparql-query"}),
    ]
    for status, headers, body in answers:
        assert status == 200, body
        assert headers["content-type"].startswith("application/sparql-results+json")
        assert json.loads(body)["results"]["bindings"][0]["n"]["value"] == expected
    assert int(expected) >= 10


def test_protocol_dataset_parameters(root, store):
    """default-graph-uri / named-graph-uri replace the union default, as in the W3C protocol tests."""
    a, b = "http://example.org/protocol/data1", "http://example.org/protocol/data2"
    update = (f"INSERT DATA {{ GRAPH <{a}> {{ <{a}> a <http://xmlns.com/foaf/0.1/Document> }} "
              f"GRAPH <{b}> {{ <{b}> a <http://xmlns.com/foaf/0.1/Document> }} }}")
    assert call("POST", f"{root}sparql", update.encode(), {"Content-Type": "application/sparql-update"},
                token=TOKEN)[0] == 200
    both = f"ASK {{ <{a}> a ?type . <{b}> a ?type }}"
    named = f"ASK {{ GRAPH ?g1 {{ <{a}> a ?type }} GRAPH ?g2 {{ <{b}> a ?type }} }}"

    def ask(query: str, **params) -> bool:
        pairs = [("query", query)] + [(k.replace("_", "-"), v) for k, vs in params.items() for v in vs]
        status, _, body = call("GET", f"{root}sparql?{urllib.parse.urlencode(pairs)}",
                               headers={"Accept": "application/sparql-results+json"})
        assert status == 200, body
        return json.loads(body)["boolean"]

    assert ask(both)  # union default graph
    assert ask(both, default_graph_uri=[a, b])
    assert not ask(both, default_graph_uri=[a])
    assert ask(named, named_graph_uri=[a, b])
    assert not ask(named.replace("GRAPH ?g1", "GRAPH <http://example.org/nowhere>"), named_graph_uri=[a, b])
    # the protocol's dataset wins over FROM in the query
    assert ask(f"ASK FROM <http://example.org/nowhere> {{ <{a}> a ?type . <{b}> a ?type }}",
               default_graph_uri=[a, b])


@pytest.mark.parametrize("accept, expected", [
    ("text/csv;q=0.5, application/sparql-results+xml;q=0.9", "application/sparql-results+xml"),
    ("*/*;q=0.1, text/tab-separated-values", "text/tab-separated-values"),
    ("application/sparql-results+json;q=0, */*", "application/sparql-results+xml"),
    ("text/*", "text/csv"),
    ("application/json", "application/sparql-results+json"),
    ("", "application/sparql-results+json"),
])
def test_result_format_by_accept_q_values(root, accept, expected):
    status, headers, _ = call("GET", f"{root}sparql?query={q('SELECT * { ?s ?p ?o } LIMIT 1')}",
                              headers={"Accept": accept} if accept else {})
    assert status == 200
    assert headers["content-type"].split(";")[0] == expected
    assert "accept" in headers["vary"].lower()


@pytest.mark.parametrize("params, expected", [
    ("format=csv", "text/csv"),
    ("output=tsv", "text/tab-separated-values"),
    ("format=tsv&format=text%2Ftab-separated-values", "text/tab-separated-values"),  # as SPARQLWrapper sends
    ("format=application%2Fsparql-results%2Bxml", "application/sparql-results+xml"),
])
def test_format_parameter_wins_over_accept(root, params, expected):
    status, headers, _ = call("GET", f"{root}sparql?query={q('ASK {}')}&{params}",
                              headers={"Accept": "application/sparql-results+json"})
    assert status == 200
    assert headers["content-type"].split(";")[0] == expected


@pytest.mark.parametrize("accept, expected", [
    ("text/turtle", "text/turtle"), ("application/n-triples", "application/n-triples"),
    ("application/rdf+xml", "application/rdf+xml"), ("application/ld+json", "application/ld+json"),
    ("application/json", "application/ld+json"), ("*/*", "text/turtle"),
])
def test_construct_in_every_graph_format(root, store, accept, expected):
    query = "CONSTRUCT { ?o a crm:E22_Human-Made_Object } WHERE { ?o a crm:E22_Human-Made_Object }"
    status, headers, body = call("GET", f"{root}sparql?query={q(query)}", headers={"Accept": accept})
    assert status == 200
    assert headers["content-type"].split(";")[0] == expected
    graph = rdflib.Graph().parse(data=body, format={"text/turtle": "turtle", "application/n-triples": "nt",
                                                    "application/rdf+xml": "xml", "application/ld+json": "json-ld"}[expected])
    assert len(graph) == len({r["o"] for r in store.query("SELECT ?o { ?o a crm:E22_Human-Made_Object }")})


def test_results_stream_in_flat_memory(open_root):
    """Half a million rows, 150 MB of CSV: this process (server and client) grows by the server's
    buffers (some 30 MB, whatever the size of the result), never by the answer."""
    digits = " ".join(str(i) for i in range(10))
    pad = "x" * 280
    query = ("SELECT ?a ?b ?c ?d ?e ?f ?pad WHERE { " + " ".join(f"VALUES ?{v} {{ {digits} }}" for v in "abcde")
             + " VALUES ?f { 0 1 2 3 4 } BIND(CONCAT(STR(?a), STR(?b), STR(?c), STR(?d), STR(?e), STR(?f), "
             f'"{pad}") AS ?pad) }}')
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    parts = urllib.parse.urlsplit(open_root)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    connection.request("GET", f"/sparql?query={q(query)}", headers={"Accept": "text/csv"})
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    total, lines = 0, 0
    while chunk := response.read(1 << 20):
        total += len(chunk)
        lines += chunk.count(b"\n")
    connection.close()
    done.set()
    sampler.join()
    assert lines == 500_001  # header + every row: nothing cut
    assert total > 145_000_000
    assert peak[0] - baseline < 50_000_000, f"memory grew by {(peak[0] - baseline) / 1e6:.0f} MB"


def test_row_cap_marks_the_result_truncated(root):
    query = "SELECT ?a ?b ?c WHERE { VALUES ?a {0 1 2 3 4 5 6 7 8 9} VALUES ?b {0 1 2 3 4 5 6 7 8 9} VALUES ?c {0 1} }"
    status, headers, body = call("GET", f"{root}sparql?query={q(query)}",
                                 headers={"Accept": "application/sparql-results+json"})
    assert status == 200
    assert headers["mouseion-result-truncated"] == "true"
    assert headers["mouseion-row-cap"] == "100"
    document = json.loads(body)
    assert document["truncated"] is True and len(document["results"]["bindings"]) == 100
    status, headers, body = call("GET", f"{root}sparql?query={q(query)}", headers={"Accept": "text/csv"})
    assert headers["mouseion-result-truncated"] == "true" and body.count(b"\n") == 101
    small = call("GET", f"{root}sparql?query={q('SELECT * { VALUES ?a { 1 2 } }')}")
    assert "mouseion-result-truncated" not in small[1]


# ------------------------------------------------------------------------------------ updates


def test_update_by_form_and_direct_post_with_token(root, store):
    graph = "http://example.org/protocol/updates"
    form = urllib.parse.urlencode({"update": f"INSERT DATA {{ GRAPH <{graph}> {{ <{graph}#a> <{graph}#p> 1 }} }}"})
    status, _, body = call("POST", f"{root}sparql", form.encode(),
                           {"Content-Type": "application/x-www-form-urlencoded"}, token=TOKEN)
    assert status == 200, body
    direct = f"INSERT DATA {{ GRAPH <{graph}> {{ <{graph}#a> <{graph}#p> 2 }} }}"
    status, _, body = call("POST", f"{root}sparql", direct.encode(),
                           {"Content-Type": "application/sparql-update; charset=UTF-8"}, token=TOKEN)
    assert status == 200, body
    # the executor was told: the very next query sees both writes
    status, _, body = call("GET", f"{root}sparql?query={q(f'SELECT ?v {{ GRAPH <{graph}> {{ ?s ?p ?v }} }}')}",
                           headers={"Accept": "text/csv"})
    assert sorted(body.split(b"\r\n")[1:-1]) == [b"1", b"2"]


def test_update_with_using_graph_parameters(root, store):
    """using-graph-uri / using-named-graph-uri, as the W3C protocol test update_dataset_full."""
    # (no "using" in these IRIs: on a remote store kg.writes would read it as the keyword and refuse the setup)
    d1, d2, d3 = (f"http://example.org/protocol-dataset/data{i}" for i in (1, 2, 3))
    out = "http://example.org/protocol-dataset/result"
    setup = "INSERT DATA { " + " ".join(f"GRAPH <{d}> {{ <{d}> a <http://xmlns.com/foaf/0.1/Document> }}"
                                        for d in (d1, d2, d3)) + " }"
    assert call("POST", f"{root}sparql", setup.encode(), {"Content-Type": "application/sparql-update"},
                token=TOKEN)[0] == 200
    update = (f"PREFIX foaf: <http://xmlns.com/foaf/0.1/>\n"
              f"INSERT {{ GRAPH <{out}> {{ ?s <http://example.org/in> ?in }} }}\n"
              f"WHERE {{ {{ ?s a foaf:Document . BIND('default' AS ?in) }} UNION "
              f"{{ GRAPH ?g {{ ?s a foaf:Document }} BIND(?g AS ?in) }} }} ;\n"
              f"DELETE WHERE {{ GRAPH ?g {{ <{d3}> ?p ?o }} }}")
    params = urllib.parse.urlencode([("using-graph-uri", d1), ("using-named-graph-uri", d2)])
    status, _, body = call("POST", f"{root}sparql?{params}", update.encode(),
                           {"Content-Type": "application/sparql-update"}, token=TOKEN)
    if refused_on_remote(store, status, body):  # GRAPH ?g and USING could reach Mouseion's graphs
        assert not store.query(f"ASK {{ GRAPH <{out}> {{ ?s ?p ?o }} }}")
        return
    assert status == 200, body
    rows = {(r["s"].value, r["in"].value) for r in
            store.query(f"SELECT ?s ?in {{ GRAPH <{out}> {{ ?s <http://example.org/in> ?in }} }}")}
    assert rows == {(d1, "default"), (d2, d2)}
    # DELETE WHERE was rewritten to take the protocol dataset: data3 is in neither, so it stays
    assert bool(store.query(f"ASK {{ GRAPH <{d3}> {{ ?s ?p ?o }} }}"))


def test_update_on_a_record_graph_that_conforms_is_logged_as_modified(root, store):
    key = record_key(store, "linked-art")
    before = store.record_states([key])[key]
    graph, focus = store.uris.record_graph(key).value, focus_of(store, key)
    update = f'INSERT DATA {{ GRAPH <{graph}> {{ <{focus}> <{RDFS_COMMENT}> "checked over the protocol" }} }}'
    status, _, body = call("POST", f"{root}sparql", update.encode(),
                           {"Content-Type": "application/sparql-update", "Accept": "application/json"}, token=TOKEN)
    if refused_on_remote(store, status, body):  # record graphs are written through the Graph Store there
        assert store.record_states([key])[key] == before
        return
    assert status == 200, body
    assert json.loads(body)["records"] == [{"key": key, "status": "modified"}]
    after = store.record_states([key])[key]
    assert after.content_hash != before.content_hash and after.created == before.created
    assert after.modified >= before.modified and not after.deleted


def test_update_that_breaks_shacl_is_refused_with_422(root, store, unchanged):
    key = record_key(store, "linked-art")
    graph, focus = store.uris.record_graph(key).value, focus_of(store, key)
    update = (f"PREFIX crm: <http://www.cidoc-crm.org/cidoc-crm/>\n"
              f'INSERT DATA {{ GRAPH <{graph}> {{ <{focus}> crm:P2_has_type "a literal, not a type" }} }}')
    status, headers, body = call("POST", f"{root}sparql", update.encode(),
                                 {"Content-Type": "application/sparql-update"}, token=TOKEN)
    if refused_on_remote(store, status, body):  # refused before any SHACL check: it names a record graph
        return
    assert status == 422
    assert key in body.decode() and "crm-type-iri" in body.decode()
    status, headers, body = call("POST", f"{root}sparql", update.encode(),
                                 {"Content-Type": "application/sparql-update", "Accept": "application/json"},
                                 token=TOKEN)
    assert status == 422 and json.loads(body)["rejections"][0]["record"] == key


# ------------------------------------------------------------------------------------ refusals


def _post(root: str, body: str, content_type: str | None, token: str | None = TOKEN, path: str = "sparql",
          accept: str | None = None):
    headers = {"Content-Type": content_type} if content_type else {}
    if accept:
        headers["Accept"] = accept
    return call("POST", root + path, body.encode(), headers, token=token)


def test_query_syntax_error_is_400_with_position(root, unchanged):
    status, headers, body = call("GET", f"{root}sparql?query={q('SELECT * WHERE { ?s ?p }')}")
    assert status == 400 and headers["content-type"].startswith("text/plain")
    assert "query syntax error" in body.decode() and "1:" in body.decode()
    two_lines = q("SELECT * WHERE {\n ?s ?p }")
    status, headers, body = call("GET", f"{root}sparql?query={two_lines}",
                                 headers={"Accept": "application/sparql-results+json"})
    problem = json.loads(body)
    assert status == 400 and headers["content-type"] == "application/json"
    assert (problem["status"], problem["line"]) == (400, 2)


def test_update_syntax_error_is_400_with_position(root, store, unchanged):
    status, _, body = _post(root, urllib.parse.urlencode({"update": "CLEAR XYZ"}), "application/x-www-form-urlencoded")
    # a remote store forwards the update; kg.backends names the server that refused it
    where = f"{store.backend.update_url}: " if is_remote(store) else ""
    assert status == 400 and f"update syntax error: {where}error at 1:" in body.decode()


@pytest.mark.parametrize("method, url, body, content_type, expected", [
    ("GET", "sparql?query=ASK%20%7B%7D&query=SELECT%20%2A%20%7B%7D", None, None, 400),  # two queries
    ("GET", "sparql?update=CLEAR%20ALL", None, None, 400),  # update by GET
    ("POST", "sparql", "update=CLEAR%20NAMED&update=CLEAR%20DEFAULT", "application/x-www-form-urlencoded", 400),
    ("POST", "sparql", "query=ASK%20%7B%7D&update=CLEAR%20ALL", "application/x-www-form-urlencoded", 400),
    ("POST", "sparql?query=ASK%20%7B%7D", "ASK {}", "application/sparql-query", 400),  # query in URL and body
    ("POST", "sparql", "ASK {}", "text/plain", 415),
    ("POST", "sparql", "query=ASK%20%7B%7D", None, 415),  # form without its media type
    ("POST", "sparql", "ASK {}", "application/sparql-query; charset=UTF-16", 415),
    ("POST", "sparql", "CLEAR NAMED", "application/sparql-update; charset=ISO-8859-1", 415),
    ("POST", "sparql", "", "application/x-www-form-urlencoded", 400),  # neither query nor update
    ("GET", "sparql?query=ASK%20%7B%7D&default-graph-uri=not%20an%20iri", None, None, 400),
])
def test_malformed_protocol_requests(root, unchanged, method, url, body, content_type, expected):
    headers = {"Content-Type": content_type} if content_type else {}
    status, response_headers, text = call(method, root + url, body.encode() if body is not None else None,
                                          headers, token=TOKEN)
    assert status == expected, text
    assert text.strip()  # always says why


def test_non_utf8_query_body_is_400(root, unchanged):
    status, _, body = call("POST", f"{root}sparql", "ASK { <urn:é> ?p ?o }".encode("latin-1"),
                           {"Content-Type": "application/sparql-query"})
    assert status == 400 and "UTF-8" in body.decode()


def test_wrong_method_is_405_with_allow(root, unchanged):
    for method in ("PUT", "DELETE", "PATCH"):
        status, headers, body = call(method, f"{root}sparql?query=ASK%20%7B%7D", b"x",
                                     {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 405 and headers["allow"] == "GET, HEAD, POST, OPTIONS"
        assert method.encode() in body


def test_unacceptable_format_is_406_listing_the_offers(root, unchanged):
    status, _, body = call("GET", f"{root}sparql?query={q('ASK {}')}", headers={"Accept": "image/png"})
    assert status == 406
    for media_type in ("application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                       "text/tab-separated-values"):
        assert media_type in body.decode()
    status, _, body = call("GET", f"{root}sparql?query={q('CONSTRUCT WHERE { ?s ?p ?o }')}&format=yaml")
    assert status == 406 and "text/turtle" in body.decode() and "application/ld+json" in body.decode()


def test_oversized_body_is_413_by_length_and_while_reading(root, unchanged):
    big = "ASK {} #" + "x" * (70 * 1024)
    status, _, body = _post(root, big, "application/sparql-query")
    assert status == 413 and b"MOUSEION_MAX_BODY_BYTES" in body
    # chunked: no Content-Length to check, so the limit holds while reading
    parts = urllib.parse.urlsplit(root)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("POST", "/sparql", body=(big[i:i + 4096].encode() for i in range(0, len(big), 4096)),
                       headers={"Content-Type": "application/sparql-query", "Transfer-Encoding": "chunked"},
                       encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 413 and b"larger than 65536 bytes" in response.read()
    connection.close()


def test_update_needs_the_bearer_token(root, open_root, unchanged):
    update = "INSERT DATA { <http://example.org/x> <http://example.org/p> 1 }"
    status, headers, body = _post(root, update, "application/sparql-update", token=None)
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    status, _, body = _post(root, update, "application/sparql-update", token="wrong")
    assert status == 403 and b"not valid" in body
    status, _, body = _post(open_root, update, "application/sparql-update", token=TOKEN)
    assert status == 403 and b"MOUSEION_UPDATE_TOKEN" in body


@pytest.mark.parametrize("update, expected, words", [
    ("LOAD <http://example.org/data.ttl>", 403, "LOAD"),
    ("LOAD SILENT <http://example.org/data.ttl> INTO GRAPH <http://example.org/g>", 403, "LOAD"),
    ("INSERT { ?s ?p ?o } WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", 400, "SERVICE"),
    ("DELETE WHERE { GRAPH <http://localhost:8000/graph/meta/records> { ?s ?p ?o } }", 403, "Mouseion only"),
    ("DROP ALL", 403, "Mouseion only"),
    ("DROP GRAPH <http://example.org/never-created>", 500, "nothing was written"),  # fails while evaluated
])
def test_refused_updates(root, store, unchanged, update, expected, words):
    status, _, body = _post(root, update, "application/sparql-update")
    if words == "Mouseion only" and refused_on_remote(store, status, body):
        return  # refused as a whole there, before the server sees it: same status, its own words
    assert status == expected and words in body.decode()


def test_using_parameters_and_using_clause_conflict(root, unchanged):
    update = ("WITH <http://example/addresses> DELETE { ?p <http://xmlns.com/foaf/0.1/givenName> 'Bill' } "
              "WHERE { ?p <http://xmlns.com/foaf/0.1/givenName> 'Bill' }")
    status, _, body = _post(root, update, "application/sparql-update",
                            path="sparql?using-named-graph-uri=http%3A%2F%2Fexample%2Fpeople")
    assert status == 400 and b"USING" in body


def test_service_in_a_query_is_refused(root, unchanged):
    query = "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"
    status, _, body = call("GET", f"{root}sparql?query={q(query)}")
    assert status == 400 and b"SERVICE" in body


def test_query_past_the_time_limit_is_503(root, unchanged):
    """On a remote store the limit is the client's deadline: the answer comes on time, while the server
    may go on evaluating (sparql/executor_remote.py)."""
    digits = " ".join(str(i) for i in range(10))
    query = "SELECT (COUNT(*) AS ?n) WHERE { " + " ".join(f"VALUES ?{v} {{ {digits} }}" for v in "abcdefghi") + " }"
    started = time.monotonic()
    status, _, body = call("GET", f"{root}sparql?query={q(query)}")
    assert status == 503 and b"time limit" in body
    assert time.monotonic() - started < 15


# ------------------------------------------------------------------------------------ CORS, descriptions


def test_cors_headers_and_preflight(root):
    for path in ("sparql?query=ASK%20%7B%7D", ".well-known/void"):
        status, headers, _ = call("GET", root + path, headers={"Origin": "https://yasgui.example"})
        assert status == 200 and headers["access-control-allow-origin"] == "*"
    status, headers, _ = call("POST", f"{root}sparql", b"ASK {}", {"Content-Type": "application/sparql-query",
                                                                  "Origin": "https://yasgui.example"})
    assert status == 200 and headers["access-control-allow-origin"] == "*"
    for path in ("sparql", ".well-known/void"):
        status, headers, body = call("OPTIONS", root + path, headers={
            "Origin": "https://yasgui.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization"})
        assert status == 204 and not body
        assert headers["access-control-allow-origin"] == "*"
        assert "GET" in headers["access-control-allow-methods"]
        assert {"content-type", "authorization", "accept"} <= {
            h.strip().lower() for h in headers["access-control-allow-headers"].split(",")}
    assert "POST" in call("OPTIONS", f"{root}sparql")[1]["access-control-allow-methods"]
    # errors carry CORS too, or a browser client could not read why
    assert call("GET", f"{root}sparql?query=ASK%20%7B")[1]["access-control-allow-origin"] == "*"


SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")


@pytest.mark.parametrize("accept, rdflib_format", [
    ("text/turtle", "turtle"), ("application/ld+json", "json-ld"), ("application/rdf+xml", "xml"), (None, "turtle"),
])
def test_service_description(root, accept, rdflib_format):
    status, headers, body = call("GET", f"{root}sparql", headers={"Accept": accept} if accept else {})
    assert status == 200
    graph = rdflib.Graph().parse(data=body, format=rdflib_format)
    endpoint = rdflib.URIRef(f"{root}sparql")
    assert (endpoint, SD.endpoint, endpoint) in graph
    assert set(graph.objects(None, SD.endpoint)) == {endpoint}
    assert set(graph.objects(endpoint, SD.supportedLanguage)) == {SD.SPARQL11Query, SD.SPARQL11Update}
    assert (endpoint, SD.feature, SD.UnionDefaultGraph) in graph
    formats = {str(o).rsplit("/", 1)[-1] for o in graph.objects(endpoint, SD.resultFormat)}
    assert {"SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV", "Turtle",
            "N-Triples", "RDF_XML", "JSON-LD"} <= formats
    assert graph.value(endpoint, rdflib.URIRef("https://w3id.org/mouseion/ns#rowCap")).toPython() == 100
    dataset = graph.value(endpoint, SD.defaultDataset)
    assert graph.value(dataset, SD.defaultGraph) is not None


def test_browsers_get_the_query_page(root):
    status, headers, body = call("GET", f"{root}sparql", headers={
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"<form" in body or b"<textarea" in body


def _void(root: str, accept: str = "text/turtle", rdflib_format: str = "turtle") -> tuple[rdflib.Graph, rdflib.URIRef]:
    status, _, body = call("GET", f"{root}.well-known/void", headers={"Accept": accept})
    assert status == 200
    graph = rdflib.Graph().parse(data=body, format=rdflib_format)
    return graph, next(graph.subjects(VOID.sparqlEndpoint, None))


def test_void_statistics_match_the_store(root, store):
    graph, dataset = _void(root)
    number = lambda p, s=dataset: graph.value(s, p).toPython()  # noqa: E731
    assert graph.value(dataset, VOID.sparqlEndpoint) == rdflib.URIRef(f"{root}sparql")
    assert number(VOID.triples) == store.backend.count()
    subjects = {r["s"] for r in store.query("SELECT DISTINCT ?s { ?s ?p ?o }")}
    assert number(VOID.entities) == number(VOID.distinctSubjects) == len(subjects)
    properties = {}
    for part in graph.objects(dataset, VOID.propertyPartition):
        properties[str(graph.value(part, VOID.property))] = number(VOID.triples, part)
    assert sum(properties.values()) == store.backend.count() and number(VOID.properties) == len(properties)
    classes = {str(graph.value(part, VOID["class"])): number(VOID.entities, part)
               for part in graph.objects(dataset, VOID.classPartition)}
    objects = "http://www.cidoc-crm.org/cidoc-crm/E22_Human-Made_Object"
    assert classes[objects] == len({r["o"] for r in store.query(f"SELECT ?o {{ ?o a <{objects}> }}")})
    assert number(VOID.classes) == len(classes)
    links = {str(graph.value(graph.value(ls, VOID.objectsTarget), VOID.uriSpace)): number(VOID.triples, ls)
             for ls in graph.subjects(rdflib.RDF.type, VOID.Linkset)}
    aat = sum(1 for quad in store.backend.quads() if isinstance(quad.object, ox.NamedNode)
              and quad.object.value.startswith("http://vocab.getty.edu/aat/")
              and not quad.subject.value.startswith("http://vocab.getty.edu/aat/"))
    assert aat > 0 and links["http://vocab.getty.edu/aat/"] == aat
    assert all((dataset, VOID.subset, ls) in graph for ls in graph.subjects(rdflib.RDF.type, VOID.Linkset))
    licences = {str(graph.value(s, rdflib.DCTERMS.license)): number(VOID.entities, s)
                for s in graph.objects(dataset, VOID.subset) if graph.value(s, rdflib.DCTERMS.license)}
    rights = {}
    for row in store.query("SELECT ?r (COUNT(DISTINCT ?s) AS ?n) { ?s edm:rights ?r } GROUP BY ?r"):
        rights[row["r"].value] = int(row["n"].value)
    assert rights and licences == rights  # the test data declares rights with edm:rights only
    examples = list(graph.objects(dataset, VOID.exampleResource))
    assert examples and all(bool(store.query(f"ASK {{ <{e}> ?p ?o }}")) for e in examples)
    assert graph.value(dataset, VOID.dataDump) is not None


def test_void_follows_writes_and_negotiates(root, store):
    graph, dataset = _void(root, "application/ld+json", "json-ld")
    before = graph.value(dataset, VOID.triples).toPython()
    update = "INSERT DATA { GRAPH <http://example.org/void/g> { <http://example.org/void/a> <http://example.org/p> 1, 2 } }"
    assert _post(root, update, "application/sparql-update")[0] == 200
    graph, dataset = _void(root, "application/rdf+xml", "xml")
    assert graph.value(dataset, VOID.triples).toPython() == before + 2 == store.backend.count()
