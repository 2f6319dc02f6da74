"""One store for the page tests: the bundled Tate sample, Europeana EDM records with foreign URIs, a
record whose literals are HTML, and an enrichment run graph written exactly as the common layout says
(DESIGN.md "Machine-made statements"); served by waitress on loopback, as `mouseion serve` does.

Loaded once per session (validation off: the SHACL gate has its own tests, and pages read whatever the
store holds).
"""

from __future__ import annotations

import hashlib
import http.client
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.servers import serving_app
from pyoxigraph import Literal, NamedNode, Triple

from kg.ingest import load
from kg.readers.mapped import sample_mapping_path
from kg.record import Origin, Record
from kg.settings import Settings
from kg.store import Store
from ontology.namespaces import CRM, MOU, PROV, RDF, RDFS, XSD

BASE = "http://localhost:8000/"
OBJECT = f"{BASE}id/object/tate-A00001"
MAKER = f"{BASE}id/person/tate-38"
HOSTILE = f"{BASE}id/object/evil-1"
HOSTILE_TITLE = "<script>alert('pwned')</script> & </script><b>bold</b>"
EUROPEANA = "http://data.europeana.eu/item/90402/BK_1978_399"
RUN_ID = "clip-tagging-test-1"

#: (predicate, object, state, confidence, evidence) of the suggestions the run makes about OBJECT
SUGGESTIONS = [
    (CRM.P62_depicts, NamedNode(f"{BASE}id/concept/tate-subject-91"), "pending", "0.83",
     "The image is close to the text 'a horse' (CLIP similarity 0.31)."),
    (CRM.P2_has_type, NamedNode(f"{BASE}id/concept/tate-classification-painting"), "accepted", "0.91",
     "Brush strokes and canvas texture."),
    (CRM.P62_depicts, NamedNode(f"{BASE}id/concept/tate-subject-1050"), "rejected", "0.42",
     "REJECTED-EVIDENCE: looked like a dog."),
]


def run_graph_triples(store: Store) -> list[Triple]:
    """The run graph of one CLIP-tagging run, as common.md lays it out."""
    run = NamedNode(f"{BASE}id/run/{RUN_ID}")
    agent = NamedNode(f"{BASE}id/agent/clip-tagging-1.0")
    graph = store.uris.run_graph(RUN_ID)
    subject = NamedNode(OBJECT)
    triples = [
        Triple(graph, PROV.wasGeneratedBy, run),
        Triple(run, RDF.type, PROV.Activity), Triple(run, PROV.wasAssociatedWith, agent),
        Triple(run, PROV.startedAtTime, Literal("2026-11-23T05:00:00Z", datatype=XSD.dateTime)),
        Triple(run, PROV.endedAtTime, Literal("2026-11-23T05:01:00Z", datatype=XSD.dateTime)),
        Triple(run, MOU.job, Literal("clip-tagging")), Triple(run, MOU.parameters, Literal('{"top_k":3}')),
        Triple(run, PROV.used, store.uris.record_graph("tate/A00001")),
        Triple(agent, RDF.type, PROV.SoftwareAgent),
        Triple(agent, RDFS.label, Literal("clip-tagging 1.0 (ViT-B-32)")),
        Triple(agent, MOU.model, Literal("ViT-B-32")),
        Triple(agent, MOU.weightsChecksum, Literal("sha256:" + "0" * 64)),
        Triple(agent, MOU.version, Literal("1.0")),
    ]
    for predicate, obj, state, confidence, evidence in SUGGESTIONS:
        digest = hashlib.sha1(f"{RUN_ID}{subject.value}{predicate.value}{obj.value}".encode()).hexdigest()
        a = NamedNode(f"{BASE}id/assignment/{digest}")
        triples += [
            Triple(subject, predicate, obj),
            Triple(a, RDF.type, CRM.E13_Attribute_Assignment), Triple(a, CRM.P140_assigned_attribute_to, subject),
            Triple(a, CRM.P177_assigned_property_of_type, predicate), Triple(a, CRM.P141_assigned, obj),
            Triple(a, CRM.P14_carried_out_by, agent), Triple(a, PROV.wasGeneratedBy, run),
            Triple(a, MOU.confidence, Literal(confidence, datatype=XSD.decimal)),
            Triple(a, MOU.evidence, Literal(evidence, language="en")),
            Triple(a, MOU.reviewState, MOU[state]),
        ]
    return triples


def hostile_record(store: Store) -> Record:
    obj = NamedNode(HOSTILE)
    production = NamedNode(HOSTILE + "#production")
    triples = [
        Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]),
        Triple(obj, RDFS.label, Literal(HOSTILE_TITLE)),
        Triple(obj, CRM.P3_has_note, Literal('"><img src=x onerror=alert(1)>')),
        Triple(obj, CRM.P108i_was_produced_by, production),
        Triple(production, RDF.type, CRM.E12_Production),
        Triple(production, CRM.P14_carried_out_by, NamedNode(MAKER)),
    ]
    return Record("evil/1", "evil", triples, Origin("hostile.ttl"), focus=obj)


def build_store(folder: Path, data_dir: Path) -> Store:
    store = Store.open(folder / "store", BASE)
    settings = Settings.from_env({}, base_uri=BASE, validate=False)
    edm = data_dir / "europeana-edm" / "records" / "metis-misc"
    report = load(store, [str(sample_mapping_path()), str(edm / "europeana_oai_getRecord_rijksmuseum_90402_BK_1978_399.xml"),
                          str(edm / "entity-agent.xml")], settings)
    assert report.loaded >= 1505 + 3532 + 1, report.summary()
    store.commit([hostile_record(store)])
    store.write(graphs={store.uris.run_graph(RUN_ID): run_graph_triples(store)})
    return store


@dataclass
class Site:
    store: Store
    root: str  # http://127.0.0.1:port (no trailing slash)

    def get(self, path: str, headers: dict | None = None, method: str = "GET") -> "Answer":
        """One request, redirects not followed."""
        parts = urllib.parse.urlsplit(self.root)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def serve(store: Store) -> Iterator[str]:
    with serving_app(store, Settings.from_env({}, base_uri=BASE, query_workers=1)) as root:
        yield root


@pytest.fixture(scope="session")
def site(tmp_path_factory, data_dir) -> Iterator[Site]:
    store = build_store(tmp_path_factory.mktemp("pages"), data_dir)
    for root in serve(store):
        yield Site(store, root)
