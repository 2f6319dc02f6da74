"""The mapping file: a ``*.mapping.toml`` read, checked and turned into a :class:`Mapping`.

The format is documented for mapping authors in ``kg/mappings/README.md``; this module is its
only implementation. Everything is checked before a single row is read, so a broken mapping is
one error naming the mapping file (and the line, where one can be found), never a half-done load.

>>> load_mapping(Source("x.mapping.toml", b"title = 'Tate'"))
Traceback (most recent call last):
...
kg.errors.InputError: x.mapping.toml:1: unknown top-level key 'title' (known: mapping, params, sources, tables, vocabularies)
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pyoxigraph import Literal, NamedNode, QueryTriples, Store, Variable

from kg.errors import InputError
from kg.readers import Source
from kg.record import slug

FORMATS = ("jsonl", "json", "csv")
#: the transforms of a ``[[sources.derive]]`` table, applied to each value in this order
TRANSFORMS = ("split", "lower", "match", "table", "unknown", "slug")
#: parameters the engine binds itself: the base URI and the source's dataset name
ENGINE_PARAMS = frozenset({"base", "dataset"})

_XSD = "http://www.w3.org/2001/XMLSchema#"
_VARIABLE = re.compile(r"[?$]([A-Za-z_][A-Za-z0-9_]*)")
#: a ``{field}`` in a URI template
PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")
_MAPPING_KEYS = {"mapping", "params", "sources", "vocabularies", "tables"}
_HEADER_KEYS = {"name", "description", "licence", "source"}
_SOURCE_KEYS = {"name", "path", "format", "id", "dataset", "query", "uris", "focus", "derive", "params",
                "delimiter", "encoding", "records", "entries"}
_VOCABULARY_KEYS = {"name", "query"}


@dataclass(frozen=True)
class Query:
    """One CONSTRUCT file, read and checked when the mapping is loaded."""

    path: str
    text: str
    #: variable names the text mentions: only those parameters are substituted
    variables: frozenset[str]

    def bindings(self, values: dict[str, Any]) -> dict[Variable, Literal]:
        """Parameters as literals for pyoxigraph's ``substitutions``: bound values, never query text.

        >>> q = Query("q.rq", "CONSTRUCT {} WHERE { VALUES ?base { UNDEF } }", frozenset({"base"}))
        >>> q.bindings({"base": "http://x/", "unused": 1})
        {<Variable value=base>: <Literal value=http://x/ datatype=<NamedNode value=http://www.w3.org/2001/XMLSchema#string>>}
        """
        return {Variable(name): _literal(value) for name, value in values.items() if name in self.variables}


def _literal(value: Any) -> Literal:
    if isinstance(value, bool):
        return Literal(str(value).lower(), datatype=NamedNode(_XSD + "boolean"))
    if isinstance(value, int):
        return Literal(str(value), datatype=NamedNode(_XSD + "integer"))
    if isinstance(value, float):
        return Literal(repr(value), datatype=NamedNode(_XSD + "double"))
    return Literal(str(value))


@dataclass(frozen=True)
class Derive:
    """A named field computed from another before the CONSTRUCT runs (``[[sources.derive]]``).

    Each value of ``field`` is split, lower-cased, matched, looked up and slugged, in that order
    (each step optional); every part that survives becomes one node of ``src:{into}`` carrying
    ``src:value`` plus ``src:slug``, the regex's named groups and the table row's columns.

    >>> d = Derive("medium", "material", split=re.compile(r",\\s*|\\s+and\\s+|\\s+on\\s+"), lower=True,
    ...            table={"oil": {"value": "oil paint"}, "oil paint": {"aat": "300015050"}, "canvas": {}},
    ...            drop_unknown=True, slug=True)
    >>> d.apply({"medium": "Oil, sand and chalk on canvas"})
    [{'value': 'oil paint', 'aat': '300015050', 'slug': 'oil-paint'}, {'value': 'canvas', 'slug': 'canvas'}]
    """

    field: str
    into: str
    split: re.Pattern[str] | None = None
    lower: bool = False
    match: re.Pattern[str] | None = None
    table: dict[str, dict[str, Any]] | None = None
    drop_unknown: bool = False
    slug: bool = False

    def apply(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        seen: set[str] = set()
        for raw in field_values(row, self.field):
            if isinstance(raw, (dict, list)):
                continue
            pieces = self.split.split(str(raw)) if self.split else [str(raw)]
            for piece in pieces:
                part = self._transform((piece or "").strip())
                if part is not None and part["value"] not in seen:
                    seen.add(part["value"])
                    parts.append(part)
        return parts

    def _transform(self, value: str) -> dict[str, Any] | None:
        if not value:
            return None
        if self.lower:
            value = value.lower()
        columns: dict[str, Any] = {}
        if self.match is not None:
            found = self.match.search(value)
            if found is None:
                return None
            columns.update({k: v for k, v in found.groupdict().items() if v is not None})
            value = str(columns.pop("value", value))
        if self.table is not None:
            row = self.table.get(value)
            if row is None:
                if self.drop_unknown:
                    return None
            else:
                row = dict(row)
                alias = row.pop("value", None)
                if alias is not None:
                    # one level of aliasing: "oil" → "oil paint" takes the "oil paint" row's columns
                    target = {k: v for k, v in self.table.get(str(alias), {}).items() if k != "value"}
                    row = {**target, **row}
                    value = str(alias)
                columns.update(row)
        if self.slug:
            columns["slug"] = slug(value)
        return {"value": value, **columns}


@dataclass(frozen=True)
class SourceSpec:
    """One ``[[sources]]`` table: a data file and what to do with each of its rows."""

    name: str
    path: Path
    format: str
    #: the field holding the record id (dotted path for nested JSON)
    id: str | None = None
    dataset: str | None = None
    #: the CONSTRUCT run over these rows; a source without one only feeds the vocabulary queries
    query: Query | None = None
    #: name → URI template relative to the base, e.g. ``object = "id/object/tate-{id}"``; each row
    #: carries its minted URIs in the view as ``mint:{name}``
    uris: dict[str, str] = field(default_factory=dict)
    #: which of ``uris`` is the record's principal resource
    focus: str | None = None
    derive: tuple[Derive, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    #: JSON only: dotted path to the list (or object) that holds the records
    records: str | None = None
    #: JSON only: the records are an object's entries, read as ``{"key": k, "value": v}``
    entries: bool = False


@dataclass(frozen=True)
class Mapping:
    file: str
    name: str
    sources: tuple[SourceSpec, ...]
    #: (vocabulary name, query) in file order; several queries may feed one vocabulary
    vocabularies: tuple[tuple[str, Query], ...]
    params: dict[str, Any]


def load_mapping(source: Source) -> Mapping:
    """Parse and check a mapping file: every error is an ``InputError`` naming the mapping file."""
    where = source.name
    try:
        text = source.data.decode("utf-8-sig")
        doc = tomllib.loads(text)
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8: {error.reason}", file=where,
                         line=source.data[:error.start].count(b"\n") + 1) from None
    except tomllib.TOMLDecodeError as error:
        found = _TOML_LINE.search(str(error))
        message = _TOML_LINE.sub("", str(error)).strip()
        raise InputError(f"TOML syntax error: {message}", file=where,
                         line=int(found.group(1)) if found else None,
                         column=int(found.group(2)) if found else None) from None
    return _MappingParser(where, text, Path(source.name).parent).parse(doc)


class _MappingParser:
    """Checks a parsed TOML document key by key, so that a typo fails loudly with its line."""

    def __init__(self, file: str, text: str, folder: Path) -> None:
        self.file, self.text, self.folder = file, text, folder
        self.queries: dict[Path, Query] = {}

    def fail(self, message: str, key: str | None = None) -> InputError:
        return InputError(message, file=self.file, line=self.line_of(key) if key else None)

    def line_of(self, key: str) -> int | None:
        """First line that assigns ``key`` (or opens a table of that name): good enough to point at."""
        found = re.search(rf"^\s*(?:\[+\s*)?[\"']?{re.escape(key)}[\"']?\s*(?:=|\])", self.text, re.M)
        return self.text.count("\n", 0, found.start()) + 1 if found else None

    def parse(self, doc: dict[str, Any]) -> Mapping:
        self.unknown(doc, _MAPPING_KEYS, "top-level key")
        header = self.table(doc.get("mapping", {}), "mapping")
        self.unknown(header, _HEADER_KEYS, "key in [mapping]")
        name = header.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self.fail("[mapping] needs a name (it is the records' format in reports)", "mapping")
        params = self.params(doc.get("params", {}), "params")
        tables = self.table(doc.get("tables", {}), "tables")
        for table_name, rows in tables.items():
            for term, row in self.table(rows, table_name).items():
                self.table(row, term)
        sources_raw = doc.get("sources", [])
        if not isinstance(sources_raw, list) or not sources_raw:
            raise self.fail("a mapping needs at least one [[sources]] table", "sources")
        sources = tuple(self.source(raw, tables, params) for raw in sources_raw)
        names = [s.name for s in sources]
        for n in names:
            if names.count(n) > 1:
                raise self.fail(f"two sources are named {n!r}", n)
        vocabularies = []
        for raw in doc.get("vocabularies", []):
            raw = self.table(raw, "vocabularies")
            self.unknown(raw, _VOCABULARY_KEYS, "key in [[vocabularies]]")
            vocab_name = self.string(raw, "name", "[[vocabularies]]")
            query = self.query(self.string(raw, "query", f"vocabulary {vocab_name!r}"))
            self.check_query(query, set(params) | {"base"})
            vocabularies.append((vocab_name, query))
        return Mapping(self.file, name.strip(), sources, tuple(vocabularies), params)

    def source(self, raw: Any, tables: dict[str, Any], params: dict[str, Any]) -> SourceSpec:
        raw = self.table(raw, "sources")
        self.unknown(raw, _SOURCE_KEYS, "key in [[sources]]")
        name = self.string(raw, "name", "[[sources]]")
        fmt = self.string(raw, "format", f"source {name!r}")
        if fmt not in FORMATS:
            raise self.fail(f"source {name!r}: unknown format {fmt!r} (known: {', '.join(FORMATS)})", "format")
        path = self.folder / self.string(raw, "path", f"source {name!r}")
        if not path.is_file():
            raise self.fail(f"source {name!r}: data file not found: {os.path.normpath(path)}", "path")
        derive = tuple(self.derive(d, tables, name) for d in raw.get("derive", []))
        uris = {k: self.string(raw["uris"], k, f"source {name!r} uris") for k in self.table(raw.get("uris", {}), "uris")}
        for uri_name, template in uris.items():
            if not _NAME.fullmatch(uri_name) or "://" in template or not PLACEHOLDER.search(template):
                raise self.fail(f"source {name!r}: uri {uri_name!r} must be a simple name with a template "
                                f"relative to the base URI holding a {{field}}, like \"id/object/x-{{id}}\"", uri_name)
        own = self.params(raw.get("params", {}), "params")
        for clash in set(own) & ENGINE_PARAMS:
            raise self.fail(f"source {name!r}: parameter {clash!r} is bound by the engine", clash)
        spec = SourceSpec(
            name=name, path=Path(os.path.normpath(path)), format=fmt,
            id=raw.get("id"), dataset=raw.get("dataset"), uris=uris, focus=raw.get("focus"),
            derive=derive, params={**params, **own},
            delimiter=raw.get("delimiter", ","), encoding=raw.get("encoding", "utf-8-sig"),
            records=raw.get("records"), entries=bool(raw.get("entries", False)),
        )
        if "query" in raw:
            if not spec.id or not spec.dataset:
                raise self.fail(f"source {name!r} has a query, so it needs `id` and `dataset`", "query")
            if spec.focus is not None and spec.focus not in uris:
                raise self.fail(f"source {name!r}: focus {spec.focus!r} is not one of its uris", "focus")
            query = self.query(self.string(raw, "query", f"source {name!r}"))
            self.check_query(query, set(spec.params) | ENGINE_PARAMS)
            spec = replace(spec, query=query)
        if len(spec.delimiter) != 1:
            raise self.fail(f"source {name!r}: delimiter must be one character", "delimiter")
        return spec

    def derive(self, raw: Any, tables: dict[str, Any], source: str) -> Derive:
        raw = self.table(raw, "derive")
        for key in raw:
            if key not in TRANSFORMS and key not in ("field", "into"):
                raise self.fail(f"source {source!r}: unknown transform {key!r} "
                                f"(known: {', '.join(TRANSFORMS)})", key)
        into = self.string(raw, "into", f"source {source!r} derive")
        table = None
        if "table" in raw:
            if raw["table"] not in tables:
                raise self.fail(f"derive {into!r}: no [tables.{raw['table']}] in this mapping", "table")
            table = {str(term).lower() if raw.get("lower") else str(term): dict(row)
                     for term, row in tables[raw["table"]].items()}
        unknown = raw.get("unknown", "keep")
        if unknown not in ("keep", "drop"):
            raise self.fail(f"derive {into!r}: unknown must be \"keep\" or \"drop\"", "unknown")
        return Derive(field=self.string(raw, "field", f"derive {into!r}"), into=into,
                      split=self.regex(raw, "split", into), lower=bool(raw.get("lower", False)),
                      match=self.regex(raw, "match", into), table=table,
                      drop_unknown=unknown == "drop", slug=bool(raw.get("slug", False)))

    def regex(self, raw: dict[str, Any], key: str, into: str) -> re.Pattern[str] | None:
        if key not in raw:
            return None
        try:
            return re.compile(self.string(raw, key, f"derive {into!r}"))
        except re.error as error:
            raise self.fail(f"derive {into!r}: {key} is not a valid regular expression: {error}", key) from None

    def query(self, relative: str) -> Query:
        path = Path(os.path.normpath(self.folder / relative))
        if path not in self.queries:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise self.fail(f"query {relative}: cannot be read: {error}", "query") from None
            self.queries[path] = Query(relative, text, frozenset(_VARIABLE.findall(text)))
        return self.queries[path]

    def check_query(self, query: Query, params: set[str]) -> None:
        """Run the query on an empty store: syntax errors and undeclared parameters surface now."""
        values = {name: "" for name in params} | {"base": "http://localhost/"}
        try:
            result = Store().query(query.text, substitutions=query.bindings(values))
        except SyntaxError as error:
            raise self.fail(f"query {query.path}: SPARQL syntax error: {error}", "query") from None
        except (RuntimeError, ValueError, OSError) as error:
            raise self.fail(f"query {query.path}: {error} (declare each parameter the query uses "
                            f"with `VALUES ?name {{ UNDEF }}`)", "query") from None
        if not isinstance(result, QueryTriples):
            raise self.fail(f"query {query.path}: must be a CONSTRUCT query", "query")

    def table(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"{key} must be a table", key)
        return value

    def string(self, table: dict[str, Any], key: str, context: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{context}: `{key}` must be a non-empty string", key)
        return value

    def params(self, raw: Any, key: str) -> dict[str, Any]:
        for name, value in self.table(raw, key).items():
            if not isinstance(value, (str, int, float, bool)):
                raise self.fail(f"parameter {name!r} must be a string, number or boolean", name)
        return dict(raw)

    def unknown(self, table: dict[str, Any], known: set[str], what: str) -> None:
        for key in table:
            if key not in known:
                raise self.fail(f"unknown {what} {key!r} (known: {', '.join(sorted(known))})", key)


def field_values(row: dict[str, Any], path: str) -> list[Any]:
    """Every value at a dotted path; lists on the way are flattened.

    >>> field_values({"a": [{"b": 1}, {"b": 2}], "c": None}, "a.b"), field_values({"c": None}, "c")
    ([1, 2], [])
    """
    values: list[Any] = [row]
    for step in path.split("."):
        found: list[Any] = []
        for value in values:
            if isinstance(value, dict) and step in value:
                item = value[step]
                found.extend(item if isinstance(item, list) else [item])
        values = found
    return [v for v in values if v is not None and v != ""]


