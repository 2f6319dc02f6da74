"""Writes that arrive over the protocols (SPARQL Update, Graph Store HTTP Protocol), held to the same
rules as ingest.

- A record graph (``{base}graph/record/{key}``) passes the SHACL gate and the change log: a new or
  changed graph is a created or modified record, an emptied or dropped one a deletion (tombstone).
- The change log and the inferred graphs are Mouseion's own: a write that touches them is refused
  whole (``ReservedGraph``).
- Any other graph (including the default graph) is a plain graph, stored as it is.

A SPARQL Update is first applied to a checkpoint of the store (RocksDB hard links: cheap), which gives
its exact effect with oxigraph's own Update semantics; the graphs it changed are then validated and
written to the store in one transaction — or not at all.

>>> import tempfile
>>> from kg.store import Store
>>> store = Store.open(tempfile.mkdtemp(), "http://example.org/")
>>> apply_update(store, 'INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/a> <http://example.org/p> 1 } }', gate=None)
[]
>>> len(graph_triples(store, NamedNode("http://example.org/g")))
1
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Mapping, Sequence

import pyoxigraph as ox
from pyoxigraph import DefaultGraph, NamedNode, Triple

from kg.errors import MouseionError, NotFound
from kg.record import Origin, Record, Rejection
from kg.backends import EmbeddedBackend
from kg.store import Outcome, Store

Graph = NamedNode | DefaultGraph

_LOCKS: dict[int, threading.Lock] = {}


class ReservedGraph(MouseionError):
    """A write touched a graph only Mouseion itself may write (change log, inferred types, enrichment runs)."""


class WriteRejected(MouseionError):
    """The write would leave a record graph that breaks the SHACL shapes; nothing was written."""

    def __init__(self, rejections: list[Rejection]) -> None:
        super().__init__("; ".join(str(r) for r in rejections))
        self.rejections = rejections


def _lock(store: Store) -> threading.Lock:
    # one writer at a time per store: an update's checkpoint must not miss a concurrent commit
    return _LOCKS.setdefault(id(store), threading.Lock())


def kind_of(store: Store, graph: Graph) -> str:
    """'record', 'reserved' or 'plain'."""
    if isinstance(graph, DefaultGraph):
        return "plain"
    iri = graph.value
    if store.uris.key_of_graph(graph) is not None:
        return "record"
    # bookkeeping, inferred types and enrichment runs: a run graph changes only through review and
    # retraction (enrichment.runs), so that nobody can forge or silently edit a machine's statement
    if iri.startswith(tuple(f"{store.uris.base}graph/{kind}/" for kind in ("meta", "inferred", "run"))):
        return "reserved"
    return "plain"


def graph_triples(store: Store, graph: Graph) -> list[Triple]:
    """The statements of one graph (the store's own default graph for ``DefaultGraph()``)."""
    if not isinstance(graph, DefaultGraph) and not store.backend.contains_graph(graph):
        raise NotFound(f"no graph <{graph.value}>")
    return [q.triple for q in store.backend.quads(None, None, None, graph)]


def replace_graphs(store: Store, contents: Mapping[Graph, Sequence[Triple]], *, gate, origin: str) -> list[Outcome]:
    """Give each graph exactly these statements (none: drop it), in one transaction, record graphs gated."""
    with _lock(store):
        return _replace(store, contents, gate=gate, origin=origin)


def _replace(store: Store, contents: Mapping[Graph, Sequence[Triple]], *, gate, origin: str) -> list[Outcome]:
    reserved = [g.value for g in contents if kind_of(store, g) == "reserved"]
    if reserved:
        raise ReservedGraph(f"graph <{reserved[0]}> is written by Mouseion only")
    records, deletions, plain = [], [], {}
    keys = {g: store.uris.key_of_graph(g) for g in contents if kind_of(store, g) == "record"}
    states = store.record_states(keys.values())
    for graph, triples in contents.items():
        key = keys.get(graph)
        if key is None:
            plain[graph] = list(triples)
        elif triples:
            state = states.get(key)
            records.append(Record(key, state.dataset if state else key.split("/", 1)[0], list(triples),
                                  Origin(origin, key)))
        elif key in states and not states[key].deleted:
            deletions.append(key)
    if gate is not None and records:
        findings = gate.validate({r.key: r.triples for r in records})
        rejected = []
        for record in records:
            found = findings.get(record.key, [])
            if any(f.is_violation for f in found):
                rejected.append(Rejection(record.origin, [str(f) for f in found], record.key))
            record.warnings = [str(f) for f in found]
        if rejected:
            raise WriteRejected(rejected)
    return store.write(records, deletions=deletions, graphs=plain, atomic=True)


def check_update_syntax(update: str) -> None:
    """Raise the parser's SyntaxError for ``update`` without touching any store (an empty scratch one).

    >>> check_update_syntax("INSERT DATA { <http://example.org/a> <http://example.org/b> 1 }")
    >>> check_update_syntax("INSERT DATA {")
    Traceback (most recent call last):
    SyntaxError: ...
    """
    ox.Store().update(update)


def apply_update(store: Store, update: str, *, gate, base_iri: str | None = None) -> list[Outcome]:
    """Run a SPARQL 1.1 Update with the store's rules; raises SyntaxError for a malformed update."""
    if not isinstance(store.backend, EmbeddedBackend):
        return _forward_update(store, update)
    with _lock(store):
        scratch = Path(tempfile.mkdtemp(prefix="mouseion-update-", dir=_scratch_parent(store)))
        try:
            store.checkpoint(scratch / "clone")
            clone = ox.Store(str(scratch / "clone"))
            clone.update(update, base_iri=base_iri)
            changed = _changed_graphs(store.oxi, clone)
            contents = {g: [q.triple for q in clone.quads_for_pattern(None, None, None, g)] for g in changed}
            del clone
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return _replace(store, contents, gate=gate, origin="SPARQL Update")


_STRINGS_AND_IRIS = re.compile(r"<[^<>\s]*>|'''.*?'''|\"\"\".*?\"\"\"|'[^'\n]*'|\"[^\"\n]*\"", re.DOTALL)
_UNBOUNDED = re.compile(r"\bGRAPH\s*[?$]|\b(ALL|NAMED|BASE|WITH|USING)\b", re.IGNORECASE)


def _forward_update(store: Store, update: str) -> list[Outcome]:
    """A remote server cannot be checkpointed, so an update's effect cannot be known before it is
    applied. It is forwarded only when it provably stays off Mouseion's graphs: it never names the
    base URI (where record, change-log and inferred graphs live), and has no graph variable and no
    ALL / NAMED / BASE / WITH / USING that could reach them. Record graphs are written through the
    Graph Store protocol or ingest instead, which validate."""
    # keywords count only outside IRIs and strings ("http://example.org/using/" names no dataset)
    bare = _STRINGS_AND_IRIS.sub(" ", update)
    if store.uris.base in update or _UNBOUNDED.search(bare):
        raise ReservedGraph("on a remote store, SPARQL Update may only write graphs outside "
                            f"{store.uris.base}graph/ and must name them; use the Graph Store protocol for records")
    store._update(update)
    return []


def _scratch_parent(store: Store) -> str | None:
    # beside the store, so the checkpoint's hard links stay on one file system
    return str(store.path.parent) if store.path is not None else None


def _changed_graphs(before: ox.Store, after: ox.Store) -> set[Graph]:
    """Graphs whose statements differ. Both stores share blank-node ids (one is a checkpoint of the other),
    so comparing their N-Quads lines is exact."""
    old = set(before.dump(format=ox.RdfFormat.N_QUADS).splitlines())
    new = set(after.dump(format=ox.RdfFormat.N_QUADS).splitlines())
    difference = b"\n".join(old ^ new)
    return {q.graph_name for q in ox.parse(difference, format=ox.RdfFormat.N_QUADS)} if difference else set()
