"""A record as one EDM RDF/XML document, the shape Europeana's EDM.xsd and content rules want.

Two kinds of records, two promises (DESIGN.md "EDM in, EDM out without loss"):

- an **EDM-native** record (loaded from EDM, ``mou:format "edm"``) comes back with every statement it
  came in with: each triple of its graph is written, in the schema's order where the schema knows the
  property, after it where it does not;
- a **CRM-native** record (Tate, Linked Art, CSV, ...) is mapped by the declarative CONSTRUCT files in
  ``kg/mappings/edm/`` and only EDM statements are written (its CRM statements stay in the store and the
  dumps); the result validates against EDM.xsd where the record's data allows.

Accepted machine suggestions about the record's resources join the view (``suggestions="accepted"``,
the default; ``"none"`` leaves them out, ``"pending"`` adds the pending ones too, never rejected ones).

The element order comes from ``kg/mappings/edm/xsd_order.json``, derived from EDM.xsd
(``python3 -m tests.edm_xsd_order``): each class's properties in content-model order, the classes in
the order Europeana's own records use (object, web resources, contextual entities, aggregation).
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import pyoxigraph as ox
from lxml import etree
from pyoxigraph import BlankNode, Literal, NamedNode, Triple

from kg.queries import named_query
from ontology.namespaces import CC, CRM, DC, DCTERMS, EBUCORE, EDM, FOAF, ORE, OWL, RDAGR2, RDF, RDFS, SKOS, SVCS, WGS84, XSD

_HERE = Path(__file__).parent / "mappings" / "edm"

#: the prefixes Europeana's own documents use; other namespaces get ns1, ns2, ... per document
PREFIXES = {
    "rdf": RDF.iri, "rdfs": RDFS.iri, "dc": DC.iri, "dcterms": DCTERMS.iri, "edm": EDM.iri, "ore": ORE.iri,
    "skos": SKOS.iri, "owl": OWL.iri, "wgs84_pos": WGS84.iri, "rdaGr2": RDAGR2.iri, "foaf": FOAF.iri,
    "ebucore": EBUCORE.iri, "svcs": SVCS.iri, "cc": CC.iri, "doap": "http://usefulinc.com/ns/doap#",
    "odrl": "http://www.w3.org/ns/odrl/2/", "dqv": "http://www.w3.org/ns/dqv#", "schema": "http://schema.org/",
    "xsd": XSD.iri,
}
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_RDF = "{" + RDF.iri + "}"
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_TYPE = RDF.type
_E22 = CRM["E22_Human-Made_Object"]
_STRING = XSD.string

#: how CRM-native records are mapped to EDM: the CONSTRUCT files run for each record, in order
MAPPINGS = ["crm_to_edm"]

SUGGESTION_POLICIES = {"accepted": ("accepted",), "pending": ("accepted", "pending"), "none": ()}


@cache
def schema_order() -> dict[str, dict[str, tuple[int, str]]]:
    """{class IRI: {property IRI: (position, kind)}} from the shipped EDM.xsd-derived table."""
    raw = json.loads((_HERE / "xsd_order.json").read_text(encoding="utf-8"))
    return {cls: {p: (i, kind) for i, (p, kind) in enumerate(props)} for cls, props in raw.items()}


#: top-level classes in the order documents list them
CLASS_ORDER = [EDM.ProvidedCHO.value, EDM.WebResource.value, EDM.Agent.value, EDM.Place.value,
               EDM.TimeSpan.value, SKOS.Concept.value, ORE.Aggregation.value, CC.License.value,
               SVCS.Service.value]


@cache
def mapping_query(name: str) -> str:
    return (_HERE / f"{name}.rq").read_text(encoding="utf-8")


def edm_view(store, key: str, *, native: bool, triples: Sequence[Triple] | None = None,
             suggestions: str = "accepted") -> list[Triple]:
    """The statements of a record's EDM document: its own (all of them when ``native``) and mapped ones."""
    graph = store.uris.record_graph(key)
    own = list(triples) if triples is not None else store.record_triples(key)
    view: dict[Triple, None] = dict.fromkeys(own)
    # the mappings read CRM: a record without a CRM object (an EDM-native one) has nothing to map
    crm_object = next(iter(store.backend.quads(None, _TYPE, _E22, graph)), None) is not None
    for name in (MAPPINGS if crm_object else ()):
        for triple in store.backend.query(mapping_query(name), union=False, prefixes={},
                                          substitutions={ox.Variable("g"): graph}):
            view[triple] = None
    states = SUGGESTION_POLICIES.get(suggestions)
    if states is None:
        raise ValueError(f"suggestions policy is one of {', '.join(SUGGESTION_POLICIES)}, not {suggestions!r}")
    if states:
        own_subjects = {t.subject for t in own if isinstance(t.subject, NamedNode)}
        for subject in sorted(own_subjects, key=lambda n: n.value):
            # an index lookup first: most resources have no suggestion, and a query costs far more
            if next(iter(store.backend.quads(None, CRM.P140_assigned_attribute_to, subject, None)), None) is None:
                continue
            for row in store.backend.query(named_query("oai_suggestions"), union=True, prefixes={},
                                           substitutions={ox.Variable("s"): subject}):
                if row["state"].value.rsplit("#", 1)[-1] in states:
                    view[Triple(subject, row["p"], row["o"])] = None
    if native:
        return list(view)
    return _edm_only(view)


def _edm_only(triples: Iterable[Triple]) -> list[Triple]:
    """Keep the statements EDM.xsd has room for: typed EDM resources and their schema properties."""
    order = schema_order()
    types: dict[object, set[str]] = {}
    for t in triples:
        if t.predicate == RDF.type and t.object.value in order:
            types.setdefault(t.subject, set()).add(t.object.value)
    kept = []
    for t in triples:
        classes = types.get(t.subject)
        if not classes:
            continue
        if t.predicate == RDF.type:
            if t.object.value in classes:
                kept.append(t)
        elif any(t.predicate.value in order[c] for c in classes):
            kept.append(t)
    return kept


def to_rdfxml(triples: Iterable[Triple]) -> etree._Element:
    """An ``rdf:RDF`` element holding ``triples``: one typed node element per resource, in schema order.

    >>> from pyoxigraph import Literal, NamedNode, Triple
    >>> cho = NamedNode("http://example.org/cho/1")
    >>> root = to_rdfxml([Triple(cho, RDF.type, EDM.ProvidedCHO), Triple(cho, EDM.type, Literal("IMAGE")),
    ...                   Triple(cho, DC.title, Literal("Vase", language="en"))])
    >>> print(etree.tostring(root).decode().split(">", 1)[1])
    <edm:ProvidedCHO rdf:about="http://example.org/cho/1"><dc:title xml:lang="en">Vase</dc:title><edm:type>IMAGE</edm:type></edm:ProvidedCHO></rdf:RDF>
    """
    order = schema_order()
    by_subject: dict[object, list[Triple]] = {}
    for t in triples:
        by_subject.setdefault(t.subject, []).append(t)
    namespaces = dict(PREFIXES)
    nodes = []
    for subject, statements in by_subject.items():
        classes = sorted({t.object.value for t in statements if t.predicate == _TYPE and t.object.value in order},
                         key=CLASS_ORDER.index)
        main = classes[0] if classes else None
        nodes.append((CLASS_ORDER.index(main) if main else len(CLASS_ORDER), _term_key(subject), subject, main,
                      statements))
    nodes.sort(key=lambda n: (n[0], n[1]))
    known = set(namespaces.values())
    for _rank, _key, _subject, _main, statements in nodes:
        for t in statements:
            if _split(t.predicate.value)[0] not in known:
                _qname(t.predicate.value, namespaces)
                known = set(namespaces.values())
    used = dict(namespaces)
    root = etree.Element(_RDF + "RDF", nsmap=used)
    for _rank, _key, subject, main, statements in nodes:
        element = etree.SubElement(root, _clark(main, namespaces) if main else _RDF + "Description")
        if isinstance(subject, BlankNode):
            element.set(_RDF + "nodeID", subject.value)
        else:
            element.set(_RDF + "about", subject.value)
        positions = order.get(main, {})
        rest = [t for t in statements if not (t.predicate == _TYPE and t.object.value == main)]
        rest.sort(key=lambda t: (positions.get(t.predicate.value, (len(positions), ""))[0],
                                 t.predicate.value, _term_key(t.object)))
        for t in rest:
            child = etree.SubElement(element, _clark(t.predicate.value, namespaces))
            _object(child, t.object)
    return root


def _object(element: etree._Element, term) -> None:
    if isinstance(term, NamedNode):
        element.set(_RDF + "resource", term.value)
    elif isinstance(term, BlankNode):
        element.set(_RDF + "nodeID", term.value)
    elif isinstance(term, Literal):
        if term.language:
            element.set(_XML_LANG, term.language)
        elif term.datatype != _STRING:
            element.set(_RDF + "datatype", term.datatype.value)
        element.text = _xml_safe(term.value)
    else:  # RDF-star triple terms have no RDF/XML form
        raise ValueError(f"cannot write {term} in RDF/XML")


def _xml_safe(text: str) -> str:
    """XML 1.0 cannot carry most control characters; RDF literals can. Escape them visibly."""
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", lambda m: f"\\u{ord(m.group()):04x}", text)


def _term_key(term) -> str:
    return str(term)


@lru_cache(maxsize=4096)
def _split(iri: str) -> tuple[str, str]:
    for sep in ("#", "/"):
        if sep in iri:
            ns, local = iri.rsplit(sep, 1)
            if local and _NCNAME.match(local):
                return ns + sep, local
    raise ValueError(f"property {iri} has no RDF/XML form (its name does not end in an XML name)")


def _qname(iri: str, namespaces: dict[str, str]) -> str:
    ns, local = _split(iri)
    for prefix, known in namespaces.items():
        if known == ns:
            return f"{prefix}:{local}"
    prefix = f"ns{len([p for p in namespaces if p.startswith('ns')]) + 1}"
    namespaces[prefix] = ns
    return f"{prefix}:{local}"


def _clark(iri: str, namespaces: dict[str, str]) -> str:
    ns, local = _split(iri)
    return "{" + ns + "}" + local


def record_document(store, key: str, *, native: bool, suggestions: str = "accepted") -> etree._Element:
    """The ``rdf:RDF`` EDM document of one record."""
    return to_rdfxml(edm_view(store, key, native=native, suggestions=suggestions))


def serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def export(store, target: str | Path, *, dataset: str | None = None, suggestions: str = "accepted") -> int:
    """One EDM RDF/XML file per harvestable live record — into a zip archive when ``target`` ends in
    ``.zip``, else into a folder — named after the record key (percent-encoded). Records are read page
    by page from the change log and written one at a time: memory stays flat. Returns the file count."""
    import zipfile
    from urllib.parse import quote

    from kg.harvest import ChangeLog, Selection
    target = Path(target)
    log = ChangeLog(store)
    count = 0
    archive = zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) if target.suffix == ".zip" else None
    if archive is None:
        target.mkdir(parents=True, exist_ok=True)
    try:
        for item in log.entries(Selection(dataset=dataset)):
            if item.deleted:
                continue
            body = serialise(record_document(store, item.key, native=item.format == "edm", suggestions=suggestions))
            name = quote(item.key, safe="") + ".xml"
            if archive is not None:
                archive.writestr(name, body)
            else:
                (target / name).write_bytes(body)
            count += 1
    finally:
        if archive is not None:
            archive.close()
    return count
