"""Class and property hierarchy of the shipped vocabularies, computed with owlready2.

CIDOC-CRM and EDM are read into a fresh owlready2 world (see :mod:`ontology.owl` for the RDFS to
OWL step); the transitive closures, inverses and labels are then copied out into plain dicts of
IRI strings, so every question afterwards is a dict lookup and the world can be dropped.

Computing it takes about 0.3 s (owlready2 import and load, CRM + EDM), so it is simply done once
per process by :meth:`Hierarchy.load`; no on-disk cache.

>>> h = Hierarchy.load()
>>> CRM_ = "http://www.cidoc-crm.org/cidoc-crm/"
>>> sorted(iri.removeprefix(CRM_) for iri in h.superclasses(CRM_ + "E22_Human-Made_Object"))
['E18_Physical_Thing', 'E19_Physical_Object', 'E1_CRM_Entity', 'E24_Physical_Human-Made_Thing', 'E70_Thing', 'E71_Human-Made_Thing', 'E72_Legal_Object', 'E77_Persistent_Item']
>>> h.inverse(CRM_ + "P14_carried_out_by") == CRM_ + "P14i_performed"
True
>>> h.label(CRM_ + "E21_Person", "de")
'Person'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache

from pyoxigraph import Literal, NamedNode, Triple

from ontology.namespaces import OWL, RDF, RDFS
from ontology.owl import load_world
from ontology.vocabularies import VOCABULARIES, VocabularyFile, read

_TYPE = RDF.type
_LABEL = RDFS.label
#: implied by everything, so never worth a triple or an answer
_TOP = frozenset({OWL.Thing.value, RDFS.Resource.value})
#: CRM-style identifiers: P14_carried_out_by / P14i_performed (also L1_, O1_ in CRM extensions)
_NUMBERED = re.compile(r"([A-Z]\d+[ab]?)(i?)_")


class Hierarchy:
    """Transitive super/sub classes and properties, inverses and labels, keyed by IRI string.

    Build one with :meth:`load` (the shipped vocabularies, once per process) or :meth:`compute`;
    the constructor takes already computed closures, which keeps tests of the lookups cheap:

    >>> h = Hierarchy({"urn:B": {"urn:A"}, "urn:A": set()}, {}, {})
    >>> h.subclasses("urn:A"), h.is_class("urn:B"), h.is_property("urn:B")
    (frozenset({'urn:B'}), True, False)
    """

    def __init__(self, superclasses: Mapping[str, Iterable[str]], superproperties: Mapping[str, Iterable[str]],
                 inverses: Mapping[str, str], labels: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._superclasses = _closed(superclasses)
        self._subclasses = _inverted(self._superclasses)
        self._superproperties = _closed(superproperties)
        self._subproperties = _inverted(self._superproperties)
        self._inverses = dict(inverses)
        self._labels = {iri: dict(by_lang) for iri, by_lang in (labels or {}).items()}
        # What infer_types adds per class: pyoxigraph nodes built once, in a fixed order.
        self._implied = {iri: tuple((sup, NamedNode(sup)) for sup in sorted(sups))
                         for iri, sups in self._superclasses.items() if sups}

    @classmethod
    @cache
    def load(cls) -> Hierarchy:
        """The hierarchy of :data:`ontology.vocabularies.VOCABULARIES`, computed on the first call only."""
        return cls.compute(VOCABULARIES)

    @classmethod
    def compute(cls, vocabularies: Iterable[VocabularyFile] = VOCABULARIES) -> Hierarchy:
        """Read ``vocabularies`` into a fresh owlready2 world and copy its closures out (uncached)."""
        vocabularies = list(vocabularies)
        world = load_world(vocabularies)
        classes = {c for c in world.classes() if c.iri not in _TOP}
        properties = set(world.properties())
        superclasses = {c.iri: {a.iri for a in c.ancestors(include_self=False) if a in classes} for c in classes}
        # owlready2 lists owl:ObjectProperty etc. among a property's ancestors: keep real properties only
        superproperties = {p.iri: {a.iri for a in p.ancestors(include_self=False) if a in properties}
                           for p in properties}
        inverses: dict[str, str] = {}
        for prop in world.object_properties():
            if prop.inverse_property is not None:
                inverses[prop.iri] = prop.inverse_property.iri
                inverses[prop.inverse_property.iri] = prop.iri
        known = sorted(superproperties)
        for iri in known:
            if iri not in inverses and (other := inverse_by_name(iri, known)):
                inverses[iri] = other
        labels: dict[str, dict[str, str]] = {}
        for entry in vocabularies:
            for t in read(entry):
                if t.predicate == _LABEL and isinstance(t.subject, NamedNode) and isinstance(t.object, Literal):
                    # first label per language wins, in file order, so the answer never flips
                    labels.setdefault(t.subject.value, {}).setdefault(t.object.language or "", t.object.value)
        return cls(superclasses, superproperties, inverses, labels)

    # --- classes and properties ---------------------------------------------------------------

    def is_class(self, iri: str) -> bool:
        return iri in self._superclasses

    def is_property(self, iri: str) -> bool:
        return iri in self._superproperties

    def classes(self) -> frozenset[str]:
        return frozenset(self._superclasses)

    def properties(self) -> frozenset[str]:
        return frozenset(self._superproperties)

    def superclasses(self, iri: str) -> frozenset[str]:
        """Every class ``iri`` is a subclass of, transitively; not itself, owl:Thing or rdfs:Resource."""
        return self._superclasses.get(iri, frozenset())

    def subclasses(self, iri: str) -> frozenset[str]:
        """Every class that is a subclass of ``iri``, transitively; not itself."""
        return self._subclasses.get(iri, frozenset())

    def superproperties(self, iri: str) -> frozenset[str]:
        return self._superproperties.get(iri, frozenset())

    def subproperties(self, iri: str) -> frozenset[str]:
        return self._subproperties.get(iri, frozenset())

    def inverse(self, property_iri: str) -> str | None:
        """The declared ``owl:inverseOf``, else the ``Pn_`` / ``Pni_`` twin; None for literal-valued
        and symmetric properties (CRM gives P121, P122, P132, P133 no inverse of their own)."""
        return self._inverses.get(property_iri)

    # --- labels -------------------------------------------------------------------------------

    def labels(self, iri: str) -> dict[str, str]:
        """``rdfs:label`` by language tag (``""`` for an untagged one); a copy, empty if none."""
        return dict(self._labels.get(iri, {}))

    def label(self, iri: str, lang: str | None = "en") -> str | None:
        """The label in ``lang`` (or its primary subtag: ``de-AT`` finds ``de``), else English,
        else untagged, else the first by language tag; ``lang=None`` prefers the untagged one.

        >>> h = Hierarchy.load()
        >>> [h.label("http://www.cidoc-crm.org/cidoc-crm/E53_Place", lang) for lang in ("fr-CA", "xx", None)]
        ['Lieu', 'Place', 'Place']
        """
        by_lang = self._labels.get(iri)
        if not by_lang:
            return None
        wanted = (lang.lower(), lang.split("-")[0].lower(), "en", "") if lang else ("", "en")
        for tag in wanted:
            if tag in by_lang:
                return by_lang[tag]
        return by_lang[min(by_lang)]

    # --- inference ----------------------------------------------------------------------------

    def infer_types(self, triples: Iterable[Triple]) -> list[Triple]:
        """The ``?s rdf:type ?Super`` triples implied by the input's ``rdf:type`` triples (RDFS rule
        rdfs9) and not already in it: subjects in order of first type, superclasses by IRI.

        >>> from ontology.namespaces import CRM, EDM
        >>> obj = NamedNode("urn:x:object")
        >>> added = Hierarchy.load().infer_types([Triple(obj, _TYPE, CRM["E22_Human-Made_Object"]),
        ...                                       Triple(obj, _TYPE, CRM.E70_Thing),
        ...                                       Triple(obj, _TYPE, NamedNode("urn:x:Unknown"))])
        >>> [t.object.value.rsplit("/", 1)[1] for t in added]
        ['E18_Physical_Thing', 'E19_Physical_Object', 'E1_CRM_Entity', 'E24_Physical_Human-Made_Thing', 'E71_Human-Made_Thing', 'E72_Legal_Object', 'E77_Persistent_Item']
        """
        asserted: dict = {}  # subject -> IRIs of the classes the input gives it, in input order
        for triple in triples:
            if triple.predicate == _TYPE:
                cls = triple.object
                if isinstance(cls, NamedNode):
                    asserted.setdefault(triple.subject, []).append(cls.value)
        implied = self._implied
        added: list[Triple] = []
        for subject, classes in asserted.items():
            seen = set(classes)
            for cls in classes:
                for iri, node in implied.get(cls, ()):
                    if iri not in seen:
                        seen.add(iri)
                        added.append(Triple(subject, _TYPE, node))
        return added


def inverse_by_name(iri: str, properties: Iterable[str]) -> str | None:
    """The CRM naming twin of ``iri`` among ``properties`` (``P14_…`` ↔ ``P14i_…``), if exactly one.

    >>> inverse_by_name("urn:c/P14_carried_out_by", ["urn:c/P14i_performed", "urn:c/P140_assigned"])
    'urn:c/P14i_performed'
    >>> inverse_by_name("urn:c/P82a_begin_of_the_begin", ["urn:c/P82_at_some_time_within"]) is None
    True
    """
    cut = max(iri.rfind("/"), iri.rfind("#")) + 1
    match = _NUMBERED.match(iri, cut)
    if not match:
        return None
    twin = iri[:cut] + match.group(1) + ("" if match.group(2) else "i") + "_"
    found = [p for p in properties if p.startswith(twin)]
    return found[0] if len(found) == 1 else None


def _closed(closure: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    # every IRI that appears, even only as a parent, is a known term with its own entry
    result = {iri: frozenset(parents) - _TOP - {iri} for iri, parents in closure.items() if iri not in _TOP}
    for parents in list(result.values()):
        for parent in parents:
            result.setdefault(parent, frozenset())
    return result


def _inverted(closure: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    children: dict[str, set[str]] = {iri: set() for iri in closure}
    for iri, parents in closure.items():
        for parent in parents:
            children[parent].add(iri)
    return {iri: frozenset(kids) for iri, kids in children.items()}
