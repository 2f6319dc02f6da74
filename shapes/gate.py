"""The SHACL gate: validate many records at once and say, per record, what is wrong.

A record is the list of triples one source record says (see ``kg.record.Record``); the gate is
handed ``{key: triples}`` and answers ``{key: [Finding, ...]}`` - every key, an empty list when the
record is clean. Violations reject a record; warnings and infos are stored with it.

>>> from pyoxigraph import Literal, NamedNode, Triple
>>> from ontology.namespaces import CRM, RDF, RDFS
>>> obj = NamedNode("http://localhost:8000/id/object/a1")
>>> good = [Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]), Triple(obj, RDFS.label, Literal("Vase"))]
>>> bad = [Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]), Triple(obj, CRM.P2_has_type, Literal("vase"))]
>>> found = Gate.default().validate({"good": good, "bad": bad})
>>> [(f.severity, f.rule) for f in found["good"]]
[('Warning', 'crm-object-classified'), ('Warning', 'crm-object-produced')]
>>> [(f.rule, f.focus, f.path, f.value) for f in found["bad"] if f.is_violation]
[('crm-type-iri', 'http://localhost:8000/id/object/a1', 'crm:P2_has_type', '"vase"')]

How a batch is validated, and why it is both fast and exact:

1. Statements no shape can look at are left out (``planning.relevant_predicates``).
2. Records that could see each other's statements go into different groups (``planning.plan_batches``).
3. Each group becomes one rdflib graph on a lean store (``memory.IndexedStore``), blank nodes renamed
   per record so two records never share one, and is validated by one pySHACL run against the shapes
   graph parsed once per process.
4. Each result is attributed to the record(s) that have its focus node as subject.
5. Rules that are counts over a record, not shapes (one ProvidedCHO and one Aggregation per EDM
   record), are checked per record on the triples directly.

pySHACL is driven through its public ``Validator`` class rather than ``pyshacl.validate``: the latter
patches rdflib process-wide while it loads a shapes graph, which a threaded server must not do.

Throughput: see shapes/README.md. In short, pySHACL costs about 10 us per (focus node, shape) for a
one-step path and 50-300 us for alternative and sequence paths, so this gate validates some hundreds
of records per second, not thousands.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import threading
from collections import defaultdict
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pyoxigraph as ox
import rdflib
from pyshacl import Validator
from rdflib import BNode, Literal, URIRef
from rdflib.collection import Collection

from ontology.namespaces import EDM, ORE, RDF, XSD, prefix_map
from shapes.memory import new_graph
from shapes.planning import plan_batches, relevant_predicates, traversed_predicates

try:  # pySHACL >= 0.30 wraps data graphs; earlier versions take the rdflib graph as it is
    from pyshacl.graph_abstraction import DataGraph

    _data_graph = DataGraph.from_rdflib
except ImportError:  # pragma: no cover
    def _data_graph(graph):
        return graph

log = logging.getLogger(__name__)

#: The shape files shipped with the package, in load order.
SHAPE_FILES = ("crm.ttl", "edm.ttl")
#: Records per pySHACL run. A run has a fixed cost of a few milliseconds; past a few hundred
#: records it is amortised and larger graphs only cost memory.
DEFAULT_BATCH_SIZE = 500

_SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
_SEVERITY = {_SH.Violation: "Violation", _SH.Warning: "Warning", _SH.Info: "Info"}
_SEVERITY_ORDER = {"Violation": 0, "Warning": 1, "Info": 2}
_XSD_STRING = XSD.string
_RDF_TYPE = RDF.type
_CHO = EDM.ProvidedCHO
_AGGREGATION = ORE.Aggregation


@dataclass(frozen=True)
class Finding:
    """One thing the gate found wrong with a record."""

    severity: str  # "Violation" | "Warning" | "Info"
    rule: str  # the shape's local name (or sh:name), e.g. "edm-aggregation-rights"
    focus: str  # focus node: an IRI, "_:id" for a blank node, "" for the record as a whole
    path: str | None  # property path, compact: "edm:rights", "(dc:title|dc:description)"
    value: str | None  # offending value, N-Triples style: <iri>, "text"@en, _:id
    message: str  # sh:message of the shape, or pySHACL's own

    @property
    def is_violation(self) -> bool:
        return self.severity == "Violation"

    def __str__(self) -> str:
        where = (self.focus or "(record)") + (f" {self.path}" if self.path else "") + \
            (f" = {self.value}" if self.value is not None else "")
        return f"{self.severity} [{self.rule}] {where}: {self.message}"


def format_report(key: str, findings: Sequence[Finding]) -> str:
    """A readable block for one record: its key, then rule, focus, path and value of each finding.

    >>> print(format_report("tate/A1", [Finding("Violation", "crm-type-iri",
    ...     "http://x/o", "crm:P2_has_type", '"vase"', "A type is an IRI.")]))
    record tate/A1: 1 violation, 0 warnings
      Violation  crm-type-iri
        focus: http://x/o
        path:  crm:P2_has_type
        value: "vase"
        A type is an IRI.
    """
    violations = sum(f.is_violation for f in findings)
    warnings = sum(f.severity == "Warning" for f in findings)
    lines = [f"record {key}: {violations} violation{'s' * (violations != 1)}, "
             f"{warnings} warning{'s' * (warnings != 1)}"]
    for f in findings:
        lines.append(f"  {f.severity:<10} {f.rule}")
        lines.append(f"    focus: {f.focus or '(record)'}")
        if f.path:
            lines.append(f"    path:  {f.path}")
        if f.value is not None:
            lines.append(f"    value: {f.value}")
        lines.append(f"    {f.message}")
    return "\n".join(lines)


class Gate:
    """Validates batches of records against a fixed set of shapes.

    The shapes graph is read once. A gate may be shared between threads: runs are serialised (pySHACL
    is pure Python; two at once would only contend for the interpreter lock).
    """

    def __init__(self, shapes: rdflib.Graph, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        self.shapes = shapes
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._traversal = traversed_predicates(shapes)
        self._relevant = relevant_predicates(shapes)
        self._advanced = any(True for _ in shapes.subjects(_SH.select, None))
        self._prefixes = sorted(((iri, name) for name, iri in prefix_map().items()), key=lambda p: -len(p[0]))
        self._rule_ids: dict = {}
        self._paths: dict = {}
        self._target_predicates: dict = {}

    @classmethod
    def from_files(cls, paths: Iterable[Path], **options) -> "Gate":
        shapes = new_graph()
        for path in paths:
            shapes.parse(path, format="turtle")
        return cls(shapes, **options)

    @classmethod
    def default(cls) -> "Gate":
        """The project's CRM and EDM shapes (``shapes/*.ttl``), loaded once per process."""
        return _default_gate()

    # -- validation ------------------------------------------------------------------------------

    def validate(self, batch: Mapping[str, Sequence[ox.Triple]]) -> dict[str, list[Finding]]:
        """Findings per record key, violations first; every key of ``batch`` is present."""
        findings: dict[str, list[Finding]] = {key: _record_level_findings(triples) for key, triples in batch.items()}
        # each triple unpacked once (pyoxigraph builds a new Python object per attribute access)
        rows = {key: _rows(triples, self._relevant) for key, triples in batch.items()}
        for group in plan_batches(rows, self.batch_size, self._traversal):
            for key, found in self._validate_group(group, rows).items():
                findings[key].extend(found)
        return {key: sorted(set(found), key=_finding_order) for key, found in findings.items()}

    def _validate_group(self, group: Sequence[str], rows: Mapping[str, Sequence[tuple]]) -> dict[str, list[Finding]]:
        graph = new_graph()
        owners: dict = defaultdict(list)
        terms: dict = {}  # IRIs and literals, shared by the group; blank nodes are per record
        converted = []
        append = converted.append
        for index, key in enumerate(group):
            bnodes: dict = {}
            prefix = f"r{index}x"
            described = set()
            for s, p, o in rows[key]:
                s = _lookup(s, terms, bnodes, prefix)
                p = terms.get(p) or _convert(p, prefix, terms)
                o = _lookup(o, terms, bnodes, prefix)
                append((s, p, o))
                described.add(s)
            for s in described:
                owners[s].append(key)
        graph.store.add_all(converted)
        try:
            report = self._run(graph)
        except Exception as error:  # noqa: BLE001 - one record pySHACL cannot handle must not sink the batch
            if len(group) > 1:
                log.info("pySHACL failed on a group of %d records (%s); validating them one by one", len(group), error)
                found: dict[str, list[Finding]] = {}
                for key in group:
                    found.update(self._validate_group([key], rows))
                return found
            return {group[0]: [Finding("Violation", "gate-error", "", None, None,
                                       f"the SHACL engine could not validate this record: {error}")]}
        found = {key: [] for key in group}
        unowned = []
        for focus, value, shape, finding in self._findings(report):
            if isinstance(focus, Literal) and value is not None and value != focus:
                # a condition's value as focus (sh:targetNode "TEXT"): report on the node it applies to
                finding = replace(finding, focus=_show_node(value), path=None, value=_show_value(focus))
                focus = value
            keys = owners.get(focus)
            if keys:
                for key in keys:
                    found[key].append(finding)
            else:
                unowned.append((focus, shape, finding))
        if unowned:
            self._attribute_by_mention(unowned, group, rows, found)
        return found

    def _run(self, graph: rdflib.Graph) -> rdflib.Graph:
        # inplace: the graph is ours and thrown away, no copy; advanced only for SHACL-AF targets
        options = {"inference": "none", "abort_on_first": False, "advanced": self._advanced,
                   "inplace": True, "logger": log}
        with self._lock:
            validator = Validator(_data_graph(graph), shacl_graph=self.shapes, options=options)
            _conforms, report, _text = validator.run()
        return report

    def _attribute_by_mention(self, unowned, group, rows, found) -> None:
        """A focus no record describes (a licence IRI reached by sh:targetObjectsOf) is reported on
        each statement of the group that mentions it over the shape's target predicates."""
        wanted = {str(focus) for focus, _shape, _finding in unowned}
        mentions: dict[str, list] = defaultdict(list)
        for key in group:
            for s, p, o in rows[key]:
                if not isinstance(o, ox.BlankNode) and o.value in wanted:
                    mentions[o.value].append((key, s, p))
        for focus, shape, finding in unowned:
            predicates = self._targets_of(shape)
            for key, subject, predicate in mentions.get(str(focus), ()):
                if not predicates or predicate.value in predicates:
                    found[key].append(replace(finding, focus=_show_ox(subject),
                                              path=self._compact(predicate.value), value=_show_value(focus)))

    # -- reading pySHACL's report ----------------------------------------------------------------

    def _findings(self, report: rdflib.Graph):
        """(focus node, value node, source shape, Finding) for each result of a pySHACL report."""
        for result in report.objects(None, _SH.result):
            focus = report.value(result, _SH.focusNode)
            shape = report.value(result, _SH.sourceShape)
            value = report.value(result, _SH.value)
            messages = sorted(str(m) for m in report.objects(result, _SH.resultMessage))
            yield focus, value, shape, Finding(
                severity=_SEVERITY.get(report.value(result, _SH.resultSeverity), "Violation"),
                rule=self._rule_id(shape, report.value(result, _SH.sourceConstraintComponent)),
                focus=_show_node(focus),
                path=self._path_of(shape),
                value=None if value is None else _show_value(value),
                message=" ".join(messages) or "constraint not satisfied",
            )

    def _rule_id(self, shape, component) -> str:
        if shape not in self._rule_ids:
            name = self.shapes.value(shape, _SH.name)
            if isinstance(shape, URIRef) and "#" in shape:
                rule = shape.rsplit("#", 1)[1]
            elif name is not None:
                rule = str(name)
            else:
                rule = "shacl-" + str(component).rsplit("#", 1)[-1].removesuffix("ConstraintComponent")
            self._rule_ids[shape] = rule
        return self._rule_ids[shape]

    def _path_of(self, shape) -> str | None:
        if shape not in self._paths:
            path = self.shapes.value(shape, _SH.path)
            self._paths[shape] = None if path is None else self._show_path(path)
        return self._paths[shape]

    def _targets_of(self, shape) -> frozenset:
        if shape not in self._target_predicates:
            self._target_predicates[shape] = frozenset(str(p) for p in self.shapes.objects(shape, _SH.targetObjectsOf))
        return self._target_predicates[shape]

    def _show_path(self, path) -> str:
        """A SHACL path in SPARQL property-path syntax, with the project's prefixes."""
        g = self.shapes
        if isinstance(path, URIRef):
            return self._compact(str(path))
        if (path, rdflib.RDF.first, None) in g:
            return "/".join(self._show_path(p) for p in Collection(g, path))
        alternatives = g.value(path, _SH.alternativePath)
        if alternatives is not None:
            return "(" + "|".join(self._show_path(p) for p in Collection(g, alternatives)) + ")"
        inverse = g.value(path, _SH.inversePath)
        if inverse is not None:
            return "^" + self._show_path(inverse)
        for predicate, suffix in ((_SH.zeroOrMorePath, "*"), (_SH.oneOrMorePath, "+"), (_SH.zeroOrOnePath, "?")):
            inner = g.value(path, predicate)
            if inner is not None:
                return self._show_path(inner) + suffix
        return str(path)

    def _compact(self, iri: str) -> str:
        for namespace, name in self._prefixes:
            if iri.startswith(namespace) and iri != namespace:
                return f"{name}:{iri[len(namespace):]}"
        return f"<{iri}>"


@functools.lru_cache(maxsize=1)
def _default_gate() -> Gate:
    here = Path(__file__).resolve().parent
    return Gate.from_files(here / name for name in SHAPE_FILES)


class GateProcess:
    """The default gate in a child process, so that a batch load validates one batch while it writes
    the one before: pySHACL is pure Python, and two of it in one process would only take turns.

    Records cross as N-Triples (blank-node labels kept), findings come back as they are. The child is
    started on first use (a fresh interpreter, never a fork of a process holding a store open).
    """

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, batch: Mapping[str, Sequence[ox.Triple]]) -> "Future[dict[str, list[Finding]]]":
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        serialised = {key: ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) for key, triples in batch.items()}
        return self._pool.submit(_validate_serialised, serialised)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _validate_serialised(batch: Mapping[str, bytes]) -> dict[str, list[Finding]]:
    """``GateProcess``'s child: the default gate over records sent as N-Triples."""
    return Gate.default().validate({key: [q.triple for q in ox.parse(body, format=ox.RdfFormat.N_TRIPLES)]
                                    for key, body in batch.items()})


# -- record-level rules ----------------------------------------------------------------------------


def _record_level_findings(triples: Sequence[ox.Triple]) -> list[Finding]:
    """EDM: a record that has an edm:ProvidedCHO or an ore:Aggregation has exactly one of each.

    A count over the record, which SHACL cannot see once records share a graph.
    """
    chos, aggregations = set(), set()
    for t in triples:
        if t.predicate == _RDF_TYPE:
            if t.object == _CHO:
                chos.add(t.subject)
            elif t.object == _AGGREGATION:
                aggregations.add(t.subject)
    if not chos and not aggregations:
        return []
    found = []
    if len(chos) != 1:
        message = f"An EDM record describes exactly one edm:ProvidedCHO; this one has {len(chos)}."
        for focus in sorted(chos or aggregations, key=str):
            found.append(Finding("Violation", "edm-record-one-cho", _show_ox(focus), None, None, message))
    if len(aggregations) != 1:
        message = f"An EDM record has exactly one ore:Aggregation; this one has {len(aggregations)}."
        for focus in sorted(aggregations or chos, key=str):
            found.append(Finding("Violation", "edm-record-one-aggregation", _show_ox(focus), None, None, message))
    return found


# -- terms -------------------------------------------------------------------------------------------


def _rows(triples: Sequence[ox.Triple], relevant: frozenset | None) -> list[tuple]:
    """The record's triples as (s, p, o) tuples, without those no shape can see."""
    if relevant is None:
        return [(t.subject, t.predicate, t.object) for t in triples]
    rows = []
    for t in triples:
        p = t.predicate
        if p in relevant:
            rows.append((t.subject, p, t.object))
    return rows


def _lookup(term, terms: dict, bnodes: dict, prefix: str):
    converted = terms.get(term)
    if converted is None:
        converted = bnodes.get(term)
        if converted is None:
            converted = _convert(term, prefix, bnodes if isinstance(term, ox.BlankNode) else terms)
    return converted


def _convert(term, bnode_prefix: str, cache: dict):
    """pyoxigraph term -> rdflib term, remembered in ``cache``. A blank node gets its record's prefix,
    so it stays one node within the record and is never shared with another record."""
    if isinstance(term, ox.BlankNode):
        converted = BNode(bnode_prefix + term.value)
    elif isinstance(term, ox.NamedNode):
        converted = URIRef(term.value)
    elif isinstance(term, ox.Literal):
        if term.language:
            converted = Literal(term.value, lang=term.language)
        elif term.datatype == _XSD_STRING:
            # a plain rdflib literal: equal to the "TEXT" written in the shapes (sh:in, sh:hasValue)
            converted = Literal(term.value)
        else:
            converted = Literal(term.value, datatype=URIRef(term.datatype.value))
    else:
        raise TypeError(f"cannot validate RDF-star triple terms: {term}")
    cache[term] = converted
    return converted


def _show_node(node) -> str:
    """A focus node as the report shows it: the IRI, or the record's own blank node id."""
    if isinstance(node, BNode):
        text = str(node)  # "r{index}x{id}": strip the per-record prefix
        return "_:" + (text.split("x", 1)[1] if text.startswith("r") and "x" in text else text)
    if isinstance(node, Literal):
        return node.n3()
    return str(node)


def _show_value(node) -> str:
    return f"<{node}>" if isinstance(node, URIRef) else _show_node(node)


def _show_ox(term) -> str:
    return f"_:{term.value}" if isinstance(term, ox.BlankNode) else term.value


def _finding_order(f: Finding):
    return (_SEVERITY_ORDER.get(f.severity, 3), f.rule, f.focus, f.path or "", f.value or "")
