"""What the endpoint says about itself: the SPARQL 1.1 Service Description
(https://www.w3.org/TR/sparql11-service-description/) and a VoID description of the dataset
(https://www.w3.org/TR/void/), as lists of triples for ``sparql.protocol`` to serialize.

VoID statistics come from named queries (``sparql/void_*.rq``) over the union of every graph the
endpoint serves, and are cached per store generation: computed once after each write, not per request.

>>> from kg.settings import Settings
>>> triples = service_description("http://example.org/sparql", "http://example.org/.well-known/void",
...                               Settings.from_env({}))
>>> any(t.predicate == SD.endpoint for t in triples)
True
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyoxigraph as ox
from pyoxigraph import Literal, NamedNode, Triple

from kg.settings import Settings
from kg.store import Store
from ontology.namespaces import DCTERMS, FOAF, MOU, RDF, RDFS, VOID, XSD, Namespace

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
ENTAILMENT = Namespace("http://www.w3.org/ns/entailment/")
PREFIXES = {"sd": SD.iri, "void": VOID.iri, "formats": "http://www.w3.org/ns/formats/"}

VOID_PATH = ".well-known/void"
#: where dumps will be served; the route does not exist yet, and the description says so
DUMPS_PATH = "dumps/"

_HERE = Path(__file__).parent


@cache
def named_query(name: str) -> str:
    """The text of ``sparql/{name}.rq``."""
    return (_HERE / f"{name}.rq").read_text(encoding="utf-8")


def _int(value: int) -> Literal:
    return Literal(str(value), datatype=XSD.integer)


# ------------------------------------------------------------------------------------ service description


def service_description(endpoint: str, void_url: str, settings: Settings) -> list[Triple]:
    """The ``sd:Service`` at ``endpoint``: languages, result formats, default dataset, features, limits."""
    from sparql.negotiation import GRAPHS, RESULTS
    service = NamedNode(endpoint)
    dataset = NamedNode(f"{endpoint}#dataset")
    default_graph = NamedNode(f"{endpoint}#default-graph")
    union = settings.union_default_graph
    triples = [
        Triple(service, RDF.type, SD.Service),
        Triple(service, SD.endpoint, service),
        Triple(service, SD.supportedLanguage, SD.SPARQL11Query),
        Triple(service, SD.supportedLanguage, SD.SPARQL11Update),
        Triple(service, SD.defaultEntailmentRegime, ENTAILMENT.Simple),
        Triple(service, SD.defaultDataset, dataset),
        Triple(service, RDFS.comment, Literal(
            "SPARQL 1.1 Query and Update (updates need a bearer token). LOAD and SERVICE are refused. "
            "Queries may use the prefixes Mouseion knows (crm:, edm:, la:, aat:, ...) without declaring them; "
            "updates declare theirs. The WHERE of an update reads the store's own default graph, not the union: "
            "use GRAPH ?g { ... } or USING to reach record graphs. The Graph Store HTTP Protocol is at "
            "/sparql/graphs.")),
        Triple(dataset, RDF.type, SD.Dataset),
        Triple(dataset, SD.defaultGraph, default_graph),
        Triple(dataset, RDFS.seeAlso, NamedNode(void_url)),
        Triple(default_graph, RDF.type, SD.Graph),
        Triple(default_graph, RDFS.comment, Literal(
            "The union of every graph: records, inferred types, vocabularies, enrichment runs, change log."
            if union else "The store's own default graph; records live in named graphs (GRAPH ?g { ... }).")),
        # limits, so that clients can know them before they hit them
        Triple(service, MOU.queryTimeoutSeconds, Literal(str(settings.query_timeout), datatype=XSD.decimal)),
        Triple(service, MOU.rowCap, _int(settings.row_cap)),
        Triple(service, MOU.maxRequestBodyBytes, _int(settings.max_body_bytes)),
        Triple(service, MOU.updateNeedsToken, Literal(True)),
        Triple(service, MOU.graphStore, NamedNode(f"{endpoint}/graphs")),
    ]
    if union:
        triples.append(Triple(service, SD.feature, SD.UnionDefaultGraph))
    for fmt in (*RESULTS, *GRAPHS):
        triples.append(Triple(service, SD.resultFormat, NamedNode(fmt.iri)))
    return triples


# ------------------------------------------------------------------------------------ VoID


@dataclass(frozen=True)
class Statistics:
    triples: int
    subjects: int
    objects: int
    properties: int
    classes: list[tuple[str, int]]
    property_counts: list[tuple[str, int]]
    #: (name, title, URI space, number of links)
    linksets: list[tuple[str, str, str, int]]
    licenses: list[tuple[str, int]]
    examples: list[str]


#: store → (generation, statistics); weak, so that a closed store's numbers never outlive it
_CACHE: "weakref.WeakKeyDictionary[Store, tuple[int, Statistics]]" = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def statistics(store: Store) -> Statistics:
    """The dataset's VoID numbers, computed once per store generation."""
    with _CACHE_LOCK:
        cached = _CACHE.get(store)
        if cached is not None and cached[0] == store.generation:
            return cached[1]
        generation = store.generation
        stats = _compute(store)
        _CACHE[store] = (generation, stats)
        return stats


def _compute(store: Store) -> Statistics:
    def rows(name: str, **bindings):
        return list(store.query(named_query(name), substitutions={ox.Variable(k): v for k, v in bindings.items()}))

    totals = rows("void_totals")[0]
    return Statistics(
        triples=int(totals["triples"].value), subjects=int(totals["subjects"].value),
        objects=int(totals["objects"].value), properties=int(totals["properties"].value),
        classes=[(r["class"].value, int(r["entities"].value)) for r in rows("void_classes")
                 if isinstance(r["class"], NamedNode)],
        property_counts=[(r["property"].value, int(r["triples"].value)) for r in rows("void_properties")],
        linksets=[(r["target"].value, r["title"].value, r["space"].value, int(r["triples"].value))
                  for r in rows("void_linksets")],
        licenses=[(r["license"].value, int(r["entities"].value)) for r in rows("void_licenses")],
        examples=[r["resource"].value for r in rows("void_examples", meta=store.uris.meta_graph)
                  if isinstance(r["resource"], NamedNode)],
    )


def void_description(store: Store, root: str, endpoint: str) -> list[Triple]:
    """The VoID document served at ``{root}.well-known/void``."""
    stats = statistics(store)
    document = NamedNode(root + VOID_PATH)
    dataset = NamedNode(f"{root}{VOID_PATH}#dataset")
    dumps = NamedNode(root + DUMPS_PATH)
    triples = [
        Triple(document, RDF.type, VOID.DatasetDescription),
        Triple(document, DCTERMS.title, Literal("VoID description of this Mouseion dataset", language="en")),
        Triple(document, FOAF.primaryTopic, dataset),
        Triple(dataset, RDF.type, VOID.Dataset),
        Triple(dataset, DCTERMS.title, Literal("Mouseion collection data", language="en")),
        Triple(dataset, DCTERMS.description, Literal(
            "Every graph the SPARQL endpoint serves: one graph per record, inferred types, vocabularies, "
            "enrichment runs and the record change log. Counts are over all graphs; a statement held in two "
            "graphs counts twice.", language="en")),
        Triple(dataset, VOID.sparqlEndpoint, NamedNode(endpoint)),
        Triple(dataset, VOID.uriSpace, Literal(f"{store.uris.base}id/")),
        Triple(dataset, VOID.dataDump, dumps),
        Triple(dataset, VOID.feature, NamedNode("http://www.w3.org/ns/formats/Turtle")),
        Triple(dataset, VOID.triples, _int(stats.triples)),
        Triple(dataset, VOID.entities, _int(stats.subjects)),
        Triple(dataset, VOID.distinctSubjects, _int(stats.subjects)),
        Triple(dataset, VOID.distinctObjects, _int(stats.objects)),
        Triple(dataset, VOID.properties, _int(stats.properties)),
        Triple(dataset, VOID.classes, _int(len(stats.classes))),
    ]
    triples += [Triple(dataset, VOID.exampleResource, NamedNode(iri)) for iri in stats.examples]
    # described after the dataset, so that serializations group by subject
    parts = [Triple(dumps, RDFS.comment, Literal("Placeholder: dumps are not served over HTTP yet "
                                                 "(`mouseion dump` writes one).", language="en"))]
    for i, (cls, entities) in enumerate(stats.classes):
        part = NamedNode(f"{root}{VOID_PATH}#class-{i}")
        triples.append(Triple(dataset, VOID.classPartition, part))
        parts += [Triple(part, VOID["class"], NamedNode(cls)), Triple(part, VOID.entities, _int(entities))]
    for i, (prop, count) in enumerate(stats.property_counts):
        part = NamedNode(f"{root}{VOID_PATH}#property-{i}")
        triples.append(Triple(dataset, VOID.propertyPartition, part))
        parts += [Triple(part, VOID.property, NamedNode(prop)), Triple(part, VOID.triples, _int(count))]
    for name, title, space, count in stats.linksets:
        target = NamedNode(f"{root}{VOID_PATH}#{name}")
        linkset = NamedNode(f"{root}{VOID_PATH}#links-{name}")
        triples.append(Triple(dataset, VOID.subset, linkset))
        parts += [Triple(linkset, RDF.type, VOID.Linkset), Triple(linkset, VOID.subjectsTarget, dataset),
                  Triple(linkset, VOID.objectsTarget, target), Triple(linkset, VOID.triples, _int(count)),
                  Triple(target, RDF.type, VOID.Dataset), Triple(target, DCTERMS.title, Literal(title)),
                  Triple(target, VOID.uriSpace, Literal(space))]
    # No dcterms:license on the dataset as a whole: the data only says which resources carry which licence
    # or rights statement (edm:rights is about a digital object, not about the metadata).
    for i, (license, entities) in enumerate(stats.licenses):
        subset = NamedNode(f"{root}{VOID_PATH}#licence-{i}")
        triples.append(Triple(dataset, VOID.subset, subset))
        parts += [Triple(subset, RDF.type, VOID.Dataset), Triple(subset, DCTERMS.license, NamedNode(license)),
                  Triple(subset, VOID.entities, _int(entities)),
                  Triple(subset, RDFS.comment, Literal("The resources that declare this licence or rights "
                                                       "statement (dcterms:license, edm:rights).", language="en"))]
    return triples + parts
