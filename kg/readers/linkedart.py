"""Linked Art JSON-LD documents (https://linked.art/api/1.0/): one document, one record.

The document's top-level ``id`` is the record's focus; its key is ``mint_key(dataset, id)`` with the
site base stripped when the id starts with it (dataset ``linked-art`` unless one is given). A document
with no top-level ``id`` describes a blank node: it still reads, keyed by its file name. Embedded
nodes without ``id`` become blank nodes of the record. A file may also hold a JSON array of
documents, or JSON Lines (one document a line): each document is a record.

The Linked Art context is read from ``kg/contexts`` (pruned to the terms the document uses, which
is what makes this fast — see ``kg.contexts.inline_contexts``); a document naming another remote
context is refused. Not well-formed JSON is rejected with line and column.

>>> import json
>>> from kg.readers import ReadContext, Source
>>> from kg.record import Uris
>>> from kg.settings import Settings
>>> doc = {"@context": "https://linked.art/ns/v1/linked-art.json", "id": "https://example.org/object/1",
...        "type": "HumanMadeObject", "_label": "Jar",
...        "identified_by": [{"type": "Name", "content": "Storage jar"}]}
>>> [record] = read(Source("jar.json", json.dumps(doc).encode()), ReadContext(Uris("http://localhost:8000/"), Settings()))
>>> record.key, record.focus.value, len(record.triples)
('linked-art/https:%2F%2Fexample.org%2Fobject%2F1', 'https://example.org/object/1', 5)
"""

from __future__ import annotations

import json
import operator
import re
from pathlib import PurePosixPath
from typing import Any, Iterator
from urllib.parse import urljoin

import pyoxigraph as ox
from pyoxigraph import NamedNode

from kg.contexts import inline_contexts
from kg.errors import InputError
from kg.readers import Item, ReadContext, Source
from kg.readers.rdf import oversized_literal
from kg.record import Origin, Record, Rejection, mint_key
from kg.sources import member_name, source_base

FORMAT = "linked-art"
DATASET = "linked-art"

_TRIPLE = operator.attrgetter("triple")
_POSITION = re.compile(r"^Parser error (at|between) [^:]*: ")


def read(source: Source, ctx: ReadContext) -> Iterator[Item]:
    """One record per Linked Art document in the file."""
    dataset = ctx.dataset or DATASET
    try:
        documents = _documents(source.data)
    except InputError as error:
        yield Rejection.from_error(InputError(error.message, file=source.name, line=error.line,
                                              column=error.column))
        return
    for number, (line, document) in enumerate(documents, 1):
        yield _record(source, ctx, dataset, document, line, number if len(documents) > 1 else None)


def _documents(data: bytes) -> list[tuple[int | None, Any]]:
    """(line, document) for the one document, each of an array, or each line of JSON Lines."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(f"not UTF-8: {error.reason} at byte {error.start}", line=line) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg != "Extra data":
            raise InputError(f"not well-formed JSON: {error.msg}", line=error.lineno, column=error.colno) from None
        return _json_lines(text)
    if isinstance(document, list):
        return [(None, d) for d in document]
    return [(None, document)]


def _json_lines(text: str) -> list[tuple[int | None, Any]]:
    documents = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                documents.append((number, json.loads(line)))
            except json.JSONDecodeError as error:
                raise InputError(f"not well-formed JSON: {error.msg}", line=number, column=error.colno) from None
    return documents


def _record(source: Source, ctx: ReadContext, dataset: str, document: Any, line: int | None,
            number: int | None) -> Item:
    base = source_base(ctx.uris, dataset)
    if not isinstance(document, dict):
        return Rejection(Origin(source.name, line=line), [f"a Linked Art document is a JSON object, not "
                                                          f"{type(document).__name__}"])
    identifier = document.get("id", document.get("@id"))
    if identifier is not None and not isinstance(identifier, str):
        return Rejection(Origin(source.name, line=line), [f"the top-level id is not a string: {identifier!r}"])
    focus = urljoin(base, identifier.strip()) if identifier else None
    stem = PurePosixPath(member_name(source.name)).name.split(".")[0]
    local = _local(focus, ctx.uris.base, base) if focus else stem + (f"-{number}" if number else "")
    try:
        key = mint_key(dataset, local)
    except InputError as error:
        return Rejection(Origin(source.name, line=line), [error.message])
    origin = Origin(source.name, key, line)
    try:
        data = json.dumps(inline_contexts(document)).encode()
        triples = [q.triple for q in ox.parse(data, ox.RdfFormat.JSON_LD, base_iri=base, without_named_graphs=True,
                                              rename_blank_nodes=True)]
    except InputError as error:
        return Rejection(origin, [error.message], key)
    except SyntaxError as error:
        message = _POSITION.sub("", str(error.msg))
        return Rejection(origin, [f"JSON-LD: {message}"], key)
    settings = ctx.settings
    if len(triples) > settings.max_record_triples:
        return Rejection(origin, [f"{len(triples)} triples exceed the limit of {settings.max_record_triples} "
                                  f"per record (MOUSEION_MAX_RECORD_TRIPLES)"], key)
    if len(data) > settings.max_literal_bytes:
        too_long = oversized_literal(triples, settings.max_literal_bytes)
        if too_long:
            return Rejection(origin, [too_long], key)
    warnings = [] if focus else ["the document has no top-level id: its key comes from the file name"]
    try:
        node = NamedNode(focus) if focus else None
    except ValueError as error:
        return Rejection(origin, [f"the top-level id {identifier!r} is not an IRI: {error}"], key)
    return Record(key, dataset, triples, origin, format=FORMAT, focus=node, warnings=warnings)


def _local(iri: str, site_base: str, source: str) -> str:
    for prefix in (source, site_base):
        if iri.startswith(prefix) and len(iri) > len(prefix):
            return iri[len(prefix):]
    return iri
