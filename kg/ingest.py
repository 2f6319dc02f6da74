"""Ingest: sources → readers → limits → SHACL gate → store, a batch at a time.

A record that breaks a limit or a SHACL rule (severity Violation) is reported and nothing of it is
written; the valid records of the same batch are committed together. Warnings travel with the
record into the change log. ``check`` runs the same pipeline without a store (``mouseion validate``).
"""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from kg.errors import InputError
from kg.readers import ReadContext
from kg.readers.registry import read_source
from kg.record import Record, Rejection, Uris, Vocabulary
from kg.settings import Settings
from kg.sources import iter_sources
from kg.store import Store
from pyoxigraph import Literal
from shapes.gate import Finding, Gate, GateProcess


@dataclass
class Checked:
    """One record after the gate: its findings, and whether it may be written."""

    record: Record
    findings: list[Finding]

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "Violation"]


@dataclass
class LoadReport:
    created: int = 0
    modified: int = 0
    unchanged: int = 0
    restricted: int = 0  # records whose key is restricted: kept in the vault, not published
    vocabularies: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    warnings: dict[str, list[str]] = field(default_factory=dict)

    @property
    def loaded(self) -> int:
        return self.created + self.modified + self.unchanged + self.restricted

    def summary(self) -> str:
        return (f"{self.loaded} records loaded ({self.created} created, {self.modified} modified, "
                f"{self.unchanged} unchanged{f', {self.restricted} restricted' if self.restricted else ''}), "
                f"{len(self.rejected)} rejected, "
                f"{sum(1 for w in self.warnings.values() if w)} with warnings")


#: called after every committed batch with (records so far, rejected so far)
Progress = Callable[[int, int], None]


def check_limits(record: Record, settings: Settings) -> None:
    """Refuse records that are too large to handle safely, before any RDF library sees them whole."""
    if len(record.triples) > settings.max_record_triples:
        raise record.origin.error(
            f"{len(record.triples)} triples exceed the limit of {settings.max_record_triples} per record")
    limit = settings.max_literal_bytes
    for triple in record.triples:
        obj = triple.object
        if isinstance(obj, Literal) and len(obj.value) * 4 > limit and len(obj.value.encode()) > limit:
            raise record.origin.error(
                f"a literal of {len(obj.value.encode())} bytes on <{triple.predicate.value}> exceeds "
                f"the limit of {limit} bytes (MOUSEION_MAX_LITERAL_BYTES)")


def read_all(paths: Sequence[str], settings: Settings, uris: Uris,
             dataset: str | None = None) -> Iterator[Record | Vocabulary | Rejection]:
    """Every item of every source, limits applied; unreadable sources become rejections."""
    ctx = ReadContext(uris, settings, dataset)
    for source in iter_sources(paths, settings):
        if isinstance(source, Rejection):
            yield source
            continue
        for item in read_source(source, ctx):
            if isinstance(item, Record):
                try:
                    check_limits(item, settings)
                except InputError as error:
                    yield Rejection.from_error(error, item.key)
                    continue
            yield item


def batches(items: Iterable[Record | Vocabulary | Rejection], size: int
            ) -> Iterator[tuple[list[Record], list[Vocabulary], list[Rejection]]]:
    """Group items into batches of at most ``size`` records; a key seen twice in a batch is rejected."""
    records: dict[str, Record] = {}
    vocabularies: list[Vocabulary] = []
    rejected: list[Rejection] = []
    for item in items:
        if isinstance(item, Rejection):
            rejected.append(item)
        elif isinstance(item, Vocabulary):
            vocabularies.append(item)
        elif item.key in records:
            first = records[item.key].origin
            rejected.append(Rejection(item.origin, [f"duplicate record key {item.key}: also read from {first}"],
                                      item.key))
        else:
            records[item.key] = item
            if len(records) >= size:
                yield list(records.values()), vocabularies, rejected
                records, vocabularies, rejected = {}, [], []
    if records or vocabularies or rejected:
        yield list(records.values()), vocabularies, rejected


def gate(records: Sequence[Record], validator: Gate | None,
         findings: Mapping[str, list[Finding]] | None = None) -> list[Checked]:
    """The records with what ``validator`` finds (or has found: ``findings``, from a ``GateProcess``)."""
    if findings is None:
        findings = validator.validate({r.key: r.triples for r in records}) if validator is not None else {}
    return [Checked(r, findings.get(r.key, [])) for r in records]


def describe(finding: Finding) -> str:
    """One line per finding: rule, focus node, path, value, message."""
    parts = [f"{finding.severity} [{finding.rule}] focus {finding.focus}"]
    if finding.path:
        parts.append(f"path {finding.path}")
    if finding.value:
        parts.append(f"value {finding.value}")
    return ", ".join(parts) + f": {finding.message}"


def reject_violations(checked: Sequence[Checked]) -> tuple[list[Record], list[Rejection]]:
    """Split gated records into those to write (warnings attached) and those refused."""
    accepted, rejected = [], []
    for item in checked:
        if item.violations:
            rejected.append(Rejection(item.record.origin, [describe(f) for f in item.findings], item.record.key))
        else:
            item.record.warnings = [describe(f) for f in item.findings]
            accepted.append(item.record)
    return accepted, rejected


def load(store: Store, paths: Sequence[str], settings: Settings, *, dataset: str | None = None,
         progress: Progress | None = None) -> LoadReport:
    """Load files into the store; each batch of valid records is one write.

    Three things overlap: the store writes a batch on its writer thread, this thread stages the next
    one, and — once a load has a second batch — a child process validates the one after
    (``GateProcess``). ``progress`` hears of a batch once it is written.
    """
    report = LoadReport()
    validator = Gate.default() if settings.validate else None
    child = GateProcess() if settings.validate else None
    queue: deque[list] = deque()  # [(records, vocabularies, rejected), findings future or None]

    def written(outcomes: list) -> None:
        for outcome in outcomes:
            setattr(report, outcome.status, getattr(report, outcome.status) + 1)
        if outcomes and progress is not None:
            progress(report.loaded, len(report.rejected))

    def commit(batch: tuple, checking) -> None:
        records, vocabularies, rejected = batch
        found = checking.result() if checking is not None else None
        accepted, refused = reject_violations(gate(records, validator, found))
        report.rejected += rejected + refused
        report.vocabularies += len(vocabularies)
        report.warnings.update({r.key: r.warnings for r in accepted if r.warnings})
        written(store.commit_behind(accepted, vocabularies))

    try:
        for batch in batches(read_all(paths, settings, store.uris, dataset), settings.batch_size):
            queue.append([batch, None])
            if child is not None and len(queue) > 1:  # more than one batch: worth the child's start-up
                for item in queue:
                    if item[1] is None:
                        item[1] = child.submit({r.key: r.triples for r in item[0][0]})
            if child is None or len(queue) > 1:
                commit(*queue.popleft())
        while queue:
            commit(*queue.popleft())
    except BaseException:
        with contextlib.suppress(Exception):  # the batch in flight completes; the first error is the one told
            store.settle()
        raise
    finally:
        if child is not None:
            child.close()
    written(store.settle())
    return report
