"""The SQLite FTS5 index itself: schema, keeping in step with the store, catching up, searching."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pyoxigraph as ox
from pyoxigraph import NamedNode

from kg.queries import named_query
from kg.search.columns import Columns, changing, transaction
from kg.search.documents import Document, Written, _Reader
from kg.search.query import (FACET_LIMIT, FACET_NAMES, FacetValue, Hit, Phrase, SearchQuery, SearchResult, best_label,
                             expression, phrases)
from ontology.getty import aat_labels
from ontology.namespaces import MOU

log = logging.getLogger(__name__)

#: bumped when what a row holds changes: an index of another version is rebuilt on opening
INDEX_VERSION = "1"
#: results of more hits than this are listed in title order: ranking costs every match (add a word or a filter)
RANK_LIMIT = 5000

#: how the full-text index splits text into words (and a search into words: the same)
_TOKENIZE = "unicode61 remove_diacritics 2"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS docs(
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, iri TEXT NOT NULL, hash TEXT,
    titles TEXT NOT NULL, sort TEXT NOT NULL, begin_year INTEGER, end_year INTEGER,
    has_image INTEGER NOT NULL, has_suggestions INTEGER NOT NULL, subjects TEXT NOT NULL, refs TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS docs_iri ON docs(iri);
CREATE INDEX IF NOT EXISTS docs_sort ON docs(sort, id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, labels, descriptions, names,
    tokenize = "{tokenize}");
CREATE TABLE IF NOT EXISTS facets(facet TEXT NOT NULL, value TEXT NOT NULL, doc INTEGER NOT NULL,
    PRIMARY KEY(facet, value, doc)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS facets_doc ON facets(doc, facet, value);
CREATE TABLE IF NOT EXISTS refs(iri TEXT NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY(iri, doc)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS names(iri TEXT PRIMARY KEY, labels TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS suggested(graph TEXT NOT NULL, iri TEXT NOT NULL, PRIMARY KEY(graph, iri)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS suggested_iri ON suggested(iri);
"""
_SCHEMA = _SCHEMA.format(tokenize=_TOKENIZE)
#: a connection's own tables: the ids a search narrowed to, and a scratch full-text table with the
#: index's columns and tokenizer, which splits a search's phrases into words and finds the passages of
#: the hits shown (FTS5 ``snippet()`` looks at one row at a time: a table of just those rows gives the
#: same passages, without walking every match of the words in the whole index)
_SCRATCH = f"""
CREATE TEMP TABLE IF NOT EXISTS hits(id INTEGER PRIMARY KEY);
CREATE TEMP TABLE IF NOT EXISTS scratch_text(id INTEGER PRIMARY KEY, title, labels, descriptions, names);
CREATE VIRTUAL TABLE IF NOT EXISTS temp.scratch USING fts5(title, labels, descriptions, names,
    content = 'scratch_text', content_rowid = 'id', tokenize = "{_TOKENIZE}");
CREATE VIRTUAL TABLE IF NOT EXISTS temp.scratch_words USING fts5vocab(temp, scratch, instance);
"""
_TABLES = ("meta", "docs", "fts", "facets", "refs", "names", "suggested")
#: weights of the FTS columns (title, labels, descriptions, names) in the bm25 ranking
_WEIGHTS = (10.0, 4.0, 1.0, 2.0)
_CHUNK = 500


def index_location(configured: str, store_path: Path | None) -> str:
    """Where the index lives: the setting when given; else beside the store directory
    (``<store>.search.sqlite``); in memory for an in-memory or remote store.

    >>> index_location("", Path("/srv/mouseion-data"))
    '/srv/mouseion-data.search.sqlite'
    >>> index_location("", None)
    ':memory:'
    """
    if configured:
        return configured
    if store_path is None:
        return ":memory:"
    return str(store_path.with_name(store_path.name + ".search.sqlite"))


@contextmanager
def scratch(db: sqlite3.Connection):
    """The rows put in ``temp.scratch_text`` indexed in ``temp.scratch`` for the ``with`` block; both
    empty again after it."""
    db.execute("INSERT INTO temp.scratch(scratch) VALUES ('rebuild')")
    try:
        yield
    finally:
        db.execute("INSERT INTO temp.scratch(scratch) VALUES ('delete-all')")
        db.execute("DELETE FROM temp.scratch_text")


def _chunks(items: Sequence, size: int = _CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


class SearchIndex:
    """The index of one store. ``attach`` is the way in: it catches up and starts listening."""

    def __init__(self, store, location: str) -> None:
        self.store = store
        self.location = location
        self.memory = location == ":memory:"
        self._lock = threading.RLock()
        self._local = threading.local()
        self._writer = self._connect()
        #: facet counts of the whole index (SQL's), and the columns in memory, each with the ``changes``
        #: it was made at
        self._browse_memo: tuple[str, dict] | None = None
        self._columns: Columns | None = None
        self._columns_building = threading.Lock()
        #: the tokenizer's words of searches' phrases (phrase texts → each one's words, in order)
        self._tokens: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}
        #: set when applying a write failed: the next search catches up first
        self.stale = False
        self._prepare()

    @classmethod
    def attach(cls, store, location: str | Path) -> "SearchIndex":
        """The index at ``location``, caught up with ``store`` and listening to its writes (the one
        already attached, when there is one: a store has one index per location)."""
        for listener in store.listeners:
            attached = getattr(listener, "__self__", None)
            if isinstance(attached, cls) and attached.location == str(location):
                return attached
        index = cls(store, str(location))
        index.catch_up()
        store.listeners.append(index.on_write)
        return index

    def detach(self) -> None:
        if self.on_write in self.store.listeners:
            self.store.listeners.remove(self.on_write)
        self._writer.close()

    # ------------------------------------------------------------ connections and schema

    def _connect(self) -> sqlite3.Connection:
        if not self.memory:
            Path(self.location).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.location, check_same_thread=False, isolation_level=None, timeout=30)
        if not self.memory:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _reader(self) -> sqlite3.Connection:
        # one connection per thread over the WAL file: readers never wait for the writer
        if self.memory:
            return self._writer
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self.location, check_same_thread=False, isolation_level=None)
            db.executescript(_SCRATCH)
        return db

    def _prepare(self) -> None:
        with self._lock:
            db = self._writer
            db.executescript(_SCHEMA)
            found = dict(db.execute("SELECT name, value FROM meta WHERE name != 'changes'"))
            wanted = {"version": INDEX_VERSION, "base": self.store.uris.base}
            if found and found != wanted:
                log.info("search index %s was built for %s; rebuilding", self.location, found)
                self._drop(db)
                db.executescript(_SCHEMA)
            db.executemany("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", wanted.items())
            db.execute("INSERT OR IGNORE INTO meta(name, value) VALUES ('changes', '0')")
            if self.memory:
                db.executescript(_SCRATCH)

    @staticmethod
    def _drop(db: sqlite3.Connection) -> None:
        """Every table, but not the ``changes`` counter: it counts on, so that nothing read from the old
        rows (columns, memos, in any process) passes for the new ones."""
        for table in _TABLES:
            if table != "meta":
                db.execute(f"DROP TABLE IF EXISTS {table}")
        db.execute("DELETE FROM meta WHERE name != 'changes'")
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE name = 'changes'")

    # ------------------------------------------------------------ keeping in step

    def on_write(self, outcomes, graphs, records=()) -> None:
        """``Store.listeners`` entry: called after every committed ``Store.write`` with what it wrote."""
        changed = [o.key for o in outcomes if o.status in ("created", "modified")]
        deleted = [o.key for o in outcomes if o.status == "deleted"]
        if not changed and not deleted and not graphs:
            return
        hashes = {o.key: o.content_hash for o in outcomes}
        written = {r.key: Written(r.triples, r.focus, hashes.get(r.key)) for r in records}
        try:
            self.apply(changed, deleted, list(graphs), written=written)
        except Exception:  # noqa: BLE001 - the store has committed: the write must not be reported as failed;
            # the index repairs itself from the change log before it answers again
            log.exception("search index update failed; it will catch up before the next search")
            self.stale = True

    def catch_up(self) -> dict[str, int]:
        """Bring the index level with the store: records whose content hash differs, records gone, run
        graphs, and the labels of every linked thing. Returns counts of what was redone."""
        meta = self.store.uris.meta_graph
        live: dict[str, str] = {}
        for quad in self.store.backend.quads(None, MOU.contentHash, None, meta):
            key = self.store.uris.key_of_graph(quad.subject)
            if key is not None:
                live[key] = quad.object.value
        with self._lock:
            indexed = dict(self._writer.execute("SELECT key, hash FROM docs"))
            runs = {g for (g,) in self._writer.execute("SELECT DISTINCT graph FROM suggested")}
            names = [iri for (iri,) in self._writer.execute("SELECT iri FROM names")]
        prefix = self.store.uris.run_graph("").value
        runs |= {g.value for g in self.store.backend.graphs() if isinstance(g, NamedNode) and g.value.startswith(prefix)}
        changed = sorted(k for k, h in live.items() if indexed.get(k) != h)
        deleted = sorted(k for k in indexed if k not in live)
        self.apply(changed, deleted, [NamedNode(g) for g in sorted(runs)], extra_subjects=names)
        self.stale = False
        return {"indexed": len(changed), "removed": len(deleted)}

    def rebuild(self) -> dict[str, int]:
        """Throw the index away and build it again from the store (``mouseion reindex``)."""
        with self._lock:
            self._drop(self._writer)
            self._prepare()
            return self.catch_up()

    def apply(self, changed: Sequence[str], deleted: Sequence[str], graphs: Sequence = (),
              extra_subjects: Iterable[str] = (), written: Mapping[str, Written] | None = None) -> None:
        """Rewrite the rows of ``changed`` records, remove ``deleted`` ones, refresh run graphs'
        suggestions, then rewrite every row that names a thing whose labels changed. ``written``: the
        statements just committed for some of the changed records, which spares reading them back."""
        written = written or {}
        with self._lock:
            db = self._writer
            reader = _Reader(self.store)
            subjects = set(extra_subjects)
            done: set[str] = set()
            run_prefix = self.store.uris.run_graph("").value
            for chunk in _chunks(list(changed) + list(deleted)):
                for (listed,) in db.execute(f"SELECT subjects FROM docs WHERE key IN ({','.join('?' * len(chunk))})", chunk):
                    subjects.update(json.loads(listed))
            for graph in graphs:
                if isinstance(graph, NamedNode) and graph.value.startswith(run_prefix):
                    continue
                subjects.update(q.subject.value for q in self.store.backend.quads(None, None, None, graph)
                                if isinstance(q.subject, NamedNode))
            for chunk in _chunks(list(deleted)):
                with changing(db):
                    self._remove(db, self._rows(db, chunk).values())
            for chunk in _chunks(list(changed)):
                with changing(db):
                    known = self._rows(db, chunk)
                    docs = [reader.describe(key, known[key][1] if key in known else None, written.get(key))
                            for key in chunk]
                    self._remove(db, known.values())
                    self._put(db, [doc for doc in docs if doc is not None])
                    for doc in docs:
                        if doc is not None:
                            subjects.update(doc.subjects)
                    done.update(chunk)
            with changing(db):
                flagged = self._refresh_suggestions(db, [g for g in graphs if isinstance(g, NamedNode)
                                                         and g.value.startswith(run_prefix)])
                for chunk in _chunks(sorted(flagged)):
                    marks = ",".join("?" * len(chunk))
                    db.execute(f"UPDATE docs SET has_suggestions = EXISTS (SELECT 1 FROM suggested s WHERE s.iri = docs.iri)"
                               f" WHERE iri IN ({marks})", chunk)
                renamed = self._refresh_names(db, reader, subjects)
            dependents: list[tuple[str, str]] = []
            for chunk in _chunks(sorted(renamed)):
                marks = ",".join("?" * len(chunk))
                dependents += db.execute(f"SELECT DISTINCT d.key, d.iri FROM refs r JOIN docs d ON d.id = r.doc "
                                         f"WHERE r.iri IN ({marks})", chunk).fetchall()
            for chunk in _chunks(sorted({(k, i) for k, i in dependents if k not in done})):
                with changing(db):
                    docs = [reader.describe(key, iri) for key, iri in chunk]
                    self._remove(db, self._rows(db, [key for key, _ in chunk]).values())
                    self._put(db, [doc for doc in docs if doc is not None])

    @staticmethod
    def _rows(db: sqlite3.Connection, keys: Sequence[str]) -> dict[str, tuple[int, str, str]]:
        """The indexed rows of ``keys`` (at most one chunk of them): key → (id, iri, refs)."""
        marks = ",".join("?" * len(keys))
        return {key: (doc_id, iri, refs) for doc_id, key, iri, refs in
                db.execute(f"SELECT id, key, iri, refs FROM docs WHERE key IN ({marks})", list(keys))}

    @staticmethod
    def _remove(db: sqlite3.Connection, rows: Iterable[tuple[int, str, str]]) -> None:
        rows = list(rows)
        ids = [(doc_id,) for doc_id, _, _ in rows]
        db.executemany("DELETE FROM docs WHERE id = ?", ids)
        db.executemany("DELETE FROM fts WHERE rowid = ?", ids)
        db.executemany("DELETE FROM facets WHERE doc = ?", ids)
        db.executemany("DELETE FROM refs WHERE iri = ? AND doc = ?",
                       [(iri, doc_id) for doc_id, _, refs in rows for iri in json.loads(refs)])

    @staticmethod
    def _put(db: sqlite3.Connection, docs: Sequence[Document]) -> None:
        """Rows for ``docs`` (none of them indexed now), in one statement per table."""
        if not docs:
            return
        marks = ",".join("?" * len(docs))
        suggested = {iri for (iri,) in db.execute(f"SELECT DISTINCT iri FROM suggested WHERE iri IN ({marks})",
                                                  [doc.iri for doc in docs])}
        first = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM docs").fetchone()[0]
        ids = range(first, first + len(docs))
        db.executemany(
            "INSERT INTO docs(id, key, iri, hash, titles, sort, begin_year, end_year, has_image, has_suggestions, "
            "subjects, refs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(doc_id, doc.key, doc.iri, doc.hash, json.dumps(doc.titles, ensure_ascii=False, sort_keys=True),
              best_label(doc.titles, ("en",))[0].casefold()[:200], doc.begin, doc.end, int(doc.has_image),
              int(doc.iri in suggested), json.dumps(doc.subjects), json.dumps(sorted(doc.links)))
             for doc_id, doc in zip(ids, docs)])
        db.executemany("INSERT INTO fts(rowid, title, labels, descriptions, names) VALUES (?, ?, ?, ?, ?)",
                       [(doc_id, *("\n".join(dict.fromkeys(doc.text[c])) for c in ("title", "labels", "descriptions", "names")))
                        for doc_id, doc in zip(ids, docs)])
        db.executemany("INSERT OR IGNORE INTO facets(facet, value, doc) VALUES (?, ?, ?)",
                       [(f, v, doc_id) for doc_id, doc in zip(ids, docs) for f, v in sorted(doc.facets)])
        db.executemany("INSERT OR IGNORE INTO refs(iri, doc) VALUES (?, ?)",
                       [(iri, doc_id) for doc_id, doc in zip(ids, docs) for iri in doc.links])
        # labels of things seen for the first time; known ones change only through _refresh_names
        labels: dict[str, dict] = {}
        for doc in docs:
            for iri, found in doc.links.items():
                labels.setdefault(iri, found)
        db.executemany("INSERT OR IGNORE INTO names(iri, labels) VALUES (?, ?)",
                       [(iri, json.dumps(found, ensure_ascii=False)) for iri, found in labels.items()])

    def _refresh_names(self, db: sqlite3.Connection, reader: _Reader, subjects: set[str]) -> set[str]:
        """Re-read the labels of the linked things among ``subjects``; those that changed."""
        renamed = set()
        for chunk in _chunks(sorted(subjects)):
            marks = ",".join("?" * len(chunk))
            for iri, stored in db.execute(f"SELECT iri, labels FROM names WHERE iri IN ({marks})", chunk).fetchall():
                current = json.dumps(reader.names_of(iri), ensure_ascii=False)
                if current != stored:
                    db.execute("UPDATE names SET labels = ? WHERE iri = ?", (current, iri))
                    renamed.add(iri)
        return renamed

    def _refresh_suggestions(self, db: sqlite3.Connection, graphs: Sequence[NamedNode]) -> set[str]:
        """Which things each run graph has pending or accepted suggestions about; the things whose
        flag may have changed."""
        touched: set[str] = set()
        query = named_query("search_suggested")
        for graph in graphs:
            touched.update(iri for (iri,) in db.execute("SELECT iri FROM suggested WHERE graph = ?", (graph.value,)))
            db.execute("DELETE FROM suggested WHERE graph = ?", (graph.value,))
            rows = self.store.query(query, union=False, substitutions={ox.Variable("g"): graph})
            found = sorted({row["s"].value for row in rows if isinstance(row["s"], NamedNode)})
            db.executemany("INSERT OR IGNORE INTO suggested(graph, iri) VALUES (?, ?)", [(graph.value, s) for s in found])
            touched.update(found)
        return touched

    # ------------------------------------------------------------ searching

    def search(self, query: SearchQuery) -> SearchResult:
        if self.stale:
            self.catch_up()
        if self.memory:
            with self._lock:
                return self._search(self._writer, query)
        return self._search(self._reader(), query)

    def _search(self, db: sqlite3.Connection, query: SearchQuery) -> SearchResult:
        asked = phrases(query.text)
        match = expression(asked)
        offset = (query.page - 1) * query.page_size
        narrow = (query.year_from is not None and query.year_to is not None
                  and query.year_to - query.year_from <= 150)
        width = 10 if narrow else 100
        with transaction(db):  # one snapshot for every part of the answer
            changes = db.execute("SELECT value FROM meta WHERE name = 'changes'").fetchone()[0]
            columns = self._columns
            if columns is None or columns.changes != changes:
                self._build_columns_later()
                total, page, counted = self._select_sql(db, query, match, offset, width, changes)
            else:
                total, page, counted = self._select_columns(db, columns, query, asked, match, offset, width)
            hits = self._hits(db, page, match)
        ranked = match is not None and total <= RANK_LIMIT
        facets = self._facet_values(db, counted["facets"], query)
        return SearchResult(query, total, hits, facets, counted["years"], counted["flags"],
                            "relevance" if ranked else "title")

    def _ranked_page(self, db: sqlite3.Connection, match: str, within: str | None, offset: int,
                     limit: int) -> list[int]:
        """One page of the matches by BM25 (ties by id); ``within``: a table of the ids to rank."""
        join = f"JOIN {within} h ON h.id = fts.rowid " if within else ""
        return [doc_id for (doc_id,) in db.execute(
            f"SELECT fts.rowid FROM fts {join}WHERE fts MATCH ? "
            f"ORDER BY bm25(fts, {', '.join(map(str, _WEIGHTS))}), fts.rowid LIMIT ? OFFSET ?",
            (match, limit, offset))]

    def _select_columns(self, db: sqlite3.Connection, columns: Columns, query: SearchQuery, asked: list[Phrase],
                        match: str | None, offset: int, width: int) -> tuple[int, list[int], dict]:
        """The total, one page of document ids and the counts, with the columns in memory. Words are
        found and ranked in memory too; SQLite finds and ranks phrases of several words (``match``:
        the phrases ``asked`` as an FTS5 expression)."""
        if match is None and not query.narrowed:  # browsing everything
            listed, counted = columns.everything
            return len(listed), listed[offset:offset + query.page_size], counted
        matches, ranking = None, None
        single = self._single_words(db, asked) if asked else None
        if single:
            matches, ranking = columns.words.find(single, _WEIGHTS)
        elif match:
            joined = db.execute("SELECT group_concat(rowid, ' ') FROM fts WHERE fts MATCH ?", (match,)).fetchone()[0]
            matches = np.fromstring(joined or "", dtype=np.int64, sep=" ")
        mask = columns.select(matches, query)
        hits = np.flatnonzero(mask)
        if ranking and len(hits) <= RANK_LIMIT:
            page = ranking.page(hits, offset, query.page_size)
        elif match and len(hits) <= RANK_LIMIT:
            within = None
            if len(hits) < len(matches):  # narrowed by a filter: rank only what is left
                db.execute("DELETE FROM temp.hits")
                db.execute("INSERT INTO temp.hits SELECT value FROM json_each(?)", (json.dumps(hits.tolist()),))
                within = "temp.hits"
            page = self._ranked_page(db, match, within, offset, query.page_size)
        else:
            page = columns.by_title(hits, offset, query.page_size)
        return len(hits), page, columns.count(mask, hits, set(query.filters), width)

    def _single_words(self, db: sqlite3.Connection, asked: list[Phrase]) -> list[tuple[str, bool]] | None:
        """Each phrase as the one word (token, prefix) the index's tokenizer makes of it; None when a
        phrase makes several words or none."""
        texts = tuple(p.text for p in asked)
        tokens = self._tokens.get(texts)
        if tokens is None:
            db.executemany("INSERT INTO temp.scratch_text(id, title) VALUES (?, ?)", enumerate(texts, 1))
            with scratch(db):
                found = json.loads(db.execute("SELECT json_group_array(json_array(doc, term, offset)) "
                                              "FROM temp.scratch_words").fetchone()[0])
            by_text: dict[int, list[tuple[int, str]]] = {}
            for n, term, offset in found:
                by_text.setdefault(n, []).append((offset, term))
            tokens = tuple(tuple(term for _, term in sorted(by_text.get(n, []))) for n in range(1, len(texts) + 1))
            if len(self._tokens) >= 4096:  # a tokenizer's answers never change: forget them only for room
                self._tokens.clear()
            self._tokens[texts] = tokens
        if any(len(words) != 1 for words in tokens):
            return None
        return [(words[0], p.prefix) for words, p in zip(tokens, asked)]

    def _select_sql(self, db: sqlite3.Connection, query: SearchQuery, match: str | None, offset: int,
                    width: int, changes: str) -> tuple[int, list[int], dict]:
        """The same as ``_select_columns``, all in SQL (an index in memory, or columns not read yet)."""
        conditions, args = [], []
        if match:
            conditions.append("d.id IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
            args.append(match)
        if query.year_from is not None:
            conditions.append("d.end_year >= ?")
            args.append(query.year_from)
        if query.year_to is not None:
            conditions.append("d.begin_year <= ?")
            args.append(query.year_to)
        if query.has_image is not None:
            conditions.append("d.has_image = ?")
            args.append(int(query.has_image))
        if query.has_suggestions is not None:
            conditions.append("d.has_suggestions = ?")
            args.append(int(query.has_suggestions))
        for facet, value in query.filters:
            conditions.append("d.id IN (SELECT doc FROM facets WHERE facet = ? AND value = ?)")
            args += [facet, value]
        source = "docs"
        if conditions:
            db.execute("DELETE FROM temp.hits")
            if match and len(conditions) == 1:
                # words only: straight from the full-text index, no row of docs read
                db.execute("INSERT INTO temp.hits SELECT rowid FROM fts WHERE fts MATCH ?", args)
            else:
                db.execute("INSERT INTO temp.hits SELECT d.id FROM docs d WHERE " + " AND ".join(conditions), args)
            source = "temp.hits"
        memo = self._browse_memo if source == "docs" and self._browse_memo and self._browse_memo[0] == changes else None
        total = memo[1]["total"] if memo else db.execute(f"SELECT COUNT(*) FROM {source}").fetchone()[0]
        if match and total <= RANK_LIMIT:
            within = None if len(conditions) == 1 else source  # words only: the matches are the hits
            page = self._ranked_page(db, match, within, offset, query.page_size)
        else:
            within = "" if source == "docs" else f"WHERE d.id IN (SELECT id FROM {source}) "
            page = [doc_id for (doc_id,) in db.execute(
                f"SELECT d.id FROM docs d {within}ORDER BY d.sort, d.id LIMIT ? OFFSET ?", (query.page_size, offset))]
        if memo:
            return total, page, memo[1]
        counted = self._count_sql(db, source, width)
        if source == "docs":
            self._browse_memo = (changes, {**counted, "total": total})
        return total, page, counted

    @staticmethod
    def _hits(db: sqlite3.Connection, page: list[int], match: str | None) -> list[Hit]:
        """The shown hits, in ``page``'s order, with their best passage when there are words."""
        if not page:
            return []
        marks = ",".join("?" * len(page))
        # each answer in one row (a JSON array): a row fetched is the GIL let go and taken back, and with
        # threads waiting for it that is a thread switch each time
        rows = {row[0]: row for row in json.loads(db.execute(
            "SELECT json_group_array(json_array(d.id, d.key, d.iri, json(d.titles), d.begin_year, d.end_year, "
            "d.has_image, d.has_suggestions, (SELECT json_group_array(f.value) FROM facets f "
            f"WHERE f.doc = d.id AND f.facet = 'class'))) FROM docs d WHERE d.id IN ({marks})", page).fetchone()[0])}
        passages = {}
        if match:
            db.execute("INSERT INTO temp.scratch_text(id, title, labels, descriptions, names) "
                       f"SELECT rowid, title, labels, descriptions, names FROM fts WHERE rowid IN ({marks})", page)
            with scratch(db):
                passages = json.loads(db.execute(
                    "WITH found AS MATERIALIZED (SELECT rowid AS id, snippet(scratch, -1, char(2), char(3), '…', 14) "
                    "AS passage FROM temp.scratch WHERE scratch MATCH ?) SELECT json_group_object(id, passage) FROM found",
                    (match,)).fetchone()[0])
        return [Hit(key, iri, titles, sorted(classes), begin, end, bool(image), bool(suggestions), passages.get(str(doc_id)))
                for doc_id, key, iri, titles, begin, end, image, suggestions, classes in (rows[i] for i in page)]

    @staticmethod
    def _count_sql(db: sqlite3.Connection, source: str, width: int) -> dict:
        """Facet value counts, the year histogram and the flag counts within ``source``."""
        where = "" if source == "docs" else f" WHERE d.id IN (SELECT id FROM {source})"
        # (each answer as one JSON row: see _hits)
        years = [(bucket, bucket + width - 1, n) for bucket, n in sorted(json.loads(db.execute(
            "SELECT json_group_array(json_array(bucket, n)) FROM "
            f"(SELECT ((d.begin_year + 100000) / {width}) * {width} - 100000 AS bucket, COUNT(*) AS n FROM docs d{where}"
            f"{' AND' if where else ' WHERE'} d.begin_year IS NOT NULL GROUP BY bucket)").fetchone()[0]))]
        image, suggestions = db.execute(
            f"SELECT COALESCE(SUM(d.has_image), 0), COALESCE(SUM(d.has_suggestions), 0) FROM docs d{where}").fetchone()
        counts: dict[str, list[tuple[str, int]]] = {f: [] for f in FACET_NAMES}
        # hits first, then each one's facet rows through the (doc, facet, value) index: CROSS JOIN keeps
        # SQLite from scanning every facet row instead
        scan = "facets f" if source == "docs" else f"{source} h CROSS JOIN facets f ON f.doc = h.id"
        for facet, value, n in json.loads(db.execute(
                "SELECT json_group_array(json_array(facet, value, n)) FROM "
                f"(SELECT f.facet AS facet, f.value AS value, COUNT(*) AS n FROM {scan} GROUP BY f.facet, f.value)").fetchone()[0]):
            counts.setdefault(facet, []).append((value, n))
        return {"facets": counts, "years": years, "flags": {"image": image, "suggestions": suggestions}}

    def warm(self) -> None:
        """Start reading the columns now (a serving process calls this once it starts)."""
        self._build_columns_later()

    def _build_columns_later(self) -> None:
        """Read the columns of the index as it is now, in a thread; searches use SQL meanwhile."""
        if self.memory or not self._columns_building.acquire(blocking=False):
            return

        def build() -> None:
            try:
                db = sqlite3.connect(self.location, isolation_level=None)
                try:
                    self._columns = Columns.build(db)
                finally:
                    db.close()
            except Exception:  # noqa: BLE001 - searches go on in SQL, which answers the same
                log.exception("reading the search columns failed; searches use SQL")
            finally:
                self._columns_building.release()

        threading.Thread(target=build, name="mouseion-search-columns", daemon=True).start()

    def _facet_values(self, db: sqlite3.Connection, counts: dict[str, list[tuple[str, int]]],
                      query: SearchQuery) -> dict[str, list[FacetValue]]:
        selected = set(query.filters)
        chosen: dict[str, list[tuple[str, int]]] = {}
        for facet in FACET_NAMES:
            ranked = sorted(counts.get(facet, []), key=lambda vn: (-vn[1], vn[0]))
            top = ranked[:FACET_LIMIT]
            top += [vn for vn in ranked[FACET_LIMIT:] if (facet, vn[0]) in selected]
            shown = {v for v, _ in top}
            top += [(v, 0) for f, v in query.filters if f == facet and v not in shown]
            chosen[facet] = top
        iris = sorted({v for values in chosen.values() for v, _ in values})
        labels: dict[str, dict[str, str]] = {}
        for chunk in _chunks(iris):
            found = db.execute(f"SELECT json_group_object(iri, json(labels)) FROM names WHERE iri IN ({','.join('?' * len(chunk))})",
                               chunk).fetchone()[0]
            for iri, stored in json.loads(found).items():
                labels[iri] = {lang: values[0] for lang, values in stored.items() if values}
        hierarchy = self.store.hierarchy
        return {facet: [FacetValue(v, n, labels.get(v) or hierarchy.labels(v) or aat_labels(v),
                                   (facet, v) in selected)
                        for v, n in values] for facet, values in chosen.items()}

    def count(self) -> int:
        with self._lock:
            return self._writer.execute("SELECT COUNT(*) FROM docs").fetchone()[0]


