"""The metadata formats (spec section 4.4): ``edm`` (Europeana's EDM external, one ``rdf:RDF`` per
record, kg/edm_out.py) and ``oai_dc`` (simple Dublin Core, read off the same EDM view).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from lxml import etree
from pyoxigraph import Literal, NamedNode

from kg import edm_out
from kg.harvest import Entry
from ontology.namespaces import DC, DCTERMS, EDM, ORE, RDF, SKOS

OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"

#: dcterms refinements written as their Dublin Core element in oai_dc
_DC_OF = {DCTERMS.alternative.value: "title", DCTERMS.created.value: "date", DCTERMS.issued.value: "date",
          DCTERMS.medium.value: "format", DCTERMS.extent.value: "format", DCTERMS.spatial.value: "coverage",
          DCTERMS.temporal.value: "coverage", DCTERMS.isPartOf.value: "relation", DCTERMS.hasPart.value: "relation",
          DCTERMS.provenance.value: "description"}
_DC_ORDER = ["title", "creator", "subject", "description", "publisher", "contributor", "date", "type", "format",
             "identifier", "source", "language", "relation", "coverage", "rights"]


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    schema: str
    namespace: str
    write: Callable[..., etree._Element]


def write_edm(store, item: Entry, suggestions: str) -> etree._Element:
    return edm_out.record_document(store, item.key, native=item.format == "edm", suggestions=suggestions)


def write_oai_dc(store, item: Entry, suggestions: str) -> etree._Element:
    """Simple DC of the record's ProvidedCHO: dc elements as they are, dcterms refinements as their
    element, resources by their label where the record gives one; plus isShownAt and edm:rights."""
    view = edm_out.edm_view(store, item.key, native=item.format == "edm", suggestions=suggestions)
    chos = {t.subject for t in view if t.predicate == RDF.type and t.object == EDM.ProvidedCHO}
    labels: dict[object, str] = {}
    for t in view:
        if t.predicate == SKOS.prefLabel and isinstance(t.object, Literal):
            labels.setdefault(t.subject, t.object.value)
    values: dict[str, list] = {name: [] for name in _DC_ORDER}
    for t in view:
        if t.subject in chos:
            iri = t.predicate.value
            name = iri[len(DC.iri):] if iri.startswith(DC.iri) else _DC_OF.get(iri)
            if name in values:
                values[name].append(t.object)
        elif t.predicate in (EDM.isShownAt, EDM.rights) and any(
                (a.subject == t.subject and a.predicate == RDF.type and a.object == ORE.Aggregation) for a in view):
            values["identifier" if t.predicate == EDM.isShownAt else "rights"].append(t.object)
    root = etree.Element(f"{{{OAI_DC}}}dc", nsmap={"oai_dc": OAI_DC, "dc": DC.iri})
    for name in _DC_ORDER:
        seen = set()
        for term in sorted(values[name], key=str):
            text = labels.get(term, term.value) if isinstance(term, NamedNode) else term.value
            if text in seen:
                continue
            seen.add(text)
            element = etree.SubElement(root, f"{{{DC.iri}}}{name}")
            element.text = edm_out._xml_safe(text)
            if isinstance(term, Literal) and term.language:
                element.set("{http://www.w3.org/XML/1998/namespace}lang", term.language)
    return root


#: the formats this repository disseminates, in the order ListMetadataFormats lists them
FORMATS = {
    "edm": MetadataFormat("edm", "http://www.europeana.eu/schemas/edm/EDM.xsd",
                          "http://www.w3.org/1999/02/22-rdf-syntax-ns#", write_edm),
    "oai_dc": MetadataFormat("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC, write_oai_dc),
}
