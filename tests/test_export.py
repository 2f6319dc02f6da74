"""Bulk export: `mouseion export edm` (zip and folder), per-dataset N-Quads dumps under /dumps/, and the
policy for machine suggestions (accepted only, by default) in EDM and dumps."""

from __future__ import annotations

import gzip
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pyoxigraph as ox
import pytest
from lxml import etree

from kg.edm_out import record_document
from kg.store import Store
from ontology.namespaces import CRM, DC, MOU, PROV, RDF
from tests.oai_fixtures import BASE, harvest_store
from tests.test_sparql_protocol import running

#: each test builds a store of real records and serves it over HTTP
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
OBJECT = ox.NamedNode(f"{BASE}id/object/tate-A00001")


def suggest(store: Store, run_id: str, value: str, state: str) -> None:
    """A machine suggestion in the layout every enrichment job writes (notes: run graph + E13 assignment)."""
    graph = store.uris.run_graph(run_id)
    run = ox.NamedNode(f"{BASE}id/run/{run_id}")
    assignment = ox.NamedNode(f"{BASE}id/assignment/{run_id}")
    subject = ox.Literal(value)
    triples = [ox.Triple(graph, PROV.wasGeneratedBy, run), ox.Triple(run, RDF.type, PROV.Activity),
               ox.Triple(OBJECT, DC.subject, subject),
               ox.Triple(assignment, RDF.type, CRM.E13_Attribute_Assignment),
               ox.Triple(assignment, CRM.P140_assigned_attribute_to, OBJECT),
               ox.Triple(assignment, CRM.P177_assigned_property_of_type, DC.subject),
               ox.Triple(assignment, CRM.P141_assigned, subject),
               ox.Triple(assignment, MOU.reviewState, MOU[state])]
    store.write(graphs={graph: triples})


@pytest.fixture(scope="module")
def folder(tmp_path_factory, data_dir) -> Path:
    folder = tmp_path_factory.mktemp("export")
    store = harvest_store(folder, data_dir, artworks=10)
    suggest(store, "clip-1", "machine says: accepted", "accepted")
    suggest(store, "clip-2", "machine says: rejected", "rejected")
    suggest(store, "clip-3", "machine says: pending", "pending")
    store.close()
    return folder


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "web.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("target", ["edm.zip", "edm-folder"])
def test_export_writes_one_valid_edm_file_per_record(folder, tmp_path, data_dir, target):
    out = tmp_path / target
    done = cli("export", "edm", str(out), "--store", str(folder / "store"), "--base-uri", BASE, "--dataset", "tate")
    assert done.returncode == 0, done.stderr
    assert "10 EDM records" in done.stdout
    if target.endswith(".zip"):
        with zipfile.ZipFile(out) as archive:
            files = {name: archive.read(name) for name in archive.namelist()}
    else:
        files = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(files) == 10 and "tate%2FA00001.xml" in files
    edm = etree.XMLSchema(etree.parse(str(data_dir / "europeana-edm/xsd/EDM.xsd")))
    for name, body in files.items():
        assert edm.validate(etree.fromstring(body)), (name, edm.error_log)
    # accepted suggestions only
    assert b"machine says: accepted" in files["tate%2FA00001.xml"]
    assert b"rejected" not in files["tate%2FA00001.xml"] and b"pending" not in files["tate%2FA00001.xml"]


def test_export_of_an_unknown_command_format_is_a_usage_error(folder, tmp_path):
    assert cli("export", "marc", str(tmp_path / "x"), "--store", str(folder / "store")).returncode == 2


def test_suggestion_policies(folder):
    store = Store.open(folder / "store", BASE)
    try:
        def text(policy):
            return etree.tostring(record_document(store, "tate/A00001", native=False, suggestions=policy))
        assert b"accepted" in text("accepted") and b"pending" not in text("accepted")
        assert b"pending" in text("pending") and b"machine says: rejected" not in text("pending")
        assert b"machine says" not in text("none")
        with pytest.raises(ValueError):
            text("everything")
    finally:
        store.close()


def test_dumps_per_dataset(folder):
    store = Store.open(folder / "store", BASE)
    try:
        with running(store) as root:
            with urllib.request.urlopen(f"{root}dumps/", timeout=60) as response:
                listing = __import__("json").loads(response.read())
            assert {d["dataset"] for d in listing["dumps"]} == {"tate", "tate-artists", "europeana"}
            with urllib.request.urlopen(f"{root}dumps/tate.nq.gz", timeout=120) as response:
                assert response.headers["Content-Type"] == "application/gzip"
                quads = list(ox.parse(gzip.decompress(response.read()), format=ox.RdfFormat.N_QUADS))
            with pytest.raises(urllib.error.HTTPError) as missing:
                urllib.request.urlopen(f"{root}dumps/nowhere.nq.gz", timeout=30)
            assert missing.value.code == 404
        graphs = {q.graph_name.value for q in quads}
        records = {g for g in graphs if "/graph/record/" in g}
        assert records == {store.uris.record_graph(s.key).value for s in store.changes(dataset="tate")}
        assert all("/graph/record/tate/" in g or "/graph/run/" in g for g in graphs)
        expected = sum(len(store.record_triples(s.key)) for s in store.changes(dataset="tate"))
        suggested = [q for q in quads if q.predicate == DC.subject and "machine says" in q.object.value]
        assert [q.object.value for q in suggested] == ["machine says: accepted"]
        assert suggested[0].graph_name == store.uris.run_graph("clip-1")
        assert len(quads) == expected + 1
    finally:
        store.close()
