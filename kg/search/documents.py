"""One record as the search index sees it: its focus, titles by language, text columns, facet values,
years, image flag, and the labels of the things it links to — read from the record's graph."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple, Sequence

from pyoxigraph import BlankNode, Literal, NamedNode

from ontology.namespaces import CRM, DC, DCTERMS, EDM, FOAF, LA, MOU, ORE, OWL, RDF, RDFS, SCHEMA, SKOS, XSD

TEXT = {XSD.string.value, RDF.langString.value}
TITLE = {RDFS.label.value, SKOS.prefLabel.value, DC.title.value, DCTERMS.title.value, SCHEMA.name.value,
         FOAF.name.value}
LABELS = {SKOS.altLabel.value, DCTERMS.alternative.value, DC.identifier.value}
NAME = TITLE | {SKOS.altLabel.value}
APPELLATION_LINKS = {CRM.P1_is_identified_by.value, CRM.P106_is_composed_of.value, CRM.P102_has_title.value}
#: links that lead to files, licences, the record's own plumbing: never to a thing with a name
NOT_NAMED = {RDF.type.value, OWL.sameAs.value, EDM.rights.value, EDM.isShownBy.value, EDM.isShownAt.value,
             EDM.object.value, EDM.hasView.value, EDM.aggregatedCHO.value, ORE.proxyFor.value,
             ORE.proxyIn.value, LA.access_point.value, CRM.P91_has_unit.value, CRM.P72_has_language.value,
             CRM.P138i_has_representation.value, LA.digitally_shown_by.value, RDFS.seeAlso.value,
             EDM.dataProvider.value, EDM.provider.value, EDM.preview.value, EDM.isRelatedTo.value,
             DC.language.value, EDM.language.value}
FACET_LINKS = {
    "type": {CRM.P2_has_type.value, DC.type.value, DCTERMS.type.value, EDM.hasType.value},
    "material": {CRM.P45_consists_of.value, DCTERMS.medium.value},
    "maker": {DC.creator.value},
}
IMAGE_LINKS = {CRM.P138i_has_representation.value, EDM.isShownBy.value, EDM.object.value,
               LA.digitally_shown_by.value}
DATE_LINKS = {DCTERMS.created.value, DC.date.value, DCTERMS.issued.value, DCTERMS.temporal.value}
_YEAR = re.compile(r"^(-?\d{1,4})(?=-|$)|\b(\d{3,4})\b")


def _year(text: str) -> int | None:
    found = _YEAR.search(text.strip())
    if not found:
        return None
    return int(found.group(1) or found.group(2))


@dataclass
class Document:
    """What the index holds about one record."""

    key: str
    iri: str
    titles: dict[str, str]
    text: dict[str, list[str]]  # column → passages
    facets: set[tuple[str, str]]
    begin: int | None
    end: int | None
    has_image: bool
    subjects: list[str]  # named things the record describes (their labels may name other records' links)
    links: dict[str, dict[str, list[str]]]  # linked IRI → labels by language
    hash: str | None = None  # the change log's content hash when it was read


def _lang(term: Literal) -> str:
    return (term.language or "").lower()


_FOCUS, _CONTENT_HASH = MOU.focus.value, MOU.contentHash.value
_PROXY_FOR, _AGGREGATED_CHO, _EDM_TYPE = ORE.proxyFor.value, EDM.aggregatedCHO.value, EDM.type.value
_EDM_BEGIN, _EDM_END = EDM.begin.value, EDM.end.value
_PRODUCED_BY, _CARRIED_OUT_BY = CRM.P108i_was_produced_by.value, CRM.P14_carried_out_by.value
_SYMBOLIC_CONTENT, _HAS_TYPE, _TIME_SPAN = CRM.P190_has_symbolic_content.value, CRM.P2_has_type.value, CRM["P4_has_time-span"].value
_LIFE_EVENTS = (CRM.P98i_was_born.value, CRM.P100i_died_in.value)
_SPAN_BEGIN = (CRM.P82a_begin_of_the_begin.value, CRM.P81a_end_of_the_begin.value, CRM.P82_at_some_time_within.value)
_SPAN_END = (CRM.P82b_end_of_the_end.value, CRM.P81b_begin_of_the_end.value, CRM.P82_at_some_time_within.value)
_FORMAT, _TYPE, _IDENTIFIER = DC.format.value, RDF.type.value, CRM.E42_Identifier


class Written(NamedTuple):
    """A record as ``Store.write`` has just committed it (spares reading it back)."""

    triples: Sequence
    focus: NamedNode | None
    content_hash: str | None


class _Reader:
    """Describes records from the store; caches linked things' labels for one batch."""

    def __init__(self, store) -> None:
        self.store = store
        self.labels: dict[str, dict[str, list[str]]] = {}

    def names_of(self, iri: str) -> dict[str, list[str]]:
        if iri not in self.labels:
            found: dict[str, list[str]] = {}
            for quad in self.store.backend.quads(NamedNode(iri), None, None, None):
                if quad.predicate.value in NAME and isinstance(quad.object, Literal):
                    values = found.setdefault(_lang(quad.object), [])
                    if quad.object.value not in values:
                        values.append(quad.object.value)
            self.labels[iri] = {k: sorted(v) for k, v in sorted(found.items())}
        return self.labels[iri]

    def describe(self, key: str, known_iri: str | None = None, written: Written | None = None) -> Document | None:
        """The row of record ``key``, read from the store (or from ``written``: what was just written)."""
        store = self.store
        graph = store.uris.record_graph(key)
        by_subject: dict[object, list[tuple[str, object]]] = {}
        if written is None:
            triples = (q.triple for q in store.backend.quads(None, None, None, graph))
        else:
            triples = written.triples
        for triple in triples:
            by_subject.setdefault(triple.subject, []).append((triple.predicate.value, triple.object))
        if not by_subject:
            return None
        if written is None:
            meta = {q.predicate.value: q.object for q in store.backend.quads(graph, None, None, store.uris.meta_graph)}
        else:  # what the change log has just been given
            meta = {_FOCUS: written.focus, _CONTENT_HASH: written.content_hash and Literal(written.content_hash)}
        focus = self._focus(meta.get(_FOCUS), by_subject, known_iri)
        proper = {focus} | {s for s, pos in by_subject.items() if (_PROXY_FOR, focus) in pos}
        aggregations = {s for s, pos in by_subject.items() if (_AGGREGATED_CHO, focus) in pos}
        prefix = focus.value + "#"
        described, todo = set(), list(proper | aggregations)
        appellations: set[object] = set()
        while todo:  # the record's own nodes: blank nodes and the focus's "#" children
            node = todo.pop()
            if node in described:
                continue
            described.add(node)
            for predicate, obj in by_subject.get(node, ()):
                inside = isinstance(obj, BlankNode) or (isinstance(obj, NamedNode) and obj.value.startswith(prefix))
                if inside and obj in by_subject:
                    todo.append(obj)
                    if predicate in APPELLATION_LINKS:
                        appellations.add(obj)
        titles: dict[str, list[str]] = {}
        text: dict[str, list[str]] = {"title": [], "labels": [], "descriptions": [], "names": []}
        facets: set[tuple[str, str]] = set()
        links: dict[str, dict[str, list[str]]] = {}
        begin = end = None
        has_image = False
        productions = {o for p, o in by_subject.get(focus, ()) if p == _PRODUCED_BY}
        for node in described:
            for predicate, obj in by_subject.get(node, ()):
                if isinstance(obj, Literal):
                    if obj.datatype.value not in TEXT or not obj.value.strip():
                        if node in proper and predicate in DATE_LINKS:
                            begin, end = _widen(begin, end, _year(obj.value), _year(obj.value))
                        continue
                    value = " ".join(obj.value.split())
                    if node in proper and predicate in TITLE:
                        titles.setdefault(_lang(obj), []).append(value)
                        text["title"].append(value)
                    elif predicate in LABELS or (node in appellations and predicate == _SYMBOLIC_CONTENT):
                        text["labels"].append(value)
                        if node in appellations and _is_name(by_subject.get(node, ())):
                            titles.setdefault("~" + _lang(obj), []).append(value)
                    elif node in proper and predicate in DATE_LINKS:
                        text["descriptions"].append(value)
                        begin, end = _widen(begin, end, _year(value), _year(value))
                    elif not (predicate == _FORMAT and node not in proper) and predicate != _EDM_TYPE:
                        text["descriptions"].append(value)
                    continue
                if predicate in IMAGE_LINKS:
                    has_image = True
                if not isinstance(obj, NamedNode) or obj in described:
                    continue
                if node == focus and predicate == _TYPE:
                    facets.add(("class", obj.value))
                if node in proper:
                    for facet, predicates in FACET_LINKS.items():
                        if predicate in predicates:
                            facets.add((facet, obj.value))
                    if predicate in DATE_LINKS and obj in by_subject:
                        b, e = _edm_span(by_subject[obj])
                        begin, end = _widen(begin, end, b, e)
                if node in productions and predicate == _CARRIED_OUT_BY:
                    facets.add(("maker", obj.value))
                if predicate in NOT_NAMED or (predicate == _HAS_TYPE and node not in proper):
                    continue
                links[obj.value] = self._local_names(obj, by_subject) if obj in by_subject else self.names_of(obj.value)
        for node in productions:
            for predicate, span in by_subject.get(node, ()):
                if predicate == _TIME_SPAN:
                    b, e = _crm_span(by_subject.get(span, ()))
                    begin, end = _widen(begin, end, b, e)
        if begin is None:  # people: life dates
            for predicate, event in by_subject.get(focus, ()):
                if predicate in _LIFE_EVENTS:
                    for p, span in by_subject.get(event, ()):
                        if p == _TIME_SPAN:
                            b, e = _crm_span(by_subject.get(span, ()))
                            begin, end = _widen(begin, end, b, e)
        for labels in links.values():
            text["names"].extend(v for values in labels.values() for v in values)
        chosen = {lang: values[0] for lang, values in sorted(titles.items()) if not lang.startswith("~")}
        if not chosen:
            chosen = {lang[1:]: values[0] for lang, values in sorted(titles.items())}
        if not chosen:
            chosen = {"": key}
        subjects = sorted({s.value for s in by_subject if isinstance(s, NamedNode) and not s.value.startswith(prefix)})
        digest = meta.get(_CONTENT_HASH)
        return Document(key, focus.value, chosen, text, facets, begin, end, has_image, subjects, links,
                        digest.value if digest is not None else None)

    @staticmethod
    def _focus(logged, by_subject, known_iri: str | None):
        """The record's principal resource: the change log's ``mou:focus``; else what the index had (a
        record rewritten by SPARQL Update has no focus in the log); else the CHO of an aggregation; else a
        typed root (a subject nothing in the record points at)."""
        if isinstance(logged, NamedNode):
            return logged
        if known_iri is not None and NamedNode(known_iri) in by_subject:
            return NamedNode(known_iri)
        for pos in by_subject.values():
            for predicate, obj in pos:
                if predicate == _AGGREGATED_CHO and obj in by_subject:
                    return obj
        pointed = {o for pos in by_subject.values() for _, o in pos}
        named = [s for s in by_subject if isinstance(s, NamedNode)]
        typed_roots = [s for s in named if s not in pointed and any(p == _TYPE for p, _ in by_subject[s])]
        candidates = typed_roots or named or list(by_subject)
        return max(candidates, key=lambda s: (len(by_subject[s]), s.value if isinstance(s, NamedNode) else ""))

    @staticmethod
    def _local_names(node, by_subject) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for predicate, obj in by_subject[node]:
            if predicate in NAME and isinstance(obj, Literal) and obj.value not in found.get(_lang(obj), []):
                found.setdefault(_lang(obj), []).append(obj.value)
        return {k: sorted(v) for k, v in sorted(found.items())}


def _is_name(pairs) -> bool:
    # an appellation, not an identifier (accession numbers make poor titles)
    return (_TYPE, _IDENTIFIER) not in pairs


def _crm_span(pairs) -> tuple[int | None, int | None]:
    begin = end = None
    for predicate, obj in pairs:
        if isinstance(obj, Literal):
            if predicate in _SPAN_BEGIN:
                begin = _min(begin, _year(obj.value))
            if predicate in _SPAN_END:
                end = _max(end, _year(obj.value))
    return begin, end


def _edm_span(pairs) -> tuple[int | None, int | None]:
    begin = end = None
    for predicate, obj in pairs:
        if isinstance(obj, Literal) and predicate == _EDM_BEGIN:
            begin = _min(begin, _year(obj.value))
        elif isinstance(obj, Literal) and predicate == _EDM_END:
            end = _max(end, _year(obj.value))
    return begin, end


def _min(a, b):
    return b if a is None else a if b is None else min(a, b)


def _max(a, b):
    return b if a is None else a if b is None else max(a, b)


def _widen(begin, end, b, e):
    if b is None and e is None:
        return begin, end
    return _min(begin, b if b is not None else e), _max(end, e if e is not None else b)


