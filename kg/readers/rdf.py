"""Any RDF file — Turtle, N-Triples, N-Quads, TriG, RDF/XML, JSON-LD — read with pyoxigraph.

**Which statements make a record.**

- A named graph is a record (N-Quads, TriG, JSON-LD with named graphs). Its key is the one the
  graph name carries when it is one of ours (``{base}graph/record/{key}``, so a dump reads back
  under the same keys and URIs), else ``mint_key(dataset, graph IRI)``. Quads of one graph must
  be consecutive (a dump, and the ingest benchmark's file, are written graph by graph); a graph
  that comes back after another one is rejected rather than merged, because its first part was
  already handed on.
- Statements in the default graph are grouped by **top-level subject**: each IRI subject, with the
  blank nodes it refers to (transitively; a blank node shared by two subjects goes with the first
  that refers to it) and its hash children (``X#part`` goes with ``X`` when ``X`` is a subject of the
  file). The key is ``mint_key(dataset, IRI)``, the IRI shortened by the dataset's source base
  (where relative IRIs resolve, ``kg.sources.source_base``) or the site base when it starts with one.
  Statements about blank nodes that no IRI subject reaches have no key to go under: rejected.

**Streaming.** Quads are handed on a graph at a time, as soon as the graph changes, so a file of
100k graphs never sits in memory as Python objects; only the default graph is held until the end
(grouping by subject needs all of it — for big triple files that is the price, and it is paid once:
an N-Triples file, all default graph, is held whole as triples). A source with a ``path``
(``kg.sources.STREAMED_FORMATS``, no whole-file limit) is parsed from the file, never read whole, so
memory follows the largest record (and the default graph), not the file. The names of the graphs
already read are kept, to refuse one that comes back: about 160 bytes a record, the one thing that
grows with a file of named graphs.

**Errors.** pyoxigraph reports each syntax error with line and column and carries on after it. In
the default graph a missing statement could belong to any subject, so any error rejects every
default-graph statement of the file (one rejection listing the errors). Between named graphs an
unreadable line may belong to the graph being read or to the one that follows; both are rejected,
naming the line; the other graphs of the file load.

**Limits.** ``max_literal_bytes`` and ``max_record_triples`` reject a record, naming it and the
limit. N-Triples and N-Quads cannot hold a literal longer than their longest line, so their raw
bytes are first scanned for a line that long (a few ``find`` calls per megabyte, a chunk at a time):
a file without one — nearly every file — goes to the parser as it is and no literal is examined.
Otherwise, and in the other formats, literals over a quarter of the limit in characters are
measured; and a line-based file is handed to the parser through ``_Lines``, which drops every line
of ``PARSER_BUFFER`` bytes or more — more than the parser can hold — reading it in pieces, never
whole, and its record (the graph named at its end, else its subject) is rejected, naming the line.
Those rejections come after the file's named graphs, one per record; a graph with such a line is
skipped when the parser reaches it (if its quads came before, and then again after other graphs,
the first part was read as a record: what a graph that comes back gets anyway).

**JSON-LD** contexts are taken from ``kg.contexts``; a remote context not known there is refused.

Blank nodes get fresh labels on every read (``rename_blank_nodes``), so two files' ``_:b0`` never meet.

>>> from kg.readers import ReadContext, Source
>>> from kg.record import Uris
>>> from kg.settings import Settings
>>> ctx = ReadContext(Uris("http://localhost:8000/"), Settings(), dataset="demo")
>>> ttl = b'''@prefix ex: <http://example.org/> .
... ex:a ex:p [ ex:q "nested" ] ; ex:r ex:b .
... <http://example.org/a#part> ex:p "part of a" .
... ex:b ex:p "b" .'''
>>> [(r.key, len(r.triples)) for r in read(Source("x.ttl", ttl), ctx, "turtle")]
[('demo/http:%2F%2Fexample.org%2Fa', 4), ('demo/http:%2F%2Fexample.org%2Fb', 1)]
>>> nq = (b'<http://e/s> <http://e/p> "1" <http://localhost:8000/graph/record/tate/A1> .\\n'
...       b'<http://e/s> <http://e/p> "2" <http://e/g2> .\\n')
>>> [(r.key, len(r.triples)) for r in read(Source("d.nq", nq), ctx, "nquads")]
[('tate/A1', 1), ('demo/http:%2F%2Fe%2Fg2', 1)]
"""

from __future__ import annotations

import io
import json
import operator
import re
from itertools import groupby
from typing import Iterable, Iterator

import pyoxigraph as ox
from pyoxigraph import BlankNode, DefaultGraph, Literal, NamedNode, Triple

from kg.contexts import inline_contexts
from kg.errors import InputError
from kg.readers import Item, ReadContext, Reader, Source
from kg.record import Origin, Record, Rejection, mint_key
from kg.sources import default_dataset, source_base

FORMATS: dict[str, ox.RdfFormat] = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
    "rdfxml": ox.RdfFormat.RDF_XML,
    "jsonld": ox.RdfFormat.JSON_LD,
}
#: formats where a statement never spans lines (so a literal is never longer than a line)
_LINE_FORMATS = {"ntriples", "nquads"}
#: syntax errors listed before reading stops (a binary file would otherwise give thousands)
MAX_ERRORS = 20
#: pyoxigraph's parsers hold one token in a buffer of this size: a longer literal cannot be read at all
PARSER_BUFFER = 16 * 1024 * 1024
#: bytes of a line-based file read at a time (less than ``PARSER_BUFFER``: see ``_Lines``)
CHUNK = 256 * 1024
#: bytes kept of each end of a line too long to parse, to tell whose statement it was
_ENDS = 4096

_GRAPH = operator.attrgetter("graph_name")
_TRIPLE = operator.attrgetter("triple")
_POSITION = re.compile(r"^Parser error (at|between) [^:]*: ")


def reader(fmt: str) -> Reader:
    """The reader for one of ``FORMATS``, for the registry."""
    if fmt not in FORMATS:
        raise ValueError(f"no RDF format {fmt!r}")

    def read_format(source: Source, ctx: ReadContext) -> Iterator[Item]:
        return read(source, ctx, fmt)

    read_format.__name__ = read_format.__qualname__ = f"read_{fmt}"
    read_format.__doc__ = f"Records of a {fmt} file (see ``kg.readers.rdf``)."
    return read_format


def read(source: Source, ctx: ReadContext, fmt: str) -> Iterator[Item]:
    """Records of an RDF file in format ``fmt`` (a key of ``FORMATS``)."""
    return _Reading(source, ctx, fmt).items()


class _Reading:
    def __init__(self, source: Source, ctx: ReadContext, fmt: str) -> None:
        self.source = source
        self.ctx = ctx
        self.fmt = fmt
        self.dataset = ctx.dataset or default_dataset(source.name)
        self.base = source_base(ctx.uris, self.dataset)
        self.limit = ctx.settings.max_literal_bytes
        self.errors = 0
        self.measure_literals = False
        self.lines: _Lines | None = None  # the filter of a line-based file with a line too long to parse
        #: graph, subject or DefaultGraph() → the rejection of its record for a line too long to parse
        self.refused: dict = {}

    def items(self) -> Iterator[Item]:
        if self.fmt in _LINE_FORMATS:
            yield from self._line_items()
            return
        data, renamed = self.source.data, False
        if self.fmt == "jsonld":
            try:
                data, renamed = _jsonld_input(data)
            except InputError as error:
                yield self._rejection([_reason(error.message, error.line, error.column)], error.line)
                return
        self.measure_literals = len(data) > self.limit  # literals can only be too long if the input is
        parser = ox.parse(data, FORMATS[self.fmt], base_iri=self.base, rename_blank_nodes=True)
        yield from self._graphs(self._runs(parser), renamed)

    def _line_items(self) -> Iterator[Item]:
        """N-Triples and N-Quads, from the file (``source.path``) or the bytes in memory."""
        path, fmt = self.source.path, FORMATS[self.fmt]
        try:
            if path is None:
                raw = io.BytesIO(self.source.data)
                self.measure_literals = len(self.source.data) >= self.limit and not _lines_shorter_than(
                    self.source.data, self.limit)
            else:
                raw = open(path, "rb")
                self.measure_literals = not _stream_lines_shorter_than(raw, self.limit)
                raw.seek(0)
        except OSError as error:
            yield self._rejection([f"cannot read: {error.strerror or error}"])
            return
        with raw:
            if not self.measure_literals:  # no line is that long: nor is any too long to parse
                parser = ox.parse(self.source.data, fmt, rename_blank_nodes=True) if path is None else \
                    ox.parse(path=path, format=fmt, rename_blank_nodes=True)
            else:
                self.lines = _Lines(raw, quads=self.fmt == "nquads")
                # buffered: the parser asks for a couple of kilobytes at a time, and this makes those C calls
                parser = ox.parse(input=io.BufferedReader(self.lines, CHUNK), format=fmt, rename_blank_nodes=True)
            try:
                yield from self._graphs(self._runs(parser), renamed=False)
            except OSError as error:  # the file went away or the disk failed: what was read stands
                yield self._rejection([f"cannot read to the end: {error.strerror or error}; the records after "
                                       f"the last one read, and any statements in the default graph, are not "
                                       f"read"])

    def _graphs(self, runs, renamed: bool) -> Iterator[Item]:
        """Named graphs as records as they come; then the default graph, by subject."""
        refused = self.refused
        default: list[Triple] = []
        suspect: list[tuple[int | None, str]] = []  # errors that make the default graph suspect
        pending: list[tuple[int | None, str]] = []  # errors the next run may own
        seen: set = set()
        just_rejected = None  # the graph being read when the last error came
        for graph, triples, error in runs:
            self._refuse_huge()  # the lines dropped so far: the parser is past them
            if error is not None:
                line, reason = _syntax(error, renamed, self.source.data)
                if graph is None or isinstance(graph, DefaultGraph):
                    suspect.append((line, reason))
                elif graph in refused:
                    refused[graph].reasons.append(reason)  # not handed on yet: that comes at the end
                elif graph != just_rejected:
                    seen.add(graph)
                    just_rejected = graph
                    yield self._graph_rejection(graph, [f"{reason} (the unreadable statement may belong to "
                                                        f"this graph)"], line)
                pending.append((line, reason))
                continue
            after_error, pending = pending, []
            if isinstance(graph, DefaultGraph):
                default.extend(triples)
                suspect += after_error
            elif graph in refused:
                continue  # rejected already: a statement too long to parse
            elif after_error:
                if graph != just_rejected:  # else it is the rest of the graph rejected above
                    seen.add(graph)
                    yield self._graph_rejection(graph, [
                        f"an unreadable statement just before this graph may belong to it: {reason}"
                        for _, reason in after_error], after_error[0][0])
                just_rejected = None
            elif graph in seen:
                yield self._graph_rejection(graph, [
                    "the graph's quads are not consecutive: it appears again after other graphs, and its "
                    "first part was already read as a record (write N-Quads/TriG graph by graph)"])
            else:
                seen.add(graph)
                yield self._graph_record(graph, triples)
        self._refuse_huge()
        yield from refused.values()
        if DefaultGraph() in refused and default:
            suspect.append((None, "the default graph's statements are not read: one of them (above) is too "
                                  "long to read, and its blank-node subject could be any record's"))
        if suspect:
            # a statement of the default graph may be missing, and any of its subjects the poorer for it
            suspect = list(dict.fromkeys(suspect))
            lines = [line for line, _ in suspect if line is not None]
            yield self._rejection([reason for _, reason in suspect], min(lines) if lines else None)
        elif default:
            yield from self._subject_records(default, refused)

    def _runs(self, parser: Iterable[ox.Quad]):
        """(graph, triples, None) for each run of consecutive quads of one graph; (graph being read,
        None, SyntaxError) for each error."""
        while True:
            graph = None
            try:
                for graph, quads in groupby(parser, _GRAPH):
                    yield graph, list(map(_TRIPLE, quads)), None
                    graph = None
                return
            except MemoryError:
                # pyoxigraph says this of a token over its buffer, and would say it again for ever
                yield graph, None, SyntaxError(
                    f"a literal or IRI longer than {PARSER_BUFFER} bytes, more than the limit of {self.limit} "
                    f"bytes (MOUSEION_MAX_LITERAL_BYTES); reading stopped there")
                return
            except SyntaxError as error:
                self.errors += 1
                yield graph, None, error
                if self.errors >= MAX_ERRORS:
                    yield None, None, SyntaxError(f"more than {MAX_ERRORS} syntax errors: reading stopped")
                    return

    # -- records -----------------------------------------------------------------------------------

    def _refuse_huge(self) -> None:
        """Note the record of each line the filter dropped since last asked, to reject it (at the end)."""
        if self.lines is None or not self.lines.huge:
            return
        dropped, self.lines.huge = self.lines.huge, []
        for line in dropped:
            reason = (f"line {line.number}: a statement of {line.size} bytes, too long to read: its literal "
                      f"exceeds the limit of {self.limit} bytes (MOUSEION_MAX_LITERAL_BYTES)")
            if line.graph is not None:
                target, key = line.graph, self._graph_key(line.graph)[0]
            elif line.subject is not None:
                target, key = line.subject, mint_key(self.dataset, self._local(line.subject.value))
            else:
                target, key = DefaultGraph(), None  # a blank-node subject: its record cannot be told
            if target in self.refused:
                self.refused[target].reasons.append(reason)
            else:
                self.refused[target] = Rejection(Origin(self.source.name, key, line.number), [reason], key)

    def _graph_record(self, graph, triples: list[Triple]) -> Item:
        if isinstance(graph, BlankNode):
            return self._rejection(["a graph named by a blank node cannot be a record: it has no stable name"])
        key, dataset = self._graph_key(graph)
        return self._record(key, dataset, triples, None)

    def _graph_key(self, graph: NamedNode) -> tuple[str, str]:
        key = self.ctx.uris.key_of_graph(graph)
        if key and "/" in key and all(key.split("/", 1)):
            return key, key.split("/", 1)[0]  # one of ours, e.g. from a dump: keep its key
        return mint_key(self.dataset, self._local(graph.value)), self.dataset

    def _graph_rejection(self, graph, reasons: list[str], line: int | None = None) -> Rejection:
        key = self._graph_key(graph)[0] if isinstance(graph, NamedNode) else None
        return Rejection(Origin(self.source.name, key or str(graph), line), reasons, key)

    def _subject_records(self, triples: list[Triple], refused: dict) -> Iterator[Item]:
        groups, orphans = group_by_subject(triples)
        for focus, members in groups:
            if refused and any(t.subject in refused for t in members):
                continue  # rejected for a statement too long to parse (above)
            yield self._record(mint_key(self.dataset, self._local(focus.value)), self.dataset, members, focus)
        if orphans:
            example = orphans[0]
            yield self._rejection([f"{len(orphans)} statements are about blank nodes that no IRI subject refers "
                                   f"to, so they belong to no record, e.g. {example}"])

    def _record(self, key: str, dataset: str, triples: list[Triple], focus: NamedNode | None) -> Item:
        origin = Origin(self.source.name, key)
        settings = self.ctx.settings
        if len(triples) > settings.max_record_triples:
            return Rejection(origin, [f"{len(triples)} triples exceed the limit of {settings.max_record_triples} "
                                      f"per record (MOUSEION_MAX_RECORD_TRIPLES)"], key)
        if self.measure_literals:
            too_long = oversized_literal(triples, self.limit)
            if too_long:
                return Rejection(origin, [too_long], key)
        return Record(key, dataset, triples, origin, format="rdf", focus=focus)

    def _rejection(self, reasons: list[str], line: int | None = None) -> Rejection:
        return Rejection(Origin(self.source.name, line=line), reasons)

    def _local(self, iri: str) -> str:
        """An IRI shortened by the dataset's source base or the site base, for a key."""
        for prefix in (self.base, self.ctx.uris.base):
            if iri.startswith(prefix) and len(iri) > len(prefix):
                return iri[len(prefix):]
        return iri


def group_by_subject(triples: Iterable[Triple]) -> tuple[list[tuple[NamedNode, list[Triple]]], list[Triple]]:
    """Top-level IRI subjects with their blank-node closure and hash children; and the leftovers.

    >>> e = "http://e/"
    >>> t = [Triple(NamedNode(e + "a#x"), NamedNode(e + "p"), BlankNode("b1")),
    ...      Triple(BlankNode("b1"), NamedNode(e + "p"), Literal("deep")),
    ...      Triple(NamedNode(e + "a"), NamedNode(e + "p"), Literal("a")),
    ...      Triple(BlankNode("lost"), NamedNode(e + "p"), Literal("?"))]
    >>> groups, orphans = group_by_subject(t)
    >>> [(focus.value, len(members)) for focus, members in groups], len(orphans)
    ([('http://e/a', 3)], 1)
    """
    by_subject: dict[object, list[Triple]] = {}
    for triple in triples:
        subject = triple.subject
        members = by_subject.get(subject)
        if members is None:
            by_subject[subject] = [triple]
        else:
            members.append(triple)
    iris = {s.value: s for s in by_subject if isinstance(s, NamedNode)}
    children: dict[str, list[NamedNode]] = {}
    tops: list[NamedNode] = []
    for value, node in iris.items():
        cut = value.find("#")
        parent = value[:cut] if cut > 0 else None
        if parent is not None and parent in iris:
            children.setdefault(parent, []).append(node)
        else:
            tops.append(node)
    taken: set = set()
    groups: list[tuple[NamedNode, list[Triple]]] = []
    for top in tops:
        members: list[Triple] = []
        queue = [top, *children.get(top.value, ())]
        taken.update(queue)
        for subject in queue:  # grows while it is walked: breadth first
            for triple in by_subject.get(subject, ()):
                members.append(triple)
                obj = triple.object
                if isinstance(obj, BlankNode) and obj not in taken and obj in by_subject:
                    taken.add(obj)
                    queue.append(obj)
        groups.append((top, members))
    orphans = [t for s, ts in by_subject.items() if s not in taken for t in ts]
    return groups, orphans


def oversized_literal(triples: Iterable[Triple], limit: int) -> str | None:
    """The reason to reject a record with a literal over ``limit`` UTF-8 bytes, or None."""
    chars = limit // 4
    for triple in triples:
        obj = triple.object
        if type(obj) is Literal:
            value = obj.value
            if len(value) > chars:
                # a string of more characters than the limit has more bytes too: no need to encode it
                size = len(value) if len(value) > limit else len(value.encode())
                if size > limit:
                    return (f"a literal of {'at least ' if len(value) > limit else ''}{size} bytes on "
                            f"<{triple.predicate.value}> of <{_term_text(triple.subject)}> exceeds the limit "
                            f"of {limit} bytes (MOUSEION_MAX_LITERAL_BYTES)")
    return None


def _term_text(term) -> str:
    return term.value if isinstance(term, NamedNode) else str(term)


def _lines_shorter_than(data: bytes, limit: int, start: int = 0, end: int | None = None) -> bool:
    """True when no line of ``data[start:end]`` reaches ``limit`` bytes.

    Every aligned block of ``limit // 2`` bytes holding a newline means no run without one can be
    ``limit`` bytes long; ``bytes.find`` makes that a few C calls per megabyte.
    """
    end = len(data) if end is None else end
    step = max(limit // 2, 1)
    return all(data.find(b"\n", pos, min(pos + step, end)) >= 0 for pos in range(start, end, step))


def _stream_lines_shorter_than(stream, limit: int) -> bool:
    """``_lines_shorter_than`` for a binary stream, read ``CHUNK`` bytes at a time from where it is."""
    buffer = bytearray(CHUNK)
    run = 0  # bytes since the last newline, in the chunks before
    while size := stream.readinto(buffer):
        first = buffer.find(b"\n", 0, size)
        if first < 0:
            run += size
            if run >= limit:
                return False
            continue
        last = buffer.rfind(b"\n", 0, size)
        if run + first + 1 >= limit or not _lines_shorter_than(buffer, limit, first + 1, last + 1):
            return False
        run = size - last - 1
    return run < limit


class _HugeLine:
    """A statement cut out before parsing: where it was, and whose it was (read from its ends)."""

    def __init__(self, number: int, size: int, head: bytes, tail: bytes, quads: bool) -> None:
        self.number, self.size = number, size
        subject = re.match(rb"\s*<([^<>\s]*)>", head)
        self.subject = _named(subject.group(1)) if subject else None
        self.graph = None
        if quads:
            last = re.search(rb"(\^\^)?<([^<>\s]*)>\s*\.\s*$", tail)
            if last and not last.group(1):  # after ^^ it is a datatype, not a graph
                self.graph = _named(last.group(2))


def _named(iri: bytes) -> NamedNode | None:
    try:
        return NamedNode(iri.decode())
    except (ValueError, UnicodeDecodeError):
        return None


class _Lines(io.RawIOBase):
    """A binary stream as the N-Triples/N-Quads parser reads it (``read``), less the lines too long to parse.

    The stream is read ``CHUNK`` bytes at a time and handed on a run of whole lines at a time. A line
    of ``PARSER_BUFFER`` bytes or more is read on in chunks and dropped as it comes, never held
    whole; an empty line takes its place, so the parser's line numbers stay the file's, and
    ``huge`` says where it was and whose it was (from its first and last bytes). Memory: a chunk,
    and the start of one line (less than ``PARSER_BUFFER``).

    >>> data = b"<a> <b> <c> .\\n<a> <b> " + b"x" * PARSER_BUFFER + b" .\\n<d> <e> <f> ."
    >>> lines = _Lines(io.BytesIO(data))
    >>> [lines.read(100) for _ in range(4)]
    [b'<a> <b> <c> .\\n', b'\\n', b'<d> <e> <f> .', b'']
    >>> [(line.number, line.size) for line in lines.huge]
    [(2, 16777227)]
    """

    def __init__(self, raw: io.RawIOBase | io.BufferedIOBase, quads: bool = False) -> None:
        assert CHUNK < PARSER_BUFFER  # so a line that fits in a chunk can always be parsed
        super().__init__()
        self.raw, self.quads = raw, quads
        self.huge: list[_HugeLine] = []
        self.newlines = 0  # newlines handed on so far: the line being read is one more
        self._out = io.BytesIO()
        self._start: list[bytes] = []  # the start of a line whose end has not been read yet
        self._start_size = 0
        self._dropping: list | None = None  # [line number, size so far, first bytes, last bytes]
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = self._out.readinto(buffer)
        while not size and not self._done:
            self._fill()
            size = self._out.readinto(buffer)
        return size

    def _fill(self) -> None:
        """Read a chunk, and hand on the whole lines it completes (copied once, into ``_out``)."""
        chunk = self.raw.read(CHUNK)
        if not chunk:
            self._done = True
            if self._dropping is not None:
                self._dropped()
            elif self._start:  # a last line without a newline
                self._out = io.BytesIO(b"".join(self._take_start()))
            return
        out: list = []
        begin = 0
        if self._dropping is not None:
            begin = chunk.find(b"\n") + 1
            if not begin:
                self._drop(chunk)
                return
            self._drop(chunk[:begin])
            self._dropped()
            out.append(b"\n")
            self.newlines += 1
        first = chunk.find(b"\n", begin)
        if first >= 0 and self._start_size + first + 1 - begin >= PARSER_BUFFER:
            self._extend(chunk[begin:first + 1])  # the line begun in earlier chunks ends here, too long
            self._dropped()
            out.append(b"\n")
            self.newlines += 1
            begin = first + 1
            first = chunk.find(b"\n", begin)
        if first < 0:
            self._extend(chunk[begin:])
        else:
            last = chunk.rfind(b"\n")
            out += self._take_start()
            out.append(memoryview(chunk)[begin:last + 1])  # lines within a chunk: shorter than PARSER_BUFFER
            self.newlines += chunk.count(b"\n", begin, last + 1)
            self._extend(chunk[last + 1:])
        if out:
            self._out = io.BytesIO(b"".join(out))

    def _extend(self, piece: bytes) -> None:
        """More of the line being read; dropped from here on if it reaches ``PARSER_BUFFER`` bytes."""
        if not piece:
            return
        if self._dropping is not None:
            self._drop(piece)
            return
        self._start.append(piece)
        self._start_size += len(piece)
        if self._start_size >= PARSER_BUFFER:
            start, head = self._take_start(), b""
            for part in start:
                head += part[:_ENDS - len(head)]
                if len(head) >= _ENDS:
                    break
            self._dropping = [self.newlines + 1, 0, head, b""]
            for part in start:
                self._drop(part)

    def _take_start(self) -> list[bytes]:
        start, self._start, self._start_size = self._start, [], 0
        return start

    def _drop(self, piece: bytes) -> None:
        dropping = self._dropping
        dropping[1] += len(piece)
        dropping[3] = (dropping[3] + piece[-_ENDS:])[-_ENDS:]

    def _dropped(self) -> None:
        number, size, head, tail = self._dropping
        self._dropping = None
        self.huge.append(_HugeLine(number, size, head, tail, self.quads))


def _syntax(error: SyntaxError, renamed: bool, data: bytes = b"") -> tuple[int | None, str]:
    """(line, reason) for a pyoxigraph syntax error; positions are meaningless in a rewritten input.

    The RDF/XML and JSON-LD parsers give no position for a bad IRI; the IRI's first occurrence does.
    """
    message = _POSITION.sub("", str(error.msg))
    if error.lineno is None and not renamed:
        quoted = re.match(r"error while parsing IRI '(.*)': ", message)
        found = data.find(quoted.group(1).encode()) if quoted else -1
        if found >= 0:
            return _syntax(SyntaxError(message, (None, data.count(b"\n", 0, found) + 1,
                                                 found - data.rfind(b"\n", 0, found), None)), False)
    if "LoadDocumentCallback" in message:
        message = "a remote JSON-LD context cannot be fetched (only the contexts in kg/contexts are known)"
    if renamed:
        return None, message + " (in the document after its JSON-LD context was replaced by the local copy)"
    return error.lineno, _reason(message, error.lineno, error.offset)


def _reason(message: str, line: int | None, column: int | None) -> str:
    if line is None:
        return message
    return f"line {line}" + (f" column {column}" if column else "") + f": {message}"


def _jsonld_input(data: bytes) -> tuple[bytes, bool]:
    """The bytes to hand the JSON-LD parser, with known remote contexts inlined; and whether they changed."""
    try:
        document = json.loads(data)
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8: {error.reason} at byte {error.start}") from None
    except json.JSONDecodeError as error:
        raise InputError(f"not well-formed JSON: {error.msg}", line=error.lineno, column=error.colno) from None
    if not _has_remote_context(document):
        return data, False
    return json.dumps(inline_contexts(document)).encode(), True


def _has_remote_context(node) -> bool:
    if isinstance(node, dict):
        context = node.get("@context")
        if isinstance(context, str) or (isinstance(context, list) and any(isinstance(c, str) for c in context)):
            return True
        return any(_has_remote_context(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_remote_context(v) for v in node)
    return False
