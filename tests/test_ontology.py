"""The ontology layer: shipped vocabularies, the owlready2-computed hierarchy, labels, type inference."""

from __future__ import annotations

import time
import urllib.request

import pytest
import rdflib
from pyoxigraph import BlankNode, Literal, NamedNode, Triple

from ontology.hierarchy import Hierarchy
from ontology.namespaces import CRM, EDM, ORE, OWL, RDF, RDFS, SKOS
from ontology.vocabularies import VOCABULARIES, vocabulary_triples

E22 = CRM["E22_Human-Made_Object"].value


def iri(node: NamedNode) -> str:
    return node.value


@pytest.fixture(scope="module")
def hierarchy() -> Hierarchy:
    return Hierarchy.load()


# --- shipped files --------------------------------------------------------------------------------

def test_vocabularies_are_listed_shipped_and_noticed():
    assert [v.name for v in VOCABULARIES] == ["crm", "edm"]
    for entry in VOCABULARIES:
        assert entry.path.is_file()
        notice = (entry.path.parent / "NOTICE.txt").read_text(encoding="utf-8")
        assert "Licence" in notice and "Source" in notice


def test_crm_file_is_the_reference_file_without_its_bom(data_dir):
    reference = (data_dir / "cidoc-crm" / "CIDOC_CRM_v7.1.3.rdf").read_bytes()
    shipped = VOCABULARIES[0].path.read_bytes()
    assert reference.startswith(b"\xef\xbb\xbf") and not shipped.startswith(b"\xef\xbb\xbf")
    assert shipped == reference[3:]


def test_vocabulary_triples_counts_and_fresh_lists():
    crm = vocabulary_triples("crm")
    assert len(crm) == 4051  # SOURCE.txt: 4051 triples
    assert len(vocabulary_triples("edm")) == 466
    crm.clear()
    assert len(vocabulary_triples("crm")) == 4051
    with pytest.raises(KeyError, match="known: crm, edm"):
        vocabulary_triples("nope")


# --- hierarchy ------------------------------------------------------------------------------------

def test_e22_superclasses(hierarchy):
    supers = hierarchy.superclasses(E22)
    assert iri(CRM.E70_Thing) in supers and iri(CRM.E1_CRM_Entity) in supers
    assert supers == {CRM[name].value for name in (
        "E24_Physical_Human-Made_Thing", "E19_Physical_Object", "E18_Physical_Thing", "E71_Human-Made_Thing",
        "E72_Legal_Object", "E70_Thing", "E77_Persistent_Item", "E1_CRM_Entity")}
    assert E22 not in supers and iri(OWL.Thing) not in supers and iri(RDFS.Resource) not in supers
    assert E22 in hierarchy.subclasses(iri(CRM.E70_Thing))


def test_person_is_an_actor(hierarchy):
    assert iri(CRM.E21_Person) in hierarchy.subclasses(iri(CRM.E39_Actor))
    assert iri(CRM.E39_Actor) in hierarchy.superclasses(iri(CRM.E21_Person))
    assert hierarchy.is_class(iri(CRM.E21_Person)) and not hierarchy.is_property(iri(CRM.E21_Person))


def test_properties(hierarchy):
    produced = iri(CRM.P108i_was_produced_by)
    assert hierarchy.is_property(produced)
    assert iri(CRM.P92i_was_brought_into_existence_by) in hierarchy.superproperties(produced)
    assert produced in hierarchy.subproperties(iri(CRM.P92i_was_brought_into_existence_by))
    # a datatype property of CRM keeps its place in the tree
    assert hierarchy.superproperties(iri(CRM.P82a_begin_of_the_begin)) == {iri(CRM.P82_at_some_time_within)}


def test_edm_is_in_the_same_hierarchy(hierarchy):
    assert hierarchy.is_class(iri(EDM.ProvidedCHO))
    assert hierarchy.superclasses(iri(EDM.EuropeanaAggregation)) >= {iri(ORE.Aggregation), iri(EDM.WebResource)}
    # edm:begin is an owl:DatatypeProperty under the object-valued edm:isRelatedTo: the edge survives
    assert hierarchy.superproperties(iri(EDM.begin)) == {iri(EDM.isRelatedTo)}
    # CRM 7.1.3 puts skos:Concept under E28, EDM under edm:NonInformationResource: both hold
    assert {iri(CRM.E28_Conceptual_Object), iri(EDM.NonInformationResource)} <= hierarchy.superclasses(iri(SKOS.Concept))


def test_inverses(hierarchy):
    assert hierarchy.inverse(iri(CRM.P108i_was_produced_by)) == iri(CRM.P108_has_produced)
    assert hierarchy.inverse(iri(CRM.P108_has_produced)) == iri(CRM.P108i_was_produced_by)
    assert hierarchy.inverse(iri(CRM.P14_carried_out_by)) == iri(CRM.P14i_performed)
    assert hierarchy.inverse(iri(CRM.P3_has_note)) is None  # literal-valued
    assert hierarchy.inverse(iri(CRM.P122_borders_with)) is None  # symmetric: no twin in CRM
    assert hierarchy.inverse("urn:unknown") is None


def test_labels(hierarchy):
    person = iri(CRM.E21_Person)
    labels = hierarchy.labels(person)
    assert labels["en"] == "Person" and labels["fr"] == "Personne" and len(labels) >= 5
    assert hierarchy.label(person) == "Person"
    assert hierarchy.label(iri(CRM.P108i_was_produced_by), "de") == "wurde hergestellt durch"
    assert hierarchy.label(iri(CRM.E53_Place), "xx") == "Place"  # falls back to English
    assert hierarchy.label(iri(EDM.ProvidedCHO)) == "Provided CHO"
    assert hierarchy.label("urn:unknown") is None and hierarchy.labels("urn:unknown") == {}


def _rdflib_closure(predicate: rdflib.URIRef, declared: set[rdflib.URIRef]) -> dict[str, set[str]]:
    """Independent check: the named-node transitive closure of ``predicate``, computed with rdflib."""
    graph = rdflib.Graph()
    for entry in VOCABULARIES:
        graph.parse(entry.path, format="xml")
    terms = set(graph.subjects(predicate)) | set(graph.objects(None, predicate))
    terms |= {s for t in declared for s in graph.subjects(rdflib.RDF.type, t)}
    terms = {t for t in terms if isinstance(t, rdflib.URIRef)}
    closure = {}
    for term in terms:
        reachable = set(graph.transitive_objects(term, predicate)) - {term}
        closure[str(term)] = {str(r) for r in reachable if isinstance(r, rdflib.URIRef)}
    return closure


def test_owlready2_hierarchy_equals_the_rdfs_closure(hierarchy):
    classes = _rdflib_closure(rdflib.RDFS.subClassOf, {rdflib.RDFS.Class, rdflib.OWL.Class})
    assert hierarchy.classes() == set(classes)
    assert {c: set(hierarchy.superclasses(c)) for c in classes} == classes
    properties = _rdflib_closure(rdflib.RDFS.subPropertyOf, {
        rdflib.RDF.Property, rdflib.OWL.ObjectProperty, rdflib.OWL.DatatypeProperty})
    assert hierarchy.properties() == set(properties)
    assert {p: set(hierarchy.superproperties(p)) for p in properties} == properties


def test_compute_is_quiet_and_offline(monkeypatch, capfd):
    def no_network(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    computed = Hierarchy.compute()
    # owlready2 prints a warning when it drops an edge it cannot type: there must be none
    assert capfd.readouterr().err == ""
    assert computed.superclasses(E22) == Hierarchy.load().superclasses(E22)


def test_load_is_cached_and_fast(capsys):
    started = time.perf_counter()
    Hierarchy.compute()
    computed_in = time.perf_counter() - started
    first = Hierarchy.load()
    started = time.perf_counter()
    again = Hierarchy.load()
    cached_in = time.perf_counter() - started
    assert again is first and cached_in < 0.001
    with capsys.disabled():
        print(f"\n[ontology] Hierarchy.compute() {computed_in:.3f} s; Hierarchy.load() again {cached_in * 1e6:.1f} µs")
    # design budget 1.5 s (above it an on-disk cache would be needed); slack for a busy CI machine
    assert computed_in < 3.0


# --- infer_types -----------------------------------------------------------------------------------

def test_infer_types_adds_superclasses_once(hierarchy):
    obj, person = NamedNode("urn:x:obj"), BlankNode("p")
    triples = [
        Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]),
        Triple(obj, RDF.type, CRM.E70_Thing),  # already asserted: not added again
        Triple(obj, RDFS.label, Literal("Vase", language="en")),
        Triple(person, RDF.type, CRM.E21_Person),
        Triple(obj, RDF.type, CRM.E19_Physical_Object),  # shares superclasses with E22: added once
    ]
    added = hierarchy.infer_types(triples)
    by_subject = {}
    for t in added:
        assert t.predicate == RDF.type
        by_subject.setdefault(t.subject, []).append(t.object.value)
    assert set(by_subject[obj]) == hierarchy.superclasses(E22) - {iri(CRM.E70_Thing), iri(CRM.E19_Physical_Object)}
    assert len(by_subject[obj]) == len(set(by_subject[obj]))
    assert set(by_subject[person]) == hierarchy.superclasses(iri(CRM.E21_Person))
    assert not set(added) & set(triples)
    assert hierarchy.infer_types(triples) == added  # deterministic


def test_infer_types_ignores_unknown_classes_and_other_predicates(hierarchy):
    thing = NamedNode("urn:x:thing")
    assert hierarchy.infer_types([
        Triple(thing, RDF.type, NamedNode("urn:x:UnknownClass")),
        Triple(thing, RDF.type, CRM.E1_CRM_Entity),  # a root: nothing above it
        Triple(thing, RDFS.subClassOf, CRM["E22_Human-Made_Object"]),
        Triple(thing, RDF.type, Literal("E22_Human-Made_Object")),
    ]) == []
    assert hierarchy.infer_types([]) == []


def test_infer_types_speed(hierarchy, capsys):
    triples = []
    for i in range(500):
        obj, prod = NamedNode(f"urn:x:o{i}"), NamedNode(f"urn:x:p{i}")
        triples += [Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]), Triple(obj, RDF.type, EDM.ProvidedCHO),
                    Triple(obj, CRM.P108i_was_produced_by, prod), Triple(prod, RDF.type, CRM.E12_Production)]
        triples += [Triple(obj, RDFS.label, Literal(f"label {k}")) for k in range(16)]
    records = [triples[i:i + 20] for i in range(0, len(triples), 20)]
    started = time.perf_counter()
    for record in records:
        hierarchy.infer_types(record)
    per_triple = (time.perf_counter() - started) / len(triples)
    with capsys.disabled():
        print(f"\n[ontology] infer_types {per_triple * 1e6:.2f} µs per input triple")
    assert per_triple < 20e-6
