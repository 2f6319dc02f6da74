"""The store: the one place that opens and writes the pyoxigraph dataset.

Layout (DESIGN.md "URIs and graphs"):

- ``{base}graph/record/{key}``   one named graph per record, exactly what its source said;
- ``{base}graph/inferred/{key}`` the ``rdf:type`` closure of that record (never mixed with source data);
- ``{base}graph/vocab/{name}``   ontologies and controlled vocabularies;
- ``{base}graph/meta/records``   the change log: one description per record graph with its key,
  dataset, content hash, ``dcterms:created`` / ``dcterms:modified`` datestamps, SHACL warnings and,
  once deleted, a tombstone (``mou:deleted true``) that is kept for ever (OAI-PMH
  ``deletedRecord=persistent``).

A record's graph, its inferred graph and its change-log entry are written in one transaction (one
SPARQL Update or pyoxigraph's ``extend``), except for records new to the store in a batch load, which
take pyoxigraph's faster, non-transactional bulk loader under a write-ahead marker (see
``Store._write_fresh``). After a crash each record is wholly old or wholly new.

>>> from kg.record import Origin, Record
>>> from ontology.namespaces import CRM, RDF, RDFS
>>> from pyoxigraph import Literal, Triple
>>> store = Store.open(None, "http://example.org/")
>>> obj = store.uris.entity("object", "1")
>>> rec = Record("demo/1", "demo", [Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]),
...                                 Triple(obj, RDFS.label, Literal("Vase"))], Origin("demo.ttl"))
>>> [o.status for o in store.commit([rec])]
['created']
>>> [o.status for o in store.commit([rec])]
['unchanged']
>>> bool(store.query("ASK { ?o a crm:E70_Thing }"))
True
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Iterable, Iterator, Mapping, Sequence

import pyoxigraph as ox
from pyoxigraph import BlankNode, Literal, NamedNode, Quad, Triple

from kg.backends import Backend, EmbeddedBackend, RemoteBackend
from kg.errors import NotFound, StoreError
from kg.queries import named_query
from kg.record import Origin, Record, Uris, Vocabulary
from kg.restriction import Restriction, Vault
from ontology.hierarchy import Hierarchy
from ontology.namespaces import DCTERMS, MOU, PROV, RDF, XSD, prefix_map
from ontology.vocabularies import VOCABULARIES, vocabulary_triples

#: Bumped when the on-disk layout changes; `Store.open` refuses a store of another version.
LAYOUT_VERSION = "1"
#: over a SPARQL server, how long what was read is trusted (others write there too): ``Store.stale_after``
REMOTE_STALE_AFTER = 10.0


@dataclass(frozen=True)
class RecordState:
    """What the change log says about one record."""

    key: str
    dataset: str
    content_hash: str | None
    created: str
    modified: str
    deleted: bool


@dataclass(frozen=True)
class Outcome:
    key: str
    status: str  # "created" | "modified" | "unchanged" | "deleted" | "restricted"
    content_hash: str | None = None  # of what was written, for "created" and "modified"


def utc_now() -> str:
    """The datestamp of a change: UTC, seconds granularity (what OAI-PMH harvesters use)."""
    return datetime.now(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def content_hash(triples: Sequence[Triple], body: bytes | None = None) -> str:
    """A hash of a record's statements that ignores order and blank-node labels (``body``: the triples
    already serialised as N-Triples, when the caller has them).

    >>> from pyoxigraph import BlankNode, NamedNode, Triple
    >>> p = NamedNode("http://example.org/p")
    >>> content_hash([Triple(BlankNode(), p, NamedNode("http://example.org/o"))]) == \\
    ...     content_hash([Triple(BlankNode(), p, NamedNode("http://example.org/o"))])
    True
    """
    if any(isinstance(t.subject, BlankNode) or isinstance(t.object, BlankNode) for t in triples):
        dataset = ox.Dataset(Quad(t.subject, t.predicate, t.object) for t in triples)
        dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
        lines = sorted(str(q).encode() for q in dataset)
    else:  # one serialiser call instead of a str() per triple; the same lines, without the final " ."
        body = body if body is not None else _ntriples(triples)
        lines = sorted({line[:-2] for line in body.split(b"\n") if line})
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line)
        digest.update(b"\n")
    return digest.hexdigest()


def _in_graph(ntriples: bytes, graph: NamedNode) -> bytes:
    """N-Triples as N-Quads in ``graph``: every line ends in " .\n" (newlines inside literals are escaped)."""
    return ntriples.replace(b" .\n", f" <{graph.value}> .\n".encode())


def _ntriples(triples: Iterable[Triple]) -> bytes:
    return ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)


def journal_of(store_path: Path) -> Path:
    """The journal of the batch a store is bulk-writing: ``<store>.pending`` (see ``Store._write_fresh``)."""
    return store_path.with_name(store_path.name + ".pending")


def _write_whole(path: Path, text: str) -> None:
    """Write a file so that it exists whole or not at all, and durably (a new file renamed into place)."""
    part = path.with_name(path.name + ".part")
    with open(part, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(part, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _dt(value: str) -> Literal:
    return Literal(value, datatype=XSD.dateTime)


class _Writes:
    """One transaction's worth of writes: SPARQL Update text, plus plain quads for brand-new records."""

    def __init__(self) -> None:
        self.fresh: list[bytes] = []      # records new to the store and their change-log entries, as N-Quads
        self.fresh_graphs: list[NamedNode] = []
        self.drops: list[str] = []
        self.inserts: list[str] = []

    def replace(self, graph: NamedNode | ox.DefaultGraph, triples: Sequence[Triple]) -> None:
        if isinstance(graph, ox.DefaultGraph):
            self.drops.append("CLEAR SILENT DEFAULT ;\n")
        else:
            self.drops.append(f"DROP SILENT GRAPH <{graph.value}> ;\n")
        self.insert(graph, triples)

    def insert(self, graph: NamedNode | ox.DefaultGraph, triples: Sequence[Triple]) -> None:
        if not triples:
            return
        body = _ntriples(triples).decode()
        self.inserts.append(body if isinstance(graph, ox.DefaultGraph) else f"GRAPH <{graph.value}> {{\n{body}}}\n")

    def text(self) -> str:
        return "".join(self.drops) + ("INSERT DATA {\n" + "".join(self.inserts) + "}" if self.inserts else "")


@dataclass
class _Staged:
    """A write decided and built, not yet done (``Store._stage``, then ``_write_staged`` and ``_notify``)."""

    writes: _Writes
    outcomes: list[Outcome]
    held: list[Outcome]      # restricted records: already in the vault
    touched: list            # vocabulary and plain graphs replaced
    records: Sequence[Record]


class Store:
    """A Mouseion dataset on disk (or in memory, for doctests)."""

    def __init__(self, backend: Backend, uris: Uris, path: Path | None) -> None:
        self.backend = backend
        self.uris = uris
        self.path = path
        self.hierarchy = Hierarchy.load()
        self._writes = 0  # bumped before and after every write of this process (see ``generation``)
        #: seconds after which what was read may be out of date whatever this process did: set for a
        #: SPARQL server, which other processes (``mouseion load``, another server) write to unseen
        self.stale_after: float | None = None
        self._vault: Vault | None = None
        self._held: set[str] = set()  # keys of restricted records (kg.restriction)
        #: called as ``listener(outcomes, graphs, records)`` after every committed ``write`` (graphs: the
        #: vocabulary and plain graphs it replaced); derived indexes (kg.search) keep in step through it
        self.listeners: list = []
        self._writer: ThreadPoolExecutor | None = None  # the writer thread of ``commit_behind``
        self._writable = False  # opened for writing (a read-only store cannot flush)
        self._behind: tuple[Future, _Staged] | None = None

    # ---------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: str | Path | None, base_uri: str, *, read_only: bool = False, bare: bool = False) -> "Store":
        """Open (creating when missing) the store at ``path``; ``None`` gives an in-memory store.

        A ``bare`` store writes nothing of its own on opening (no ontology graphs, no layout marker), so
        that it holds exactly what clients put in it: what a protocol conformance suite expects."""
        try:
            if path is None:
                oxi = ox.Store()
            elif read_only:
                oxi = ox.Store.read_only(str(path))
            else:
                Path(path).mkdir(parents=True, exist_ok=True)
                oxi = ox.Store(str(path))
        except OSError as error:
            hint = " (is another mouseion process using it?)" if "lock" in str(error).lower() else ""
            raise StoreError(f"cannot open store {path}: {error}{hint}") from None
        store = cls(EmbeddedBackend(oxi), Uris(base_uri), Path(path) if path is not None else None)
        if not read_only:
            store._writable = True
            store._recover()
        if not read_only and not bare:
            store._initialise()
        if not read_only:
            store._open_vault(create=False)
        return store

    @classmethod
    def connect(cls, query_url: str, base_uri: str, *, update_url: str | None = None,
                headers: dict[str, str] | None = None) -> "Store":
        """Use a SPARQL 1.1 server as the store (see ``kg.backends`` for what it must support)."""
        store = cls(RemoteBackend(query_url, update_url, headers=headers), Uris(base_uri), None)
        store.stale_after = REMOTE_STALE_AFTER
        store._initialise()
        return store

    @property
    def generation(self) -> int | tuple[int, int]:
        """What caches of what was read (labels, browse lists, statistics, checkpoints, ETags) are keyed
        on: it moves before and after every write of this process, so that what was read while a write
        was under way is never taken for what follows it. Over a SPARQL server it also moves every
        ``stale_after`` seconds, since others write there too."""
        if self.stale_after is None:
            return self._writes
        return self._writes, int(time.monotonic() // self.stale_after)

    @property
    def oxi(self) -> ox.Store:
        """The embedded pyoxigraph store, for what only it can do (checkpoints, fast bulk reads)."""
        if not isinstance(self.backend, EmbeddedBackend):
            raise StoreError("this operation needs the embedded store; the store in use is a remote SPARQL server")
        return self.backend.oxi

    def _initialise(self) -> None:
        """Write the layout version and the ontology graphs once, in one transaction."""
        meta = self.uris.meta_graph
        store_node = NamedNode(self.uris.base)
        found = [q.object.value for q in self.backend.quads(store_node, MOU.layoutVersion, None, meta)]
        if found:
            if found[0] != LAYOUT_VERSION:
                raise StoreError(f"store layout version {found[0]} is not {LAYOUT_VERSION}: dump and restore")
            return
        quads = [Quad(store_node, MOU.layoutVersion, Literal(LAYOUT_VERSION), meta)]
        for name, _path, _format in VOCABULARIES:
            graph = self.uris.vocab_graph(name)
            quads.extend(Quad(t.subject, t.predicate, t.object, graph) for t in vocabulary_triples(name))
            quads.append(Quad(graph, RDF.type, MOU.VocabularyGraph, meta))
        self.backend.extend(quads)

    def close(self) -> None:
        if not hasattr(self, "backend"):
            return  # closed already
        try:
            self.settle()
        finally:
            if self._writer is not None:
                self._writer.shutdown()
                self._writer = None
            if self._writable:
                self.backend.flush()
        if self._vault is not None:
            self._vault.close()
            self._vault = None
        del self.backend

    # ---------------------------------------------------------------- reading

    def query(self, sparql: str, *, union: bool = True, **options):
        """Run a SPARQL query; by default over the union of all graphs, with every known prefix."""
        try:
            return self.backend.query(sparql, union=union, prefixes=prefix_map(), **options)
        except SyntaxError:
            raise
        except OSError as error:
            raise StoreError(f"query failed: {error}") from None

    def ping(self) -> None:
        """A read as cheap as the store allows (for health checks); raises ``StoreError`` if it fails."""
        try:
            next(iter(self.backend.quads(NamedNode(self.uris.base), MOU.layoutVersion, None, self.uris.meta_graph)),
                 None)
        except (OSError, StoreError) as error:
            raise StoreError(f"the store does not answer: {error}") from None

    def record_states(self, keys: Iterable[str]) -> dict[str, RecordState]:
        """The change-log entries of these records (keys never loaded are absent)."""
        meta = self.uris.meta_graph
        states = {}
        for key in keys:
            values: dict[str, str] = {}
            for quad in self.backend.quads(self.uris.record_graph(key), None, None, meta):
                values[quad.predicate.value] = quad.object.value
            if MOU.key.value in values:
                states[key] = RecordState(
                    key=key, dataset=values[MOU.dataset.value], content_hash=values.get(MOU.contentHash.value),
                    created=values[DCTERMS.created.value], modified=values[DCTERMS.modified.value],
                    deleted=values.get(MOU.deleted.value) == "true")
        return states

    def changes(self, *, since: str | None = None, until: str | None = None,
                dataset: str | None = None) -> Iterator[RecordState]:
        """Every record (tombstones included) in datestamp order, then key order: the OAI-PMH change log."""
        query = named_query("changes")
        bindings: dict[str, object] = {"meta": self.uris.meta_graph}
        if since is not None:
            bindings["since"] = _dt(since)
        if until is not None:
            bindings["until"] = _dt(until)
        if dataset is not None:
            bindings["only_dataset"] = Literal(dataset)
        rows = self.backend.query(query, union=False, prefixes=prefix_map(),
                                  substitutions={ox.Variable(k): v for k, v in bindings.items()})
        for row in rows:
            yield RecordState(
                key=row["key"].value,
                dataset=row["dataset"].value,
                content_hash=row["hash"].value if row["hash"] is not None else None,
                created=row["created"].value,
                modified=row["modified"].value,
                deleted=row["deleted"] is not None and row["deleted"].value == "true",
            )

    def record_triples(self, key: str) -> list[Triple]:
        graph = self.uris.record_graph(key)
        if not self.backend.contains_graph(graph):
            raise NotFound(f"no record {key}")
        return [q.triple for q in self.backend.quads(None, None, None, graph)]

    def warnings(self, key: str) -> list[str]:
        graph = self.uris.record_graph(key)
        return sorted(q.object.value for q in
                      self.backend.quads(graph, MOU.warning, None, self.uris.meta_graph))

    def stats(self) -> dict[str, object]:
        """Counts for `mouseion stats` and the home page."""
        meta = {ox.Variable("meta"): self.uris.meta_graph}
        counts = {row["what"].value: int(row["n"].value)
                  for row in self.query(named_query("stats"), union=False, substitutions=meta)}
        datasets = {row["dataset"].value: int(row["n"].value)
                    for row in self.query(named_query("datasets"), union=False, substitutions=meta)}
        classes = {row["class"].value: int(row["n"].value) for row in self.query(named_query("class_counts"))}
        return {
            "triples": self.backend.count(),
            "records": counts.get("records", 0),
            "deleted": counts.get("deleted", 0),
            "graphs": sum(1 for _ in self.backend.graphs()),
            "datasets": datasets,
            "classes": classes,
        }

    # ---------------------------------------------------------------- writing

    def commit(self, records: Sequence[Record], vocabularies: Sequence[Vocabulary] = (), *,
               now: str | None = None) -> list[Outcome]:
        """Write a batch; each record wholly or not at all; unchanged records keep their datestamps.

        Records new to the store take pyoxigraph's bulk loader (see ``_write_fresh``); records
        replacing an earlier version — their old graph dropped, their change-log entry rewritten with
        ``dcterms:modified`` bumped — and vocabularies go in one SPARQL Update transaction.
        """
        return self.write(records, vocabularies, now=now, atomic=False)

    def commit_behind(self, records: Sequence[Record], vocabularies: Sequence[Vocabulary] = (), *,
                      now: str | None = None) -> list[Outcome]:
        """``commit``, with the writing done on the store's writer thread, for batch loads.

        The batch is staged here — each record's outcome decided against the change log — and written
        behind the caller's back while the caller reads and validates its next batch and this thread
        stages it: pyoxigraph writes without holding the GIL. At most one batch is in flight: this call
        first waits for the one before, tells the listeners about it and returns its outcomes (``[]``
        the first time). ``settle`` (and every other write) waits for the last; a write that failed
        raises there.
        """
        previous = self._behind
        if previous is not None and {r.key for r in records} & {r.key for r in previous[1].records}:
            done = self.settle()  # a record written twice in a row: stage it against its first version
            previous = None
        else:
            done = []
        staged = self._stage(records, vocabularies, (), {}, now or utc_now(), atomic=False)
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mouseion-writer")
        self._behind = (self._writer.submit(self._write_staged, staged), staged)
        if previous is not None:
            done = self._finish(previous)
        return done

    def settle(self) -> list[Outcome]:
        """Wait for the write ``commit_behind`` left in flight and tell the listeners; returns its
        outcomes, or raises its error."""
        behind, self._behind = self._behind, None
        return self._finish(behind) if behind is not None else []

    def _finish(self, behind: "tuple[Future, _Staged]") -> list[Outcome]:
        behind[0].result()
        self._notify(behind[1])
        return behind[1].outcomes + behind[1].held

    def write(self, records: Sequence[Record] = (), vocabularies: Sequence[Vocabulary] = (), *,
              deletions: Sequence[str] = (), graphs: Mapping[NamedNode | ox.DefaultGraph, Sequence[Triple]] = {},
              now: str | None = None, atomic: bool = True) -> list[Outcome]:
        """Records, vocabularies, record deletions and plain graph replacements (an empty list drops the
        graph); with ``atomic`` all in one transaction, as a SPARQL Update or a Graph Store request needs."""
        self.settle()
        staged = self._stage(records, vocabularies, deletions, graphs, now or utc_now(), atomic)
        self._write_staged(staged)
        self._notify(staged)
        return staged.outcomes + staged.held

    def _stage(self, records: Sequence[Record], vocabularies: Sequence[Vocabulary], deletions: Sequence[str],
               graphs: Mapping[NamedNode | ox.DefaultGraph, Sequence[Triple]], now: str, atomic: bool) -> "_Staged":
        """Decide each record's outcome and build the writes; nothing is written yet but restricted
        records, which go to the vault."""
        held = [r for r in records if r.key in self._held]
        if held:
            for record in held:
                self._vault.replace_triples(record)
            records = [r for r in records if r.key not in self._held]
        keys = [r.key for r in records] + list(deletions)
        if len(set(keys)) != len(keys):
            raise ValueError("a batch holds the same record key twice")
        states = self.record_states(keys)
        missing = [k for k in deletions if k not in states or states[k].deleted]
        if missing:
            raise NotFound(f"no live record {', '.join(missing)}")
        writes = _Writes()
        outcomes = [self._stage_record(writes, r, states.get(r.key), now, fresh_ok=not atomic) for r in records]
        outcomes += [self._stage_deletion(writes, key, now) for key in deletions]
        for vocabulary in vocabularies:
            graph = self.uris.vocab_graph(vocabulary.name)
            writes.replace(graph, vocabulary.triples)
            writes.insert(self.uris.meta_graph, [Triple(graph, RDF.type, MOU.VocabularyGraph)])
        for graph, triples in graphs.items():
            writes.replace(graph, triples)
        touched = [self.uris.vocab_graph(v.name) for v in vocabularies] + list(graphs)
        return _Staged(writes, outcomes, [Outcome(r.key, "restricted") for r in held], touched, records)

    def _write_staged(self, staged: "_Staged") -> None:
        writes = staged.writes
        if writes.fresh:
            self._write_fresh(writes)
        if writes.drops or writes.inserts:
            self._update(writes.text())

    def _notify(self, staged: "_Staged") -> None:
        for listener in self.listeners:
            listener(staged.outcomes, staged.touched, staged.records)

    # ---------------------------------------------------------------- restriction (kg.restriction)

    def _open_vault(self, *, create: bool) -> "Vault | None":
        if self._vault is None:
            if not isinstance(self.backend, EmbeddedBackend):
                if create:
                    raise StoreError("restricted records need the embedded store: a SPARQL server would serve "
                                     "them to anyone who can query it")
                return None
            self._vault = Vault.beside(self.path, self.uris, create=create)
            if self._vault is not None:
                self._held = set(self._vault.restrictions())
                self._finish_moves()
        return self._vault

    def restrictions(self) -> dict[str, Restriction]:
        """The restricted records, by key (never shown on a public route)."""
        vault = self._open_vault(create=False)
        return vault.restrictions() if vault is not None else {}

    def restrict(self, keys: Sequence[str], *, reason: str, by: str, now: str | None = None) -> list[Outcome]:
        """Withdraw live records from every public route: their graphs move to the vault and the change
        log gets a tombstone, so OAI-PMH harvesters delete them too."""
        now = now or utc_now()
        states = self.record_states(keys)
        missing = [k for k in keys if k not in states or states[k].deleted]
        if missing:
            raise NotFound(f"no live record {', '.join(missing)}")
        vault = self._open_vault(create=True)
        for key in keys:
            vault.hold(self._stored_record(key, states[key]), reason=reason, by=by, now=now,
                       created=states[key].created)
            self._held.add(key)
        self.write(deletions=list(keys), now=now)
        return [Outcome(key, "restricted") for key in keys]

    def release(self, keys: Sequence[str], *, now: str | None = None) -> list[Outcome]:
        """Lift restrictions: each record goes back to the public store with a new ``dcterms:modified``."""
        vault = self._open_vault(create=False)
        held = vault.restrictions() if vault is not None else {}
        missing = [k for k in keys if k not in held]
        if missing:
            raise NotFound(f"no restricted record {', '.join(missing)}")
        vault.mark_releasing(keys)
        return self._release(keys, now)

    def _release(self, keys: Sequence[str], now: str | None) -> list[Outcome]:
        records = [self._vault.record(key)[0] for key in keys]
        self._held.difference_update(keys)
        outcomes = self.write(records, now=now)
        self._vault.forget(keys)
        return outcomes

    def _finish_moves(self) -> None:
        """Complete a restriction or a release that a crash cut between the vault and the public store."""
        held = self._vault.restrictions()
        states = self.record_states(held)
        live = {k for k, state in states.items() if not state.deleted}
        moves = list(self._vault.unfinished(live))
        if restricting := [k for k, move in moves if move == "restrict"]:
            self.write(deletions=restricting)
        if releasing := [k for k, move in moves if move == "release"]:
            self._release(releasing, None)

    def _stored_record(self, key: str, state: RecordState) -> Record:
        graph = self.uris.record_graph(key)
        values = {q.predicate.value: q.object for q in self.backend.quads(graph, None, None, self.uris.meta_graph)}
        focus = values.get(MOU.focus.value)
        source = values.get(MOU.source.value)
        return Record(key, state.dataset, self.record_triples(key), Origin(source.value if source else ""),
                      values[MOU.format.value].value if MOU.format.value in values else "rdf",
                      focus if isinstance(focus, NamedNode) else None)

    def _stage_record(self, writes: "_Writes", record: Record, state: RecordState | None, now: str,
                      fresh_ok: bool) -> Outcome:
        graph = self.uris.record_graph(record.key)
        inferred = self.uris.inferred_graph(record.key)
        meta = self.uris.meta_graph
        body = _ntriples(record.triples)
        digest = content_hash(record.triples, body)
        if state is not None and not state.deleted and state.content_hash == digest:
            return Outcome(record.key, "unchanged")
        extra = self.hierarchy.infer_types(record.triples)
        described = self._meta(record, digest, state.created if state is not None else now, now, bool(extra))
        if state is None and fresh_ok:
            writes.fresh += [_in_graph(body, graph), _in_graph(_ntriples(extra), inferred),
                             _in_graph(_ntriples(described), meta)]
            writes.fresh_graphs += [graph, inferred]
        else:
            if state is not None:
                writes.drops.append(f"DELETE WHERE {{ GRAPH <{meta.value}> {{ <{graph.value}> ?p ?o }} }} ;\n")
            writes.replace(graph, record.triples)
            writes.replace(inferred, extra)
            writes.insert(meta, described)
        return Outcome(record.key, "created" if state is None or state.deleted else "modified", digest)

    def _stage_deletion(self, writes: "_Writes", key: str, now: str) -> Outcome:
        graph, inferred, meta = self.uris.record_graph(key), self.uris.inferred_graph(key), self.uris.meta_graph
        writes.replace(graph, [])
        writes.replace(inferred, [])
        dropped = " ".join(f"<{p.value}>" for p in (DCTERMS.modified, MOU.contentHash, MOU.warning, MOU.inferredGraph))
        writes.drops.append(
            f"DELETE WHERE {{ GRAPH <{meta.value}> {{ <{inferred.value}> ?ip ?io }} }} ;\n"
            f"DELETE {{ GRAPH <{meta.value}> {{ <{graph.value}> ?p ?o }} }} WHERE {{ GRAPH <{meta.value}> "
            f"{{ <{graph.value}> ?p ?o }} VALUES ?p {{ {dropped} }} }} ;\n")
        writes.insert(meta, [Triple(graph, MOU.deleted, Literal(True)), Triple(graph, DCTERMS.modified, _dt(now))])
        return Outcome(key, "deleted")

    def _meta(self, record: Record, digest: str, created: str, now: str, has_inferred: bool) -> list[Triple]:
        graph = self.uris.record_graph(record.key)
        triples = [
            Triple(graph, RDF.type, MOU.Record),
            Triple(graph, MOU.key, Literal(record.key)),
            Triple(graph, MOU.dataset, Literal(record.dataset)),
            Triple(graph, MOU.format, Literal(record.format)),
            Triple(graph, MOU.contentHash, Literal(digest)),
            Triple(graph, MOU.source, Literal(str(record.origin))),
            Triple(graph, DCTERMS.created, _dt(created)),
            Triple(graph, DCTERMS.modified, _dt(now)),
        ]
        if record.focus is not None:
            triples.append(Triple(graph, MOU.focus, record.focus))
        if has_inferred:
            inferred = self.uris.inferred_graph(record.key)
            triples += [Triple(graph, MOU.inferredGraph, inferred),
                        Triple(inferred, RDF.type, MOU.InferredGraph),
                        Triple(inferred, PROV.wasDerivedFrom, graph)]
        triples += [Triple(graph, MOU.warning, Literal(w)) for w in record.warnings]
        return triples

    def delete(self, keys: Iterable[str], *, now: str | None = None) -> list[Outcome]:
        """Drop record graphs and leave tombstones (kept for ever) in the change log, in one transaction."""
        return self.write(deletions=list(keys), now=now)

    def _extend(self, quads: list[Quad]) -> None:
        self._writes += 1
        try:
            self.backend.extend(quads)
        except OSError as error:
            raise StoreError(f"write failed, nothing was written: {error}") from None
        finally:
            self._writes += 1

    def _write_fresh(self, writes: "_Writes") -> None:
        """Records new to the store, at bulk-load speed, still wholly written or not at all.

        The bulk loader is not transactional, so the batch's record graphs (and inferred-types graphs)
        are first listed in a journal beside the store (``<store>.pending``, written whole or not at
        all); then the records, their inferred types and their change-log entries are bulk-written, and
        removing the journal is the commit. ``_recover`` removes every graph a journal still lists, with
        its change-log entry (a record new to the store had none). Nothing here is a transactional
        write: after a run of bulk loads, any transaction, even of one quad, waits for RocksDB to
        compact what they wrote, for longer the larger the store (see docs/design-notes.md). Records
        replacing older versions never take this path: their old graphs must survive a crash. (A store
        on a SPARQL server has no journal: a crash there can leave part of a batch.)
        """
        self._writes += 1
        journal = self._journal()
        try:
            if journal is not None:
                if journal.exists():  # an earlier batch failed half-way: its graphs go first
                    self._recover()
                _write_whole(journal, "".join(f"{g.value}\n" for g in writes.fresh_graphs))
            self.backend.bulk_load(b"".join(writes.fresh))
            if journal is not None:
                journal.unlink()
        except (OSError, SyntaxError) as error:
            raise StoreError(f"write failed: {error}; the records of this batch are removed when the store "
                             f"is next written to or opened for writing") from None
        finally:
            self._writes += 1

    def _journal(self) -> Path | None:
        """Where the batch being bulk-written lists its graphs (none for a store in memory or on a server)."""
        return journal_of(self.path) if self.path is not None else None

    def _recover(self) -> None:
        """Remove what an interrupted ``_write_fresh`` left behind: every graph its journal lists, with
        its change-log entry; then the journal.

        Stores written by earlier versions listed graphs in ``{base}graph/meta/pending`` instead, in two
        ways: ``mou:uncommitted`` (the commit was that graph's removal, so a listed graph was never
        committed) and ``mou:pending`` (committed once its change-log entry was written: those stay).
        """
        pending, meta = self.uris.pending_graph, self.uris.meta_graph
        journal = self._journal()
        doomed = []
        if journal is not None and journal.exists():
            try:
                doomed += [NamedNode(line) for line in journal.read_text(encoding="utf-8").splitlines() if line]
            except (OSError, UnicodeDecodeError, ValueError) as error:
                raise StoreError(f"cannot read the journal of an interrupted load {journal}: {error}") from None
        listed = list(self.backend.quads(None, None, None, pending))
        doomed += [q.subject for q in listed if q.predicate == MOU.uncommitted or (q.predicate == MOU.pending and not (
            any(True for _ in self.backend.quads(q.subject, MOU.key, None, meta)) or
            any(True for _ in self.backend.quads(q.subject, RDF.type, MOU.InferredGraph, meta))))]
        if doomed or listed:
            self._update("".join(f"DELETE WHERE {{ GRAPH <{meta.value}> {{ <{g.value}> ?p ?o }} }} ;\n"
                                 f"DROP SILENT GRAPH <{g.value}> ;\n" for g in doomed) +
                         f"DROP SILENT GRAPH <{pending.value}>")
        if journal is not None:
            journal.unlink(missing_ok=True)

    def _update(self, update: str) -> None:
        self._writes += 1
        try:
            self.backend.update(update)
        except OSError as error:
            raise StoreError(f"write failed, nothing was written: {error}") from None
        finally:
            self._writes += 1

    # ---------------------------------------------------------------- snapshots, dump and restore

    def checkpoint(self, target: str | Path) -> None:
        """A consistent snapshot in ``target`` (a new directory) that other processes may open read-only.

        RocksDB makes it with hard links, so it is cheap; it shares nothing mutable with this store.
        """
        if self.path is None:
            raise StoreError("an in-memory store has no checkpoints: give the store a directory")
        try:
            self.oxi.backup(str(target))
        except OSError as error:
            raise StoreError(f"cannot checkpoint the store into {target}: {error}") from None

    def dump(self, target: str | Path | IO[bytes]) -> int:
        """Write every graph as gzipped N-Quads; returns the number of quads."""
        count = self.backend.count()
        if isinstance(target, (str, Path)):
            with gzip.open(target, "wb") as out:
                self.backend.dump(out)
        else:
            with gzip.GzipFile(fileobj=target, mode="wb") as out:
                self.backend.dump(out)
        return count

    @classmethod
    def restore(cls, source: str | Path, path: str | Path, base_uri: str, *, replace: bool = False) -> "Store":
        """Build a store at ``path`` from a dump. The new store is built beside the target and moved into
        place only once complete, so a failed restore never leaves a half-written store behind."""
        path = Path(path)
        if path.exists() and any(path.iterdir()) and not replace:
            raise StoreError(f"{path} is not empty: restore into a new location, or pass --force to replace it")
        staging = path.with_name(path.name + ".restoring")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            oxi = ox.Store(str(staging))
            with gzip.open(source, "rb") as data:
                oxi.bulk_load(data, format=ox.RdfFormat.N_QUADS)
            oxi.flush()
            del oxi
        except (OSError, SyntaxError, EOFError, gzip.BadGzipFile) as error:
            shutil.rmtree(staging, ignore_errors=True)
            raise StoreError(f"cannot restore from {source}: {error}") from None
        if path.exists():
            shutil.rmtree(path)
        journal_of(path).unlink(missing_ok=True)  # the replaced store's, if any
        staging.rename(path)
        return cls.open(path, base_uri)
