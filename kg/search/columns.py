"""The index's columns in memory: what a search filters by, lists in title order and counts, as numpy
arrays indexed by document id.

SQLite stays the index; the columns spare it what it would do row by row: filtering, counting, listing
in title order, and (with the words of its full-text index, ``kg.search.words``) finding and ranking
plain words. They are read from the index in one transaction, by a background thread, after each
change; a search uses them only while the index's ``changes`` counter still has the value they were
read at, and asks SQL otherwise. The answers are the same either way (a test compares
the two on every kind of search)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from kg.search.query import FACET_LIMIT, FACET_NAMES, SearchQuery
from kg.search.words import Words

#: a missing begin year is after every year, a missing end year before every year: a year filter excludes both
_NO_BEGIN, _NO_END = np.iinfo(np.int32).max, np.iinfo(np.int32).min
#: fewer hits than (documents / this) gather their facet rows document by document instead of by a mask
_SPARSE = 5


class transaction:
    """``BEGIN`` … ``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection; nests as a no-op."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.outer = False

    def __enter__(self):
        if not self.db.in_transaction:
            self.db.execute("BEGIN")
            self.outer = True
        return self.db

    def __exit__(self, kind, value, traceback):
        if self.outer:
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


class changing(transaction):
    """A transaction that changes rows: it bumps the index's ``changes`` counter in the same commit, so
    no reader ever sees new rows with the old counter (columns and memos are keyed by it)."""

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE name = 'changes'")
        return super().__exit__(kind, value, traceback)


@dataclass(frozen=True)
class Columns:
    """One snapshot of the index. Facet values are numbered (``codes``) facet by facet, each facet's in
    value order, so that a tie in counts falls back to the value as SQL's ``ORDER BY`` does."""

    changes: str
    live: np.ndarray  # bool: a document has this id
    rank: np.ndarray  # int32: position in title order (sort key, then id)
    begin: np.ndarray  # int32 year, _NO_BEGIN when unknown
    end: np.ndarray  # int32 year, _NO_END when unknown
    image: np.ndarray  # bool
    suggestions: np.ndarray  # bool
    values: list[tuple[str, str]]  # code → (facet, value)
    codes: dict[tuple[str, str], int]
    spans: dict[str, tuple[int, int]]  # facet → its codes, [first, last + 1)
    # (indexes are numpy's own integer, intp: an index of another width is converted on every use)
    row_code: np.ndarray  # code per facet row, rows ordered by document
    doc_rows: np.ndarray  # a document's rows are row_code[doc_rows[id]:doc_rows[id + 1]]
    members: np.ndarray  # document ids grouped by code, each code's at least one
    member_rows: np.ndarray  # a code's documents are members[member_rows[c]:member_rows[c + 1]]
    words: Words  # the full-text index's words

    @classmethod
    def build(cls, db: sqlite3.Connection) -> "Columns":
        with transaction(db):
            changes = db.execute("SELECT value FROM meta WHERE name = 'changes'").fetchone()[0]
            docs = db.execute("SELECT id, begin_year, end_year, has_image, has_suggestions FROM docs "
                              "ORDER BY sort, id").fetchall()
            # each facet value with its documents as one string of numbers: a row each would cost a tuple each
            grouped = db.execute("SELECT facet, value, group_concat(doc, ' ') FROM facets GROUP BY facet, value").fetchall()
            size = max((row[0] for row in docs), default=0) + 1
            words = Words.read(db, size)
        ids = np.fromiter((row[0] for row in docs), np.int64, len(docs))

        def column(position: int, missing, dtype) -> np.ndarray:
            out = np.full(size, missing, dtype)
            out[ids] = np.fromiter((missing if row[position] is None else row[position] for row in docs),
                                   dtype, len(docs))
            return out

        live = np.zeros(size, bool)
        live[ids] = True
        rank = np.full(size, np.iinfo(np.int32).max, np.int32)
        rank[ids] = np.arange(len(docs), dtype=np.int32)
        grouped.sort(key=lambda row: (FACET_NAMES.index(row[0]) if row[0] in FACET_NAMES else len(FACET_NAMES), row[:2]))
        order = [(facet, value) for facet, value, _ in grouped]
        codes = {fv: code for code, fv in enumerate(order)}
        spans: dict[str, tuple[int, int]] = {}
        for code, (facet, _) in enumerate(order):
            first, _last = spans.get(facet, (code, code))
            spans[facet] = (first, code + 1)
        lists = [np.fromstring(listed, dtype=np.intp, sep=" ") for _, _, listed in grouped]
        members = np.concatenate(lists) if lists else np.zeros(0, np.intp)
        member_rows = np.concatenate(([0], np.cumsum([len(listed) for listed in lists], dtype=np.intp)))
        by_doc = np.argsort(members, kind="stable")
        row_code = np.repeat(np.arange(len(order), dtype=np.intp), np.diff(member_rows))[by_doc]
        doc_rows = np.searchsorted(members[by_doc], np.arange(size + 1), side="left").astype(np.intp)
        return cls(changes, live, rank, column(1, _NO_BEGIN, np.int32), column(2, _NO_END, np.int32),
                   column(3, False, bool), column(4, False, bool), order, codes, spans,
                   row_code, doc_rows, members, member_rows, words)

    @cached_property
    def everything(self) -> tuple[list[int], dict]:
        """Every document in title order, and its counts (``count``'s, in centuries): what browsing
        without words or filters shows, the same for every such search of this snapshot."""
        hits = np.flatnonzero(self.live)
        return hits[np.argsort(self.rank[hits], kind="stable")].tolist(), self.count(self.live, hits, set(), 100)

    @property
    def size(self) -> int:
        return len(self.live)

    def select(self, matches: np.ndarray | None, query: SearchQuery) -> np.ndarray:
        """The hits as a mask over document ids: ``matches`` (the documents the words found; every
        document without words) narrowed by the query's years, flags and facet values."""
        if matches is None:
            mask = self.live.copy()
        else:
            mask = np.zeros(self.size, bool)
            mask[matches] = True
        if query.year_from is not None:
            mask &= self.end >= query.year_from
        if query.year_to is not None:
            mask &= self.begin <= query.year_to
        if query.has_image is not None:
            mask &= self.image == query.has_image
        if query.has_suggestions is not None:
            mask &= self.suggestions == query.has_suggestions
        for wanted in query.filters:
            code = self.codes.get(wanted)
            chosen = np.zeros(self.size, bool)
            if code is not None:
                chosen[self.members[self.member_rows[code]:self.member_rows[code + 1]]] = True
            mask &= chosen
        return mask

    def by_title(self, hits: np.ndarray, offset: int, limit: int) -> list[int]:
        """One page of ``hits`` (document ids) in title order, without sorting the rest."""
        last = min(offset + limit, len(hits))
        if last <= offset:
            return []
        ranks = self.rank[hits]
        first = np.argpartition(ranks, last - 1)[:last] if last < len(hits) else np.arange(len(hits))
        first = first[np.argsort(ranks[first], kind="stable")]
        return hits[first[offset:last]].tolist()

    def count(self, mask: np.ndarray, hits: np.ndarray, selected: set[tuple[str, str]], width: int) -> dict:
        """Facet value counts (each facet's top ``FACET_LIMIT`` and the selected values), the year
        histogram in buckets of ``width`` years, and the flag counts, within the hits."""
        if len(hits) * _SPARSE < self.size:  # few hits: the codes in their own rows
            starts, stops = self.doc_rows[hits], self.doc_rows[hits + 1]
            lengths = stops - starts
            rows = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths) + \
                np.arange(lengths.sum())
            counts = np.bincount(self.row_code[rows], minlength=len(self.values))
        elif self.values:  # many: code by code, how many of its documents are hits
            counts = np.add.reduceat(mask[self.members], self.member_rows[:-1], dtype=np.intp)
        else:
            counts = np.zeros(0, np.intp)
        facets: dict[str, list[tuple[str, int]]] = {}
        for facet in FACET_NAMES:
            first, last = self.spans.get(facet, (0, 0))
            found = counts[first:last]
            nonzero = np.flatnonzero(found)
            top = nonzero[np.lexsort((nonzero, -found[nonzero]))][:FACET_LIMIT]  # count down, then value
            shown = set(top.tolist()) | {self.codes[fv] - first for fv in selected
                                         if fv[0] == facet and fv in self.codes and found[self.codes[fv] - first]}
            facets[facet] = [(self.values[first + c][1], int(found[c])) for c in sorted(shown)]
        begins = self.begin[hits]
        buckets = (begins[begins != _NO_BEGIN].astype(np.intp) + 100000) // width  # floored, below zero too
        first = int(buckets.min()) if len(buckets) else 0
        sizes = np.bincount(buckets - first)
        years = [(int(b) * width - 100000, int(b) * width - 100000 + width - 1, int(sizes[b - first]))
                 for b in np.flatnonzero(sizes) + first]
        flags = {"image": int(np.count_nonzero(self.image[hits])),
                 "suggestions": int(np.count_nonzero(self.suggestions[hits]))}
        return {"facets": facets, "years": years, "flags": flags}
