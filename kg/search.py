"""The search index: full text and facets over every live record, derived from the store and kept in step.

The store stays the single source of truth (DESIGN.md); this index is a copy that is never allowed to
drift. It is an SQLite database with an FTS5 table (``unicode61`` tokenizer, diacritics removed, so
``Geneve`` finds ``Genève``), written only here:

- **on every write**: ``SearchIndex.attach`` adds a listener to ``Store.listeners``; ``Store.write``
  calls it with the outcomes (records created, modified, deleted) and the other graphs it replaced
  (vocabularies, enrichment run graphs). The index reads those records back from the store and
  rewrites their rows in one SQLite transaction, before the write returns.
- **on opening**: the change log's content hashes are compared with the index's, so a crash between
  the store's commit and the index's (or a restore, or a load by a process without the index) is
  caught up before the first search. Run graphs and the labels of linked things are compared too.
- ``mouseion reindex`` rebuilds it from nothing.

One row per live record, describing its focus (the object, person, CHO): its titles by language, the
other names and identifiers, descriptions, and the labels in every language of the things it links
to (makers, materials, types, subjects, places). When a linked thing's labels change (an artist
renamed in their own record, a vocabulary reloaded) the rows that named it are rewritten too.

Facets: ``class`` (``rdf:type``), ``type`` (``P2_has_type``, ``dc:type``), ``material``
(``P45_consists_of``, ``dcterms:medium``), ``maker`` (``P108i_was_produced_by/P14_carried_out_by``,
``dc:creator``), a year range (production time-span ``P82a``/``P82b``; life dates for people; EDM
dates), has an image, has machine suggestions (a pending or accepted ``E13_Attribute_Assignment`` in
a run graph).

>>> from kg.record import Origin, Record
>>> from kg.store import Store
>>> from ontology.namespaces import CRM, RDF, RDFS
>>> from pyoxigraph import Literal, Triple
>>> store = Store.open(None, "http://example.org/")
>>> index = SearchIndex.attach(store, ":memory:")
>>> obj = store.uris.entity("object", "1")
>>> _ = store.commit([Record("demo/1", "demo", [Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]),
...                                             Triple(obj, RDFS.label, Literal("Vase de Genève", language="fr"))],
...                         Origin("demo.ttl"), focus=obj)])
>>> [h.titles for h in index.search(SearchQuery(text="geneve")).hits]
[{'fr': 'Vase de Genève'}]
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pyoxigraph as ox
from pyoxigraph import BlankNode, Literal, NamedNode

from kg.errors import MouseionError
from kg.queries import named_query
from ontology.namespaces import CRM, DC, DCTERMS, EDM, FOAF, LA, MOU, ORE, OWL, RDF, RDFS, SCHEMA, SKOS, XSD

log = logging.getLogger(__name__)

#: bumped when what a row holds changes: an index of another version is rebuilt on opening
INDEX_VERSION = "1"


class SearchError(MouseionError):
    """A search request that cannot be answered as asked (names the parameter)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


# ------------------------------------------------------------------------------------- the query

@dataclass(frozen=True)
class Facet:
    name: str
    title: str


#: the IRI-valued facets, in the order pages show them (explicit registry)
FACETS = (Facet("class", "Kind of thing"), Facet("type", "Type"), Facet("material", "Material"),
          Facet("maker", "Maker"))
FACET_NAMES = tuple(f.name for f in FACETS)
#: every request parameter a search understands; anything else is refused with a 400
PARAMETERS = ("q", *FACET_NAMES, "from", "to", "image", "suggestions", "page", "page_size")
MAX_PAGE_SIZE = 100
#: results of more hits than this are listed in title order: ranking costs every match (add a word or a filter)
RANK_LIMIT = 5000
MAX_QUERY_CHARS = 500
MAX_TERMS = 32
FACET_LIMIT = 12


@dataclass(frozen=True)
class SearchQuery:
    """What a person asked for. ``from_params`` validates request parameters into one."""

    text: str = ""
    filters: tuple[tuple[str, str], ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    has_image: bool | None = None
    has_suggestions: bool | None = None
    page: int = 1
    page_size: int = 20

    @classmethod
    def from_params(cls, params: Mapping[str, Sequence[str]]) -> "SearchQuery":
        """Parameters as a multi-dict (name → values); raises SearchError naming the bad one.

        >>> SearchQuery.from_params({"q": ["river"], "page": ["2"]}).page
        2
        >>> SearchQuery.from_params({"page": ["-1"]})
        Traceback (most recent call last):
        kg.search.SearchError: page: must be a whole number from 1 to 999999, not '-1'
        """
        unknown = sorted(set(params) - set(PARAMETERS))
        if unknown:
            raise SearchError(unknown[0], f"unknown parameter; a search takes {', '.join(PARAMETERS)}")

        def one(name: str) -> str | None:
            values = [v for v in params.get(name, []) if v.strip() != ""]
            if len(values) > 1:
                raise SearchError(name, "given more than once")
            return values[0].strip() if values else None

        def whole(name: str, low: int, high: int, default: int | None) -> int | None:
            raw = one(name)
            if raw is None:
                return default
            if not re.fullmatch(r"-?\d{1,6}", raw) or not low <= int(raw) <= high:
                raise SearchError(name, f"must be a whole number from {low}" +
                                  (f" to {high}" if high < 10**6 else "") + f", not {raw!r}")
            return int(raw)

        def yes_no(name: str) -> bool | None:
            raw = one(name)
            if raw is None:
                return None
            if raw not in ("yes", "no"):
                raise SearchError(name, f"is 'yes' or 'no', not {raw!r}")
            return raw == "yes"

        text = one("q") or ""
        if len(text) > MAX_QUERY_CHARS:
            raise SearchError("q", f"longer than {MAX_QUERY_CHARS} characters")
        match_expression(text)  # raises for an unbalanced quote, before any work
        filters = []
        for facet in FACET_NAMES:
            for value in params.get(facet, []):
                if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+", value):
                    raise SearchError(facet, f"facet values are IRIs, not {value[:80]!r}")
                filters.append((facet, value))
        year_from, year_to = whole("from", -9999, 9999, None), whole("to", -9999, 9999, None)
        if year_from is not None and year_to is not None and year_from > year_to:
            raise SearchError("from", f"year {year_from} is after 'to' ({year_to})")
        return cls(text=text, filters=tuple(dict.fromkeys(filters)), year_from=year_from, year_to=year_to,
                   has_image=yes_no("image"), has_suggestions=yes_no("suggestions"),
                   page=whole("page", 1, 10**6 - 1, 1), page_size=whole("page_size", 1, MAX_PAGE_SIZE, 20))

    def params(self, **changes) -> list[tuple[str, str]]:
        """This query as request parameters (for links), with ``changes`` applied; page 1 unless given.

        >>> SearchQuery(text="river", filters=(("maker", "urn:x:1"),)).params(page=2)
        [('q', 'river'), ('maker', 'urn:x:1'), ('page', '2')]
        """
        def yes_no(flag: bool | None) -> str | None:
            return None if flag is None else "yes" if flag else "no"

        values = {"q": self.text or None, "from": self.year_from, "to": self.year_to,
                  "image": yes_no(self.has_image), "suggestions": yes_no(self.has_suggestions),
                  "page_size": None if self.page_size == 20 else self.page_size, "page": None}
        filters = changes.pop("filters", self.filters)
        values.update(changes)
        if values["page"] == 1:
            values["page"] = None
        pairs = [("q", values["q"])] if values["q"] else []
        pairs += list(filters)
        pairs += [(k, str(values[k])) for k in ("from", "to", "image", "suggestions", "page_size", "page")
                  if values[k] is not None]
        return pairs


_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


def match_expression(text: str) -> str | None:
    """Plain words and "quoted phrases" as an FTS5 expression in which every term is a quoted string, so
    FTS5's own operators in user text are just words; a trailing ``*`` asks for a prefix.

    >>> match_expression('river  "old man" AND stu*')
    '"river" "old man" "AND" "stu"*'
    >>> match_expression('"unclosed')
    Traceback (most recent call last):
    kg.search.SearchError: q: unbalanced double quote at character 1: close the phrase or remove the quote
    """
    if text.count('"') % 2:
        position = text.rfind('"') + 1
        raise SearchError("q", f"unbalanced double quote at character {position}: close the phrase or remove the quote")
    terms = []
    for phrase, word in _TOKEN.findall(text):
        if phrase:
            if phrase.strip():
                terms.append('"' + phrase.strip() + '"')
            continue
        prefix = word.endswith("*") and len(word.rstrip("*")) >= 2
        word = word.rstrip("*") if prefix else word
        if not any(ch.isalnum() for ch in word):
            continue  # punctuation alone matches nothing in the tokenizer
        terms.append('"' + word + '"' + ("*" if prefix else ""))
    if len(terms) > MAX_TERMS:
        raise SearchError("q", f"more than {MAX_TERMS} words or phrases")
    return " ".join(terms) or None


# ------------------------------------------------------------------------------------- results

@dataclass
class Hit:
    key: str
    iri: str
    titles: dict[str, str]
    classes: list[str]
    begin: int | None
    end: int | None
    has_image: bool
    has_suggestions: bool
    #: the best matching passage, matches between "\x02" and "\x03" (None without a text query)
    snippet: str | None = None


@dataclass
class FacetValue:
    value: str
    count: int
    labels: dict[str, str]
    selected: bool = False


@dataclass
class SearchResult:
    query: SearchQuery
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    #: (first year, last year, count) per century, or per decade once the range is narrowed
    years: list[tuple[int, int, int]]
    #: counts of "yes" for the two flags within the result
    flags: dict[str, int] = field(default_factory=dict)
    #: "relevance" (bm25), or "title" without words or with more than RANK_LIMIT hits
    order: str = "relevance"

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.page_size))


def best_label(labels: Mapping[str, str], languages: Sequence[str] = ()) -> tuple[str, str] | None:
    """(text, language tag) in the first wanted language (or its primary subtag), else untagged,
    else English, else the first by tag.

    >>> best_label({"en": "Geneva", "de": "Genf", "": "Genève"}, ["de-CH"])
    ('Genf', 'de')
    >>> best_label({"en": "Geneva", "fr": "Genève"}, ["nl"])
    ('Geneva', 'en')
    """
    if not labels:
        return None
    lowered = {k.lower(): k for k in labels}
    for lang in languages:
        for tag in (lang.lower(), lang.lower().split("-")[0]):
            if tag in lowered:
                return labels[lowered[tag]], lowered[tag]
        primary = lang.lower().split("-")[0]
        for tag, original in sorted(lowered.items()):
            if tag.split("-")[0] == primary:
                return labels[original], original
    for tag in ("", "en"):
        if tag in labels:
            return labels[tag], tag
    first = min(labels)
    return labels[first], first


# ------------------------------------------------------------------------------------- documents

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

    def describe(self, key: str, known_iri: str | None = None, triples=None) -> Document | None:
        """The row of record ``key``, read from the store (or from ``triples``: what was just written)."""
        store = self.store
        graph = store.uris.record_graph(key)
        by_subject: dict[object, list[tuple[str, object]]] = {}
        if triples is None:
            triples = (q.triple for q in store.backend.quads(None, None, None, graph))
        for triple in triples:
            by_subject.setdefault(triple.subject, []).append((triple.predicate.value, triple.object))
        if not by_subject:
            return None
        meta = {q.predicate.value: q.object for q in store.backend.quads(graph, None, None, store.uris.meta_graph)}
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


# ------------------------------------------------------------------------------------- the index

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS docs(
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, iri TEXT NOT NULL, hash TEXT,
    titles TEXT NOT NULL, sort TEXT NOT NULL, begin_year INTEGER, end_year INTEGER,
    has_image INTEGER NOT NULL, has_suggestions INTEGER NOT NULL, subjects TEXT NOT NULL, refs TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS docs_iri ON docs(iri);
CREATE INDEX IF NOT EXISTS docs_sort ON docs(sort, id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, labels, descriptions, names,
    tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS facets(facet TEXT NOT NULL, value TEXT NOT NULL, doc INTEGER NOT NULL,
    PRIMARY KEY(facet, value, doc)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS facets_doc ON facets(doc, facet, value);
CREATE TABLE IF NOT EXISTS refs(iri TEXT NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY(iri, doc)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS names(iri TEXT PRIMARY KEY, labels TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS suggested(graph TEXT NOT NULL, iri TEXT NOT NULL, PRIMARY KEY(graph, iri)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS suggested_iri ON suggested(iri);
"""
_TABLES = ("meta", "docs", "fts", "facets", "refs", "names", "suggested")
#: weights of the FTS columns (title, labels, descriptions, names) in the bm25 ranking
_WEIGHTS = (10.0, 4.0, 1.0, 2.0)
_CHUNK = 500


def index_location(configured: str, store_path: Path | None) -> str:
    """Where the index lives: the setting when given; else beside the store directory
    (``<store>.search.sqlite``); in memory for an in-memory or remote store.

    >>> index_location("", Path("/srv/mouseion-data"))
    '/srv/mouseion-data.search.sqlite'
    >>> index_location("", None)
    ':memory:'
    """
    if configured:
        return configured
    if store_path is None:
        return ":memory:"
    return str(store_path.with_name(store_path.name + ".search.sqlite"))


def _chunks(items: Sequence, size: int = _CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


class SearchIndex:
    """The index of one store. ``attach`` is the way in: it catches up and starts listening."""

    def __init__(self, store, location: str) -> None:
        self.store = store
        self.location = location
        self.memory = location == ":memory:"
        self._lock = threading.RLock()
        self._local = threading.local()
        self._writer = self._connect()
        #: bumped after every committed change; memos of this index check it
        self.generation = 0
        #: facet counts of the whole index, and facet bitmaps, each with the ``changes`` it was made at
        self._browse_memo: tuple[str, dict] | None = None
        self._bitmaps: _Bitmaps | None = None
        self._bitmaps_building = threading.Lock()
        #: set when applying a write failed: the next search catches up first
        self.stale = False
        self._prepare()

    @classmethod
    def attach(cls, store, location: str | Path) -> "SearchIndex":
        """The index at ``location``, caught up with ``store`` and listening to its writes (the one
        already attached, when there is one: a store has one index per location)."""
        for listener in store.listeners:
            attached = getattr(listener, "__self__", None)
            if isinstance(attached, cls) and attached.location == str(location):
                return attached
        index = cls(store, str(location))
        index.catch_up()
        store.listeners.append(index.on_write)
        return index

    def detach(self) -> None:
        if self.on_write in self.store.listeners:
            self.store.listeners.remove(self.on_write)
        self._writer.close()

    # ------------------------------------------------------------ connections and schema

    def _connect(self) -> sqlite3.Connection:
        if not self.memory:
            Path(self.location).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.location, check_same_thread=False, isolation_level=None, timeout=30)
        if not self.memory:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _reader(self) -> sqlite3.Connection:
        # one connection per thread over the WAL file: readers never wait for the writer
        if self.memory:
            return self._writer
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self.location, check_same_thread=False, isolation_level=None)
            db.execute("CREATE TEMP TABLE hits(id INTEGER PRIMARY KEY)")
        return db

    def _prepare(self) -> None:
        with self._lock:
            db = self._writer
            db.executescript(_SCHEMA)
            found = dict(db.execute("SELECT name, value FROM meta WHERE name != 'changes'"))
            wanted = {"version": INDEX_VERSION, "base": self.store.uris.base}
            if found and found != wanted:
                log.info("search index %s was built for %s; rebuilding", self.location, found)
                self._drop(db)
                db.executescript(_SCHEMA)
            db.executemany("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", wanted.items())
            db.execute("INSERT OR IGNORE INTO meta(name, value) VALUES ('changes', '0')")
            if self.memory:
                db.execute("CREATE TEMP TABLE IF NOT EXISTS hits(id INTEGER PRIMARY KEY)")

    @staticmethod
    def _drop(db: sqlite3.Connection) -> None:
        for table in _TABLES:
            db.execute(f"DROP TABLE IF EXISTS {table}")

    # ------------------------------------------------------------ keeping in step

    def on_write(self, outcomes, graphs, records=()) -> None:
        """``Store.listeners`` entry: called after every committed ``Store.write`` with what it wrote."""
        changed = [o.key for o in outcomes if o.status in ("created", "modified")]
        deleted = [o.key for o in outcomes if o.status == "deleted"]
        if not changed and not deleted and not graphs:
            return
        written = {r.key: r.triples for r in records}
        try:
            self.apply(changed, deleted, list(graphs), written=written)
        except Exception:  # noqa: BLE001 - the store has committed: the write must not be reported as failed;
            # the index repairs itself from the change log before it answers again
            log.exception("search index update failed; it will catch up before the next search")
            self.stale = True

    def catch_up(self) -> dict[str, int]:
        """Bring the index level with the store: records whose content hash differs, records gone, run
        graphs, and the labels of every linked thing. Returns counts of what was redone."""
        meta = self.store.uris.meta_graph
        live: dict[str, str] = {}
        for quad in self.store.backend.quads(None, MOU.contentHash, None, meta):
            key = self.store.uris.key_of_graph(quad.subject)
            if key is not None:
                live[key] = quad.object.value
        with self._lock:
            indexed = dict(self._writer.execute("SELECT key, hash FROM docs"))
            runs = {g for (g,) in self._writer.execute("SELECT DISTINCT graph FROM suggested")}
            names = [iri for (iri,) in self._writer.execute("SELECT iri FROM names")]
        prefix = self.store.uris.run_graph("").value
        runs |= {g.value for g in self.store.backend.graphs() if isinstance(g, NamedNode) and g.value.startswith(prefix)}
        changed = sorted(k for k, h in live.items() if indexed.get(k) != h)
        deleted = sorted(k for k in indexed if k not in live)
        self.apply(changed, deleted, [NamedNode(g) for g in sorted(runs)], extra_subjects=names)
        self.stale = False
        return {"indexed": len(changed), "removed": len(deleted)}

    def rebuild(self) -> dict[str, int]:
        """Throw the index away and build it again from the store (``mouseion reindex``)."""
        with self._lock:
            self._drop(self._writer)
            self._prepare()
            return self.catch_up()

    def apply(self, changed: Sequence[str], deleted: Sequence[str], graphs: Sequence = (),
              extra_subjects: Iterable[str] = (), written: Mapping[str, list] | None = None) -> None:
        """Rewrite the rows of ``changed`` records, remove ``deleted`` ones, refresh run graphs'
        suggestions, then rewrite every row that names a thing whose labels changed. ``written``: the
        statements just committed for some of the changed records, which spares reading them back."""
        written = written or {}
        with self._lock:
            db = self._writer
            reader = _Reader(self.store)
            subjects = set(extra_subjects)
            done: set[str] = set()
            run_prefix = self.store.uris.run_graph("").value
            for chunk in _chunks(list(changed) + list(deleted)):
                for (listed,) in db.execute(f"SELECT subjects FROM docs WHERE key IN ({','.join('?' * len(chunk))})", chunk):
                    subjects.update(json.loads(listed))
            for graph in graphs:
                if isinstance(graph, NamedNode) and graph.value.startswith(run_prefix):
                    continue
                subjects.update(q.subject.value for q in self.store.backend.quads(None, None, None, graph)
                                if isinstance(q.subject, NamedNode))
            for chunk in _chunks(list(deleted)):
                with _transaction(db):
                    for key in chunk:
                        self._remove(db, key)
            for chunk in _chunks(list(changed)):
                with _transaction(db):
                    for key in chunk:
                        known = db.execute("SELECT iri FROM docs WHERE key = ?", (key,)).fetchone()
                        doc = reader.describe(key, known[0] if known else None, written.get(key))
                        self._remove(db, key)
                        if doc is not None:
                            self._put(db, doc)
                            subjects.update(doc.subjects)
                        done.add(key)
            with _transaction(db):
                flagged = self._refresh_suggestions(db, [g for g in graphs if isinstance(g, NamedNode)
                                                         and g.value.startswith(run_prefix)])
                for chunk in _chunks(sorted(flagged)):
                    marks = ",".join("?" * len(chunk))
                    db.execute(f"UPDATE docs SET has_suggestions = EXISTS (SELECT 1 FROM suggested s WHERE s.iri = docs.iri)"
                               f" WHERE iri IN ({marks})", chunk)
                renamed = self._refresh_names(db, reader, subjects)
            dependents: list[tuple[str, str]] = []
            for chunk in _chunks(sorted(renamed)):
                marks = ",".join("?" * len(chunk))
                dependents += db.execute(f"SELECT DISTINCT d.key, d.iri FROM refs r JOIN docs d ON d.id = r.doc "
                                         f"WHERE r.iri IN ({marks})", chunk).fetchall()
            for chunk in _chunks(sorted({(k, i) for k, i in dependents if k not in done})):
                with _transaction(db):
                    for key, iri in chunk:
                        doc = reader.describe(key, iri)
                        self._remove(db, key)
                        if doc is not None:
                            self._put(db, doc)
            with _transaction(db):  # readers in every process see that their memos are stale
                db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE name = 'changes'")
            self.generation += 1

    def _remove(self, db: sqlite3.Connection, key: str) -> None:
        row = db.execute("SELECT id, refs FROM docs WHERE key = ?", (key,)).fetchone()
        if row is None:
            return
        doc_id, refs = row
        db.execute("DELETE FROM docs WHERE id = ?", (doc_id,))
        db.execute("DELETE FROM fts WHERE rowid = ?", (doc_id,))
        db.execute("DELETE FROM facets WHERE doc = ?", (doc_id,))
        db.executemany("DELETE FROM refs WHERE iri = ? AND doc = ?", [(iri, doc_id) for iri in json.loads(refs)])

    def _put(self, db: sqlite3.Connection, doc: Document) -> None:
        title = best_label(doc.titles, ("en",))[0]
        suggested = db.execute("SELECT EXISTS (SELECT 1 FROM suggested WHERE iri = ?)", (doc.iri,)).fetchone()[0]
        cursor = db.execute(
            "INSERT INTO docs(key, iri, hash, titles, sort, begin_year, end_year, has_image, has_suggestions, "
            "subjects, refs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (doc.key, doc.iri, doc.hash, json.dumps(doc.titles, ensure_ascii=False, sort_keys=True),
             title.casefold()[:200], doc.begin, doc.end, int(doc.has_image), suggested,
             json.dumps(doc.subjects), json.dumps(sorted(doc.links))))
        doc_id = cursor.lastrowid
        db.execute("INSERT INTO fts(rowid, title, labels, descriptions, names) VALUES (?, ?, ?, ?, ?)",
                   (doc_id, *("\n".join(dict.fromkeys(doc.text[c])) for c in ("title", "labels", "descriptions", "names"))))
        db.executemany("INSERT OR IGNORE INTO facets(facet, value, doc) VALUES (?, ?, ?)",
                       [(f, v, doc_id) for f, v in sorted(doc.facets)])
        db.executemany("INSERT OR IGNORE INTO refs(iri, doc) VALUES (?, ?)", [(iri, doc_id) for iri in doc.links])
        # labels of things seen for the first time; known ones change only through _refresh_names
        db.executemany("INSERT OR IGNORE INTO names(iri, labels) VALUES (?, ?)",
                       [(iri, json.dumps(labels, ensure_ascii=False)) for iri, labels in doc.links.items()])

    def _refresh_names(self, db: sqlite3.Connection, reader: _Reader, subjects: set[str]) -> set[str]:
        """Re-read the labels of the linked things among ``subjects``; those that changed."""
        renamed = set()
        for chunk in _chunks(sorted(subjects)):
            marks = ",".join("?" * len(chunk))
            for iri, stored in db.execute(f"SELECT iri, labels FROM names WHERE iri IN ({marks})", chunk).fetchall():
                current = json.dumps(reader.names_of(iri), ensure_ascii=False)
                if current != stored:
                    db.execute("UPDATE names SET labels = ? WHERE iri = ?", (current, iri))
                    renamed.add(iri)
        return renamed

    def _refresh_suggestions(self, db: sqlite3.Connection, graphs: Sequence[NamedNode]) -> set[str]:
        """Which things each run graph has pending or accepted suggestions about; the things whose
        flag may have changed."""
        touched: set[str] = set()
        query = named_query("search_suggested")
        for graph in graphs:
            touched.update(iri for (iri,) in db.execute("SELECT iri FROM suggested WHERE graph = ?", (graph.value,)))
            db.execute("DELETE FROM suggested WHERE graph = ?", (graph.value,))
            rows = self.store.query(query, union=False, substitutions={ox.Variable("g"): graph})
            found = sorted({row["s"].value for row in rows if isinstance(row["s"], NamedNode)})
            db.executemany("INSERT OR IGNORE INTO suggested(graph, iri) VALUES (?, ?)", [(graph.value, s) for s in found])
            touched.update(found)
        return touched

    # ------------------------------------------------------------ searching

    def search(self, query: SearchQuery) -> SearchResult:
        if self.stale:
            self.catch_up()
        if self.memory:
            with self._lock:
                return self._search(self._writer, query)
        return self._search(self._reader(), query)

    def _search(self, db: sqlite3.Connection, query: SearchQuery) -> SearchResult:
        expression = match_expression(query.text)
        conditions, args = [], []
        if expression:
            conditions.append("d.id IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
            args.append(expression)
        if query.year_from is not None:
            conditions.append("d.end_year >= ?")
            args.append(query.year_from)
        if query.year_to is not None:
            conditions.append("d.begin_year <= ?")
            args.append(query.year_to)
        if query.has_image is not None:
            conditions.append("d.has_image = ?")
            args.append(int(query.has_image))
        if query.has_suggestions is not None:
            conditions.append("d.has_suggestions = ?")
            args.append(int(query.has_suggestions))
        for facet, value in query.filters:
            conditions.append("d.id IN (SELECT doc FROM facets WHERE facet = ? AND value = ?)")
            args += [facet, value]
        offset = (query.page - 1) * query.page_size
        with _transaction(db):  # one snapshot for every part of the answer
            if conditions:
                db.execute("DELETE FROM temp.hits")
                if expression and len(conditions) == 1:
                    # words only: straight from the full-text index, no row of docs read
                    db.execute("INSERT INTO temp.hits SELECT rowid FROM fts WHERE fts MATCH ?", args)
                else:
                    db.execute("INSERT INTO temp.hits SELECT d.id FROM docs d WHERE " + " AND ".join(conditions), args)
                source = "temp.hits"
            else:
                source = "docs"
            changes = db.execute("SELECT value FROM meta WHERE name = 'changes'").fetchone()[0]
            memo = self._browse_memo if source == "docs" and self._browse_memo and \
                self._browse_memo[0] == changes else None
            total = memo[1]["total"] if memo else db.execute(f"SELECT COUNT(*) FROM {source}").fetchone()[0]
            ranked = expression is not None and total <= RANK_LIMIT
            if ranked:
                rows = db.execute(
                    "SELECT d.id, d.key, d.iri, d.titles, d.begin_year, d.end_year, d.has_image, d.has_suggestions, "
                    "snippet(fts, -1, char(2), char(3), '…', 14) FROM fts JOIN temp.hits h ON h.id = fts.rowid "
                    "JOIN docs d ON d.id = fts.rowid WHERE fts MATCH ? "
                    f"ORDER BY bm25(fts, {', '.join(map(str, _WEIGHTS))}), d.id LIMIT ? OFFSET ?",
                    (expression, query.page_size, offset)).fetchall()
            elif expression:
                # too many to rank (bm25 costs every match): in title order, with the shown hits' passages
                rows = db.execute(
                    "SELECT d.id, d.key, d.iri, d.titles, d.begin_year, d.end_year, d.has_image, d.has_suggestions, NULL "
                    f"FROM docs d WHERE d.id IN (SELECT id FROM {source}) ORDER BY d.sort, d.id LIMIT ? OFFSET ?",
                    (query.page_size, offset)).fetchall()
                if rows:
                    marks = ",".join("?" * len(rows))
                    passages = dict(db.execute(
                        "SELECT rowid, snippet(fts, -1, char(2), char(3), '…', 14) FROM fts "
                        f"WHERE fts MATCH ? AND rowid IN ({marks})", (expression, *[r[0] for r in rows])))
                    rows = [(*r[:-1], passages.get(r[0])) for r in rows]
            else:
                within = "" if source == "docs" else f"WHERE d.id IN (SELECT id FROM {source}) "
                rows = db.execute(
                    "SELECT d.id, d.key, d.iri, d.titles, d.begin_year, d.end_year, d.has_image, d.has_suggestions, NULL "
                    f"FROM docs d {within}ORDER BY d.sort, d.id LIMIT ? OFFSET ?",
                    (query.page_size, offset)).fetchall()
            classes: dict[int, list[str]] = {}
            if rows:
                ids = [r[0] for r in rows]
                for doc_id, value in db.execute(
                        f"SELECT doc, value FROM facets WHERE facet = 'class' AND doc IN ({','.join('?' * len(ids))})", ids):
                    classes.setdefault(doc_id, []).append(value)
            hits = [Hit(key, iri, json.loads(titles), sorted(classes.get(doc_id, [])), begin, end, bool(image),
                        bool(suggestions), snippet)
                    for doc_id, key, iri, titles, begin, end, image, suggestions, snippet in rows]
            if memo:
                counted = memo[1]
            else:
                counted = self._count(db, source, query, total, changes)
                if source == "docs":
                    self._browse_memo = (changes, {**counted, "total": total})
        facets = self._facet_values(db, counted["facets"], query)
        return SearchResult(query, total, hits, facets, counted["years"], counted["flags"],
                            "relevance" if ranked else "title")

    def _count(self, db: sqlite3.Connection, source: str, query: SearchQuery, total: int, changes: str) -> dict:
        """Facet value counts, the year histogram and the flag counts within ``source``."""
        narrow = (query.year_from is not None and query.year_to is not None
                  and query.year_to - query.year_from <= 150)
        width = 10 if narrow else 100
        bitmaps = self._bitmaps
        if source != "docs" and total >= _BITMAP_HITS:
            if bitmaps is not None and bitmaps.changes == changes:
                hits = bitmaps.mask([i for (i,) in db.execute(f"SELECT id FROM {source}")])
                return {"facets": bitmaps.count(hits, {v for f, v in query.filters}),
                        "years": bitmaps.years(hits, width), "flags": bitmaps.flag_counts(hits)}
            self._build_bitmaps_later()
        where = "" if source == "docs" else f" WHERE d.id IN (SELECT id FROM {source})"
        years = [(bucket, bucket + width - 1, n) for bucket, n in db.execute(
            f"SELECT ((d.begin_year + 100000) / {width}) * {width} - 100000 AS bucket, COUNT(*) FROM docs d{where}"
            f"{' AND' if where else ' WHERE'} d.begin_year IS NOT NULL GROUP BY bucket ORDER BY bucket")]
        image, suggestions = db.execute(
            f"SELECT COALESCE(SUM(d.has_image), 0), COALESCE(SUM(d.has_suggestions), 0) FROM docs d{where}").fetchone()
        return {"facets": self._sql_facets(db, source), "years": years,
                "flags": {"image": image, "suggestions": suggestions}}

    @staticmethod
    def _sql_facets(db: sqlite3.Connection, source: str) -> dict[str, list[tuple[str, int]]]:
        counts: dict[str, list[tuple[str, int]]] = {f: [] for f in FACET_NAMES}
        # hits first, then each one's facet rows through the (doc, facet, value) index: CROSS JOIN keeps
        # SQLite from scanning every facet row instead
        scan = "facets f" if source == "docs" else f"{source} h CROSS JOIN facets f ON f.doc = h.id"
        for facet, value, n in db.execute(f"SELECT f.facet, f.value, COUNT(*) FROM {scan} GROUP BY f.facet, f.value"):
            counts.setdefault(facet, []).append((value, n))
        return counts

    def warm(self) -> None:
        """Start building the facet bitmaps now (a serving process calls this once it starts)."""
        self._build_bitmaps_later()

    def _build_bitmaps_later(self) -> None:
        """Build the facet bitmaps of the index as it is now, in a thread; searches count with SQL meanwhile."""
        if self.memory or not self._bitmaps_building.acquire(blocking=False):
            return

        def build() -> None:
            try:
                db = sqlite3.connect(self.location, isolation_level=None)
                try:
                    self._bitmaps = _Bitmaps.build(db)
                finally:
                    db.close()
            except sqlite3.Error:
                log.exception("building the facet bitmaps failed; facets are counted with SQL")
            finally:
                self._bitmaps_building.release()

        threading.Thread(target=build, name="mouseion-facet-bitmaps", daemon=True).start()

    def _facet_values(self, db: sqlite3.Connection, counts: dict[str, list[tuple[str, int]]],
                      query: SearchQuery) -> dict[str, list[FacetValue]]:
        selected = set(query.filters)
        chosen: dict[str, list[tuple[str, int]]] = {}
        for facet in FACET_NAMES:
            ranked = sorted(counts.get(facet, []), key=lambda vn: (-vn[1], vn[0]))
            top = ranked[:FACET_LIMIT]
            top += [vn for vn in ranked[FACET_LIMIT:] if (facet, vn[0]) in selected]
            shown = {v for v, _ in top}
            top += [(v, 0) for f, v in query.filters if f == facet and v not in shown]
            chosen[facet] = top
        iris = sorted({v for values in chosen.values() for v, _ in values})
        labels: dict[str, dict[str, str]] = {}
        for chunk in _chunks(iris):
            for iri, stored in db.execute(f"SELECT iri, labels FROM names WHERE iri IN ({','.join('?' * len(chunk))})", chunk):
                labels[iri] = {lang: values[0] for lang, values in json.loads(stored).items() if values}
        hierarchy = self.store.hierarchy
        return {facet: [FacetValue(v, n, labels.get(v) or hierarchy.labels(v), (facet, v) in selected)
                        for v, n in values] for facet, values in chosen.items()}

    def count(self) -> int:
        with self._lock:
            return self._writer.execute("SELECT COUNT(*) FROM docs").fetchone()[0]


#: hit counts from which facets are counted with bitmaps rather than SQL
_BITMAP_HITS = 200


class _Bitmaps:
    """Counting for large results: each common facet value's documents as a bitmap (a Python int, bit =
    document id), so a count is one AND and a popcount; likewise each decade of begin years and the two
    flags. Facet values are tried from the most frequent down; once a value's total cannot beat the
    facet's current top ``FACET_LIMIT``, rarer ones cannot either, so the top counts are exact. Values too
    rare for a bitmap keep their document ids, looked up one by one when a facet's walk reaches them."""

    def __init__(self, changes: str, values: dict[str, list[tuple[str, int, object]]],
                 decades: list[tuple[int, int]], flags: dict[str, int], size: int) -> None:
        self.changes = changes
        #: facet → [(value, total, bitmap int, or for rare values the sorted document ids)], most frequent first
        self.values = values
        self.decades = decades  # (first year of the decade, bitmap)
        self.flags = flags
        self.size = size  # bytes of a bitmap

    @classmethod
    def build(cls, db: sqlite3.Connection, dense: int | None = None) -> "_Bitmaps":
        """Bitmaps for the values held by at least ``dense`` documents (default: 0.5 %, at least 64), so
        memory stays within 200 bitmaps per facet; rarer values keep their document ids."""
        with _transaction(db):
            changes = db.execute("SELECT value FROM meta WHERE name = 'changes'").fetchone()[0]
            size = (db.execute("SELECT COALESCE(MAX(id), 0) FROM docs").fetchone()[0] >> 3) + 1
            documents = db.execute("SELECT COUNT(*) FROM docs").fetchone()[0]
            dense = dense if dense is not None else max(64, documents // 200)

            def bitmap(rows) -> int:
                mask = bytearray(size)
                for (doc,) in rows:
                    mask[doc >> 3] |= 1 << (doc & 7)
                return int.from_bytes(mask, "little")

            totals = db.execute("SELECT facet, value, COUNT(*) FROM facets GROUP BY facet, value").fetchall()
            values: dict[str, list[tuple[str, int, object]]] = {f: [] for f in FACET_NAMES}
            for facet, value, total in sorted(totals, key=lambda r: (r[0], -r[2], r[1])):
                rows = db.execute("SELECT doc FROM facets WHERE facet = ? AND value = ?", (facet, value))
                found = bitmap(rows) if total >= dense else array("I", (doc for (doc,) in rows))
                values.setdefault(facet, []).append((value, total, found))
            decades = [(decade, bitmap(db.execute(
                "SELECT id FROM docs WHERE begin_year >= ? AND begin_year < ?", (decade, decade + 10))))
                for (decade,) in db.execute("SELECT DISTINCT ((begin_year + 100000) / 10) * 10 - 100000 FROM docs "
                                            "WHERE begin_year IS NOT NULL ORDER BY 1").fetchall()]
            flags = {"image": bitmap(db.execute("SELECT id FROM docs WHERE has_image = 1")),
                     "suggestions": bitmap(db.execute("SELECT id FROM docs WHERE has_suggestions = 1"))}
        return cls(changes, values, decades, flags, size)

    def mask(self, ids: Sequence[int]) -> tuple[int, bytearray]:
        """The hits as a bitmap, and as the bytes it was made of (for looking up single documents)."""
        mask = bytearray(max(self.size, (max(ids) >> 3) + 1 if ids else 1))
        for doc in ids:
            mask[doc >> 3] |= 1 << (doc & 7)
        return int.from_bytes(mask, "little"), mask

    def count(self, hits: tuple[int, bytearray], selected: set[str]) -> dict[str, list[tuple[str, int]]]:
        """Top counts per facet (and the selected values' counts) within ``hits``."""
        bits, raw = hits
        counts: dict[str, list[tuple[str, int]]] = {}
        for facet, values in self.values.items():
            found: list[tuple[str, int]] = []
            floor = 0  # the smallest count among the best FACET_LIMIT so far
            for value, total, members in values:
                if len(found) >= FACET_LIMIT and total < floor and value not in selected:
                    continue  # cannot enter the top: skip (selected values are still counted)
                if isinstance(members, int):
                    n = (members & bits).bit_count()
                else:
                    n = sum(raw[doc >> 3] >> (doc & 7) & 1 for doc in members)
                if n:
                    found.append((value, n))
                    if len(found) >= FACET_LIMIT:
                        floor = sorted((c for _, c in found), reverse=True)[FACET_LIMIT - 1]
            counts[facet] = found
        return counts

    def years(self, hits: tuple[int, bytearray], width: int) -> list[tuple[int, int, int]]:
        buckets: dict[int, int] = {}
        for decade, bitmap in self.decades:
            n = (bitmap & hits[0]).bit_count()
            if n:
                bucket = ((decade + 100000) // width) * width - 100000
                buckets[bucket] = buckets.get(bucket, 0) + n
        return [(bucket, bucket + width - 1, n) for bucket, n in sorted(buckets.items())]

    def flag_counts(self, hits: tuple[int, bytearray]) -> dict[str, int]:
        return {name: (bitmap & hits[0]).bit_count() for name, bitmap in self.flags.items()}


class _transaction:
    """``BEGIN`` … ``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection; nests as a no-op."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.outer = False

    def __enter__(self):
        if not self.db.in_transaction:
            self.db.execute("BEGIN")
            self.outer = True
        return self.db

    def __exit__(self, kind, value, traceback):
        if self.outer:
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        return False
