"""Enrichment runs in the store: writing a run's graph, listing runs and suggestions, review, retraction.

The layout follows DESIGN.md "Machine-made statements" (and docs/enrichment.md). A run ``R`` of job
``J`` writes, in its own graph ``G = {base}graph/run/{run-id}``::

    G prov:wasGeneratedBy RUN .
    RUN a prov:Activity ; prov:wasAssociatedWith AGENT ; prov:startedAtTime ... ; prov:endedAtTime ... ;
        mou:job "J" ; mou:parameters "<canonical JSON>" ; prov:used <record graph> ... .
    AGENT a prov:SoftwareAgent ; rdfs:label "J 1.0 (model)" ; mou:model "model" ;
        mou:weightsChecksum "sha256:..." ; mou:version "1.0" .
    <s> <p> <o> .                                   # the suggested triple itself
    A a crm:E13_Attribute_Assignment ; crm:P140_assigned_attribute_to <s> ;
        crm:P177_assigned_property_of_type <p> ; crm:P141_assigned <o> ; crm:P14_carried_out_by AGENT ;
        prov:wasGeneratedBy RUN ; mou:confidence 0.83 ; mou:evidence "..."@en ; mou:reviewState mou:pending .

Crash safety: a run is computed in memory and written with **one** store transaction at its end
(``Store.write``), run graph and run-log entry together, so an interrupted run leaves nothing.

Review rewrites the affected run graphs in one transaction: the state, ``mou:reviewedBy`` and
``mou:reviewedAt`` of each assignment change, and a rejected suggestion's bare triple leaves the run
graph (the assignment keeps the value in ``P141_assigned``, so it can be accepted later), which is
how the SPARQL union stops showing it. Retraction drops the run graph and notes the retraction in
the run log ``{base}graph/meta/runs`` — again one transaction.

Only ``kg`` opens the store; these functions are handed one.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Iterable, Mapping, Sequence

from pyoxigraph import Literal, NamedNode, Triple, Variable

from kg.errors import ConfigError, NotFound
from kg.record import Uris, Vocabulary
from kg.store import Store, utc_now
from kg.writes import graph_triples
from enrichment.queries import named_query
from ontology.namespaces import CRM, MOU, PROV, RDF, RDFS, XSD

STATES = ("pending", "accepted", "rejected")
#: decimals kept of a confidence: enough to rank, few enough that re-runs give identical literals
CONFIDENCE_DECIMALS = 4

_LOCKS: dict[int, threading.Lock] = {}


def _lock(store: Store) -> threading.Lock:
    # review and retraction read a graph and write it back: one at a time per store
    return _LOCKS.setdefault(id(store), threading.Lock())


# ------------------------------------------------------------------------------------ identifiers

def run_iri(uris: Uris, run_id: str) -> NamedNode:
    return uris.entity("run", run_id)


def agent_iri(uris: Uris, job: str, version: str) -> NamedNode:
    return uris.entity("agent", f"{job}-{version}")


def log_graph(uris: Uris) -> NamedNode:
    """The run log: every run written, and its retraction (kept when the run graph is dropped)."""
    return NamedNode(f"{uris.base}graph/meta/runs")


def run_id_of(uris: Uris, graph_or_run: str) -> str | None:
    for prefix in (f"{uris.base}graph/run/", f"{uris.base}id/run/"):
        if graph_or_run.startswith(prefix):
            return graph_or_run[len(prefix):]
    return None


def assignment_iri(uris: Uris, run_id: str, triple: Triple) -> NamedNode:
    """``{base}id/assignment/{sha1 of run-id + s + p + o}``: one assignment per suggested triple and run."""
    digest = hashlib.sha1("\n".join((run_id, str(triple.subject), str(triple.predicate),
                                     str(triple.object))).encode()).hexdigest()
    return uris.entity("assignment", digest)


def new_run_id(job: str, started: str) -> str:
    """``{job}-{UTC time}-{random}``: unique, sortable, readable.

    >>> new_run_id("clip-tagging", "2026-11-23T05:00:00Z")[:29]
    'clip-tagging-20261123T050000Z'
    """
    stamp = started.replace("-", "").replace(":", "")
    return f"{job}-{stamp}-{secrets.token_hex(3)}"


def confidence_literal(value: float) -> Literal:
    """A confidence in [0, 1] as an ``xsd:decimal`` with fixed precision.

    >>> confidence_literal(0.833333).value
    '0.8333'
    >>> confidence_literal(1.2)
    Traceback (most recent call last):
    ValueError: confidence 1.2 is not in [0, 1]
    """
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"confidence {value} is not in [0, 1]")
    text = str(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-CONFIDENCE_DECIMALS), ROUND_HALF_EVEN))
    return Literal(text, datatype=XSD.decimal)


def canonical_json(parameters: Mapping[str, object]) -> str:
    """Parameters as canonical JSON (sorted keys, no spaces): equal parameters, equal literal."""
    return json.dumps(parameters, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# ------------------------------------------------------------------------------------ a run

@dataclass(frozen=True)
class Agent:
    """The software agent of a run: job name and version, model, weights checksum."""

    job: str
    version: str
    model: str
    weights_checksum: str
    #: True for the seeded random weights tests use: never to be mistaken for a trained model
    test_weights: bool = False

    @property
    def label(self) -> str:
        return f"{self.job} {self.version} ({self.model})"


@dataclass(frozen=True)
class Suggestion:
    """One suggested triple, with how sure the job is and why."""

    triple: Triple
    confidence: float
    evidence: str


@dataclass
class Run:
    """A finished run, ready to be written in one transaction."""

    run_id: str
    agent: Agent
    parameters: Mapping[str, object]
    started: str
    ended: str
    used: Sequence[NamedNode]
    suggestions: Sequence[Suggestion]
    #: ``"what: why"`` for every input the job could not use (bad image, missing file, ...)
    skipped: Sequence[str] = ()
    #: what the run computed besides suggestions (e.g. "64 image embeddings"), for the record
    notes: Sequence[str] = ()

    @property
    def job(self) -> str:
        return self.agent.job


def run_triples(uris: Uris, run: Run) -> list[Triple]:
    """Everything the run graph holds."""
    graph, node, agent = uris.run_graph(run.run_id), run_iri(uris, run.run_id), agent_iri(uris, run.job,
                                                                                            run.agent.version)
    out = [
        Triple(graph, PROV.wasGeneratedBy, node),
        Triple(node, RDF.type, PROV.Activity),
        Triple(node, RDFS.label, Literal(f"{run.job} run {run.run_id}")),
        Triple(node, PROV.wasAssociatedWith, agent),
        Triple(node, PROV.startedAtTime, Literal(run.started, datatype=XSD.dateTime)),
        Triple(node, PROV.endedAtTime, Literal(run.ended, datatype=XSD.dateTime)),
        Triple(node, MOU.job, Literal(run.job)),
        Triple(node, MOU.parameters, Literal(canonical_json(run.parameters))),
        Triple(agent, RDF.type, PROV.SoftwareAgent),
        Triple(agent, RDFS.label, Literal(run.agent.label)),
        Triple(agent, MOU.model, Literal(run.agent.model)),
        Triple(agent, MOU.weightsChecksum, Literal(run.agent.weights_checksum)),
        Triple(agent, MOU.version, Literal(run.agent.version)),
    ]
    if run.agent.test_weights:
        out.append(Triple(agent, MOU.testWeights, Literal(True)))
    out += [Triple(node, PROV.used, g) for g in sorted(set(run.used), key=lambda n: n.value)]
    out += [Triple(node, MOU.skipped, Literal(s)) for s in run.skipped]
    out += [Triple(node, MOU.note, Literal(s)) for s in run.notes]
    seen = set()
    for suggestion in run.suggestions:
        t = suggestion.triple
        if t in seen:
            raise ValueError(f"run {run.run_id} suggests {t} twice")
        seen.add(t)
        a = assignment_iri(uris, run.run_id, t)
        out += [
            t,
            Triple(a, RDF.type, CRM.E13_Attribute_Assignment),
            Triple(a, CRM.P140_assigned_attribute_to, t.subject),
            Triple(a, CRM.P177_assigned_property_of_type, t.predicate),
            Triple(a, CRM.P141_assigned, t.object),
            Triple(a, CRM.P14_carried_out_by, agent),
            Triple(a, PROV.wasGeneratedBy, node),
            Triple(a, MOU.confidence, confidence_literal(suggestion.confidence)),
            Triple(a, MOU.evidence, Literal(suggestion.evidence, language="en")),
            Triple(a, MOU.reviewState, MOU.pending),
        ]
    return out


def write_run(store: Store, run: Run, vocabularies: Sequence[Vocabulary] = ()) -> NamedNode:
    """Write the run graph, its run-log entry and the vocabularies its suggestions use, in one
    transaction. Returns the run graph."""
    uris = store.uris
    graph = uris.run_graph(run.run_id)
    node = run_iri(uris, run.run_id)
    with _lock(store):
        log = _log_triples(store)
        log += [Triple(node, MOU.runGraph, graph), Triple(node, MOU.job, Literal(run.job)),
                Triple(node, PROV.startedAtTime, Literal(run.started, datatype=XSD.dateTime)),
                Triple(node, PROV.endedAtTime, Literal(run.ended, datatype=XSD.dateTime)),
                Triple(node, MOU.suggestionCount, Literal(len(run.suggestions)))]
        store.write(vocabularies=vocabularies, graphs={graph: run_triples(uris, run), log_graph(uris): log})
    return graph


def _log_triples(store: Store) -> list[Triple]:
    try:
        return graph_triples(store, log_graph(store.uris))
    except NotFound:
        return []


# ------------------------------------------------------------------------------------ reading

@dataclass(frozen=True)
class RunInfo:
    run_id: str
    graph: str
    job: str
    agent_label: str
    model: str
    weights_checksum: str
    started: str
    ended: str
    parameters: str
    pending: int = 0
    accepted: int = 0
    rejected: int = 0
    retracted_at: str | None = None
    retracted_by: str | None = None

    @property
    def total(self) -> int:
        return self.pending + self.accepted + self.rejected


def _bind(values: Mapping[str, object]) -> dict[Variable, object]:
    return {Variable(k): v for k, v in values.items() if v is not None}


def list_runs(store: Store, *, include_retracted: bool = True) -> list[RunInfo]:
    """The runs in the store, newest first; with ``include_retracted`` also those only the log remembers."""
    uris = store.uris
    runs: dict[str, RunInfo] = {}
    rows = store.query(named_query("runs"), substitutions=_bind({"prefix": Literal(f"{uris.base}graph/run/")}))
    for row in rows:
        run_id = run_id_of(uris, row["graph"].value)
        runs[run_id] = RunInfo(run_id, row["graph"].value, row["job"].value, row["label"].value, row["model"].value,
                               row["checksum"].value, row["started"].value, row["ended"].value,
                               row["parameters"].value, int(row["pending"].value), int(row["accepted"].value),
                               int(row["rejected"].value))
    if include_retracted:
        for row in store.query(named_query("run_log"), substitutions=_bind({"log": log_graph(uris)})):
            run_id = run_id_of(uris, row["run"].value)
            if run_id in runs or row["retractedAt"] is None:
                continue
            runs[run_id] = RunInfo(run_id, row["graph"].value, row["job"].value, "", "", "", row["started"].value,
                                   row["ended"].value, "", retracted_at=row["retractedAt"].value,
                                   retracted_by=row["retractedBy"].value if row["retractedBy"] else None)
    return sorted(runs.values(), key=lambda r: (r.started, r.run_id), reverse=True)


def get_run(store: Store, run_id: str) -> RunInfo:
    for info in list_runs(store):
        if info.run_id == run_id:
            return info
    raise NotFound(f"no enrichment run {run_id!r} (see `mouseion runs`)")


@dataclass(frozen=True)
class SuggestionRow:
    assignment: str
    run_id: str
    job: str
    subject: str
    property: str
    value: object  # a pyoxigraph term
    confidence: float
    evidence: str
    state: str
    model: str | None
    reviewed_by: str | None
    reviewed_at: str | None


def find_suggestions(store: Store, *, run: str | None = None, job: str | None = None, property: str | None = None,
                     subject: str | None = None, state: str | None = "pending", min_confidence: float | None = None,
                     max_confidence: float | None = None, limit: int | None = None) -> list[SuggestionRow]:
    """Suggestions chosen by run, job, property, subject, review state and confidence range
    (each optional), most confident first."""
    uris = store.uris
    if state is not None and state not in STATES:
        raise ConfigError(f"review state {state!r} is not one of {', '.join(STATES)}")
    bound = {"prefix": Literal(f"{uris.base}graph/run/"),
             "graph": uris.run_graph(run) if run else None,
             "job": Literal(job) if job else None,
             "property": NamedNode(property) if property else None,
             "subject": NamedNode(subject) if subject else None,
             "state": MOU[state] if state else None}
    out = []
    for row in store.query(named_query("suggestions"), substitutions=_bind(bound)):
        confidence = float(row["confidence"].value)
        if min_confidence is not None and confidence < min_confidence:
            continue
        if max_confidence is not None and confidence > max_confidence:
            continue
        out.append(SuggestionRow(
            row["assignment"].value, run_id_of(uris, row["graph"].value), row["job"].value, row["subject"].value,
            row["property"].value, row["value"], confidence, row["evidence"].value if row["evidence"] else "",
            row["state"].value.rsplit("#", 1)[-1], row["model"].value if row["model"] else None,
            row["reviewedBy"].value if row["reviewedBy"] else None,
            row["reviewedAt"].value if row["reviewedAt"] else None))
        if limit is not None and len(out) >= limit:
            break
    return out


@dataclass(frozen=True)
class MachineStatement:
    """A machine statement about a subject, as pages show it (marked) and OAI-PMH/dumps export it."""

    subject: str
    property: str
    value: object
    state: str
    confidence: float
    evidence: str
    model: str | None
    agent_label: str | None
    run_id: str
    assignment: str


def machine_statements(store: Store, subject: str, states: Iterable[str] = ("pending", "accepted")
                       ) -> list[MachineStatement]:
    """The machine statements about ``subject`` in the given review states.

    DESIGN.md: pages show pending and accepted suggestions, visibly marked (rejected ones hidden);
    OAI-PMH and dumps add accepted ones only, unless asked otherwise: ``states=("accepted",)``.
    """
    wanted = set(states)
    unknown = wanted - set(STATES)
    if unknown:
        raise ConfigError(f"review state {sorted(unknown)[0]!r} is not one of {', '.join(STATES)}")
    bound = {"prefix": Literal(f"{store.uris.base}graph/run/"), "subject": NamedNode(subject)}
    out = []
    for row in store.query(named_query("machine_statements"), substitutions=_bind(bound)):
        state = row["state"].value.rsplit("#", 1)[-1]
        if state not in wanted:
            continue
        out.append(MachineStatement(subject, row["property"].value, row["value"], state,
                                    float(row["confidence"].value), row["evidence"].value if row["evidence"] else "",
                                    row["model"].value if row["model"] else None,
                                    row["label"].value if row["label"] else None,
                                    run_id_of(store.uris, row["graph"].value), row["assignment"].value))
    return out


def accepted_triples(store: Store, subject: str) -> list[Triple]:
    """The accepted machine statements about ``subject`` as plain triples: what OAI-PMH and dumps add."""
    return [Triple(NamedNode(s.subject), NamedNode(s.property), s.value)
            for s in machine_statements(store, subject, ("accepted",))]


# ------------------------------------------------------------------------------------ review

@dataclass(frozen=True)
class Decision:
    """What a review changed."""

    changed: int
    unchanged: int
    runs: tuple[str, ...]


def review(store: Store, assignments: Iterable[str], decision: str, *, who: str, now: str | None = None,
           note: str | None = None) -> Decision:
    """Set the review state of these assignments (IRIs) to ``decision`` ('accepted', 'rejected', or
    'pending' to undo), recording who and when; all affected run graphs in one transaction.

    Raises NotFound, and changes nothing, when an assignment is in no run graph."""
    if decision not in STATES:
        raise ConfigError(f"decision {decision!r} is not one of {', '.join(STATES)}")
    if not who or not who.strip():
        raise ConfigError("a review decision needs a reviewer name (who)")
    wanted = {a if isinstance(a, str) else a.value for a in assignments}
    if not wanted:
        return Decision(0, 0, ())
    now = now or utc_now()
    uris = store.uris
    state_node = MOU[decision]
    with _lock(store):
        graphs: dict[str, list[str]] = {}
        for run_id, assignment in _locate(store, wanted):
            graphs.setdefault(run_id, []).append(assignment)
        found = {a for members in graphs.values() for a in members}
        missing = sorted(wanted - found)
        if missing:
            raise NotFound(f"no machine suggestion {missing[0]}" + (f" (and {len(missing) - 1} more)"
                                                                     if len(missing) > 1 else ""))
        contents, changed = {}, 0
        for run_id, members in sorted(graphs.items()):
            graph = uris.run_graph(run_id)
            triples = graph_triples(store, graph)
            new, count = _decide(triples, {NamedNode(a) for a in members}, state_node, who.strip(), now, note)
            changed += count
            if count:
                contents[graph] = new
        if contents:
            store.write(graphs=contents)
    return Decision(changed, len(wanted) - changed, tuple(sorted(graphs)))


def _locate(store: Store, wanted: set[str]) -> list[tuple[str, str]]:
    """(run id, assignment) of each wanted assignment found: looked up one by one for a few, by one
    scan of all suggestions for many."""
    prefix = Literal(f"{store.uris.base}graph/run/")
    if len(wanted) > 50:
        return [(r.run_id, r.assignment) for r in find_suggestions(store, state=None) if r.assignment in wanted]
    out = []
    for assignment in sorted(wanted):
        for row in store.query(named_query("suggestions"),
                               substitutions=_bind({"prefix": prefix, "assignment": NamedNode(assignment)})):
            out.append((run_id_of(store.uris, row["graph"].value), assignment))
            break
    return out


_REVIEW_PREDICATES = (MOU.reviewState, MOU.reviewedBy, MOU.reviewedAt, MOU.reviewNote)


def _decide(triples: list[Triple], members: set[NamedNode], state: NamedNode, who: str, now: str,
            note: str | None) -> tuple[list[Triple], int]:
    """The run graph after the decision; the count of assignments whose state changed."""
    described: dict[NamedNode, dict[NamedNode, object]] = {a: {} for a in members}
    for t in triples:
        if t.subject in described:
            described[t.subject][t.predicate] = t.object
    changing = {a for a, d in described.items() if d.get(MOU.reviewState) != state}
    if not changing:
        return triples, 0
    suggested = {a: Triple(d[CRM.P140_assigned_attribute_to], d[CRM.P177_assigned_property_of_type],
                           d[CRM.P141_assigned]) for a, d in described.items() if a in changing}
    # a bare triple stays while any assignment of this run for it is not rejected
    drop = {t for t in suggested.values()} if state == MOU.rejected else set()
    out = [t for t in triples if not (t.subject in changing and t.predicate in _REVIEW_PREDICATES) and t not in drop]
    present = set(out)
    for a in sorted(changing, key=lambda n: n.value):
        out += [Triple(a, MOU.reviewState, state), Triple(a, MOU.reviewedBy, Literal(who)),
                Triple(a, MOU.reviewedAt, Literal(now, datatype=XSD.dateTime))]
        if note:
            out.append(Triple(a, MOU.reviewNote, Literal(note)))
        if state != MOU.rejected and suggested[a] not in present:
            out.append(suggested[a])
            present.add(suggested[a])
    return out, len(changing)


def retract(store: Store, run_id: str, *, who: str, now: str | None = None) -> int:
    """Remove a run's graph — its suggestions, their assignments, its provenance — in one transaction,
    and note the retraction (when, by whom) in the run log. Returns the number of triples removed."""
    if not who or not who.strip():
        raise ConfigError("a retraction needs a name (who)")
    uris = store.uris
    graph = uris.run_graph(run_id)
    now = now or utc_now()
    with _lock(store):
        try:
            removed = len(graph_triples(store, graph))
        except NotFound:
            raise NotFound(f"no enrichment run {run_id!r} in the store (see `mouseion runs`)") from None
        node = run_iri(uris, run_id)
        log = [t for t in _log_triples(store)
               if not (t.subject == node and t.predicate in (MOU.retractedAt, MOU.retractedBy))]
        log += [Triple(node, MOU.retractedAt, Literal(now, datatype=XSD.dateTime)),
                Triple(node, MOU.retractedBy, Literal(who.strip()))]
        if not any(t.subject == node and t.predicate == MOU.runGraph for t in log):
            log.append(Triple(node, MOU.runGraph, graph))
        store.write(graphs={graph: [], log_graph(uris): log})
    return removed


def label_of(store: Store, iri: str) -> str | None:
    """A readable name for ``iri`` (English label first), or None."""
    for row in store.query(named_query("label"), substitutions={Variable("iri"): NamedNode(iri)}):
        return row["label"].value
    return None
