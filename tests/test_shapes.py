"""The SHACL gate (shapes/) on real records: Europeana's EDM test records, Linked Art's examples and
fixtures, and Tate-like CRM + EDM records built from the Tate collection sample.

EDM rules (../shared/data/europeana-edm/xsd/schematron/RULES.md) are each tested on a real record with
the offending statement removed or changed. Run ``pytest -s -k throughput`` to see records/s.
"""

from __future__ import annotations

import json
import re
import time
import zipfile
from collections import Counter
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from pyoxigraph import BlankNode, Literal, NamedNode, Triple

from ontology.namespaces import AAT, CRM, DC, DCTERMS, EDM, ORE, RDF, RDFS, XSD
from shapes.gate import DEFAULT_BATCH_SIZE, Finding, Gate, format_report
from shapes.planning import plan_batches

BASE = "http://localhost:8000/"


@pytest.fixture(scope="module")
def gate() -> Gate:
    return Gate.default()


def violations(findings) -> list[Finding]:
    return [f for f in findings if f.is_violation]


def rules(findings, severity: str = "Violation") -> set[str]:
    return {f.rule for f in findings if f.severity == severity}


# -- loading the reference data ------------------------------------------------------------------

_IRI_ATTRIBUTE = re.compile(r'(rdf:(?:about|resource)=")\s*([^"]*?)\s*(")')


def parse_edm(xml: str, name: str) -> list[Triple]:
    """EDM RDF/XML as the gate receives it. The XML-level defects of the test records (IRIs padded
    with spaces, relative IRIs without xml:base, an element with both rdf:resource and text) are the
    EDM reader's to report; here they are cleaned up so the shapes can be tested on the RDF."""
    xml = _IRI_ATTRIBUTE.sub(lambda m: m.group(1) + re.sub(r"\s+", "%20", m.group(2)) + m.group(3), xml)
    base = f"{BASE}source/{name}/"
    try:
        return list(ox.parse(xml, format=ox.RdfFormat.RDF_XML, base_iri=base))
    except SyntaxError:  # pyoxigraph refuses rdf:resource plus text; rdflib keeps the resource
        graph = rdflib.Graph().parse(data=xml, format="xml", publicID=base)
        return [Triple(_ox(s), _ox(p), _ox(o)) for s, p, o in graph]


def _ox(term):
    if isinstance(term, rdflib.URIRef):
        return NamedNode(str(term))
    if isinstance(term, rdflib.BNode):
        return BlankNode(str(term))
    if term.language:
        return Literal(str(term), language=term.language)
    return Literal(str(term), datatype=NamedNode(str(term.datatype)) if term.datatype else None)


@pytest.fixture(scope="module")
def edm_dir(data_dir) -> Path:
    return data_dir / "europeana-edm" / "records"


@pytest.fixture(scope="module")
def edm_records(edm_dir) -> dict[str, list[Triple]]:
    paths = sorted(edm_dir.glob("*/*.xml")) + sorted(edm_dir.glob("*/*.rdf"))
    return {p.name: parse_edm(p.read_text(encoding="utf-8"), p.stem) for p in paths}


@pytest.fixture(scope="module")
def edm_batch(edm_dir) -> dict[str, list[Triple]]:
    with zipfile.ZipFile(edm_dir / "metis-validation" / "test_batch.zip") as archive:
        return {n: parse_edm(archive.read(n).decode("utf-8"), n.removesuffix(".xml"))
                for n in archive.namelist() if n.endswith(".xml")}


def load_linked_art(path: Path, context: dict) -> list[Triple]:
    """A Linked Art JSON-LD document, with the remote @context replaced by the local copy."""
    document = json.loads(path.read_text(encoding="utf-8"))
    document["@context"] = context
    return list(ox.parse(json.dumps(document), format=ox.RdfFormat.JSON_LD, base_iri="https://linked.art/example/"))


@pytest.fixture(scope="module")
def linked_art(data_dir) -> dict[str, dict[str, list[Triple]]]:
    root = data_dir / "linked-art"
    context = json.loads((root / "context" / "linked-art.json").read_text(encoding="utf-8"))["@context"]
    validator = root / "shacl-validator"
    return {kind: {p.name: load_linked_art(p, context) for p in sorted(folder.glob("*.json"))}
            for kind, folder in (("examples", validator / "la_examples"), ("valid", validator / "tests" / "valid"),
                                 ("warning", validator / "tests" / "warning"),
                                 ("invalid", validator / "tests" / "invalid"))}


# -- Tate-like CRM records with their EDM layer ------------------------------------------------------

_MATERIALS = {"paper": "300014109", "graphite": "300011098", "watercolour": "300015045", "oil paint": "300015050",
              "canvas": "300014078", "ink": "300015012", "chalk": "300011727", "bronze": "300010957"}
_CLASSIFICATIONS = {"on paper, unique": "300033973", "print": "300041273", "painting": "300033618",
                    "sculpture": "300047090"}


def tate_record(row: dict) -> list[Triple]:
    """One artwork of the Tate sample, written the Linked Art way (what our Tate mapping produces):
    E22 with title name and accession number, production by the artists with a time-span, materials,
    classification, dimensions; plus the EDM layer (ProvidedCHO, Aggregation, WebResource)."""
    key = row["acno"]
    obj = NamedNode(f"{BASE}id/object/tate-{key}")
    title, accession, production = BlankNode(), BlankNode(), BlankNode()
    classification = AAT[_CLASSIFICATIONS.get(row.get("classification") or "", "300033618")]
    t = [Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]), Triple(obj, RDF.type, EDM.ProvidedCHO),
         Triple(obj, RDFS.label, Literal(row["title"])),
         Triple(obj, CRM.P1_is_identified_by, title), Triple(title, RDF.type, CRM.E33_E41_Linguistic_Appellation),
         Triple(title, CRM.P190_has_symbolic_content, Literal(row["title"])),
         Triple(title, CRM.P2_has_type, AAT["300404670"]),
         Triple(obj, CRM.P1_is_identified_by, accession), Triple(accession, RDF.type, CRM.E42_Identifier),
         Triple(accession, CRM.P190_has_symbolic_content, Literal(key)),
         Triple(accession, CRM.P2_has_type, AAT["300312355"]),
         Triple(obj, CRM.P2_has_type, classification), Triple(classification, RDF.type, CRM.E55_Type),
         Triple(obj, CRM.P108i_was_produced_by, production), Triple(production, RDF.type, CRM.E12_Production)]
    for artist in row.get("contributors") or []:
        actor = NamedNode(f"{BASE}id/person/tate-{artist['id']}")
        t += [Triple(production, CRM.P14_carried_out_by, actor), Triple(actor, RDF.type, CRM.E21_Person),
              Triple(actor, RDFS.label, Literal(artist["fc"]))]
    if row.get("dateRange"):
        span, dates = BlankNode(), row["dateRange"]
        begin = Literal(f"{dates['startYear']:04d}-01-01T00:00:00Z", datatype=XSD.dateTime)
        end = Literal(f"{dates['endYear']:04d}-12-31T23:59:59Z", datatype=XSD.dateTime)
        t += [Triple(production, CRM["P4_has_time-span"], span), Triple(span, RDF.type, CRM["E52_Time-Span"]),
              Triple(span, CRM.P82a_begin_of_the_begin, begin), Triple(span, CRM.P82b_end_of_the_end, end)]
    medium = (row.get("medium") or "").lower()
    for name, aat in _MATERIALS.items():
        if name in medium:
            t += [Triple(obj, CRM.P45_consists_of, AAT[aat]), Triple(AAT[aat], RDF.type, CRM.E57_Material)]
    for axis, aat in (("height", "300055644"), ("width", "300055647")):
        if (row.get(axis) or "").isdigit():
            dimension = BlankNode()
            t += [Triple(obj, CRM.P43_has_dimension, dimension), Triple(dimension, RDF.type, CRM.E54_Dimension),
                  Triple(dimension, CRM.P90_has_value, Literal(row[axis], datatype=XSD.integer)),
                  Triple(dimension, CRM.P91_has_unit, AAT["300379097"]), Triple(dimension, CRM.P2_has_type, AAT[aat])]
    aggregation = NamedNode(f"{BASE}id/aggregation/tate-{key}")
    t += [Triple(aggregation, RDF.type, ORE.Aggregation), Triple(aggregation, EDM.aggregatedCHO, obj),
          Triple(aggregation, EDM.dataProvider, Literal("Tate")), Triple(aggregation, EDM.provider, Literal("Mouseion")),
          Triple(aggregation, EDM.rights, NamedNode("http://creativecommons.org/licenses/by-nc-nd/4.0/")),
          Triple(aggregation, EDM.isShownAt, NamedNode(row["url"])), Triple(obj, EDM.type, Literal("IMAGE"))]
    if row.get("thumbnailUrl"):
        image = NamedNode(row["thumbnailUrl"])
        t += [Triple(aggregation, EDM.isShownBy, image), Triple(image, RDF.type, EDM.WebResource),
              Triple(image, EDM.rights, NamedNode("http://rightsstatements.org/vocab/InC/1.0/"))]
    return t


@pytest.fixture(scope="module")
def tate(data_dir) -> dict[str, list[Triple]]:
    lines = (data_dir / "tate-collection" / "artworks_sample_1505.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines[:1000]]
    return {f"tate/{row['acno']}": tate_record(row) for row in rows}


# -- editing a record --------------------------------------------------------------------------------


def subjects_of_type(triples, cls) -> set:
    return {t.subject for t in triples if t.predicate == RDF.type and t.object == cls}


def without(triples, predicate, subjects=None) -> list[Triple]:
    """The record without the statements of ``predicate`` (on ``subjects``, if given)."""
    return [t for t in triples if not (t.predicate == predicate and (subjects is None or t.subject in subjects))]


def replaced(triples, predicate, value, subjects=None) -> list[Triple]:
    """The record with the values of ``predicate`` (on ``subjects``, if given) replaced by ``value``."""
    targets = {t.subject for t in triples if t.predicate == predicate and (subjects is None or t.subject in subjects)}
    assert targets, f"the record has no {predicate}"
    return without(triples, predicate, targets) + [Triple(s, predicate, value) for s in targets]


@pytest.fixture(scope="module")
def external(edm_records) -> list[Triple]:
    """A clean EDM external record (Metis' own sample), the base of the rule tests."""
    return edm_records["europeana_record_edm_external_sorted.xml"]


def check(gate, triples) -> list[Finding]:
    return gate.validate({"record": triples})["record"]


# -- the EDM rules, one by one -------------------------------------------------------------------------


def test_the_base_record_is_clean(gate, external):
    assert check(gate, external) == []


def test_one_provided_cho_per_record(gate, external):
    cho = subjects_of_type(external, EDM.ProvidedCHO)
    no_cho = [t for t in external if not (t.predicate == RDF.type and t.subject in cho)]
    assert {"edm-record-one-cho", "edm-aggregation-cho"} <= rules(check(gate, no_cho))
    second = NamedNode(f"{BASE}source/second-cho")
    two = external + [Triple(second, RDF.type, EDM.ProvidedCHO), Triple(second, DC.title, Literal("Another")),
                      Triple(second, DC.subject, Literal("x")), Triple(second, EDM.type, Literal("TEXT")),
                      Triple(second, DC.language, Literal("en"))]
    assert rules(check(gate, two)) == {"edm-record-one-cho"}


def test_one_aggregation_per_record(gate, external):
    aggregation = subjects_of_type(external, ORE.Aggregation)
    found = check(gate, [t for t in external if t.subject not in aggregation])
    assert rules(found) == {"edm-record-one-aggregation"}


def test_the_metis_record_without_provided_cho_fails(gate, edm_records):
    assert {"edm-record-one-cho", "edm-aggregation-cho"} <= rules(check(gate, edm_records["Item_35834473_wrong.xml"]))


def test_a_cho_has_a_title_or_a_description(gate, external):
    found = check(gate, without(without(external, DC.title, subjects_of_type(external, EDM.ProvidedCHO)),
                                DC.description, subjects_of_type(external, EDM.ProvidedCHO)))
    assert rules(found) == {"edm-cho-title"}
    (finding,) = violations(found)
    assert finding.focus == f"{BASE}source/europeana_record_edm_external_sorted/CMC_HA/936"
    assert finding.path.startswith("(dc:title|dc:description|")


def test_an_empty_title_does_not_count(gate, external):
    cho = subjects_of_type(external, EDM.ProvidedCHO)
    only_empty_title = replaced(without(external, DC.description, cho), DC.title, Literal("  "), cho)
    assert rules(check(gate, only_empty_title)) == {"edm-cho-title"}
    # with a real description beside it, an empty title is what Europeana accepts too
    assert rules(check(gate, replaced(external, DC.title, Literal(""), cho))) == set()


def test_a_cho_has_a_subject_type_or_coverage(gate, external):
    cho = subjects_of_type(external, EDM.ProvidedCHO)
    bare = external
    for predicate in (DC.subject, DC.type, DCTERMS.temporal, DCTERMS.spatial):
        bare = without(bare, predicate, cho)
    assert rules(check(gate, bare)) == {"edm-cho-subject"}
    found = check(gate, bare + [Triple(next(iter(cho)), DC.subject, Literal(""))])
    assert rules(found) == set() and rules(found, "Warning") == {"edm-empty-subject"}


def test_text_needs_a_language(gate, external):
    cho = subjects_of_type(external, EDM.ProvidedCHO)
    text = replaced(external, EDM.type, Literal("TEXT"), cho)
    assert check(gate, text) == []  # the record has dc:language
    found = check(gate, without(text, DC.language, cho))
    assert rules(found) == {"edm-cho-text-language"}
    (finding,) = violations(found)
    assert finding.focus == next(iter(cho)).value and finding.value == '"TEXT"'
    assert rules(check(gate, without(external, DC.language, cho))) == set()  # 3D needs none


def test_edm_type_is_present_and_one_of_five(gate, external):
    cho = subjects_of_type(external, EDM.ProvidedCHO)
    assert rules(check(gate, without(external, EDM.type, cho))) == {"edm-cho-type"}
    wrong = check(gate, replaced(external, EDM.type, Literal("PICTURE"), cho))
    assert rules(wrong) == {"edm-cho-type"} and violations(wrong)[0].value == '"PICTURE"'


def test_edm_type_in_the_provider_proxy_of_an_internal_record(gate, edm_records):
    """EDM internal: the ProvidedCHO is bare and its provider proxy carries title, subject, type."""
    internal = edm_records["europeana_record_edm_internal.xml"]
    assert violations(check(gate, internal)) == []
    proxies = {t.subject for t in internal if t.predicate == ORE.proxyFor}
    assert rules(check(gate, without(internal, EDM.type, proxies))) == {"edm-cho-type"}


def test_edm_type_in_the_europeana_proxy_warns(gate, edm_records):
    """Europeana's published records copy edm:type into its own proxy; Metis forbids that on ingest."""
    found = check(gate, edm_records["sample_completeness.rdf"])
    assert violations(found) == [] and rules(found, "Warning") == {"edm-europeana-proxy-type"}


def test_an_aggregation_is_shown_somewhere(gate, external):
    aggregation = subjects_of_type(external, ORE.Aggregation)
    bare = without(without(external, EDM.isShownAt, aggregation), EDM.isShownBy, aggregation)
    assert rules(check(gate, bare)) == {"edm-aggregation-shown"}
    assert rules(check(gate, without(external, EDM.isShownBy, aggregation))) == set()


def test_an_aggregation_names_its_data_provider_and_provider(gate, external, edm_records):
    aggregation = subjects_of_type(external, ORE.Aggregation)
    assert rules(check(gate, without(external, EDM.dataProvider, aggregation))) == {"edm-aggregation-data-provider"}
    assert rules(check(gate, without(external, EDM.provider, aggregation))) == {"edm-aggregation-provider"}
    assert rules(check(gate, replaced(external, EDM.provider, Literal(" "), aggregation))) == {"edm-aggregation-provider"}
    # Metis' own test record for this rule
    assert "edm-aggregation-data-provider" in rules(check(gate, edm_records["Item_schematron_invalid.xml"]))


def test_an_aggregation_has_a_valid_rights_statement(gate, external):
    aggregation = subjects_of_type(external, ORE.Aggregation)
    assert rules(check(gate, without(external, EDM.rights, aggregation))) == {"edm-aggregation-rights"}
    for invalid in ("http://rightReserved.html", "http://creativecommons.org/licenses/by/5.0/",
                    "http://rightsstatements.org/vocab/NKC/1.0/"):
        found = check(gate, replaced(external, EDM.rights, NamedNode(invalid), aggregation))
        assert rules(found) == {"edm-rights-statement"}, invalid
        (finding,) = violations(found)
        assert (finding.path, finding.value) == ("edm:rights", f"<{invalid}>")
    cc0 = Literal("http://creativecommons.org/publicdomain/zero/1.0/")
    literal = check(gate, replaced(external, EDM.rights, cc0, aggregation))
    assert "edm-rights-one" in rules(literal)
    for valid in ("http://creativecommons.org/publicdomain/mark/1.0/", "http://creativecommons.org/licenses/by-sa/3.0/nl/",
                  "http://rightsstatements.org/vocab/InC-EDU/1.0/"):
        assert check(gate, replaced(external, EDM.rights, NamedNode(valid), aggregation)) == [], valid


def test_near_miss_rights_warn(gate, external, edm_records):
    aggregation = subjects_of_type(external, ORE.Aggregation)
    for near in ("https://creativecommons.org/licenses/by/4.0/", "http://www.europeana.eu/rights/rr-f/"):
        found = check(gate, replaced(external, EDM.rights, NamedNode(near), aggregation))
        assert rules(found) == set() and rules(found, "Warning") == {"edm-rights-current"}, near
    # a cc:License of the record that inherits from a retired statement (Metis' test record)
    assert rules(check(gate, edm_records["Item_schematron_invalid2.xml"]), "Warning") == {"edm-rights-current"}


def test_a_rights_licence_inherits_from_a_statement(gate, external):
    aggregation = subjects_of_type(external, ORE.Aggregation)
    licence = NamedNode(f"{BASE}source/x/#statement_1")
    odrl = "http://www.w3.org/ns/odrl/2/inheritFrom"
    with_licence = replaced(external, EDM.rights, licence, aggregation) + [
        Triple(licence, RDF.type, NamedNode("http://creativecommons.org/ns#License"))]
    good = with_licence + [Triple(licence, NamedNode(odrl), NamedNode("http://rightsstatements.org/vocab/InC/1.0/"))]
    assert check(gate, good) == []
    assert rules(check(gate, with_licence)) == {"edm-rights-statement"}


def test_web_resource_is_part_of_a_resource(gate, external):
    resources = subjects_of_type(external, EDM.WebResource)
    found = check(gate, external + [Triple(r, DCTERMS.isPartOf, Literal("3D ICONS")) for r in resources])
    assert rules(found) == {"edm-webresource-is-part-of"}
    # a literal dcterms:isPartOf on the CHO is fine (the base record has one)
    assert any(t.predicate == DCTERMS.isPartOf and isinstance(t.object, Literal) for t in external)


def test_web_resource_digital_source_type_and_intended_usage(gate, edm_records):
    found = check(gate, edm_records["edm_external_invalid_schema_digitalSourceType.xml"])
    assert rules(found) == {"edm-webresource-digital-source-type"}
    assert violations(found)[0].value == "<https://cv.iptc.org/newscodes/digitalsourcetype/InvalidValue>"
    found = check(gate, edm_records["edm_external_invalid_edm_intendedUsage.xml"])
    assert rules(found) == {"edm-webresource-intended-usage"}
    assert violations(found)[0].value == "<http://data.europeana.eu/vocabulary/usageArea/InvalidValue>"


def test_crm_native_cho_satisfies_title_and_subject_through_crm(gate, tate):
    """A Tate CHO has no dc:title/dc:subject: its E22 name and classification stand in for them."""
    record = tate["tate/A00001"]
    assert not any(t.predicate in (DC.title, DC.subject) for t in record)
    assert violations(check(gate, record)) == []
    nameless = without(record, CRM.P1_is_identified_by)
    assert rules(check(gate, without(nameless, CRM.P2_has_type, subjects_of_type(record, EDM.ProvidedCHO)))) \
        == {"edm-cho-title", "edm-cho-subject"}


# -- the real records as a whole -------------------------------------------------------------------------

#: Records that break a rule, and what Metis' tests expect of them.
EXPECTED_EDM_VIOLATIONS = {
    # Metis: "An ore:Aggregation must have at least one instance of edm:dataProvider"; also its
    # edm:aggregatedCHO points at the aggregation itself, not at the CHO
    "Item_schematron_invalid.xml": {"edm-aggregation-data-provider", "edm-aggregation-cho"},
    # Metis: no edm:ProvidedCHO (an XSD error there)
    "Item_35834473_wrong.xml": {"edm-record-one-cho", "edm-aggregation-cho"},
    "edm_external_invalid_edm_intendedUsage.xml": {"edm-webresource-intended-usage"},
    "edm_external_invalid_schema_digitalSourceType.xml": {"edm-webresource-digital-source-type"},
    # Used by Metis only as a record that fails: its dc:description is commented out, so it has no
    # title or description, and its edm:rights is http://rightReserved.html
    "Item_35834473.xml": {"edm-cho-title", "edm-rights-statement"},
    # Metis fails it for an empty rdf:resource on edm:hasView: an XML fact, gone after parsing
    # (the empty IRI is the document's base IRI), so it is the EDM reader's to report
    "Item_schematron_invalid2.xml": set(),
}


def test_real_edm_records(gate, edm_records):
    found = gate.validate(edm_records)
    assert set(found) == set(edm_records)
    for name, findings in found.items():
        assert rules(findings) == EXPECTED_EDM_VIOLATIONS.get(name, set()), format_report(name, findings)


def test_metis_test_batch_passes_with_warnings_only(gate, edm_batch):
    """1,506 HOPE records of 2013: all valid, but all use the retired europeana.eu/rights/rr-f/."""
    assert len(edm_batch) == 1506
    found = gate.validate(edm_batch)
    assert all(violations(f) == [] for f in found.values())
    assert all(rules(f, "Warning") == {"edm-rights-current"} for f in found.values())


# -- Linked Art -----------------------------------------------------------------------------------------

#: event.3.json is a template: its dates are the placeholders "earliest-start-datetime"^^xsd:dateTime
#: and "latest-end-datetime"^^xsd:dateTime, which the date rules rightly reject.
LINKED_ART_TEMPLATE = {"event.3.json": {"crm-timespan-begin", "crm-timespan-end"}}


def test_linked_art_examples_have_no_violations(gate, linked_art):
    examples = linked_art["examples"]
    assert len(examples) == 157
    found = gate.validate(examples)
    for name, findings in found.items():
        assert rules(findings) == LINKED_ART_TEMPLATE.get(name, set()), format_report(name, findings)
    warned = Counter(f.rule for fs in found.values() for f in fs if f.severity == "Warning")
    assert set(warned) <= {"crm-object-identified", "crm-object-classified", "crm-object-produced"}


def test_linked_art_valid_and_warning_fixtures_have_no_violations(gate, linked_art):
    for kind in ("valid", "warning"):
        for name, findings in gate.validate(linked_art[kind]).items():
            assert violations(findings) == [], format_report(name, findings)


#: What the invalid fixtures break in CRM terms. Not caught, and why:
#: artwork_material_type, basic_reference_too_many_properties (Linked Art API profile rules, valid CRM),
#: subject_of_wrong_type (an E36 Visual Item is an E89 Propositional Object: valid for P129),
#: id_not_resolvable, id_not_resolvable_basic_ref (need the network; "htps://" is a syntactically valid
#: IRI), multiple_types_for_entity (needs the other record that types the same IRI).
#: recommended_timespans_for_production and id_not_resolvable get warnings only.
EXPECTED_LINKED_ART = {
    "bad_destruction.json": {"crm-timespan-end", "crm-range-event-part", "crm-range-physical"},
    "bad_location.json": {"crm-range-place"},
    "bad_partremoval.json": {"crm-timespan-end", "crm-range-physical"},
    "bad_production.json": {"crm-timespan-end", "crm-range-event-part", "crm-range-physical", "crm-range-type"},
    "current_owner.json": {"crm-range-actor"},
    "destruction_wrong_type.json": {"crm-range-destruction"},
    "dimension_wrong_class.json": {"crm-range-dimension", "crm-dimension-value", "crm-dimension-unit"},
    "equivalent_object_wrong_type.json": {"crm-range-equivalent"},
    "improper_attribute_assignment.json": {"crm-range-actor", "crm-range-attribute-assignment", "crm-range-member-of"},
    "improper_timespan.json": {"crm-range-timespan"},
    "linguistic_object_badly_formed.json": {"crm-text-content"},
    "made_of_concept.json": {"crm-material-iri", "crm-range-material"},
    "part_of_object.json": {"crm-range-physical"},
    "part_removal_wrong_type.json": {"crm-range-part-removal"},
    "parts_of_object.json": {"crm-range-physical"},
    "production_wrong_type.json": {"crm-range-production"},
    "refer_to_nonlinguistic.json": {"crm-range-propositional"},
    "representation_wrong_type.json": {"crm-range-representation"},
    "value_numerical.json": {"crm-dimension-value", "crm-dimension-unit"},
}


def test_linked_art_invalid_fixtures(gate, linked_art):
    invalid = linked_art["invalid"]
    assert len(invalid) == 26
    found = gate.validate(invalid)
    for name, findings in found.items():
        assert rules(findings) == EXPECTED_LINKED_ART.get(name, set()), format_report(name, findings)
    assert sum(bool(violations(f)) for f in found.values()) == 19
    assert rules(found["recommended_timespans_for_production.json"], "Warning") >= {"crm-timespan-bounds"}


# -- severities, reports, attribution ---------------------------------------------------------------


def test_warnings_and_violations(gate, tate):
    record = tate["tate/A00001"]
    obj = next(iter(subjects_of_type(record, CRM["E22_Human-Made_Object"])))
    unproduced = [t for t in record if t.predicate != CRM.P108i_was_produced_by]
    found = check(gate, unproduced)
    assert [(f.severity, f.rule, f.focus, f.path) for f in found] == \
        [("Warning", "crm-object-produced", obj.value, "crm:P108i_was_produced_by")]
    found = check(gate, record + [Triple(obj, CRM.P2_has_type, Literal("drawing"))])
    assert [(f.severity, f.rule, f.value) for f in found] == [("Violation", "crm-type-iri", '"drawing"')]


def test_format_report_names_record_rule_focus_path_and_value(gate, external):
    aggregation = subjects_of_type(external, ORE.Aggregation)
    found = check(gate, replaced(external, EDM.rights, NamedNode("http://rightReserved.html"), aggregation))
    text = format_report("edm/CMC_HA-936", found)
    assert text.startswith("record edm/CMC_HA-936: 1 violation, 0 warnings")
    for part in ("edm-rights-statement", next(iter(aggregation)).value, "edm:rights", "<http://rightReserved.html>",
                 "rights statement"):
        assert part in text
    assert str(found[0]).startswith("Violation [edm-rights-statement] ")


def test_findings_go_to_the_record_that_earned_them(gate, tate):
    good, bad = tate["tate/A00001"], tate["tate/A00047"]
    obj = next(iter(subjects_of_type(bad, CRM["E22_Human-Made_Object"])))
    bad = bad + [Triple(obj, CRM.P45_consists_of, Literal("paper"))]
    found = gate.validate({"good": good, "bad": bad})
    assert found["good"] == check(gate, good) == []
    assert rules(found["bad"]) == {"crm-material-iri"}
    assert violations(found["bad"])[0].focus == obj.value


def test_a_record_is_not_judged_on_what_another_record_says(gate, tate):
    """A references a production that B describes (as a visual item): validated together, A would be
    blamed for B's typing and B for A's reference. The planner keeps them apart."""
    production = NamedNode(f"{BASE}id/production/shared")
    a = [t for t in tate["tate/A00001"] if t.predicate != CRM.P108i_was_produced_by]
    obj = next(iter(subjects_of_type(a, CRM["E22_Human-Made_Object"])))
    a.append(Triple(obj, CRM.P108i_was_produced_by, production))
    b = [Triple(production, RDF.type, CRM.E36_Visual_Item), Triple(production, RDFS.label, Literal("a picture"))]
    assert plan_batches({"A": a, "B": b}, DEFAULT_BATCH_SIZE, gate._traversal) == [["A"], ["B"]]
    together = gate.validate({"A": a, "B": b})
    assert together == {"A": check(gate, a), "B": check(gate, b)}
    assert together == {"A": [], "B": []}


def test_records_with_the_same_blank_node_ids_stay_apart(gate):
    """Readers may number blank nodes per record (_:b0, _:b1, ...): each record keeps its own."""
    def record(n: int, value: str) -> list[Triple]:
        obj, dimension = NamedNode(f"{BASE}id/object/{n}"), BlankNode("b0")
        return [Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]), Triple(obj, RDFS.label, Literal(f"object {n}")),
                Triple(obj, CRM.P43_has_dimension, dimension), Triple(dimension, RDF.type, CRM.E54_Dimension),
                Triple(dimension, CRM.P90_has_value, Literal(value, datatype=XSD.decimal)),
                Triple(dimension, CRM.P91_has_unit, AAT["300379098"])]
    found = gate.validate({"one": record(1, "12.5"), "two": record(2, "twelve")})
    assert violations(found["one"]) == []
    assert [(f.rule, f.focus, f.value) for f in violations(found["two"])] == \
        [("crm-dimension-value", "_:b0", f'"twelve"^^<{XSD.decimal.value}>')]


def test_joint_and_separate_validation_agree_on_real_records(gate, linked_art):
    """The invalid fixtures all describe https://linked.art/testshacl/object/t0, each differently."""
    invalid = linked_art["invalid"]
    assert gate.validate(invalid) == {name: check(gate, triples) for name, triples in invalid.items()}


def test_identical_vocabulary_descriptions_do_not_split_a_batch(gate, tate):
    """Every Tate record repeats `aat:300033973 a crm:E55_Type`; that alone must not cost a group."""
    keys = list(tate)
    batch = {key: tate[key] for key in keys[:300]}
    assert len(plan_batches(batch, DEFAULT_BATCH_SIZE, gate._traversal)) == 1


def test_a_record_the_engine_cannot_handle_fails_alone(gate, tate):
    """sh:lessThanOrEquals cannot compare a blank node: pySHACL raises for the whole graph."""
    broken = tate["tate/A00047"]
    span = next(iter(subjects_of_type(broken, CRM["E52_Time-Span"])))
    broken = replaced(broken, CRM.P82a_begin_of_the_begin, BlankNode(), {span})
    found = gate.validate({"good": tate["tate/A00001"], "broken": broken})
    assert found["good"] == []
    assert "gate-error" in rules(found["broken"])


def test_every_key_is_answered(gate):
    assert gate.validate({"empty": [], "also": []}) == {"empty": [], "also": []}


# -- throughput ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_throughput(gate, tate, edm_batch):
    """Records/s on 1,000 Tate-like CRM+EDM records (~45 triples) and on Metis' 1,506-record batch."""
    rates = {}
    for name, batch in (("tate", tate), ("edm-test-batch", edm_batch)):
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            found = gate.validate(batch)
            best = min(best, time.perf_counter() - start)
        assert all(violations(f) == [] for f in found.values())
        rates[name] = len(batch) / best
    print("\nSHACL gate throughput (records/s):", {k: round(v) for k, v in rates.items()})
    # a floor far below what a quiet machine does (~700 and ~900 here); catches a return to per-record runs
    assert rates["tate"] > 100 and rates["edm-test-batch"] > 100
