"""The stores the SPARQL endpoint tests run on: each test runs twice, once on the embedded store and once
on a store kept by a real SPARQL 1.1 server (`oxigraph serve --union-default-graph`, started on
loopback by ``tests.servers``), each holding the same real records.

Where the remote store behaves otherwise by design, the test asserts the remote behaviour (never a
silent skip):

- SPARQL Update through the endpoint is forwarded only when it provably stays off Mouseion's graphs
  (``kg.writes._forward_update``); one that names a record graph, the change log, a graph variable or
  ALL / NAMED / WITH / USING is refused whole with 403 (:func:`refused_on_remote`);
- time limits are the client's deadline: the endpoint answers 503 on time, the server may go on
  evaluating (``sparql.executor_remote``).
"""

from __future__ import annotations

import contextlib
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterator

import pyoxigraph as ox

from kg.backends import RemoteBackend
from kg.ingest import load
from kg.settings import Settings
from kg.store import Store
from tests.servers import oxigraph_server

BASE = "http://localhost:8000/"
BACKENDS = ["embedded", "oxigraph-server"]
#: what kg.writes says when it refuses an update on a remote store
REMOTE_REFUSAL = b"on a remote store, SPARQL Update may only write graphs outside"


def load_real_data(store: Store, data_dir: Path) -> Store:
    """Ten Linked Art objects and one Europeana EDM record, all through the SHACL gate."""
    paths = sorted((data_dir / "linked-art/shacl-validator/la_examples").glob("object.*.json"))[:10]
    paths.append(data_dir / "europeana-edm/records/metis-validation/Item_35834473_test.xml")
    report = load(store, [str(p) for p in paths], Settings.from_env({}, base_uri=BASE))
    assert report.loaded == 11 and not report.rejected
    return store


def real_store(folder: Path, data_dir: Path) -> Store:
    """An embedded store of real records."""
    return load_real_data(Store.open(folder / "store", BASE), data_dir)


@contextlib.contextmanager
def real_store_on(backend: str, folder: Path, data_dir: Path) -> Iterator[Store]:
    """A store of real records on ``backend`` (one of BACKENDS); the server lives as long as the context."""
    if backend == "embedded":
        store = real_store(folder, data_dir)
        yield store
        store.close()
        return
    with oxigraph_server(folder / "server") as url:
        yield load_real_data(Store.connect(f"{url}/query", BASE, update_url=f"{url}/update"), data_dir)


def is_remote(store: Store) -> bool:
    return isinstance(store.backend, RemoteBackend)


def snapshot(store: Store) -> set[bytes]:
    """Every quad of the store (change log included), to prove a refused request changed nothing."""
    if not is_remote(store):
        return set(store.oxi.dump(format=ox.RdfFormat.N_QUADS).splitlines())
    # A server with a union default graph shows its own default graph only within the union: the
    # union's triples stand in for it, beside every quad of the named graphs. Read as lines (one quad
    # or triple each), unparsed: the ontologies make this some 10⁵ lines per snapshot.
    quads = _lines(store, "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", "text/tab-separated-values")
    return quads | {b"union " + t for t in _lines(store, "CONSTRUCT WHERE { ?s ?p ?o }", "application/n-triples")}


def _lines(store: Store, query: str, media_type: str) -> set[bytes]:
    request = urllib.request.Request(store.backend.query_url, urllib.parse.urlencode({"query": query}).encode(),
                                     {"Accept": media_type, "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return set(response.read().splitlines())


def refused_on_remote(store: Store, status: int, body: bytes) -> bool:
    """On a remote store, assert that an update reaching Mouseion's graphs was refused whole (403), and
    say so; on the embedded store, False (the test goes on to check what the update did)."""
    if not is_remote(store):
        return False
    assert status == 403 and REMOTE_REFUSAL in body, (status, body)
    return True
