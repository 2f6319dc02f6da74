"""Counting facets, years and flags of large results with bitmaps (exact, and far cheaper than SQL)."""

from __future__ import annotations

import sqlite3
from array import array
from typing import Sequence

from kg.search.query import FACET_LIMIT, FACET_NAMES

#: hit counts from which facets are counted with bitmaps rather than SQL
_BITMAP_HITS = 200


class _Bitmaps:
    """Counting for large results: each common facet value's documents as a bitmap (a Python int, bit =
    document id), so a count is one AND and a popcount; likewise each decade of begin years and the two
    flags. Facet values are tried from the most frequent down; once a value's total cannot beat the
    facet's current top ``FACET_LIMIT``, rarer ones cannot either, so the top counts are exact. Values too
    rare for a bitmap keep their document ids, looked up one by one when a facet's walk reaches them."""

    def __init__(self, changes: str, values: dict[str, list[tuple[str, int, object]]],
                 decades: list[tuple[int, int]], flags: dict[str, int], size: int) -> None:
        self.changes = changes
        #: facet → [(value, total, bitmap int, or for rare values the sorted document ids)], most frequent first
        self.values = values
        self.decades = decades  # (first year of the decade, bitmap)
        self.flags = flags
        self.size = size  # bytes of a bitmap

    @classmethod
    def build(cls, db: sqlite3.Connection, dense: int | None = None) -> "_Bitmaps":
        """Bitmaps for the values held by at least ``dense`` documents (default: 0.5 %, at least 64), so
        memory stays within 200 bitmaps per facet; rarer values keep their document ids."""
        with _transaction(db):
            changes = db.execute("SELECT value FROM meta WHERE name = 'changes'").fetchone()[0]
            size = (db.execute("SELECT COALESCE(MAX(id), 0) FROM docs").fetchone()[0] >> 3) + 1
            documents = db.execute("SELECT COUNT(*) FROM docs").fetchone()[0]
            dense = dense if dense is not None else max(64, documents // 200)

            def bitmap(rows) -> int:
                mask = bytearray(size)
                for (doc,) in rows:
                    mask[doc >> 3] |= 1 << (doc & 7)
                return int.from_bytes(mask, "little")

            totals = db.execute("SELECT facet, value, COUNT(*) FROM facets GROUP BY facet, value").fetchall()
            values: dict[str, list[tuple[str, int, object]]] = {f: [] for f in FACET_NAMES}
            for facet, value, total in sorted(totals, key=lambda r: (r[0], -r[2], r[1])):
                rows = db.execute("SELECT doc FROM facets WHERE facet = ? AND value = ?", (facet, value))
                found = bitmap(rows) if total >= dense else array("I", (doc for (doc,) in rows))
                values.setdefault(facet, []).append((value, total, found))
            decades = [(decade, bitmap(db.execute(
                "SELECT id FROM docs WHERE begin_year >= ? AND begin_year < ?", (decade, decade + 10))))
                for (decade,) in db.execute("SELECT DISTINCT ((begin_year + 100000) / 10) * 10 - 100000 FROM docs "
                                            "WHERE begin_year IS NOT NULL ORDER BY 1").fetchall()]
            flags = {"image": bitmap(db.execute("SELECT id FROM docs WHERE has_image = 1")),
                     "suggestions": bitmap(db.execute("SELECT id FROM docs WHERE has_suggestions = 1"))}
        return cls(changes, values, decades, flags, size)

    def mask(self, ids: Sequence[int]) -> tuple[int, frozenset]:
        """The hits as a bitmap, and as a set (for the rare values, which keep document ids)."""
        mask = bytearray(max(self.size, (max(ids) >> 3) + 1 if ids else 1))
        for doc in ids:
            mask[doc >> 3] |= 1 << (doc & 7)
        return int.from_bytes(mask, "little"), frozenset(ids)

    def count(self, hits: tuple[int, frozenset], selected: set[str]) -> dict[str, list[tuple[str, int]]]:
        """Top counts per facet (and the selected values' counts) within ``hits``."""
        bits, members_of_hits = hits
        counts: dict[str, list[tuple[str, int]]] = {}
        for facet, values in self.values.items():
            found: list[tuple[str, int]] = []
            floor = 0  # the smallest count among the best FACET_LIMIT so far
            for value, total, members in values:
                if len(found) >= FACET_LIMIT and total < floor and value not in selected:
                    continue  # cannot enter the top: skip (selected values are still counted)
                if isinstance(members, int):
                    n = (members & bits).bit_count()
                else:
                    n = len(members_of_hits.intersection(members))  # C, not a Python loop per id
                if n:
                    found.append((value, n))
                    if len(found) >= FACET_LIMIT:
                        floor = sorted((c for _, c in found), reverse=True)[FACET_LIMIT - 1]
            counts[facet] = found
        return counts

    def years(self, hits: tuple[int, frozenset], width: int) -> list[tuple[int, int, int]]:
        buckets: dict[int, int] = {}
        for decade, bitmap in self.decades:
            n = (bitmap & hits[0]).bit_count()
            if n:
                bucket = ((decade + 100000) // width) * width - 100000
                buckets[bucket] = buckets.get(bucket, 0) + n
        return [(bucket, bucket + width - 1, n) for bucket, n in sorted(buckets.items())]

    def flag_counts(self, hits: tuple[int, frozenset]) -> dict[str, int]:
        return {name: (bitmap & hits[0]).bit_count() for name, bitmap in self.flags.items()}


class _transaction:
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

