"""SKOS concept schemes shipped for the enrichment jobs: object types and materials.

Each scheme says which CRM property its concepts are suggested for (``mou:suggestsProperty``),
and each concept carries labels in several languages from which the CLIP prompts are built.

>>> [s.name for s in SCHEMES]
['object-types', 'materials']
>>> s = scheme("object-types")
>>> s.property.value
'http://www.cidoc-crm.org/cidoc-crm/P2_has_type'
>>> s.label_of("http://vocab.getty.edu/aat/300033618", "de")
'Gemälde'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pyoxigraph import Literal, NamedNode, RdfFormat, Triple, parse

from ontology.namespaces import MOU, RDF, SKOS

HERE = Path(__file__).resolve().parent

#: The schemes, by name (the Turtle file ``{name}.ttl`` beside this module).
SCHEME_NAMES = ("object-types", "materials")


@dataclass(frozen=True)
class Concept:
    iri: str
    labels: tuple[tuple[str, str], ...]  # (language, label), file order

    def label(self, language: str = "en") -> str:
        for lang, text in self.labels:
            if lang == language:
                return text
        return self.labels[0][1] if self.labels else self.iri


@dataclass(frozen=True)
class Scheme:
    name: str
    iri: NamedNode
    property: NamedNode
    concepts: tuple[Concept, ...]
    triples: tuple[Triple, ...]

    def label_of(self, iri: str, language: str = "en") -> str:
        return next(c for c in self.concepts if c.iri == iri).label(language)


@cache
def scheme(name: str) -> Scheme:
    """The scheme ``name``; ``KeyError`` names the known ones."""
    if name not in SCHEME_NAMES:
        raise KeyError(f"unknown concept scheme {name!r} (known: {', '.join(SCHEME_NAMES)})")
    triples = tuple(parse(path=str(HERE / f"{name}.ttl"), format=RdfFormat.TURTLE))
    iri = next(t.subject for t in triples if t.predicate == RDF.type and t.object == SKOS.ConceptScheme)
    prop = next(t.object for t in triples if t.subject == iri and t.predicate == MOU.suggestsProperty)
    members = [t.subject for t in triples if t.predicate == SKOS.inScheme and t.object == iri]
    concepts = []
    for member in members:
        labels = tuple((t.object.language or "", t.object.value) for t in triples
                       if t.subject == member and t.predicate == SKOS.prefLabel and isinstance(t.object, Literal))
        concepts.append(Concept(member.value, labels))
    return Scheme(name, iri, prop, tuple(concepts), triples)


SCHEMES: tuple[Scheme, ...] = tuple(scheme(n) for n in SCHEME_NAMES)
