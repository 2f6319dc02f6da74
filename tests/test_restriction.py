"""Restricted records: kept in the vault, absent from every public read, a deletion to harvesters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from SPARQLWrapper import JSON, SPARQLWrapper

from kg.errors import NotFound, StoreError
from kg.ingest import load
from kg.settings import Settings
from kg.store import Store
from tests.servers import oxigraph_server
from tests.sparql_fixtures import BASE, real_store
from tests.test_sparql_protocol import running

ROOT = Path(__file__).resolve().parents[1]
EDM_RECORD = "europeana-edm/records/metis-validation/Item_35834473_test.xml"


def mentions(store: Store, key: str) -> int:
    """Statements anywhere in the public store about the record's resources, or in its graphs."""
    focus = store.uris.record_graph(key)
    return len(list(store.query(f"SELECT * WHERE {{ GRAPH <{focus.value}> {{ ?s ?p ?o }} }}", union=False)))


@pytest.fixture()
def store(tmp_path, data_dir):
    store = real_store(tmp_path, data_dir)
    yield store
    store.close()


def edm_key(store: Store) -> str:
    return next(s.key for s in store.changes() if s.key.startswith("metis-validation/"))


def test_restricted_record_leaves_public_store_and_is_a_deletion_to_harvesters(store, tmp_path):
    key = edm_key(store)
    subjects = {t.subject for t in store.record_triples(key)}
    before = store.record_states([key])[key]

    assert [o.status for o in store.restrict([key], reason="rights holder's request", by="curator")] == ["restricted"]

    with pytest.raises(NotFound):
        store.record_triples(key)
    assert mentions(store, key) == 0
    assert not store.backend.contains_graph(store.uris.inferred_graph(key))
    for subject in subjects:
        assert not list(store.backend.quads(subject, None, None, None)), f"{subject} still described in public"
    state = store.record_states([key])[key]
    assert state.deleted and state.created == before.created
    assert [s.key for s in store.changes() if s.deleted] == [key]
    held = store.restrictions()[key]
    assert (held.reason, held.by) == ("rights holder's request", "curator")


def test_restricted_record_never_reaches_the_sparql_endpoint(store):
    key = edm_key(store)
    cho = {t.subject.value for t in store.record_triples(key) if "ProvidedCHO" in t.object.value}.pop()
    store.restrict([key], reason="community request", by="curator")
    with running(store) as root:
        client = SPARQLWrapper(f"{root}sparql")
        client.setReturnFormat(JSON)
        client.setQuery(f"SELECT (COUNT(*) AS ?n) WHERE {{ {{ <{cho}> ?p ?o }} UNION {{ GRAPH ?g {{ <{cho}> ?p ?o }} }} }}")
        assert client.query().convert()["results"]["bindings"][0]["n"]["value"] == "0"


def test_reloading_a_restricted_record_keeps_it_restricted(store, data_dir):
    key = edm_key(store)
    store.restrict([key], reason="community request", by="curator")
    report = load(store, [str(data_dir / EDM_RECORD)], Settings.from_env({}, base_uri=BASE))
    assert (report.restricted, report.created, report.modified) == (1, 0, 0)
    assert mentions(store, key) == 0
    assert key in store.restrictions()


def test_release_publishes_the_record_again_with_a_new_datestamp(store):
    key = edm_key(store)
    triples = set(store.record_triples(key))
    created = store.record_states([key])[key].created
    store.restrict([key], reason="embargo", by="curator", now="2030-01-01T00:00:00Z")
    store.release([key], now="2030-02-01T00:00:00Z")
    assert set(store.record_triples(key)) == triples
    state = store.record_states([key])[key]
    assert not state.deleted and state.created == created and state.modified == "2030-02-01T00:00:00Z"
    assert store.restrictions() == {}
    with pytest.raises(NotFound):
        store.release([key])


def test_restrictions_survive_reopening_and_an_interrupted_move_is_completed(tmp_path, data_dir):
    store = real_store(tmp_path, data_dir)
    key = edm_key(store)
    record = store._stored_record(key, store.record_states([key])[key])
    # a crash after the vault took the record but before the public store dropped it
    vault = store._open_vault(create=True)
    vault.hold(record, reason="community request", by="curator", now="2030-01-01T00:00:00Z",
               created="2030-01-01T00:00:00Z")
    del vault
    store.close()

    store = Store.open(tmp_path / "store", BASE)
    assert store.record_states([key])[key].deleted
    assert mentions(store, key) == 0 and key in store.restrictions()
    store.close()


def test_unknown_or_deleted_keys_are_refused_and_nothing_changes(store):
    before = sorted(str(q) for q in store.backend.quads())
    with pytest.raises(NotFound, match="no live record nope"):
        store.restrict(["nope"], reason="x", by="y")
    assert sorted(str(q) for q in store.backend.quads()) == before
    assert store.restrictions() == {}


def test_a_store_on_a_sparql_server_refuses_restriction(tmp_path, data_dir):
    with oxigraph_server(tmp_path / "server") as url:
        store = Store.connect(f"{url}/query", BASE, update_url=f"{url}/update")
        load(store, [str(data_dir / EDM_RECORD)], Settings.from_env({}, base_uri=BASE))
        key = next(s.key for s in store.changes())
        with pytest.raises(StoreError, match="embedded store"):
            store.restrict([key], reason="x", by="y")
        assert not store.record_states([key])[key].deleted


def test_cli_restrict_list_release(store, tmp_path):
    key = edm_key(store)
    store.close()

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "web.cli", *args, "--store", str(tmp_path / "store"),
                               "--base-uri", BASE], cwd=ROOT, capture_output=True, text=True)

    assert cli("restrict", key, "--reason", "sacred object", "--by", "keeper").returncode == 0
    listed = cli("restricted")
    assert key in listed.stdout and "sacred object" in listed.stdout and "keeper" in listed.stdout
    missing = cli("release", "no-such-key")
    assert missing.returncode == 2 and "no restricted record no-such-key" in missing.stderr
    assert cli("release", key).returncode == 0
    assert cli("restricted").stdout == ""


def test_a_restricted_record_is_gone_from_every_public_route(tmp_path, data_dir):
    """Harvesters are told it is deleted; its page, data, search hits and dump lines are gone."""
    import gzip
    import json
    import urllib.error
    import urllib.request

    from sickle import Sickle

    from tests.oai_fixtures import harvest_store
    from tests.test_oai_harvest import headers, wait_for_next_second
    store = harvest_store(tmp_path, data_dir, artworks=5, edm=False)
    key = "tate/A00001"
    cho = next(t.subject.value for t in store.record_triples(key) if t.subject.value.endswith("/id/object/tate-A00001"))
    title = next(t.object.value for t in store.record_triples(key)
                 if t.subject.value == cho and t.predicate.value.endswith("#label"))
    with running(store) as root:
        client = Sickle(f"{root}oai", max_retries=0)
        listed = headers(client.ListIdentifiers(metadataPrefix="edm"))
        assert [deleted for identifier, deleted in listed if identifier.endswith(":" + key)] == [False]
        before = store.record_states([key])[key].modified
        wait_for_next_second(before)
        store.restrict([key], reason="community request", by="curator")
        wait_for_next_second(store.record_states([key])[key].modified)

        announced = dict(headers(client.ListIdentifiers(metadataPrefix="edm")))
        assert [deleted for identifier, deleted in announced.items() if identifier.endswith(":" + key)] == [True]
        for path in ("page/object/tate-A00001", "data/object/tate-A00001.ttl"):
            with pytest.raises(urllib.error.HTTPError) as error:
                urllib.request.urlopen(root + path)
            assert error.value.code == 404, path
        with urllib.request.urlopen(f"{root}api/search?q={urllib.parse.quote(title)}") as response:
            assert cho not in [hit["uri"] for hit in json.load(response)["hits"]]
        with urllib.request.urlopen(f"{root}dumps/tate.nq.gz") as response:
            dump = gzip.decompress(response.read()).decode()
        assert dump and cho not in dump
