"""Read the shipped vocabularies into an owlready2 world, turning RDFS into the OWL owlready2 reads.

CIDOC-CRM is published as RDFS (``rdfs:Class``, ``rdf:Property``) and owlready2 only builds
entities for OWL declarations, so :func:`as_owl` adds them to an in-memory copy; the shipped
files are never touched. What the copy adds or leaves out, and why:

- ``owl:Class`` for every ``rdfs:Class`` and for every IRI on either side of ``rdfs:subClassOf``
  (EDM subclasses ``ore:Aggregation``, ``dcterms:PeriodOfTime`` without declaring them).
- ``owl:DatatypeProperty`` for a property whose range is ``rdfs:Literal``, an XSD type or a
  ``rdfs:Datatype`` (or that the source declares so) *and* whose super-properties all are too;
  ``owl:ObjectProperty`` for every other property. OWL DL cannot put a datatype property under an
  object property, and owlready2 silently drops such an edge: EDM has ``edm:begin``
  (datatype) ``rdfs:subPropertyOf edm:isRelatedTo`` (object), kept only by typing ``edm:begin``
  as an object property here.
- ``owl:imports`` is dropped, so owlready2 never fetches anything (the files have none today).
- ``owl:equivalentClass`` / ``owl:equivalentProperty`` are dropped: EDM's all point at the
  legacy CRM namespace ``http://www.cidoc-crm.org/rdfs/cidoc-crm#`` (or at anonymous unions),
  so following them would stamp legacy types on every EDM record and still never reach
  CRM 7.1.3. The hierarchy is the ``rdfs:subClassOf`` / ``rdfs:subPropertyOf`` one.

>>> world = load_world()
>>> sorted(parent.name for parent in world["http://www.cidoc-crm.org/cidoc-crm/E21_Person"].is_a)
['E20_Biological_Object', 'E39_Actor']
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import owlready2
from pyoxigraph import NamedNode, RdfFormat, Triple, serialize

from ontology.namespaces import OWL, RDF, RDFS, XSD
from ontology.vocabularies import VOCABULARIES, VocabularyFile, read

_TYPE, _SUBCLASS, _SUBPROPERTY, _RANGE = (RDF.type.value, RDFS.subClassOf.value,
                                          RDFS.subPropertyOf.value, RDFS.range.value)
_DROPPED = {OWL.imports.value, OWL.equivalentClass.value, OWL.equivalentProperty.value}
_CLASS_TYPES = {RDFS.Class.value, OWL.Class.value}
_PROPERTY_TYPES = {RDF.Property.value, OWL.ObjectProperty.value, OWL.DatatypeProperty.value}


def as_owl(triples: Iterable[Triple]) -> list[Triple]:
    """The triples, less imports, equivalences and property kinds, plus the declarations owlready2 needs.

    >>> from ontology.namespaces import CRM
    >>> source = [Triple(CRM.E21_Person, RDF.type, RDFS.Class),
    ...           Triple(CRM.P3_has_note, RDF.type, RDF.Property),
    ...           Triple(CRM.P3_has_note, RDFS.range, RDFS.Literal)]
    >>> [(t.subject.value[35:], t.object.value[30:]) for t in as_owl(source) if t not in source]
    [('E21_Person', 'Class'), ('P3_has_note', 'DatatypeProperty')]
    """
    kept: list[Triple] = []
    classes: set[NamedNode] = set()
    properties: set[NamedNode] = set()
    datatype: set[NamedNode] = set()
    datatypes = {RDFS.Literal, RDFS.Datatype}
    ranges: dict[NamedNode, set] = {}
    parents: dict[NamedNode, set] = {}
    for triple in triples:
        s, p, o = triple.subject, triple.predicate.value, triple.object
        if p in _DROPPED:
            continue
        if p == _TYPE and o.value in _PROPERTY_TYPES:
            # re-declared below with a kind OWL DL accepts; the source's may contradict it
            properties.add(s)
            if o == OWL.DatatypeProperty:
                datatype.add(s)
            continue
        kept.append(triple)
        if p == _TYPE:
            if o.value in _CLASS_TYPES:
                classes.add(s)
            elif o == RDFS.Datatype:
                datatypes.add(s)  # EDM's literal ranges are anonymous rdfs:Datatype unions
        elif p == _SUBCLASS:
            classes.update((s, o))
        elif p == _SUBPROPERTY:
            properties.update((s, o))
            parents.setdefault(s, set()).add(o)
        elif p == _RANGE:
            ranges.setdefault(s, set()).add(o)
    datatype.update(prop for prop, objects in ranges.items()
                    if all(o in datatypes or o in XSD for o in objects))
    # Until stable: a literal-valued property under an object property must become one too.
    while demoted := {prop for prop in datatype if any(q not in datatype for q in parents.get(prop, ()))}:
        datatype -= demoted
    for term in sorted(_declarable(classes), key=str):
        kept.append(Triple(term, RDF.type, OWL.Class))
    for term in sorted(_declarable(properties), key=str):
        kept.append(Triple(term, RDF.type, OWL.DatatypeProperty if term in datatype else OWL.ObjectProperty))
    return kept


def _declarable(terms: set) -> list[NamedNode]:
    # Blank nodes are OWL constructs (unions, restrictions) and RDF/RDFS/OWL terms are built in.
    return [t for t in terms if isinstance(t, NamedNode) and t not in RDF and t not in RDFS and t not in OWL]


def load_world(vocabularies: Iterable[VocabularyFile] = VOCABULARIES) -> owlready2.World:
    """A fresh in-memory owlready2 world holding the OWL form of the vocabularies.

    Never the default world: another owlready2 user in the process must not see our entities.
    The vocabularies are converted together, so a property both mention gets one kind, and handed
    over as bytes, so owlready2 has no URL it could try to fetch.
    """
    triples = [t for entry in vocabularies for t in read(entry)]
    world = owlready2.World()
    data = serialize(as_owl(triples), format=RdfFormat.N_TRIPLES)
    world.get_ontology("urn:mouseion:vocabularies#").load(fileobj=io.BytesIO(data), format="ntriples")
    return world
