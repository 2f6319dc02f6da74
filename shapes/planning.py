"""Which statements the shapes can see, and which records may be validated in one graph.

The gate validates many records in one rdflib graph. That is only exact if no record can be judged on
another record's statements, so before building graphs it reads the shapes for the predicates they
traverse (``traversed_predicates``), drops the statements no shape can look at (``relevant_predicates``),
and splits the batch where records could see each other (``plan_batches``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping, Sequence

import pyoxigraph as ox
import rdflib
from rdflib import URIRef
from rdflib.collection import Collection

_SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
_RDF_FIRST = rdflib.RDF.first

#: Parameters whose constraint looks at the value node's own statements (its types, its properties).
_LOOKS_AT_VALUE = (_SH["class"], _SH.node, _SH.property, _SH.qualifiedValueShape, _SH["or"], _SH["and"],
                   _SH.xone, _SH["not"])
#: Parameters that compare a focus node's values with those of another predicate.
_COMPARES_WITH = (_SH.equals, _SH.disjoint, _SH.lessThan, _SH.lessThanOrEquals)


@dataclass(frozen=True)
class Traversal:
    """How the shapes move between nodes, which decides when two records can see each other.

    ``forward``: predicates after which a shape looks at the reached node's own statements
    (``P`` in a path ``P/Q``, or the path of a shape with ``sh:class``, ``sh:node``, ...).
    ``inverse``: predicates a path follows backwards (``sh:inversePath``).
    ``targets``: ``sh:targetObjectsOf`` predicates - a mention makes the mentioned node a focus.
    SPARQL in the shapes may walk anywhere: every IRI in its text counts as forward and inverse.
    """

    forward: frozenset = frozenset()
    inverse: frozenset = frozenset()
    targets: frozenset = frozenset()

    @property
    def sensitive(self) -> frozenset:
        return self.forward | self.inverse | self.targets


def traversed_predicates(shapes: rdflib.Graph) -> Traversal:
    """Read a shapes graph for the predicates its paths and targets traverse (see ``Traversal``)."""
    forward: set = set()
    inverse: set = set()

    def walk(path, looks_further: bool, backwards: bool = False) -> None:
        if isinstance(path, URIRef):
            if backwards:
                inverse.add(path)
            elif looks_further:
                forward.add(path)
            return
        if (path, _RDF_FIRST, None) in shapes:  # a sequence: every step but the last looks further
            steps = list(Collection(shapes, path))
            for step in steps[:-1]:
                walk(step, True, backwards)
            walk(steps[-1], looks_further, backwards)
            return
        for alternatives in shapes.objects(path, _SH.alternativePath):
            for step in Collection(shapes, alternatives):
                walk(step, looks_further, backwards)
        for inner in shapes.objects(path, _SH.inversePath):
            walk(inner, looks_further, not backwards)
        for predicate in (_SH.zeroOrMorePath, _SH.oneOrMorePath, _SH.zeroOrOnePath):
            for inner in shapes.objects(path, predicate):
                walk(inner, True, backwards)
                walk(inner, True, not backwards)

    for shape, path in shapes.subject_objects(_SH.path):
        walk(path, any((shape, p, None) in shapes for p in _LOOKS_AT_VALUE))
    for query in _queries(shapes):
        forward.update(_iris_in_query(shapes, query))
        inverse.update(_iris_in_query(shapes, query))
    targets = set(shapes.objects(None, _SH.targetObjectsOf))
    return Traversal(_as_ox(forward), _as_ox(inverse), _as_ox(targets))


def relevant_predicates(shapes: rdflib.Graph) -> frozenset | None:
    """The predicates any shape can look at, or None when a shape may look at any (sh:closed, SPARQL).

    A statement with another predicate cannot change a result, so the gate leaves it out of the
    graph it validates: building rdflib graphs is a third of the cost of validating them.
    """
    if (None, _SH.closed, None) in shapes or _queries(shapes):
        return None
    found = {rdflib.RDF.type, rdflib.RDFS.subClassOf}  # class targets and sh:class follow subclasses
    found.update(shapes.objects(None, _SH.targetSubjectsOf))
    found.update(shapes.objects(None, _SH.targetObjectsOf))
    for parameter in _COMPARES_WITH:
        found.update(shapes.objects(None, parameter))

    def walk(path) -> None:
        if isinstance(path, URIRef):
            found.add(path)
        elif (path, _RDF_FIRST, None) in shapes:
            for step in Collection(shapes, path):
                walk(step)
        else:
            for predicate in (_SH.alternativePath,):
                for alternatives in shapes.objects(path, predicate):
                    for step in Collection(shapes, alternatives):
                        walk(step)
            for predicate in (_SH.inversePath, _SH.zeroOrMorePath, _SH.oneOrMorePath, _SH.zeroOrOnePath):
                for inner in shapes.objects(path, predicate):
                    walk(inner)

    for path in shapes.objects(None, _SH.path):
        walk(path)
    return _as_ox(found)


def plan_batches(batch: Mapping[str, Sequence], size: int, traversal: Traversal = Traversal()) -> list[list[str]]:
    """Split the keys into groups of at most ``size`` whose records cannot influence each other.

    ``batch`` maps record keys to pyoxigraph triples, or to (subject, predicate, object) tuples.

    Validated together, a record could be judged on statements another record makes. That needs an
    IRI that one record describes (has as subject) and another reaches: it describes it differently,
    or mentions it over a predicate the shapes traverse (``traversal``). Such records go into
    different groups.

    One sharing is let through because it changes nothing: records that describe an IRI with the very
    same statements and reach it the same way (Linked Art records each repeat ``aat:300033618 a
    crm:E55_Type; rdfs:label "painting"``). The union graph then holds what each holds alone.

    >>> from pyoxigraph import NamedNode as N, Triple as T
    >>> a, b, p = N("http://x/a"), N("http://x/b"), N("http://x/p")
    >>> plan_batches({"A": [T(a, p, b)], "B": [T(b, p, a)], "C": [T(p, p, p)]}, 10, Traversal(forward=frozenset([p])))
    [['A', 'C'], ['B']]
    >>> plan_batches({"A": [T(a, p, b)], "B": [T(b, p, a)]}, 10)  # p is not traversed: no conflict
    [['A', 'B']]
    >>> plan_batches({"A": [T(a, p, b)], "B": [T(a, p, a)]}, 10)  # a described differently
    [['A'], ['B']]
    """
    sensitive = traversal.sensitive
    inverse = traversal.inverse
    # pass 1: who describes which IRI, who reaches it
    describers: dict[ox.NamedNode, set[str]] = defaultdict(set)
    reached: dict[ox.NamedNode, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    named = ox.NamedNode
    for key, triples in batch.items():
        subjects = set()
        for s, p, o in triples:
            subjects.add(s)
            if p in sensitive and type(o) is named:
                # blank nodes are the record's own (the gate renames them per record): keyed by record
                reached[o][key].append((((key, s) if type(s) is not named else s) if p in inverse else None, p))
        for s in subjects:
            if type(s) is named:
                describers[s].add(key)
    candidates = {iri for iri, keys in describers.items() if len(keys) > 1}
    candidates.update(iri for iri in reached if iri in describers)
    if not candidates:
        return _fill(list(batch), {}, size)

    # pass 2: what each record says about the IRIs that matter
    statements: dict[ox.NamedNode, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for key, triples in batch.items():
        for s, p, o in triples:
            if s in candidates:
                statements[s][key].append((p, (key, o) if type(o) is ox.BlankNode else o))

    # The records fall into classes per IRI; two records of different classes of the same IRI
    # conflict. Describers are classed by what they say about it and how they reach it; records
    # that reach it without describing it form one more class.
    classes: dict[str, list[tuple]] = defaultdict(list)
    for iri in candidates:
        reachers = reached.get(iri, {})
        signatures = {key: (frozenset(said), frozenset(reachers.get(key, ())))
                      for key, said in statements[iri].items()}
        distinct = {signature: n for n, signature in enumerate(dict.fromkeys(signatures.values()))}
        mention_only = [key for key in reachers if key not in signatures]
        if len(distinct) < 2 and not mention_only:
            continue
        for key, signature in signatures.items():
            classes[key].append((iri, distinct[signature]))
        for key in mention_only:
            classes[key].append((iri, -1))
    return _fill(list(batch), classes, size)


def _fill(keys: list[str], classes: Mapping[str, Sequence[tuple]], size: int) -> list[list[str]]:
    """Greedy: each record goes into the first group that has room and holds no record of another
    class of any of its IRIs."""
    groups: list[list[str]] = []
    group_classes: list[dict] = []
    for key in keys:
        mine = classes.get(key, ())
        for index, members in enumerate(groups):
            if len(members) < size and all(group_classes[index].get(iri, c) == c for iri, c in mine):
                break
        else:
            index = len(groups)
            groups.append([])
            group_classes.append({})
        groups[index].append(key)
        group_classes[index].update(mine)
    return groups


def _queries(shapes: rdflib.Graph) -> list[str]:
    return [str(q) for p in (_SH.select, _SH.ask) for q in shapes.objects(None, p)]


def _iris_in_query(shapes: rdflib.Graph, query: str) -> set:
    prefixes = {str(shapes.value(d, _SH.prefix)): str(shapes.value(d, _SH.namespace))
                for d in shapes.objects(None, _SH.declare)}
    found = {URIRef(iri) for iri in re.findall(r"<([^>\s]+)>", query)}
    for prefix, local in re.findall(r"\b([A-Za-z][\w-]*):([\w-]+)", query):
        if prefix in prefixes:
            found.add(URIRef(prefixes[prefix] + local))
    return found


def _as_ox(iris) -> frozenset:
    return frozenset(ox.NamedNode(str(p)) for p in iris if isinstance(p, URIRef))
