"""Restricted records: kept, but never served on a public route (DESIGN.md "URIs and graphs").

A record is restricted at a community's or a rights holder's request. Filtering it out at every
public route (pages, SPARQL, OAI-PMH, dumps, search) would be one forgotten ``FILTER`` away from a
leak, so a restricted record does not live in the public store at all: its graph moves to the
*vault*, a second pyoxigraph store beside the public one (``<store>.restricted``), and the public
change log keeps a tombstone, exactly as for a deletion. Harvesters are told the record is gone;
queries, pages and dumps cannot see what is not there.

Records loaded again while restricted go to the vault, not to the public store. Releasing a record
writes it back through the normal write path (new ``dcterms:modified``, the original
``dcterms:created``) and removes it from the vault.

Two stores cannot share a transaction, so each move is ordered and recorded in the vault first;
``Vault.unfinished`` tells ``Store`` what to complete when it is next opened for writing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import pyoxigraph as ox
from pyoxigraph import Literal, NamedNode, Quad, Triple

from kg.errors import StoreError
from kg.record import Origin, Record, Uris
from ontology.namespaces import DCTERMS, MOU, XSD


@dataclass(frozen=True)
class Restriction:
    key: str
    dataset: str
    since: str
    reason: str
    by: str
    releasing: bool = False


class Vault:
    """The private store of restricted records: their graphs, and why and since when each is held."""

    def __init__(self, oxi: ox.Store, uris: Uris) -> None:
        self.oxi = oxi
        self.uris = uris
        self.log = NamedNode(f"{uris.base}graph/meta/restricted")

    @classmethod
    def beside(cls, path: Path | None, uris: Uris, *, create: bool) -> "Vault | None":
        """The vault of the store at ``path``; ``None`` when it has none and ``create`` is false."""
        if path is None:
            return cls(ox.Store(), uris) if create else None
        where = path.with_name(path.name + ".restricted")
        if not where.exists() and not create:
            return None
        try:
            return cls(ox.Store(str(where)), uris)
        except OSError as error:
            raise StoreError(f"cannot open the vault of restricted records {where}: {error}") from None

    def restrictions(self) -> dict[str, Restriction]:
        found: dict[str, dict[str, str]] = {}
        for quad in self.oxi.quads_for_pattern(None, None, None, self.log):
            found.setdefault(quad.subject.value, {})[quad.predicate.value] = quad.object.value
        return {values[MOU.key.value]: Restriction(
                    key=values[MOU.key.value], dataset=values[MOU.dataset.value],
                    since=values[MOU.restrictedAt.value], reason=values.get(MOU.reason.value, ""),
                    by=values.get(MOU.restrictedBy.value, ""), releasing=MOU.releasing.value in values)
                for values in found.values() if MOU.key.value in values}

    def hold(self, record: Record, *, reason: str, by: str, now: str, created: str) -> None:
        """Keep ``record`` (replacing what the vault held under its key), in one transaction."""
        graph = self.uris.record_graph(record.key)
        entry = [Triple(graph, MOU.key, Literal(record.key)), Triple(graph, MOU.dataset, Literal(record.dataset)),
                 Triple(graph, MOU.restrictedAt, Literal(now, datatype=XSD.dateTime)),
                 Triple(graph, DCTERMS.created, Literal(created, datatype=XSD.dateTime)),
                 Triple(graph, MOU.reason, Literal(reason)), Triple(graph, MOU.restrictedBy, Literal(by)),
                 Triple(graph, MOU.format, Literal(record.format)), Triple(graph, MOU.source, Literal(record.origin.file))]
        if record.focus is not None:
            entry.append(Triple(graph, MOU.focus, record.focus))
        update = (f"DROP SILENT GRAPH <{graph.value}> ;\n"
                  f"DELETE WHERE {{ GRAPH <{self.log.value}> {{ <{graph.value}> ?p ?o }} }} ;\n"
                  "INSERT DATA {\n" + _graph_block(graph, record.triples) + _graph_block(self.log, entry) + "}")
        self.oxi.update(update)

    def replace_triples(self, record: Record) -> None:
        """A new version of a restricted record arrived: keep it, still restricted."""
        graph = self.uris.record_graph(record.key)
        self.oxi.update(f"DROP SILENT GRAPH <{graph.value}> ;\nINSERT DATA {{\n{_graph_block(graph, record.triples)}}}")

    def record(self, key: str) -> tuple[Record, str]:
        """The held record, and its original ``dcterms:created``."""
        graph = self.uris.record_graph(key)
        values = {q.predicate.value: q.object for q in self.oxi.quads_for_pattern(graph, None, None, self.log)}
        triples = [q.triple for q in self.oxi.quads_for_pattern(None, None, None, graph)]
        focus = values.get(MOU.focus.value)
        return (Record(key, values[MOU.dataset.value].value, triples, Origin(values[MOU.source.value].value),
                       values[MOU.format.value].value, focus if isinstance(focus, NamedNode) else None),
                values[DCTERMS.created.value].value)

    def mark_releasing(self, keys: Sequence[str]) -> None:
        self.oxi.extend([Quad(self.uris.record_graph(k), MOU.releasing, Literal(True), self.log) for k in keys])

    def forget(self, keys: Sequence[str]) -> None:
        drops = "".join(f"DROP SILENT GRAPH <{self.uris.record_graph(k).value}> ;\n"
                        f"DELETE WHERE {{ GRAPH <{self.log.value}> {{ <{self.uris.record_graph(k).value}> ?p ?o }} }} ;\n"
                        for k in keys)
        if drops:
            self.oxi.update(drops.rstrip(" ;\n"))

    def unfinished(self, live: set[str]) -> Iterator[tuple[str, str]]:
        """(key, 'restrict' | 'release') for moves a crash interrupted, given the keys live in public."""
        for key, held in self.restrictions().items():
            if held.releasing:
                yield key, "release"
            elif key in live:
                yield key, "restrict"

    def close(self) -> None:
        self.oxi.flush()
        del self.oxi  # RocksDB's lock goes with the last reference


def _graph_block(graph: NamedNode, triples: Sequence[Triple]) -> str:
    if not triples:
        return ""
    return f"GRAPH <{graph.value}> {{\n" + ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).decode() + "}\n"
