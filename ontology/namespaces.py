"""Every namespace the project speaks, in one place.

>>> CRM["E22_Human-Made_Object"].value
'http://www.cidoc-crm.org/cidoc-crm/E22_Human-Made_Object'
>>> DC.title.value
'http://purl.org/dc/elements/1.1/title'
"""

from __future__ import annotations

from pyoxigraph import NamedNode


class Namespace:
    """An IRI prefix that mints pyoxigraph terms: ``NS.local`` or ``NS["local-with-dash"]``.

    Terms are immutable, so each is minted once and handed out again (minting checks the IRI, which
    costs more than the look-up, and hot loops ask for the same few terms); the first ``KEPT`` are kept.
    """

    __slots__ = ("iri", "_minted")
    KEPT = 4096

    def __init__(self, iri: str) -> None:
        self.iri = iri
        self._minted: dict[str, NamedNode] = {}

    def __getitem__(self, local: str) -> NamedNode:
        term = self._minted.get(local)
        if term is None:
            term = NamedNode(self.iri + local)
            if len(self._minted) < self.KEPT:
                self._minted[local] = term
        return term

    def __getattr__(self, local: str) -> NamedNode:
        if local.startswith("__"):
            raise AttributeError(local)
        return self[local]

    def __contains__(self, iri: object) -> bool:
        value = iri.value if isinstance(iri, NamedNode) else iri
        return isinstance(value, str) and value.startswith(self.iri)

    def __str__(self) -> str:
        return self.iri

    def __repr__(self) -> str:
        return f"Namespace({self.iri!r})"


RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
RDFS = Namespace("http://www.w3.org/2000/01/rdf-schema#")
OWL = Namespace("http://www.w3.org/2002/07/owl#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
SH = Namespace("http://www.w3.org/ns/shacl#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
PROV = Namespace("http://www.w3.org/ns/prov#")
DC = Namespace("http://purl.org/dc/elements/1.1/")
DCTERMS = Namespace("http://purl.org/dc/terms/")
DCMITYPE = Namespace("http://purl.org/dc/dcmitype/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
VOID = Namespace("http://rdfs.org/ns/void#")
SCHEMA = Namespace("http://schema.org/")

CRM = Namespace("http://www.cidoc-crm.org/cidoc-crm/")
LA = Namespace("https://linked.art/ns/terms/")
AAT = Namespace("http://vocab.getty.edu/aat/")
TGN = Namespace("http://vocab.getty.edu/tgn/")
ULAN = Namespace("http://vocab.getty.edu/ulan/")

EDM = Namespace("http://www.europeana.eu/schemas/edm/")
ORE = Namespace("http://www.openarchives.org/ore/terms/")
WGS84 = Namespace("http://www.w3.org/2003/01/geo/wgs84_pos#")
RDAGR2 = Namespace("http://rdvocab.info/ElementsGr2/")
EBUCORE = Namespace("http://www.ebu.ch/metadata/ontologies/ebucore/ebucore#")
SVCS = Namespace("http://rdfs.org/sioc/services#")
DOAP = Namespace("http://usefulinc.com/ns/doap#")
ODRL = Namespace("http://www.w3.org/ns/odrl/2/")
CC = Namespace("http://creativecommons.org/ns#")

#: Mouseion's own terms: record bookkeeping, review states, inferred graphs.
MOU = Namespace("https://w3id.org/mouseion/ns#")

PREFIXES: dict[str, Namespace] = {
    "rdf": RDF, "rdfs": RDFS, "owl": OWL, "xsd": XSD, "sh": SH, "skos": SKOS, "prov": PROV,
    "dc": DC, "dcterms": DCTERMS, "dcmitype": DCMITYPE, "foaf": FOAF, "void": VOID, "schema": SCHEMA,
    "crm": CRM, "la": LA, "aat": AAT, "tgn": TGN, "ulan": ULAN,
    "edm": EDM, "ore": ORE, "wgs84_pos": WGS84, "rdaGr2": RDAGR2, "ebucore": EBUCORE,
    "svcs": SVCS, "doap": DOAP, "odrl": ODRL, "cc": CC, "mou": MOU,
}


def prefix_map() -> dict[str, str]:
    """Prefix → IRI, as pyoxigraph's ``prefixes=`` and serialisers want it."""
    return {name: ns.iri for name, ns in PREFIXES.items()}


def sparql_prologue() -> str:
    """PREFIX lines for every known namespace, for named queries and examples."""
    return "".join(f"PREFIX {name}: <{ns.iri}>\n" for name, ns in PREFIXES.items())
