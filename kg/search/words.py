"""The full-text index's words in memory: for each word, every place it occurs (document and column),
so that a search of plain words and prefixes finds and ranks its matches in numpy.

FTS5 stays the index. These arrays are a copy of its vocabulary, read with the columns (one transaction,
the same ``changes``): ``fts5vocab`` lists the words in FTS5's own order and every occurrence of each,
``fts_docsize`` the length of every document and the averages record the totals. Ranking is FTS5's
``bm25()`` computed from them with the same formula, the same constants and the same double operations
in the same order, so the scores are the same numbers and the order of the hits is the same (a test
compares the two on every kind of search). A phrase of several words needs the positions of its words,
which are not kept: such searches are answered by FTS5 as before.
"""

from __future__ import annotations

import math
import sqlite3
from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

#: the FTS table's columns, as numbered in ``keys``
COLUMNS = ("title", "labels", "descriptions", "names")
#: FTS5's bm25() constants (fts5_aux.c)
K1, B = 1.2, 0.75


def varints(blob: bytes) -> list[int]:
    """SQLite's variable-length integers, one after another (FTS5 writes its sizes with them).

    >>> varints(bytes([0x03, 0x81, 0x00, 0x7f]))
    [3, 128, 127]
    """
    out, value, count = [], 0, 0
    for byte in blob:
        count += 1
        if count == 9:  # the ninth byte contributes all eight bits
            out.append(value << 8 | byte)
            value, count = 0, 0
        elif byte & 0x80:
            value = value << 7 | (byte & 0x7F)
        else:
            out.append(value << 7 | byte)
            value, count = 0, 0
    return out


#: occurrences read in one piece (at most, unless one word has more)
_RUN = 1 << 22


def _runs(counts: np.ndarray, most: int) -> list[tuple[int, int]]:
    """Consecutive words as (first, last) index pairs, each run of at most ``most`` occurrences (or of
    one word).

    >>> _runs(np.array([3, 4, 9, 1, 1]), 8)
    [(0, 1), (2, 2), (3, 4)]
    """
    runs, first, held = [], 0, 0
    for word, count in enumerate(counts.tolist()):
        if held and held + count > most:
            runs.append((first, word - 1))
            first, held = word, 0
        held += count
    if first < len(counts):
        runs.append((first, len(counts) - 1))
    return runs


@dataclass(frozen=True)
class Words:
    terms: list[str]  # FTS5's vocabulary, in its order (by UTF-8 bytes, the same as by code point)
    starts: np.ndarray  # int64: the occurrences of terms[t] are keys[starts[t]:starts[t + 1]]
    keys: np.ndarray  # int64 per occurrence: document id * 4 + column
    sizes: np.ndarray  # int64: tokens per document, by id (FTS5's "D")
    rows: int  # documents in the index
    tokens: int  # tokens in the index

    @classmethod
    def read(cls, db: sqlite3.Connection, size: int) -> "Words":
        """The words of ``db``'s FTS table, within the caller's transaction; ``size``: one more than the
        highest document id."""
        db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms USING fts5vocab(main, fts, row)")
        db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_places USING fts5vocab(main, fts, instance)")
        listed = db.execute("SELECT term, cnt FROM temp.fts_terms").fetchall()
        counts = np.fromiter((count for _, count in listed), np.int64, len(listed))
        numbered = " ".join(f"WHEN '{name}' THEN {n}" for n, name in enumerate(COLUMNS))
        # a run of words at a time as one string of numbers, split by numpy: a row per occurrence would
        # cost a Python tuple each, one string for the whole index as much memory again as the keys
        pieces = []
        for first, last in _runs(counts, _RUN):
            joined = db.execute(f"SELECT group_concat(doc * 4 + CASE col {numbered} END, ' ') FROM temp.fts_places "
                                "WHERE term >= ? AND term <= ?", (listed[first][0], listed[last][0])).fetchone()[0]
            pieces.append(np.fromstring(joined or "", dtype=np.int64, sep=" "))
        keys = np.concatenate(pieces) if pieces else np.zeros(0, np.int64)
        if counts.sum() != len(keys):
            raise sqlite3.DatabaseError(f"the full-text vocabulary lists {counts.sum()} occurrences, "
                                        f"its instances {len(keys)}")
        sizes = np.zeros(size, np.int64)
        rows = db.execute("SELECT id, sz FROM fts_docsize").fetchall()
        ids = np.fromiter((doc_id for doc_id, _ in rows), np.int64, len(rows))
        packed = np.frombuffer(b"".join(blob for _, blob in rows), np.uint8)
        if len(packed) == len(COLUMNS) * len(rows) and not np.any(packed & 0x80):  # every size below 128
            sizes[ids] = packed.reshape(-1, len(COLUMNS)).sum(axis=1)
        else:
            sizes[ids] = [sum(varints(blob)) for _, blob in rows]
        averages = db.execute("SELECT block FROM fts_data WHERE id = 1").fetchone()  # none until a first row
        totals = varints(averages[0]) if averages else []
        return cls([term for term, _ in listed], np.concatenate(([0], np.cumsum(counts))), keys, sizes,
                   totals[0] if totals else 0, sum(totals[1:]))

    def places(self, token: str, prefix: bool) -> np.ndarray:
        """The keys of every occurrence of ``token`` (of every word starting with it, for a prefix):
        words in order are a run of the keys."""
        first = bisect_left(self.terms, token)
        if prefix:
            last = bisect_left(self.terms, token[:-1] + chr(ord(token[-1]) + 1), first)
        else:
            last = first + (first < len(self.terms) and self.terms[first] == token)
        return self.keys[self.starts[first]:self.starts[last]]

    def find(self, words: list[tuple[str, bool]], weights: tuple[float, ...]) -> tuple[np.ndarray, "Ranking"]:
        """The documents holding every one of ``words`` (token, prefix), and what ranking them takes:
        per word, its occurrences in each document weighted by column (bm25's "f(q, D)"), and its IDF."""
        by_column = np.asarray(weights, np.float64)
        size = len(self.sizes)
        found = np.ones(size, bool)
        frequencies, idfs = [], []
        for token, prefix in words:
            keys = self.places(token, prefix)
            frequency = np.bincount(keys >> 2, weights=by_column[keys & 3], minlength=size)
            present = frequency > 0
            found &= present
            hits = int(np.count_nonzero(present))
            idf = math.log((self.rows - hits + 0.5) / (hits + 0.5))
            frequencies.append(frequency)
            idfs.append(idf if idf > 0.0 else 1e-6)
        return np.flatnonzero(found), Ranking(self, frequencies, idfs)


@dataclass(frozen=True)
class Ranking:
    words: Words
    frequencies: list[np.ndarray]
    idfs: list[float]

    def bm25(self, hits: np.ndarray) -> np.ndarray:
        """FTS5's ``bm25()`` of each of ``hits`` (document ids): lower is better."""
        if not len(hits):  # (an empty index has no average length)
            return np.zeros(0)
        size = self.words.sizes[hits].astype(np.float64)
        average = float(self.words.tokens) / float(self.words.rows)
        score = np.zeros(len(hits))
        for frequency, idf in zip(self.frequencies, self.idfs):
            f = frequency[hits]
            score += idf * ((f * (K1 + 1.0)) / (f + K1 * (1 - B + B * size / average)))
        return -1.0 * score

    def page(self, hits: np.ndarray, offset: int, limit: int) -> list[int]:
        """One page of ``hits`` in FTS5's ``ORDER BY bm25(...), rowid`` order."""
        order = np.lexsort((hits, self.bm25(hits)))
        return hits[order[offset:offset + limit]].tolist()
