"""CSV, JSON and JSON Lines collections → RDF, through a declarative mapping.

A mapping (``*.mapping.toml``, format in ``kg/mappings/README.md``, parsed by
:mod:`kg.mappings.mapping_file`) says which files are the sources, how each record's URIs are
minted, the few string transforms SPARQL does badly, and the SPARQL CONSTRUCT queries that say
what the records mean. This reader writes no triple of its own; it

1. turns each source row into a *generic view*: the row is a blank node ``?rec a view:Record``
   with ``view:source`` the source's name, each key or column a ``src:`` property, nested objects
   blank nodes, list items repeated (object items carry ``view:index``), JSON numbers typed,
   null and "" left out, and the row's minted URIs as ``mint:{name}``;
2. adds the derived fields the mapping declares (``[[sources.derive]]``);
3. runs each source's CONSTRUCT over its rows, a batch at a time, and hands every output triple
   to the record whose minted URI is its subject (``…/tate-A00001`` and ``…/tate-A00001#title``),
   along with the foreign resources those triples point at (a thumbnail's ``edm:WebResource``);
4. runs the mapping's vocabulary queries once over all rows of all sources.

Why batches: pyoxigraph spends 1.5–3.5 ms preparing a mapping-sized query, so one query per row
took about 16 s for the 5,037 records of the Tate sample (2-core machine); one query per thousand
rows takes about 3 s. The price is a rule for mapping authors: anchor every pattern at ``?rec``,
because the rows of a batch share one graph.

>>> print(view_ntriples({"title": "Sunset", "year": 1840, "tags": [{"id": 7}], "note": None}, "r"))
_:r <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <urn:mouseion:source:Record> .
_:r <urn:mouseion:source:field/title> "Sunset" .
_:r <urn:mouseion:source:field/year> "1840"^^<http://www.w3.org/2001/XMLSchema#integer> .
_:r <urn:mouseion:source:field/tags> _:r.1 .
_:r.1 <urn:mouseion:source:index> "1"^^<http://www.w3.org/2001/XMLSchema#integer> .
_:r.1 <urn:mouseion:source:field/id> "7"^^<http://www.w3.org/2001/XMLSchema#integer> .
<BLANKLINE>
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import quote

from pyoxigraph import NamedNode, RdfFormat, Store, Triple

from kg.errors import InputError
from kg.mappings.mapping_file import PLACEHOLDER, Mapping, SourceSpec, field_values, load_mapping
from kg.readers import Item, ReadContext, Source
from kg.record import Origin, Record, Rejection, Vocabulary, mint_key

#: the generic view's own terms: ``view:Record``, ``view:index``, ``view:source``
VIEW = "urn:mouseion:source:"
#: one property per source key or column: ``src:title``
FIELD = VIEW + "field/"
#: one property per minted URI: ``mint:object``
MINT = VIEW + "mint/"
#: rows evaluated by one CONSTRUCT: large enough to amortise query preparation, small enough to
#: keep one batch's output in memory
ROWS_PER_QUERY = 1000

_XSD = "http://www.w3.org/2001/XMLSchema#"
_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
_RECORD = f"<{VIEW}Record>"
_INDEX = f"<{VIEW}index>"
_SOURCE = f"<{VIEW}source>"
_ESCAPE = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r'[\\"\n\r]')
_DECIMAL = re.compile(r"[+-]?[0-9]*\.?[0-9]+")
#: characters an IRI may not hold (RFC 3987), checked before a minted URI enters N-Triples
_NOT_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\]')


def sample_mapping_path() -> Path:
    """The bundled Tate sample collection's mapping: ``mouseion load`` it to get a working store."""
    return Path(__file__).resolve().parents[1] / "sample" / "tate.mapping.toml"


def read(source: Source, ctx: ReadContext) -> Iterator[Item]:
    """Read a ``*.mapping.toml``: rejected rows as they are read, the mapping's vocabularies,
    then one Record (or Rejection) per row, in file order.

    Source paths are relative to the mapping file. The mapping names its own datasets, so
    ``ctx.dataset`` is not used.
    """
    try:
        mapping = load_mapping(source)
    except InputError as error:
        yield Rejection.from_error(error)
        return
    yield from _Run(mapping, ctx).items()


# --- the generic view ------------------------------------------------------------------------------

def view_ntriples(row: dict[str, Any], label: str, source: str | None = None,
                  minted: dict[str, str] | None = None) -> str:
    """The generic view of one row, as N-Triples; its blank nodes are ``_:{label}`` and ``_:{label}.{n}``."""
    tail = " .\n"
    out = [f"_:{label} {_TYPE} {_RECORD}{tail}"]
    if source is not None:
        out.append(f'_:{label} {_SOURCE} "{source.translate(_ESCAPE)}"{tail}')
    for name, iri in (minted or {}).items():
        out.append(f"_:{label} <{MINT}{name}> <{iri}>{tail}")
    _walk(row, f"_:{label}", tail, out, [0])
    return "".join(out)


def _walk(obj: dict[str, Any], node: str, tail: str, out: list[str], counter: list[int]) -> None:
    # The hot loop of a load (a quarter of a million values for the Tate sample): types are
    # tested with `is`, commonest first, and strings are escaped only when they need it.
    for key, value in obj.items():
        predicate = _PREDICATES.get(key) or _predicate(key)
        in_list = type(value) is list
        for position, item in enumerate(_flatten(value), 1) if in_list else ((0, value),):
            kind = type(item)
            if kind is str:
                text = item.strip()
                if text:
                    if _NEEDS_ESCAPE.search(text):
                        text = text.translate(_ESCAPE)
                    out.append(f'{node} {predicate} "{text}"{tail}')
            elif kind is dict:
                counter[0] += 1
                child = f"{node.split('.')[0]}.{counter[0]}"
                out.append(f"{node} {predicate} {child}{tail}")
                if in_list:
                    out.append(f'{child} {_INDEX} "{position}"^^<{_XSD}integer>{tail}')
                _walk(item, child, tail, out, counter)
            elif item is None:
                continue
            elif kind is bool:
                out.append(f'{node} {predicate} "{str(item).lower()}"^^<{_XSD}boolean>{tail}')
            elif kind is int:
                out.append(f'{node} {predicate} "{item}"^^<{_XSD}integer>{tail}')
            elif kind is Decimal or kind is float:
                text = str(item)
                datatype = "decimal" if _DECIMAL.fullmatch(text) else "double"  # 1E+2 is no xsd:decimal
                out.append(f'{node} {predicate} "{text}"^^<{_XSD}{datatype}>{tail}')
            else:
                text = str(item).strip()
                if text:
                    out.append(f'{node} {predicate} "{text.translate(_ESCAPE)}"{tail}')


def _flatten(items: Any) -> Iterator[Any]:
    for item in items:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


_PREDICATES: dict[str, str] = {}


def _predicate(key: str) -> str:
    found = _PREDICATES.get(key)
    if found is None:
        found = _PREDICATES[key] = f"<{FIELD}{quote(key, safe='-_.~')}>"
    return found



# --- reading rows ---------------------------------------------------------------------------------

def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _rows(spec: SourceSpec) -> Iterator[tuple[int | None, dict[str, Any]] | Rejection]:
    """(line, row) for each record of a data file; a Rejection for each row that cannot be read."""
    where = str(spec.path)
    try:
        data = spec.path.read_bytes()
    except OSError as error:
        yield Rejection(Origin(where), [f"cannot be read: {error.strerror}"])
        return
    if spec.format == "jsonl":
        yield from _jsonl_rows(data, where)
    elif spec.format == "json":
        yield from _json_rows(data, where, spec)
    else:
        yield from _csv_rows(data, where, spec)


def _jsonl_rows(data: bytes, where: str) -> Iterator[tuple[int | None, dict[str, Any]] | Rejection]:
    for number, raw in enumerate(data.split(b"\n"), 1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
        except UnicodeDecodeError as error:
            yield Rejection(Origin(where, line=number), [f"not UTF-8: {error.reason} at byte {error.start + 1}"])
            continue
        except (json.JSONDecodeError, ValueError) as error:
            message = (f"invalid JSON: {error.msg} (column {error.colno})"
                       if isinstance(error, json.JSONDecodeError) else f"invalid JSON: {error}")
            yield Rejection(Origin(where, line=number), [message])
            continue
        if not isinstance(row, dict):
            yield Rejection(Origin(where, line=number), [f"a line must hold a JSON object, not {type(row).__name__}"])
            continue
        yield number, row


def _json_rows(data: bytes, where: str, spec: SourceSpec) -> Iterator[tuple[int | None, dict[str, Any]] | Rejection]:
    try:
        doc = json.loads(data.decode(spec.encoding), parse_float=Decimal, parse_constant=_reject_constant)
    except UnicodeDecodeError as error:
        yield Rejection(Origin(where, line=data[:error.start].count(b"\n") + 1), [f"not {spec.encoding}: {error.reason}"])
        return
    except json.JSONDecodeError as error:
        yield Rejection(Origin(where, line=error.lineno), [f"invalid JSON: {error.msg} (column {error.colno})"])
        return
    except ValueError as error:
        yield Rejection(Origin(where), [f"invalid JSON: {error}"])
        return
    containers = field_values(doc, spec.records) if spec.records else [doc]
    if not containers:
        yield Rejection(Origin(where), [f"no {spec.records!r} in this JSON document"])
        return
    for container in containers:
        if spec.entries and isinstance(container, dict):
            for key, value in container.items():
                yield None, {"key": key, "value": value}
        elif isinstance(container, dict):
            yield None, container
        elif isinstance(container, list):
            for position, item in enumerate(container, 1):
                if isinstance(item, dict):
                    yield None, item
                else:
                    yield Rejection(Origin(where, record=f"item {position}"), ["a record must be a JSON object"])
        else:
            yield Rejection(Origin(where), ["records must be JSON objects or a list of objects"])


def _csv_rows(data: bytes, where: str, spec: SourceSpec) -> Iterator[tuple[int | None, dict[str, Any]] | Rejection]:
    try:
        text = data.decode(spec.encoding)
    except UnicodeDecodeError as error:
        yield Rejection(Origin(where, line=data[:error.start].count(b"\n") + 1), [f"not {spec.encoding}: {error.reason}"])
        return
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=spec.delimiter)
    header: list[str] | None = None
    last = 0
    try:
        for cells in reader:
            first, last = last + 1, reader.line_num
            if not cells:
                continue
            if header is None:
                header = [c.strip() for c in cells]
                continue
            if len(cells) != len(header):
                yield Rejection(Origin(where, line=first),
                                [f"row has {len(cells)} columns, the header has {len(header)}"])
                continue
            yield first, {name: value for name, value in zip(header, cells) if name}
    except csv.Error as error:
        yield Rejection(Origin(where, line=last + 1), [f"CSV syntax error: {error}"])


# --- running a mapping -----------------------------------------------------------------------------

@dataclass
class _Row:
    id: str | None
    line: int | None
    #: name → minted URI
    uris: dict[str, str]


@dataclass
class _Source:
    spec: SourceSpec
    index: int
    rows: list[_Row]


class _Run:
    def __init__(self, mapping: Mapping, ctx: ReadContext) -> None:
        self.mapping, self.ctx = mapping, ctx
        self.base = ctx.uris.base
        self.store = Store()
        self.sources: list[_Source] = []
        #: every minted URI of every source: a record's triples never reach into another's
        self.minted: set[str] = set()

    def items(self) -> Iterator[Item]:
        for index, spec in enumerate(self.mapping.sources):
            yield from self.load(index, spec)
        yield from self.vocabularies()
        for source in self.sources:
            if source.spec.query is not None:
                for start in range(0, len(source.rows), ROWS_PER_QUERY):
                    yield from self.records(source, start)

    def load(self, index: int, spec: SourceSpec) -> Iterator[Rejection]:
        """Read one source's rows into the store: one graph per batch of ROWS_PER_QUERY rows."""
        where = str(spec.path)
        if spec.path.stat().st_size > self.ctx.settings.max_file_bytes:
            yield Rejection(Origin(where), [f"file is larger than {self.ctx.settings.max_file_bytes} bytes"])
            return
        source = _Source(spec, index, [])
        chunks: list[bytes] = []
        first_line: dict[str, int | None] = {}
        for item in _rows(spec):
            if isinstance(item, Rejection):
                yield item
                continue
            line, data = item
            number = len(source.rows)
            try:
                row = self.prepare(spec, data, line, first_line)
                chunks.append(view_ntriples(data, f"s{index}r{number}", spec.name, row.uris).encode("utf-8"))
            except InputError as error:
                yield Rejection(Origin(where, error.record, line), [error.message], key=_key(spec, error.record))
                continue
            except UnicodeEncodeError:
                yield Rejection(Origin(where, _id_of(spec, data), line), ["text holds an invalid Unicode character"])
                continue
            source.rows.append(row)
            self.minted.update(row.uris.values())
            if len(chunks) == ROWS_PER_QUERY:
                yield from self.load_batch(source, chunks)
                chunks = []
        if chunks:
            yield from self.load_batch(source, chunks)
        self.sources.append(source)

    def load_batch(self, source: _Source, chunks: list[bytes]) -> Iterator[Rejection]:
        """Load the views of the last ``len(chunks)`` rows into their batch's graph."""
        batch = (len(source.rows) - 1) // ROWS_PER_QUERY
        try:
            self.store.load(b"".join(chunks), format=RdfFormat.N_TRIPLES, to_graph=_graph(source.index, batch))
        except (SyntaxError, ValueError) as error:  # the view is generated, so this is a bug, but say where
            first = batch * ROWS_PER_QUERY
            lost = source.rows[first:]
            del source.rows[first:]
            yield Rejection(Origin(str(source.spec.path)), [
                f"rows {first + 1}–{first + len(lost)} could not be read into the source view: {error}"])

    def prepare(self, spec: SourceSpec, data: dict[str, Any], line: int | None,
                first_line: dict[str, int | None]) -> _Row:
        """Check the id, add derived fields and mint the record's URIs (errors name the record)."""
        record_id = _id_of(spec, data)
        if spec.id and record_id is None:
            raise InputError(f"no record id: field {spec.id!r} is missing or empty")
        if record_id is not None:
            if record_id in first_line:
                seen = first_line[record_id]
                raise InputError(f"duplicate record id {record_id!r}" + (f" (first on line {seen})" if seen else ""),
                                 record=record_id)
            first_line[record_id] = line
        for derive in spec.derive:
            if derive.into in data:
                raise InputError(f"derived field {derive.into!r} would hide a source field of that name",
                                 record=record_id)
            parts = derive.apply(data)
            if parts:
                data[derive.into] = parts
        uris = {name: self.base + _fill(template, data, record_id) for name, template in spec.uris.items()}
        for iri in uris.values():
            if _NOT_IRI.search(iri):
                raise InputError(f"minted URI {iri!r} is not a valid IRI", record=record_id)
            if iri in self.minted:  # its triples could not be told apart from the other record's
                raise InputError(f"minted URI {iri!r} was minted for another record already", record=record_id)
        return _Row(record_id, line, uris)

    def vocabularies(self) -> Iterator[Vocabulary | Rejection]:
        collected: dict[str, set[Triple]] = {}
        for name, query in self.mapping.vocabularies:
            triples = self.store.query(query.text, use_default_graph_as_union=True,
                                       substitutions=query.bindings({**self.mapping.params, "base": self.base}))
            collected.setdefault(name, set()).update(triples)
        for name, triples in collected.items():
            problem = next(filter(None, (_problem(str(t)) for t in triples)), None)
            if problem:
                yield Rejection(Origin(self.mapping.file), [f"vocabulary {name!r}: {problem}"])
            else:
                yield Vocabulary(name, sorted(triples, key=str), Origin(self.mapping.file))

    def records(self, source: _Source, start: int) -> Iterator[Record | Rejection]:
        """Run the source's CONSTRUCT over one batch and hand each triple to its record."""
        spec, batch = source.spec, source.rows[start:start + ROWS_PER_QUERY]
        assert spec.query is not None and spec.dataset is not None
        values = {**spec.params, "base": self.base, "dataset": spec.dataset}
        triples = self.store.query(spec.query.text, default_graph=_graph(source.index, start // ROWS_PER_QUERY),
                                   substitutions=spec.query.bindings(values))
        owned, stray = _attribute(triples, batch, self.minted)
        for number, row in enumerate(batch):
            yield self.record(spec, row, owned.get(number, {}))
        if stray:
            yield Rejection(Origin(self.mapping.file), [
                f"{spec.query.path}: {len(stray)} triples belong to no record of source {spec.name!r} "
                f"(their subject is neither a URI a record minted nor reached from one), e.g. {min(stray)}"])

    def record(self, spec: SourceSpec, row: _Row, triples: dict[str, Triple]) -> Record | Rejection:
        assert spec.query is not None and spec.dataset is not None and row.id is not None
        origin = Origin(str(spec.path), row.id, row.line)
        key = mint_key(spec.dataset, row.id)
        problem = next(filter(None, map(_problem, triples)), None)
        if not triples:
            problem = f"the mapping ({spec.query.path}) produced no triples for this record"
        elif len(triples) > self.ctx.settings.max_record_triples:
            problem = f"{len(triples)} triples exceed the limit of {self.ctx.settings.max_record_triples}"
        if problem:
            return Rejection(origin, [problem], key=key)
        focus = NamedNode(row.uris[spec.focus]) if spec.focus else None
        # sorted by their N-Triples form: the same input gives byte-identical records
        return Record(key=key, dataset=spec.dataset, triples=[triples[text] for text in sorted(triples)],
                      origin=origin, format=self.mapping.name, focus=focus)


def _graph(source: int, batch: int) -> NamedNode:
    return NamedNode(f"{VIEW}graph/{source}/{batch}")


def _attribute(triples: Iterable[Triple], rows: list[_Row],
               minted: set[str]) -> tuple[dict[int, dict[str, Triple]], set[str]]:
    """Split one batch's output by record: (row number → {N-Triples line: triple}, stray lines).

    A triple about ``…/tate-A00001`` or ``…/tate-A00001#title`` belongs to the row that minted
    ``…/tate-A00001``. A triple about a resource no row minted (a thumbnail URL) belongs to every
    record that points at it, directly or through other such resources. Nothing crosses into a
    resource another record minted: that record says what it says itself. Works on the N-Triples
    form of each triple, which is cheaper than asking pyoxigraph for its terms.
    """
    owner = {f"<{iri}": number for number, row in enumerate(rows) for iri in row.uris.values()}
    boundary = {f"<{iri}" for iri in minted}
    owned: dict[int, dict[str, Triple]] = defaultdict(dict)
    foreign: dict[str, dict[str, Triple]] = defaultdict(dict)
    stray: set[str] = set()
    for triple in triples:
        text = str(triple)
        subject = text[:text.index(" ")]
        minted_by = subject.split("#", 1)[0].rstrip(">")
        if minted_by in owner:
            owned[owner[minted_by]][text] = triple
        elif minted_by in boundary or not subject.startswith("<"):
            stray.add(text)
        else:
            foreign[subject][text] = triple
    reached: set[str] = set()
    for mine in owned.values():
        queue = [o for o in map(_object_iri, list(mine)) if o in foreign]
        seen: set[str] = set()
        while queue:
            subject = queue.pop()
            if subject not in seen:
                seen.add(subject)
                mine.update(foreign[subject])
                queue.extend(o for o in map(_object_iri, foreign[subject]) if o in foreign)
        reached |= seen
    for subject, about in foreign.items():
        if subject not in reached:
            stray.update(about)
    return owned, stray


def _object_iri(text: str) -> str | None:
    """``<s> <p> <o>`` → ``<o>``; None when the object is a literal or a blank node."""
    obj = text.split(" ", 2)[2]
    return obj if obj.startswith("<") else None


def _id_of(spec: SourceSpec, data: dict[str, Any]) -> str | None:
    if not spec.id:
        return None
    values = field_values(data, spec.id)
    if not values or isinstance(values[0], (dict, list)):
        return None
    text = str(values[0]).strip()
    return text or None


def _key(spec: SourceSpec, record_id: str | None) -> str | None:
    return mint_key(spec.dataset, record_id) if spec.dataset and record_id else None


def _fill(template: str, data: dict[str, Any], record_id: str | None) -> str:
    """``id/object/tate-{id}`` → ``id/object/tate-A00001``; values percent-encoded as ENCODE_FOR_URI does."""
    def value(found: re.Match[str]) -> str:
        name = found.group(1)
        values = [record_id] if name == "id" and record_id is not None else field_values(data, name)
        if not values or isinstance(values[0], (dict, list)) or not str(values[0]).strip():
            raise InputError(f"field {name!r} (needed to mint a URI) is missing or empty", record=record_id)
        return quote(str(values[0]).strip(), safe="")
    return PLACEHOLDER.sub(value, template)


def _problem(text: str) -> str | None:
    """Mapped output must be stable and self-contained: no blank nodes, nothing of the source view.

    ``text`` is the triple in N-Triples, whose terms are separated by single spaces (IRIs and
    blank node labels hold none; a literal object may, so it is split off last).
    """
    if "_:" not in text and VIEW not in text:
        return None  # the common case, decided without splitting
    subject, predicate, obj = text.split(" ", 2)
    if subject.startswith("_:") or obj.startswith("_:"):
        return f"the mapping produced a blank node ({text}); mint a hash URI instead"
    if any(term.startswith("<" + VIEW) for term in (subject, predicate, obj)):
        return f"the mapping leaked a term of the source view ({text})"
    return None
