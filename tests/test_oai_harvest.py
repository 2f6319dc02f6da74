"""Sickle harvests Mouseion end to end over HTTP: a full harvest, an incremental one after records are
modified and deleted, changes made during a harvest (neither lost nor duplicated), a harvest resumed
across a server restart, and EDM records harvested back with every statement they came in with."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Iterator

import pyoxigraph as ox
import pytest
from lxml import etree
from sickle import Sickle
from sickle.oaiexceptions import NoRecordsMatch

from kg.record import Origin, Record
from kg.settings import Settings
from kg.store import Store, content_hash, utc_now
from ontology.namespaces import MOU
from tests.oai_fixtures import BASE, EDM_RECORDS, harvest_store
from tests.servers import free_port, serving_app

#: each test builds a store of real records and serves it over HTTP
pytestmark = pytest.mark.slow

PAGE = 7


@contextlib.contextmanager
def serving(store: Store, port: int, **settings) -> Iterator[str]:
    """The application on a loopback port, with a small OAI-PMH page size so that harvests take several pages."""
    settings = Settings.from_env({}, base_uri=BASE, query_workers=1, oai_page_size=PAGE, **settings)
    with serving_app(store, settings, port=port, threads=4) as root:
        yield root + "/oai"


@pytest.fixture()
def folder(tmp_path_factory, data_dir) -> Path:
    """A fresh store of real records per test (the tests modify and delete)."""
    folder = tmp_path_factory.mktemp("harvest")
    harvest_store(folder, data_dir, artworks=20).close()
    return folder


def open_store(folder: Path) -> Store:
    return Store.open(folder / "store", BASE)


def headers(records) -> list[tuple[str, bool]]:
    found = []
    for item in records:
        header = getattr(item, "header", item)        # ListRecords yields records, ListIdentifiers headers
        found.append((header.identifier, header.deleted))
    return found


def wait_for_next_second(stamp: str) -> None:
    """Datestamps have seconds granularity: wait (polling the clock, with a deadline) until it has moved on."""
    deadline = time.monotonic() + 5
    while utc_now() <= stamp:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def retitle(store: Store, key: str, title: str) -> str:
    """Write a new version of a record (its title, label and name, changed); returns the new datestamp."""
    label = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
    triples = store.record_triples(key)
    cho, old = next((t.subject, t.object) for t in triples if t.predicate == label and "#" not in t.subject.value)
    triples = [ox.Triple(t.subject, t.predicate, ox.Literal(title) if t.object == old else t.object) for t in triples]
    state = store.record_states([key])[key]
    [outcome] = store.commit([Record(key, state.dataset, triples, Origin("test"), format="tate", focus=cho)])
    assert outcome.status == "modified"
    return store.record_states([key])[key].modified


def test_full_then_incremental_harvest_with_modifications_and_deletions(folder):
    store = open_store(folder)
    with serving(store, free_port()) as url:
        client = Sickle(url, max_retries=0)
        first = client.ListRecords(metadataPrefix="edm")
        full = headers(first)
        started = first.oai_response.xml.findtext("{http://www.openarchives.org/OAI/2.0/}responseDate")
        assert len(full) == len(set(full)) == 29 and not any(deleted for _, deleted in full)
        wait_for_next_second(started)
        retitled = retitle(store, "tate/A00001", "A new title")
        store.delete(["tate/A00047"])
        wait_for_next_second(max(retitled, utc_now()))
        changed = client.ListRecords(metadataPrefix="edm", **{"from": started})
        records = list(changed)
        assert headers(records) == [("oai:localhost:tate/A00001", False), ("oai:localhost:tate/A00047", True)]
        assert "A new title" in records[0].raw
        # deletions are announced for ever, in full harvests too
        again = headers(client.ListIdentifiers(metadataPrefix="edm"))
        assert ("oai:localhost:tate/A00047", True) in again and len(again) == 29
        # and in the record's dataset set
        assert ("oai:localhost:tate/A00047", True) in headers(
            client.ListIdentifiers(metadataPrefix="oai_dc", set="dataset:tate"))
        with pytest.raises(NoRecordsMatch):
            list(client.ListRecords(metadataPrefix="edm", **{"from": utc_now()[:10] + "T23:59:59Z"}))


def test_changes_during_a_harvest_are_neither_lost_nor_duplicated(folder):
    """The guarantee of docs/harvesting.md: a harvest lists each record at most once; records not changed
    during it are all listed; changed ones are listed once or left to the next incremental harvest."""
    store = open_store(folder)
    with serving(store, free_port()) as url:
        client = Sickle(url, max_retries=0)
        pages = client.ListIdentifiers(metadataPrefix="edm")
        started = pages.oai_response.xml.findtext("{http://www.openarchives.org/OAI/2.0/}responseDate")
        seen = [next(pages).identifier for _ in range(PAGE)]      # the first page
        everything = sorted(f"oai:localhost:{s.key}" for s in store.changes() if s.key.startswith(("tate/A",
                                                                                                   "europeana/")))
        later = [i for i in everything if i not in seen and ":tate/" in i]
        wait_for_next_second(started)
        # change one record already listed, one not yet listed, and delete one not yet listed
        retitle(store, seen[0].split(":", 2)[2], "changed after listing")
        retitle(store, later[0].split(":", 2)[2], "changed before listing")
        store.delete([later[1].split(":", 2)[2]])
        seen += [h.identifier for h in pages]
        assert len(seen) == len(set(seen)), "a record was listed twice"
        unchanged = set(everything) - {seen[0], later[0], later[1]}
        harvestable = set(h.identifier for h in client.ListIdentifiers(metadataPrefix="edm", until=started))
        assert unchanged & harvestable <= set(seen), "an unchanged record was lost"
        assert later[0] not in seen and later[1] not in seen
        wait_for_next_second(utc_now())
        incremental = headers(client.ListIdentifiers(metadataPrefix="edm", **{"from": started}))
        assert sorted(incremental) == sorted([(seen[0], False), (later[0], False), (later[1], True)])


def test_harvest_resumes_across_a_server_restart(folder):
    store = open_store(folder)
    with serving(store, free_port()) as url:
        pages = Sickle(url, max_retries=0).ListIdentifiers(metadataPrefix="edm")
        before = [next(pages).identifier for _ in range(PAGE)]
        token = pages.resumption_token
        assert token.cursor == "0" and token.complete_list_size == "29" and token.expiration_date
    store.close()
    store = open_store(folder)                                  # a new process would do exactly this
    with serving(store, free_port()) as url:  # a fresh port: the old one may linger in TIME_WAIT
        client = Sickle(url, max_retries=0)
        after = [h.identifier for h in client.ListIdentifiers(resumptionToken=token.token)]
        whole = [h.identifier for h in client.ListIdentifiers(metadataPrefix="edm")]
    assert before + after == whole and len(whole) == 29


def test_harvest_by_post(folder):
    store = open_store(folder)
    with serving(store, free_port()) as url:
        client = Sickle(url, http_method="POST", max_retries=0)
        assert len(list(client.ListRecords(metadataPrefix="oai_dc", set="dataset:tate"))) == 20


def test_europeana_records_come_back_with_every_statement(folder):
    """Harvested as edm, each Europeana record holds exactly the statements it was stored with (blank
    nodes compared by canonical form): the content hashes of the harvested and the stored RDF are equal.
    Where the input parses as plain RDF/XML (no repairs by the reader), its statements are all there too."""
    store = open_store(folder)
    with serving(store, free_port()) as url:
        records = list(Sickle(url, max_retries=0).ListRecords(metadataPrefix="edm", set="dataset:europeana"))
    assert len(records) == len(EDM_RECORDS)

    for record in records:
        key = record.header.identifier.split(":", 2)[2]
        metadata = record.xml.find(".//{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF")
        harvested = list(ox.parse(etree.tostring(metadata), format=ox.RdfFormat.RDF_XML))
        assert content_hash(harvested) == content_hash(store.record_triples(key)), key
        [source] = [q.object.value for q in store.backend.quads(store.uris.record_graph(key), MOU.source, None,
                                                                store.uris.meta_graph)]
        try:
            original = list(ox.parse(Path(source.split(":")[0]).read_bytes(), format=ox.RdfFormat.RDF_XML,
                                     base_iri=f"{BASE}source/europeana/"))
        except SyntaxError:
            continue  # the reader repaired this file (a warning on the record says how)
        if BASE in " ".join(str(t) for t in original):
            continue  # relative IRIs: the reader resolves them by its own documented rule
        plain = {t for t in original if not isinstance(t.subject, ox.BlankNode) and not isinstance(t.object, ox.BlankNode)}
        assert {str(t) for t in plain} <= {str(t) for t in harvested}, key

