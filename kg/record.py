"""A record — the unit of ingest, validation, change tracking and deletion — and the URIs around it.

A record is the set of triples that one source record (one EDM file, one CSV row, one Linked Art
document) says. It is stored in its own named graph ``{base}graph/record/{key}``.

>>> uris = Uris("http://localhost:8000/")
>>> uris.record_graph("tate/A00001").value
'http://localhost:8000/graph/record/tate/A00001'
>>> uris.entity("object", "tate-A00001").value
'http://localhost:8000/id/object/tate-A00001'
>>> mint_key("Tate Gallery", "A 00/1")
'tate-gallery/A%2000%2F1'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

from pyoxigraph import NamedNode, Triple

from kg.errors import InputError

_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """Lower-case, ASCII letters and digits joined by single hyphens: a dataset or kind name."""
    return _SLUG.sub("-", text.lower()).strip("-") or "unnamed"


def mint_key(dataset: str, local_id: str) -> str:
    """The stable record key ``{dataset-slug}/{percent-encoded local id}``: same source id, same key."""
    local = local_id.strip()
    if not local:
        raise InputError("record has an empty identifier")
    return f"{slug(dataset)}/{quote(local, safe='-._~:@!$&()*+,;=')}"


@dataclass(frozen=True)
class Uris:
    """Every URI pattern of DESIGN.md, under one base."""

    base: str

    def entity(self, kind: str, key: str) -> NamedNode:
        return NamedNode(f"{self.base}id/{kind}/{key}")

    def record_graph(self, key: str) -> NamedNode:
        return NamedNode(f"{self.base}graph/record/{key}")

    def inferred_graph(self, key: str) -> NamedNode:
        return NamedNode(f"{self.base}graph/inferred/{key}")

    def vocab_graph(self, name: str) -> NamedNode:
        return NamedNode(f"{self.base}graph/vocab/{name}")

    def run_graph(self, run_id: str) -> NamedNode:
        return NamedNode(f"{self.base}graph/run/{run_id}")

    @property
    def meta_graph(self) -> NamedNode:
        """Record bookkeeping: datestamps, tombstones, content hashes, validation warnings."""
        return NamedNode(f"{self.base}graph/meta/records")

    @property
    def pending_graph(self) -> NamedNode:
        """Graphs a batch load is writing outside a transaction (see ``Store._write_fresh``)."""
        return NamedNode(f"{self.base}graph/meta/pending")

    def key_of_graph(self, graph: NamedNode) -> str | None:
        prefix = f"{self.base}graph/record/"
        return graph.value[len(prefix):] if graph.value.startswith(prefix) else None


@dataclass(frozen=True)
class Origin:
    """Where a record came from: file (or ``archive.zip!member``), record id and line where known."""

    file: str
    record: str | None = None
    line: int | None = None

    def error(self, message: str, *, line: int | None = None, column: int | None = None) -> InputError:
        return InputError(message, file=self.file, record=self.record,
                          line=line if line is not None else self.line, column=column)

    def __str__(self) -> str:
        return str(InputError("", file=self.file, record=self.record, line=self.line)).rstrip(": ")


@dataclass
class Record:
    """One source record, ready for the SHACL gate and the store."""

    key: str
    dataset: str
    triples: list[Triple]
    origin: Origin
    #: the format it arrived in: 'edm', 'rdf', 'linked-art', 'tate', ...
    format: str = "rdf"
    #: the record's principal resource (CHO / object / person), when the reader knows it
    focus: NamedNode | None = None
    #: SHACL warnings (sh:Warning / sh:Info findings) the gate attached; stored with the record
    warnings: list[str] = field(default_factory=list)


@dataclass
class Vocabulary:
    """A controlled vocabulary a source brings (a subject taxonomy, a materials list).

    Stored whole in ``{base}graph/vocab/{name}``, replaced whole when loaded again.
    """

    name: str
    triples: list[Triple]
    origin: Origin


@dataclass
class Rejection:
    """A record (or a whole file) that was not written, and every reason why."""

    origin: Origin
    reasons: list[str]
    key: str | None = None

    @classmethod
    def from_error(cls, error: InputError, key: str | None = None) -> "Rejection":
        origin = Origin(error.file or "<input>", error.record, error.line)
        return cls(origin, [error.message if error.column is None else f"column {error.column}: {error.message}"], key)

    def __str__(self) -> str:
        head = str(self.origin) + (f" [{self.key}]" if self.key and self.key != self.origin.record else "")
        return head + "\n" + "\n".join(f"  - {r}" for r in self.reasons)
