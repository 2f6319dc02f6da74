"""What a page about one resource needs, gathered from the store with a handful of quad-pattern reads.

A page is about one IRI. ``Describer.describe`` reads the statements whose subject it is (every graph
but the change log and the inferred-types graphs), follows the nodes that belong to it — blank nodes and
its own ``#fragment`` children (``…/tate-A00001#production``) — so that they can be shown inline, and
reads "what links here" with one object-pattern read (kept, for a hub of many links, until the store
changes). Machine-made statements (run graphs, see
DESIGN.md "Machine-made statements") carry their ``E13_Attribute_Assignment``: confidence, model,
review state and evidence; rejected ones are left out.

Labels are resolved by language preference (``Accept-Language``) from a per-IRI cache that is thrown
away whenever the store's ``generation`` moves, so a page never shows a stale label and never pays for
the same label twice. Quad-pattern reads on pyoxigraph's indexes are much faster than SPARQL for this
shape of access; SPARQL (named ``page_*.rq`` files) is used where aggregation is needed (browsing).

>>> from kg.record import Origin, Record
>>> from ontology.namespaces import CRM, RDF, RDFS
>>> from pyoxigraph import Literal, Triple
>>> store = Store.open(None, "http://example.org/")
>>> obj = store.uris.entity("object", "1")
>>> _ = store.commit([Record("demo/1", "demo", [Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]),
...     Triple(obj, RDFS.label, Literal("Vase", language="en")), Triple(obj, RDFS.label, Literal("Vase", language="fr"))],
...     Origin("demo.ttl"), focus=obj)])
>>> d = Describer(store).describe(obj.value, ["de", "fr"])
>>> d.label, d.kind, d.record_key
('Vase', 'object', 'demo/1')
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import pyoxigraph as ox
from pyoxigraph import BlankNode, Literal, NamedNode

from kg.queries import named_query
from kg.store import Store
from ontology.getty import aat_labels
from ontology.namespaces import (CRM, DC, DCTERMS, EDM, FOAF, LA, MOU, ORE, PROV, RDF, RDFS, SCHEMA,
                                 SKOS, prefix_map)

#: predicates that name a thing, best first
LABEL_PREDICATES = (SKOS.prefLabel.value, RDFS.label.value, DC.title.value, DCTERMS.title.value,
                    FOAF.name.value, SCHEMA.name.value, CRM.P190_has_symbolic_content.value,
                    SKOS.altLabel.value, DCTERMS.alternative.value)

#: labels for properties outside the shipped ontologies
PROPERTY_LABELS = {
    RDFS.label.value: "label", RDF.type.value: "type", SKOS.prefLabel.value: "preferred label",
    SKOS.altLabel.value: "alternative label", SKOS.inScheme.value: "in scheme", SKOS.broader.value: "broader",
    SKOS.narrower.value: "narrower", SKOS.exactMatch.value: "same as", SKOS.notation.value: "notation",
    SKOS.topConceptOf.value: "top concept of", SKOS.hasTopConcept.value: "top concept",
    LA.digitally_shown_by.value: "digitally shown by", LA.access_point.value: "access point",
    DC.format.value: "format", ORE.aggregates.value: "aggregates",
}

#: page kinds by class, first match wins (a Tate object is both an E22 and an edm:ProvidedCHO)
KINDS = [
    ("object", (CRM["E22_Human-Made_Object"].value, EDM.ProvidedCHO.value, CRM["E24_Physical_Human-Made_Thing"].value)),
    ("group", (CRM.E74_Group.value,)),
    ("person", (CRM.E21_Person.value, EDM.Agent.value, FOAF.Person.value, CRM.E39_Actor.value)),
    ("place", (CRM.E53_Place.value, EDM.Place.value)),
    ("time-span", (CRM["E52_Time-Span"].value, EDM.TimeSpan.value)),
    ("concept", (SKOS.Concept.value, CRM.E55_Type.value, CRM.E57_Material.value, SKOS.ConceptScheme.value)),
    ("event", (CRM.E5_Event.value,)),
]

#: events told as sentences: property → verb
EVENTS = {
    CRM.P108i_was_produced_by.value: "Made",
    CRM.P98i_was_born.value: "Born",
    CRM.P100i_died_in.value: "Died",
    CRM.P95i_was_formed_by.value: "Formed",
    CRM.P99i_was_dissolved_by.value: "Dissolved",
}

_TYPE, _LABELS_HEAD = RDF.type.value, frozenset(LABEL_PREDICATES[:6])
_LABEL_NODES = tuple(NamedNode(p) for p in LABEL_PREDICATES[:6])
_MACHINE = {name: MOU[name].value for name in ("confidence", "reviewState", "evidence", "model", "pending",
                                                "accepted")}
_PROXY_FOR = ORE.proxyFor
_PROXY_BOOKKEEPING = {ORE.proxyFor.value, ORE.proxyIn.value, EDM.europeanaProxy.value, RDF.type.value,
                      ORE.lineage.value}
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_RUN_MARK = "graph/run/"
ASSIGNED_TO, ASSIGNED_PROPERTY, ASSIGNED = (CRM.P140_assigned_attribute_to, CRM.P177_assigned_property_of_type,
                                            CRM.P141_assigned)
REJECTED = MOU.rejected.value


# ------------------------------------------------------------------------------------------ values


@dataclass(slots=True)
class Suggestion:
    """The machine's part in a statement: who suggested it, how sure it was, where review stands."""

    assignment: str
    confidence: float | None
    model: str
    agent: str
    state: str  # pending | accepted | rejected
    evidence: str
    run: str


@dataclass(slots=True)
class Value:
    """One object of a statement: a link (``iri``), a literal (``text``) or a node shown inline (``node``)."""

    iri: str | None = None
    label: str = ""
    text: str | None = None
    lang: str | None = None
    datatype: str | None = None
    node: "Node | None" = None
    suggestion: Suggestion | None = None


@dataclass(slots=True)
class Property:
    iri: str
    label: str
    values: list[Value]


@dataclass
class Node:
    """A resource with its statements: the page's subject, or a structure shown inside it."""

    iri: str
    label: str
    types: list[Value]
    properties: list[Property]
    kind: str = "thing"

    def get(self, *iris: str) -> list[Value]:
        return [v for p in self.properties if p.iri in iris for v in p.values]

    def first(self, *iris: str) -> Value | None:
        found = self.get(*iris)
        return found[0] if found else None


@dataclass(slots=True)
class Inverse:
    """Resources that point at the subject through one property: the count, and one page of them."""

    property: str
    label: str
    count: int
    values: list[Value]
    page: int
    pages: int


@dataclass(slots=True)
class Linked:
    """What the statements pointing at one resource say, worked out once: the EDM proxies that stand
    for it, and "what links here" by property: the linking resources in IRI order, and the machine
    suggestion behind each link that a run made."""

    proxies: list[tuple[NamedNode, object]]
    groups: dict[str, tuple[list[str], dict[str, Suggestion]]]
    links: int


@dataclass
class Description(Node):
    record_key: str | None = None
    graphs: list[str] = field(default_factory=list)
    inverse: list[Inverse] = field(default_factory=list)
    images: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ labels


def language_preference(header: str | None) -> list[str]:
    """Language tags of an ``Accept-Language`` header, best first (``*`` and q=0 dropped).

    >>> language_preference("fr-CH, fr;q=0.9, en;q=0.8, *;q=0.5")
    ['fr-ch', 'fr', 'en']
    """
    ranked = []
    for position, item in enumerate((header or "").split(",")):
        tag, *params = [part.strip() for part in item.split(";")]
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if tag and tag != "*" and q > 0:
            ranked.append((-q, position, tag.lower()))
    return [tag for _, _, tag in sorted(ranked)]


def pick(candidates: Sequence[tuple[str, str]], langs: Sequence[str]) -> str | None:
    """The best (text, language) candidate: a wanted language (or its primary subtag), then English,
    then untagged, then the first. Candidates come in predicate order, so a prefLabel beats a label.

    >>> pick([("Vase", "en"), ("Vaas", "nl"), ("Vase", "")], ["nl-be"])
    'Vaas'
    >>> pick([("Vaas", "nl"), ("Krug", "")], ["fr"])
    'Krug'
    """
    if not candidates:
        return None
    by_lang: dict[str, str] = {}
    for text, lang in candidates:
        by_lang.setdefault(lang.lower(), text)
    wanted = [part for t in langs for part in (t, t.split("-")[0])]
    for tag in (*wanted, "en", ""):
        if tag in by_lang:
            return by_lang[tag]
    return candidates[0][0]


def local_name(iri: str) -> str:
    """The last segment of an IRI, made readable: ``P45_consists_of`` → ``P45 consists of``."""
    tail = re.split(r"[#/]", iri.rstrip("/#"))[-1] or iri
    return _CAMEL.sub(" ", tail.replace("_", " ")).strip() or iri


class Labels:
    """Label candidates per IRI, cached until the store's generation moves."""

    MAX = 200_000

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, tuple[tuple[str, str], ...]] = {}
        self._picked: dict[tuple[str, ...], str] = {}
        self._known: dict[str, bool] = {}
        self._properties: dict[tuple[str, ...], str] = {}
        self._generation = store.generation
        self._lock = threading.Lock()
        self.hierarchy = store.hierarchy

    def _check(self) -> None:
        """Forget everything once the store has been written to (or the cache has grown too big)."""
        if self._generation != self.store.generation or len(self._picked) > self.MAX:
            with self._lock:
                self._cache, self._picked, self._known = {}, {}, {}
                self._generation = self.store.generation

    def candidates(self, iri: str) -> tuple[tuple[str, str], ...]:
        self._check()
        found = self._cache.get(iri)
        if found is None:
            found = self._read(iri)
            self._cache[iri] = found
        return found

    def _read(self, iri: str) -> tuple[tuple[str, str], ...]:
        """The literals of the best label predicate the IRI has (read predicate by predicate, best first,
        until one names it), else what the ontology or the Getty terms call it."""
        out = []
        for _predicate, quads in self.store.backend.by_predicate(NamedNode(iri), _LABEL_NODES):
            out = [(q.object.value, q.object.language or "") for q in quads if type(q.object) is Literal]
            if out:
                self._known[iri] = True
                break
        if not out:
            known = self.hierarchy.labels(iri) or aat_labels(iri)
            out = [(text, lang) for lang, text in known.items()]
        return tuple(out)

    def known(self, iri: str) -> bool:
        """Whether the store says anything about ``iri`` (so it has a page here)."""
        self._check()
        found = self._known.get(iri)
        if found is None:
            found = next(iter(self.store.backend.quads(NamedNode(iri), None, None, None)), None) is not None
            self._known[iri] = found
        return found

    def label(self, iri: str, langs: Sequence[str]) -> str:
        self._check()
        key = (iri, *langs)
        found = self._picked.get(key)
        if found is None:
            found = pick(self.candidates(iri), langs) or compact(iri)
            self._picked[key] = found
        return found

    def class_label(self, iri: str, langs: Sequence[str]) -> str:
        """A class's label, or its local name made readable (``D1 Digital Object``)."""
        if self.candidates(iri):
            return self.label(iri, langs)
        return local_name(iri)

    def property_label(self, iri: str, langs: Sequence[str]) -> str:
        key = (iri, *langs[:1])
        found = self._properties.get(key)
        if found is None:
            found = (self.hierarchy.label(iri, langs[0] if langs else "en") or PROPERTY_LABELS.get(iri)
                     or local_name(iri))
            self._properties[key] = found
        return found


_PREFIXES = sorted(prefix_map().items(), key=lambda item: -len(item[1]))


def compact(iri: str) -> str:
    """``aat:300133025`` for a known namespace, else the IRI itself."""
    for name, ns in _PREFIXES:
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{name}:{iri[len(ns):]}"
    return iri


def kind_of(types: Iterable[str], hierarchy) -> str:
    """The page kind of a resource with these ``rdf:type`` IRIs (superclasses count)."""
    return _kind(tuple(sorted(types)), hierarchy)


@lru_cache(maxsize=4096)
def _kind(types: tuple[str, ...], hierarchy) -> str:
    closure = set(types)
    for t in list(closure):
        closure |= hierarchy.superclasses(t)
    for kind, classes in KINDS:
        if any(c in closure for c in classes):
            return kind
    return "thing"


# ------------------------------------------------------------------------------------------ describer


class Describer:
    """Reads what pages need. One per application; safe to share between threads."""

    PAGE_SIZE = 20
    MAX_DEPTH = 4
    #: a resource that this many statements point at (a maker, a material) keeps its ``Linked`` until the
    #: store changes: reading and sorting 80,000 links takes about a second, and every page of the list
    #: needs them all
    HUB = 1_000
    #: links kept over all hubs (some 300 bytes each, so about 90 MB at most); the oldest hub goes first
    HUB_LINKS = 300_000

    def __init__(self, store: Store) -> None:
        self.store = store
        self.labels = Labels(store)
        base = store.uris.base
        self.meta = store.uris.meta_graph.value
        self.inferred = f"{base}graph/inferred/"
        self.record = f"{base}graph/record/"
        self.runs = f"{base}{_RUN_MARK}"
        self._agents: dict[tuple[str, str], tuple[str, str]] = {}
        self._hubs: dict[str, Linked] = {}
        self._hubs_links = 0
        self._hubs_generation = store.generation
        self._hubs_lock = threading.Lock()

    # --- which graphs count ---

    def _shown(self, graph) -> bool:
        """Source statements: every graph but the change log and the inferred types."""
        if isinstance(graph, ox.DefaultGraph):
            return True
        value = graph.value
        return value != self.meta and not value.startswith(self.inferred)

    def exists(self, iri: str) -> bool:
        node = NamedNode(iri)
        return any(self._shown(q.graph_name) for q in self.store.backend.quads(node, None, None, None))

    # --- the page's subject ---

    def describe(self, iri: str, langs: Sequence[str] = (), inverse_page: dict[str, int] | None = None
                 ) -> Description | None:
        """Everything a page about ``iri`` shows, or None when the store says nothing about it."""
        node = NamedNode(iri)
        rows = self._rows(node)
        if not rows:
            return None
        linked = self._linked(node)
        rows += self._proxy_rows(linked.proxies)
        machine = self._suggestions(node, rows)
        graphs = sorted({g for _, _, g in rows if g is not None})
        built = self._node(node, rows, machine, langs, depth=0, seen={node})
        description = Description(iri=iri, label=built.label, types=built.types, properties=built.properties,
                                  kind=built.kind, graphs=graphs)
        description.record_key = self._record_key(node, graphs)
        description.inverse = self._inverse(linked.groups, langs, inverse_page or {})
        description.images = self._images(description)
        return description

    def _proxy_rows(self, proxies: list[tuple[NamedNode, object]]) -> list:
        """An EDM object's proxies say what its provider (and Europeana) said about it: their
        statements are read as the object's own, so that a page about a CHO shows its title, creator,
        dates and places; the proxy bookkeeping is left out."""
        rows = []
        for proxy, graph in proxies:
            rows += [r for r in self._rows(proxy, graph) if r[0] not in _PROXY_BOOKKEEPING]
        return rows

    def _record_key(self, node: NamedNode, graphs: Sequence[str]) -> str | None:
        for graph in graphs:
            if graph.startswith(self.record):
                return graph[len(self.record):]
        for quad in self.store.backend.quads(None, MOU.focus, node, NamedNode(self.meta)):
            return self.store.uris.key_of_graph(quad.subject)
        return None

    def _node(self, subject, rows, machine, langs, depth, seen) -> Node:
        """``rows`` are (predicate IRI, object term, graph term) of the statements about ``subject``."""
        by_property: dict[str, list[Value]] = {}
        types: list[str] = []
        seen_triples = set()
        label_candidates = []
        runs = self.runs
        # a ``#fragment`` child of the subject's document is shown inline, as a blank node is
        children = subject.value.split("#")[0] + "#" if type(subject) is NamedNode else None
        for predicate, obj, graph in rows:
            key = (predicate, obj)
            in_run = graph is not None and graph.startswith(runs)
            suggestion = machine.get(key) if in_run else None
            if in_run and (suggestion is None or suggestion.state == REJECTED):
                continue  # a run graph's own bookkeeping, or a suggestion review turned down
            if key in seen_triples:
                continue
            seen_triples.add(key)
            if predicate == _TYPE and type(obj) is NamedNode:
                types.append(obj.value)
                continue
            if predicate in _LABELS_HEAD and type(obj) is Literal:
                label_candidates.append((LABEL_PREDICATES.index(predicate), obj.value, obj.language or ""))
            value = self._value(children, obj, graph, langs, depth, seen)
            value.suggestion = suggestion
            by_property.setdefault(predicate, []).append(value)
        label_candidates.sort(key=lambda c: c[0])
        label = pick([(t, l) for _, t, l in label_candidates], langs) or (
            self.labels.label(subject.value, langs) if type(subject) is NamedNode and depth == 0 else "")
        properties = [Property(p, self.labels.property_label(p, langs), values)
                      for p, values in by_property.items()]
        properties.sort(key=lambda p: (p.label.lower(), p.iri))
        type_values = [Value(iri=t, label=self.labels.class_label(t, langs)) for t in types]
        return Node(iri=subject.value if type(subject) is NamedNode else "", label=label, types=type_values,
                    properties=properties, kind=kind_of(types, self.store.hierarchy))

    def _value(self, children: str | None, obj, graph, langs, depth, seen) -> Value:
        kind = type(obj)
        if kind is Literal:
            datatype = obj.datatype
            return Value(text=obj.value, lang=obj.language, datatype=datatype.value if datatype is not None else None)
        iri = obj.value if kind is NamedNode else None
        owned = kind is BlankNode or (children is not None and iri is not None and iri.startswith(children))
        if owned and depth < self.MAX_DEPTH and obj not in seen:
            inner = self._rows(obj, NamedNode(graph) if graph is not None else ox.DefaultGraph())
            if inner:
                node = self._node(obj, inner, {}, langs, depth + 1, seen | {obj})
                return Value(iri=iri, label=node.label, node=node)
        if kind is BlankNode:
            return Value(label="(blank node)")
        return Value(iri=iri, label=self.labels.label(iri, langs))

    def _rows(self, subject, graph=None) -> list[tuple[str, object, str | None]]:
        """(predicate IRI, object, graph IRI or None for the default graph) of the shown statements."""
        meta, inferred = self.meta, self.inferred
        rows = []
        for _s, p, o, g in self.store.backend.quads(subject, None, None, graph):
            g = g.value if type(g) is NamedNode else None
            if g is not None and (g == meta or g.startswith(inferred)):
                continue
            rows.append((p.value, o, g))
        return rows

    # --- machine statements ---

    def _suggestions(self, node: NamedNode, rows) -> dict[tuple[str, object], Suggestion]:
        """(predicate, object) → the suggestion behind it, for each run graph holding statements about node."""
        runs = {NamedNode(g) for _, _, g in rows if g is not None and g.startswith(self.runs)}
        found: dict[tuple[str, object], Suggestion] = {}
        for graph in runs:
            for quad in self.store.backend.quads(None, ASSIGNED_TO, node, graph):
                suggestion, key = self._assignment(quad.subject, graph)
                if key is not None:
                    found[key] = suggestion
        return found

    def _assignment(self, assignment, graph) -> tuple[Suggestion, tuple[str, str] | None]:
        values: dict[str, object] = {}
        for quad in self.store.backend.quads(assignment, None, None, graph):
            values.setdefault(quad.predicate.value, quad.object)
        predicate, obj = values.get(ASSIGNED_PROPERTY.value), values.get(ASSIGNED.value)
        agent = values.get(CRM.P14_carried_out_by.value)
        model, agent_label = self._agent(agent, graph) if agent is not None else ("", "")
        confidence = values.get(_MACHINE["confidence"])
        state = values.get(_MACHINE["reviewState"])
        run = values.get(PROV.wasGeneratedBy.value)
        suggestion = Suggestion(
            assignment=assignment.value if isinstance(assignment, NamedNode) else "",
            confidence=float(confidence.value) if isinstance(confidence, Literal) else None,
            model=model, agent=agent_label,
            state=state.value if isinstance(state, NamedNode) else _MACHINE["pending"],
            evidence=values[_MACHINE["evidence"]].value if _MACHINE["evidence"] in values else "",
            run=run.value if isinstance(run, NamedNode) else "")
        key = (predicate.value, obj) if predicate is not None and obj is not None else None
        return suggestion, key

    def _agent(self, agent, graph) -> tuple[str, str]:
        cache_key = (agent.value, graph.value)
        if cache_key not in self._agents:
            model = label = ""
            for quad in self.store.backend.quads(agent, None, None, graph):
                if quad.predicate == MOU.model:
                    model = quad.object.value
                elif quad.predicate == RDFS.label:
                    label = quad.object.value
            self._agents[cache_key] = (model, label)
        return self._agents[cache_key]

    # --- what links here ---

    def _linked(self, node: NamedNode) -> Linked:
        """What the shown statements pointing at ``node`` say; a hub's (``HUB``) is kept until the
        store's generation moves, so that a write is seen at once."""
        generation = self.store.generation
        with self._hubs_lock:
            if self._hubs_generation != generation:
                self._hubs, self._hubs_links, self._hubs_generation = {}, 0, generation
            kept = self._hubs.get(node.value)
        if kept is not None:
            return kept
        linking = [q for q in self.store.backend.quads(None, None, node, None) if self._shown(q.graph_name)]
        linked = Linked([(q.subject, q.graph_name) for q in linking
                         if q.predicate == _PROXY_FOR and type(q.subject) is NamedNode],
                        self._groups(node, linking), len(linking))
        if self.HUB <= linked.links <= self.HUB_LINKS:
            with self._hubs_lock:
                # not kept if it was read before a write, or if another thread has just kept it
                if self._hubs_generation == generation and node.value not in self._hubs:
                    while self._hubs_links + linked.links > self.HUB_LINKS:
                        self._hubs_links -= self._hubs.pop(next(iter(self._hubs))).links
                    self._hubs[node.value] = linked
                    self._hubs_links += linked.links
        return linked

    def _groups(self, node: NamedNode, linking: list) -> dict[str, tuple[list[str], dict[str, Suggestion]]]:
        """Resources linking to ``node`` by property, in IRI order, and the suggestion behind each
        machine-made link; a fragment child (``obj#production``) counts as its document (``obj``), so a
        maker's page lists objects, not production events."""
        groups: dict[str, dict[str, Suggestion | None]] = {}
        runs: dict[str, NamedNode] = {}
        for quad in linking:
            if isinstance(quad.subject, BlankNode):
                continue
            subject = quad.subject.value
            owner = subject.split("#")[0] if subject.split("#")[0] != node.value else subject
            in_run = isinstance(quad.graph_name, NamedNode) and quad.graph_name.value.startswith(self.runs)
            if in_run:
                runs[subject] = quad.graph_name
                continue
            groups.setdefault(quad.predicate.value, {}).setdefault(owner, None)
        for subject, graph in runs.items():
            for quad in self.store.backend.quads(NamedNode(subject), None, node, graph):
                suggestion = self._suggestion_for(quad, graph)
                if suggestion is not None and suggestion.state != REJECTED:
                    owner = subject.split("#")[0]
                    groups.setdefault(quad.predicate.value, {}).setdefault(owner, suggestion)
        return {predicate: (sorted(members), {m: found for m, found in members.items() if found is not None})
                for predicate, members in groups.items()}

    def _inverse(self, groups, langs, pages: dict[str, int]) -> list[Inverse]:
        """One page of each ``_groups`` group (``pages``: the page wanted, by property), labelled."""
        out = []
        for predicate, (ordered, suggestions) in groups.items():
            pages_total = max(1, -(-len(ordered) // self.PAGE_SIZE))
            page = min(max(1, pages.get(predicate, 1)), pages_total)
            chosen = ordered[(page - 1) * self.PAGE_SIZE: page * self.PAGE_SIZE]
            inverse_iri = self.store.hierarchy.inverse(predicate)
            label = (self.labels.property_label(inverse_iri, langs) if inverse_iri
                     else f"is {self.labels.property_label(predicate, langs)} of")
            values = [Value(iri=m, label=self.labels.label(m, langs), suggestion=suggestions.get(m)) for m in chosen]
            out.append(Inverse(predicate, label, len(ordered), values, page, pages_total))
        out.sort(key=lambda g: (-g.count, g.label))
        return out

    def _suggestion_for(self, quad, graph) -> Suggestion | None:
        for found in self.store.backend.quads(None, ASSIGNED_TO, quad.subject, graph):
            suggestion, key = self._assignment(found.subject, graph)
            if key == (quad.predicate.value, quad.object):
                return suggestion
        return None

    # --- images ---

    def _images(self, description: Description) -> list[str]:
        """Image URLs: Linked Art representations, and the EDM aggregation's edm:object / isShownBy."""
        urls: list[str] = []
        for rep in description.get(CRM.P138i_has_representation.value):
            if rep.node is None:
                continue
            for shown in rep.node.get(LA.digitally_shown_by.value):
                if shown.node is not None:
                    urls += [v.iri for v in shown.node.get(LA.access_point.value) if v.iri]
        if urls:
            return [u for u in dict.fromkeys(urls) if u.startswith(("http://", "https://"))]
        for group in description.inverse:
            if group.property == EDM.aggregatedCHO.value:
                for aggregation in group.values[:1]:
                    for predicate in (EDM.object, EDM.isShownBy):  # two reads: an aggregation says much else
                        urls += [q.object.value for q in self.store.backend.quads(NamedNode(aggregation.iri),
                                                                                  predicate, None, None)
                                 if type(q.object) is NamedNode]
        return [u for u in dict.fromkeys(urls) if u.startswith(("http://", "https://"))]

    # --- RDF for /data ---

    def triples(self, iri: str, *, accepted_only: bool = True) -> list[ox.Triple]:
        """The resource's statements with its blank nodes and fragment children (its bounded
        description), as the source said them, plus accepted machine statements."""
        node = NamedNode(iri)
        out: list[ox.Triple] = []
        seen: set[str] = set()
        todo = [node]
        while todo:
            current = todo.pop()
            key = str(current)
            if key in seen:
                continue
            seen.add(key)
            quads = [q for q in self.store.backend.quads(current, None, None, None) if self._shown(q.graph_name)]
            rows = [(q.predicate.value, q.object, q.graph_name.value if type(q.graph_name) is NamedNode else None)
                    for q in quads]
            machine = self._suggestions(current, rows) if isinstance(current, NamedNode) else {}
            for quad in quads:
                graph = quad.graph_name
                if isinstance(graph, NamedNode) and graph.value.startswith(self.runs):
                    found = machine.get((quad.predicate.value, quad.object))
                    if found is None or (accepted_only and found.state != MOU.accepted.value) \
                            or found.state == REJECTED:
                        continue
                out.append(quad.triple)
                obj = quad.object
                if isinstance(obj, BlankNode) or (isinstance(obj, NamedNode)
                                                  and obj.value.startswith(iri.split("#")[0] + "#")):
                    todo.append(obj)
        return list(dict.fromkeys(out))

    # --- browsing (SPARQL: aggregation) ---

    def facet_values(self, facet: str) -> list[tuple[str, int]]:
        """(value, number of objects) for one browse facet, most used first."""
        rows = self.store.query(named_query(f"page_facet_{facet}"))
        return [(row["value"].value, int(row["n"].value)) for row in rows]

    def facet_objects(self, facet: str, value: ox.Literal | NamedNode) -> list[str]:
        """Every object with this facet value, in IRI order."""
        rows = self.store.query(named_query(f"page_objects_{facet}"), substitutions={ox.Variable("value"): value})
        return [row["object"].value for row in rows]

    def kind_keys(self, kind: str) -> list[str]:
        """Keys of every ``{base}id/{kind}/{key}`` IRI the store knows (record focuses and vocabulary
        terms): what a 404 page suggests from."""
        prefix = f"{self.store.uris.base}id/{kind}/"
        found = set()
        for quad in self.store.backend.quads(None, MOU.focus, None, NamedNode(self.meta)):
            if quad.object.value.startswith(prefix):
                found.add(quad.object.value[len(prefix):])
        if found:
            return sorted(found)  # records' focuses are of this kind: vocabularies hold other kinds
        vocab = f"{self.store.uris.base}graph/vocab/"
        for graph in self.store.backend.graphs():
            if graph.value.startswith(vocab):
                for quad in self.store.backend.quads(None, RDF.type, None, graph):
                    if isinstance(quad.subject, NamedNode) and quad.subject.value.startswith(prefix):
                        found.add(quad.subject.value[len(prefix):])
        return sorted(found)
