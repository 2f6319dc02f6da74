"""The change log as harvesters read it: pages in a stable order, counts, sets, one entry by key.

OAI-PMH, the bulk export and the change feed all read records through here, so they agree on what a
record's datestamp is, which records are harvestable and in which order they come.

**Stable order.** Entries come in (``dcterms:modified``, key) order; a page starts strictly after a
position (the last entry of the previous page), never at an offset. A record that changes between two
pages gets a later datestamp: it moves *behind* the position, so entries not yet listed keep their
places (nothing is skipped) and the record itself is listed again later, at its new place, or — when
the harvest froze its ``until`` bound at its first request, as OAI-PMH's does — left to the next
incremental harvest, which starts from the frozen bound (docs/harvesting.md).

Each page is one query bounded by the position with ``LIMIT page + 1``: paging costs the same on the
first page and the thousandth, and nothing holds the whole list in memory.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

import pyoxigraph as ox
from pyoxigraph import Literal, NamedNode

from kg.queries import named_query
from ontology.namespaces import CRM, DCTERMS, EDM, MOU, RDF, XSD, prefix_map


#: classes that make a record harvestable: an EDM object, or a CRM object the EDM mapping turns into one
OBJECT_CLASSES = (EDM.ProvidedCHO, CRM["E22_Human-Made_Object"])
_NEVER = object()  # a ChangeLog's indexes before they are first built


def _first(iterator) -> bool:
    return next(iter(iterator), None) is not None


@dataclass(frozen=True)
class Entry:
    """One harvestable record as the change log describes it."""

    key: str
    dataset: str
    format: str
    modified: str
    deleted: bool
    graph: NamedNode
    created: str = ""
    focus: str | None = None

    @property
    def position(self) -> tuple[str, str]:
        return (self.modified, self.key)


@dataclass(frozen=True)
class Selection:
    """What a harvest asks for: datestamp bounds (inclusive, UTC seconds) and at most one set."""

    since: str | None = None
    until: str | None = None
    dataset: str | None = None
    edm_type: str | None = None
    #: every record, not only those holding a cultural heritage object (the change feed, the dumps)
    any_record: bool = False

    def bindings(self) -> dict[str, object]:
        values: dict[str, object] = {}
        if self.since is not None:
            values["from"] = Literal(self.since, datatype=XSD.dateTime)
        if self.until is not None:
            values["until"] = Literal(self.until, datatype=XSD.dateTime)
        if self.dataset is not None:
            values["only_dataset"] = Literal(self.dataset)
        if self.edm_type is not None:
            values["only_type"] = Literal(self.edm_type)
        return values


def _run(store, name: str, bindings: dict[str, object], limit: int | None = None):
    text = named_query(name) + (f"\nLIMIT {int(limit)}" if limit is not None else "")
    values = {"meta": store.uris.meta_graph, **bindings}
    return store.backend.query(text, union=False, prefixes=prefix_map(),
                               substitutions={ox.Variable(k): v for k, v in values.items()})


def _seconds(datestamp: str) -> int:
    return int(datetime.strptime(datestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())


def _datestamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ChangeLog:
    """Pages of the change log for one store, walked datestamp by datestamp.

    Two small indexes make every page cost the same, first or thousandth: the distinct datestamps, one
    sorted array of integers (8 bytes each; records committed in one batch share a datestamp), and the
    graphs of the datestamp being walked, sorted by key (an exact, indexed lookup of that datestamp).
    Both are rebuilt when the store's ``generation`` has moved: after a write of this process, and over a
    SPARQL server every few seconds too, since others write there. Memory is bounded by the number of
    distinct datestamps and the largest batch, never by the number of records a harvest lists.
    """

    def __init__(self, store) -> None:
        self.store = store
        self._stamps = array("q")
        self._built: object = _NEVER  # the generation the indexes were built at
        self._group: tuple[object, int, list[str]] | None = None
        self._lock = threading.Lock()
        self._prefix = f"{store.uris.base}graph/record/"

    def _fresh(self) -> object:
        generation = self.store.generation  # read first: a write during the rebuild makes the next call rebuild
        if self._built != generation:
            self._stamps = array("q", (_seconds(row["modified"].value)
                                       for row in _run(self.store, "oai_datestamps", {})))
            self._built = generation
            self._group = None
        return self._built

    def earliest(self) -> str | None:
        stamps = self.datestamps()
        return _datestamp(stamps[0]) if stamps else None

    def datestamps(self) -> array:
        with self._lock:
            self._fresh()
            return self._stamps

    def _keys_at(self, stamp: int) -> list[str]:
        """The keys of every record (live or not) whose datestamp is ``stamp``, sorted."""
        with self._lock:
            built = self._fresh()
            if self._group is not None and self._group[0] == built and self._group[1] == stamp:
                return self._group[2]
            literal = Literal(_datestamp(stamp), datatype=XSD.dateTime)
            cut = len(self._prefix)
            keys = sorted(q.subject.value[cut:] for q in
                          self.store.backend.quads(None, DCTERMS.modified, literal, self.store.uris.meta_graph)
                          if q.subject.value.startswith(self._prefix))
            self._group = (built, stamp, keys)
            return keys

    def describe(self, key: str) -> Entry | None:
        """The change-log entry of one record (None when the log has none)."""
        graph = self.store.uris.record_graph(key)
        values: dict[str, str] = {}
        for quad in self.store.backend.quads(graph, None, None, self.store.uris.meta_graph):
            values[quad.predicate.value] = quad.object.value
        if MOU.key.value not in values:
            return None
        return Entry(key=key, dataset=values.get(MOU.dataset.value, ""), format=values.get(MOU.format.value, "rdf"),
                     modified=values[DCTERMS.modified.value], deleted=values.get(MOU.deleted.value) == "true",
                     graph=graph, created=values.get(DCTERMS.created.value, ""), focus=values.get(MOU.focus.value))

    def harvestable(self, item: Entry) -> bool:
        """A tombstone (announced for ever), or a live record holding a cultural heritage object."""
        if item.deleted:
            return True
        return any(_first(self.store.backend.quads(None, RDF.type, cls, item.graph)) for cls in OBJECT_CLASSES)

    def selected(self, item: Entry, selection: Selection) -> bool:
        if selection.dataset is not None and item.dataset != selection.dataset:
            return False
        if selection.edm_type is not None and not item.deleted and selection.edm_type not in edm_types(self.store, item):
            return False
        return selection.any_record or self.harvestable(item)

    def page(self, selection: Selection, *, after: tuple[str, str] | None, limit: int) -> list[Entry]:
        """Up to ``limit`` entries strictly after position ``after`` (None: from the start)."""
        stamps = self.datestamps()
        lower = after[0] if after is not None else selection.since
        index = bisect_left(stamps, _seconds(lower)) if lower is not None else 0
        ceiling = _seconds(selection.until) if selection.until is not None else None
        found: list[Entry] = []
        while len(found) < limit and index < len(stamps):
            stamp = stamps[index]
            if ceiling is not None and stamp > ceiling:
                break
            keys = self._keys_at(stamp)
            start = bisect_right(keys, after[1]) if after is not None and stamp == _seconds(after[0]) else 0
            for key in keys[start:]:
                item = self._listed_at(key, stamp, selection)
                if item is None:
                    continue
                found.append(item)
                if len(found) == limit:
                    break
            index += 1
        return found

    def _listed_at(self, key: str, stamp, selection: Selection) -> "Entry | None":
        """The record's entry if it belongs at ``stamp`` in this selection. A record rewritten since the
        datestamp index was built has moved on: its new place is later."""
        item = self.describe(key)
        if item is None or item.modified != _datestamp(stamp) or not self.selected(item, selection):
            return None
        return item

    def page_before(self, selection: Selection, *, before: tuple[str, str] | None, limit: int) -> list[Entry]:
        """Up to ``limit`` entries strictly before position ``before`` (None: the newest), oldest first."""
        stamps = self.datestamps()
        index = (bisect_right(stamps, _seconds(before[0])) if before is not None else len(stamps)) - 1
        floor = _seconds(selection.since) if selection.since is not None else None
        found: list[Entry] = []
        while len(found) < limit and index >= 0:
            stamp = stamps[index]
            if floor is not None and stamp < floor:
                break
            keys = self._keys_at(stamp)
            end = bisect_left(keys, before[1]) if before is not None and stamp == _seconds(before[0]) else len(keys)
            for key in reversed(keys[:end]):
                item = self._listed_at(key, stamp, selection)
                if item is None:
                    continue
                found.append(item)
                if len(found) == limit:
                    break
            index -= 1
        return found[::-1]

    def entries(self, selection: Selection, *, batch: int = 500) -> Iterator[Entry]:
        """Every entry of a selection, page by page (flat memory whatever the store's size)."""
        after = None
        while True:
            found = self.page(selection, after=after, limit=batch)
            yield from found
            if len(found) < batch:
                return
            after = found[-1].position


def count(store, selection: Selection) -> int:
    rows = list(_run(store, "oai_count", selection.bindings()))
    return int(rows[0]["n"].value) if rows else 0


def set_values(store) -> list[tuple[str, str]]:
    """(kind, value) of every set: ("dataset", name) and ("type", edm:type value)."""
    return [(row["kind"].value, row["value"].value) for row in _run(store, "oai_sets", {})]


def set_exists(store, kind: str, value: str) -> bool:
    """Whether a dataset (``kind`` "dataset") or an edm:type value ("type") has records; "" asks for any."""
    meta = store.uris.meta_graph
    if kind == "dataset":
        return _first(store.backend.quads(None, MOU.dataset, Literal(value) if value else None, meta))
    return _first(store.backend.quads(None, EDM.type, Literal(value) if value else None, None))


def edm_types(store, item: Entry) -> list[str]:
    """The edm:type values of a live record (a CRM object with none counts as IMAGE, as the mapping says)."""
    if item.deleted:
        return []
    found = sorted({q.object.value for q in store.backend.quads(None, EDM.type, None, item.graph)})
    if not found and any(True for _ in store.backend.quads(None, RDF.type, CRM["E22_Human-Made_Object"], item.graph)):
        found = ["IMAGE"]
    return found


def dataset_quads(store, log: ChangeLog, dataset: str, *, suggestions: tuple[str, ...] = ("accepted",)
                  ) -> Iterator[list]:
    """The quads of every live record of a dataset, one list per record, in change-log order (the
    per-dataset dumps). Machine suggestions about a record's resources come with it, in their run graph,
    when their review state is one of ``suggestions`` (accepted only, by default)."""
    for item in log.entries(Selection(dataset=dataset, any_record=True)):
        if item.deleted:
            continue
        quads = list(store.backend.quads(None, None, None, item.graph))
        if suggestions:
            subjects = {q.subject for q in quads if isinstance(q.subject, NamedNode)}
            for subject in sorted(subjects, key=lambda n: n.value):
                if not _first(store.backend.quads(None, CRM.P140_assigned_attribute_to, subject, None)):
                    continue
                for row in store.backend.query(named_query("dump_suggestions"), union=False, prefixes={},
                                               substitutions={ox.Variable("s"): subject}):
                    if row["state"].value.rsplit("#", 1)[-1] in suggestions:
                        quads.append(ox.Quad(subject, row["p"], row["o"], row["run"]))
        yield quads


def datasets(store) -> list[str]:
    """Every dataset of the change log that has live records."""
    return [row["dataset"].value for row in _run(store, "datasets", {})]
