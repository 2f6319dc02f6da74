"""EDM records in RDF/XML, as Europeana's providers really write them.

One file is one record: an ``rdf:RDF`` holding one ``edm:ProvidedCHO``, its ``ore:Aggregation``,
proxies, and the contextual resources (``edm:Agent``, ``edm:Place``, ``edm:TimeSpan``, ``skos:Concept``,
``edm:WebResource``, ``cc:License``, ``svcs:Service`` ...). Every statement of the file stays in the
record (EDM in, EDM out without loss). The record's focus is the CHO; its key is
``mint_key(dataset, CHO IRI)`` with the dataset base or ``http://data.europeana.eu/item/`` stripped, so
``/08502/X`` read into dataset ``d`` and ``http://data.europeana.eu/item/08502/X`` both get ``d/08502%2FX``.

Why our own walk over the lxml tree rather than an RDF/XML library: real EDM needs repairs at the
XML level that an RDF/XML parser refuses or hides (IRIs with spaces, relative IRIs with no base),
Europeana's XML-level content rules must be checked with line numbers, and the walk over the flat
EDM shape is fast enough (about 2,000 records/s on ``test_batch.zip`` on a 2-vCPU machine; the
bare RDF/XML parser would be at most a third faster once the repairs are done). The walk covers node and
property elements, ``rdf:about``/``rdf:ID``/``rdf:nodeID``, ``rdf:resource``, ``rdf:datatype``,
``xml:lang`` and ``xml:base`` (inherited), property attributes, nested node elements, ``rdf:li`` and
``rdf:parseType="Resource"``. A document that uses what EDM never does (``rdf:parseType="Literal"`` or
``"Collection"``, reification with ``rdf:ID`` on a property) is repaired the same way and then handed to
pyoxigraph's RDF/XML parser.

Decisions, in the order a file meets them:

- **Relative IRIs** with no ``xml:base`` resolve against ``{base}source/{dataset}/`` (RFC 3986), except
  that a leading ``/`` is taken as relative to that base, not to the host: ``/08502/X`` becomes
  ``{base}source/{dataset}/08502/X``, so two datasets' ``/1`` never collide. A warning names them.
  An empty ``rdf:about`` resolves, per RDF/XML, to that base itself; a warning says so.
- **Whitespace in IRIs**: leading/trailing whitespace is stripped; whitespace and the other characters
  IRIs cannot hold (``<>"{}|\\^`` and backtick) inside are percent-encoded. Each repair is a warning on
  the record. An IRI still invalid after that rejects the record, naming the line.
- **Europeana's XML-level rules** (``xsd/schematron/RULES.md``) reject the record with file, record
  and line: an element with both ``rdf:resource`` and a text value, an empty ``rdf:resource``, an empty
  ``xml:lang``. So do text outside any property element and mixed content. Attributes on a property
  element that has a text value say nothing in RDF: they are reported as a warning.
- **Not well-formed XML** (including bytes that are not UTF-8 when the file says UTF-8) rejects the
  file with the parser's line and column.
- **Several CHOs in one file** are split into one record per CHO when the aggregation structure
  allows: each CHO has an ``ore:Aggregation`` (``edm:aggregatedCHO``), and every resource of the file
  is reachable from a CHO, its aggregations or its proxies (``ore:proxyFor``). Contextual resources
  shared by several CHOs are copied into each record that references them. Otherwise the file is
  rejected, saying which CHO lacks an aggregation or which resource belongs to none.
- **No CHO**: a file that describes exactly one resource (Europeana's entity files: one ``edm:Agent``,
  ``edm:Place``, ``skos:Concept`` ...) is read as a record whose focus is that resource; anything else
  is rejected ("no edm:ProvidedCHO").
- **OAI-PMH responses** (``GetRecord``/``ListRecords`` with EDM metadata): every ``rdf:RDF`` inside is
  read as a document of its own.
- Blank nodes get fresh labels on every read (the store compares records canonically).

How: the walk writes each statement as an N-Triples line and pyoxigraph's N-Triples parser turns
the lines into terms, checking every IRI and language tag; an error on a generated line is reported
at the source line that produced it. (Building ``Triple`` objects one by one from Python is about 10
times slower when the object is a literal: pyoxigraph tries each term type in turn.)

>>> from kg.record import Uris
>>> from kg.readers import ReadContext, Source
>>> from kg.settings import Settings
>>> xml = b'''<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
...   xmlns:edm="http://www.europeana.eu/schemas/edm/" xmlns:dc="http://purl.org/dc/elements/1.1/">
...   <edm:ProvidedCHO rdf:about="/08502/5F41"><dc:title xml:lang="en">Still life</dc:title></edm:ProvidedCHO>
... </rdf:RDF>'''
>>> ctx = ReadContext(Uris("http://localhost:8000/"), Settings())
>>> [record] = read(Source("athena/rec.xml", xml), ctx)
>>> record.key, record.focus.value
('athena/08502%2F5F41', 'http://localhost:8000/source/athena/08502/5F41')
>>> len(record.triples), record.warnings[0][:40]
(2, '1 relative IRI resolved against http://l')
"""

from __future__ import annotations

import operator
import re
from typing import Iterator
from urllib.parse import quote, urljoin

import pyoxigraph as ox
from lxml import etree
from pyoxigraph import NamedNode, Triple

from kg.errors import InputError
from kg.readers import Item, ReadContext, Source
from kg.record import Origin, Record, Rejection, mint_key
from kg.settings import Settings
from kg.sources import default_dataset, source_base

FORMAT = "edm"
EUROPEANA_ITEM = "http://data.europeana.eu/item/"

_RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDF = "{" + _RDF_NS + "}"
_XML = "{http://www.w3.org/XML/1998/namespace}"
RDF_RDF, DESCRIPTION, LI = _RDF + "RDF", _RDF + "Description", _RDF + "li"
ABOUT, RESOURCE, NODE_ID, ID = _RDF + "about", _RDF + "resource", _RDF + "nodeID", _RDF + "ID"
DATATYPE, PARSE_TYPE, TYPE = _RDF + "datatype", _RDF + "parseType", _RDF + "type"
XML_LANG, XML_BASE = _XML + "lang", _XML + "base"
#: attributes that are RDF/XML syntax, never property attributes
_SYNTAX = {ABOUT, RESOURCE, NODE_ID, ID, DATATYPE, PARSE_TYPE, _RDF + "bagID", _RDF + "aboutEach"}

#: N-Triples forms of the terms the record logic looks for
RDF_TYPE = f"<{_RDF_NS}type>"
PROVIDED_CHO = "<http://www.europeana.eu/schemas/edm/ProvidedCHO>"
AGGREGATED_CHO = "<http://www.europeana.eu/schemas/edm/aggregatedCHO>"
AGGREGATION = "<http://www.openarchives.org/ore/terms/Aggregation>"
PROXY_FOR = "<http://www.openarchives.org/ore/terms/proxyFor>"

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_NOT_IN_IRI = re.compile(r'[\s<>"{}|\\^`]')
_WS = " \t\n\r\f\v"
_MAX_LISTED = 10
_MAX_PROBLEMS = 50
_TRIPLE = operator.attrgetter("triple")

#: (subject, predicate, object) in N-Triples syntax, and the source line that said it
Statement = tuple[str, str, str]


def read(source: Source, ctx: ReadContext) -> Iterator[Item]:
    """The record(s) of one EDM file; a ``Rejection`` for what cannot be read (see the module doc)."""
    dataset = ctx.dataset or default_dataset(source.name)
    base = source_base(ctx.uris, dataset)
    try:
        root = etree.fromstring(source.data, _parser())
    except etree.XMLSyntaxError as error:
        yield _syntax_rejection(source.name, error)
        return
    if root is None:
        yield Rejection(Origin(source.name), ["no XML content"])
        return
    documents = _documents(root)
    if not documents:
        yield Rejection(Origin(source.name, line=root.sourceline),
                        [f"root element <{root.tag}> is neither RDF/XML nor an OAI-PMH envelope holding rdf:RDF"])
        return
    for element in documents:
        walk = _Walk(source.name, base, ctx.settings)
        walk.document(element)
        yield from walk.items(dataset)


def triples(data: bytes, base: str, settings: Settings) -> list[Triple]:
    """Every triple of an RDF/XML document as this reader reads it (repairs made), records aside.

    For checking the walk against other RDF/XML parsers; raises ``InputError`` where ``read`` rejects.
    """
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as error:
        raise InputError(str(_syntax_rejection("<data>", error))) from None
    walk = _Walk("<data>", base, settings)
    for element in _documents(root):
        walk.document(element)
    if not walk.problems and walk.unsupported:
        walk._reparse()
    found = walk._parse(range(len(walk.statements))) if not walk.problems else []
    if walk.problems:
        raise InputError("; ".join(f"line {line}: {message}" for line, message in walk.problems))
    return found


def record_key(dataset: str, focus: NamedNode, base: str) -> str:
    """``mint_key(dataset, IRI)`` with the dataset base or Europeana's item prefix stripped.

    >>> record_key("d", NamedNode("http://data.europeana.eu/item/08502/X"), "http://h/source/d/")
    'd/08502%2FX'
    """
    local = focus.value
    for prefix in (base, EUROPEANA_ITEM):
        if local.startswith(prefix):
            local = local[len(prefix):]
            break
    return mint_key(dataset, local)


def _parser() -> etree.XMLParser:
    # a fresh parser per file: lxml parsers are not shareable between threads; no DTDs, no network,
    # no entity expansion (XXE and billion-laughs), and libxml2's own size limits stay on
    return etree.XMLParser(remove_comments=True, remove_pis=True, resolve_entities=False,
                           no_network=True, load_dtd=False, huge_tree=False)


def _syntax_rejection(name: str, error: etree.XMLSyntaxError) -> Rejection:
    line, column = error.position if error.position else (error.lineno, None)
    message = re.sub(r"(, line \d+)?, line \d+, column \d+$", "", error.msg or str(error)).strip()
    if "encoding" in message.lower() or "utf-8" in message.lower():
        message += " (the file is not valid in the encoding it declares, UTF-8 unless it says otherwise)"
    return Rejection.from_error(InputError(f"not well-formed XML: {message}", file=name, line=line,
                                           column=column))


def _documents(root: etree._Element) -> list[etree._Element]:
    """The elements to read as RDF/XML documents: the root, or each rdf:RDF inside an envelope."""
    if root.tag == RDF_RDF:
        return [root]
    if any(a in root.attrib for a in (ABOUT, ID, NODE_ID)):
        return [root]  # a single node element, e.g. Europeana's entity files
    inner = list(root.iter(RDF_RDF))
    return inner if inner else ([root] if _RDF_NS in (root.nsmap or {}).values() else [])


class _Walk:
    """One RDF/XML document: its statements, the problems that reject it, the repairs that warn."""

    def __init__(self, name: str, base: str, settings: Settings) -> None:
        self.name = name
        self.base = base
        self.settings = settings
        self.statements: list[Statement] = []
        #: the source line of each statement, for errors the N-Triples parser finds
        #: where each statement came from: a line, or the element (its line is looked up on error only)
        self.where: list[int | etree._Element | None] = []
        self.problems: list[tuple[int | None, str]] = []
        self.repairs: list[tuple[int | None, str]] = []
        self.relative: list[tuple[int | None, str, str]] = []
        self.lines: dict[str, int] = {}
        self.top: list[tuple[str, str, int]] = []
        self.node_ids: dict[str, str] = {}
        self.blanks = 0
        self.unsupported: tuple[int, str] | None = None
        self.root: etree._Element | None = None
        #: literals shorter than this many characters cannot break max_literal_bytes (4 bytes a character)
        self._literal_chars = settings.max_literal_bytes // 4

    # -- the walk ------------------------------------------------------------------------------

    def document(self, element: etree._Element) -> None:
        self.root = element
        lang, base = self._scope(element, None, self.base)
        if element.tag != RDF_RDF:
            self.top.append((self.node(element, lang, base), element.tag, element.sourceline))
            return
        self._no_text(element.sourceline, element.text, element)
        for child in element:
            if not isinstance(child.tag, str):
                continue
            subject = self.node(child, lang, base)
            self.top.append((subject, child.tag, child.sourceline))
            self._no_text(child.sourceline, child.tail, element)

    def node(self, element: etree._Element, lang: str | None, base: str) -> str:
        """Read a node element; returns its subject term."""
        line = element.sourceline
        attributes = element.attrib
        if attributes:
            lang, base = self._scope(element, lang, base)
        subject = None
        if ABOUT in attributes:
            about = attributes[ABOUT]
            if not about.strip(_WS):
                self.repairs.append((line, f"empty rdf:about on <{_qname(element)}> resolves to the dataset "
                                           f"base <{base}>"))
            subject = self.iri(about, line, base)
        elif ID in attributes:
            subject = self.iri("#" + attributes[ID], line, base, quiet=True)
        elif NODE_ID in attributes:
            subject = self._node_id(attributes[NODE_ID])
        subject = subject or self._blank()
        self.lines.setdefault(subject, line)
        if element.tag != DESCRIPTION:
            self.add(subject, RDF_TYPE, self.term(element.tag, line), line)
        if len(attributes) > 1 or (attributes and ABOUT not in attributes):
            self._property_attributes(element, subject, lang, base)
        self._no_text(line, element.text, element)
        index = 0
        for child in element:
            if not isinstance(child.tag, str):
                continue
            index += 1
            self.property(child, subject, lang, base, index)
            tail = child.tail
            if tail and not tail.isspace():
                self._no_text(child.sourceline, tail, element)
        return subject

    def property(self, element: etree._Element, subject: str, lang: str | None, base: str, index: int) -> None:
        """Read a property element of ``subject``."""
        tag = element.tag
        attributes = element.attrib
        text = element.text or ""
        if not attributes and not len(element) and tag in _TERMS and len(text) <= self._literal_chars:
            # the common case, first and fast: <dc:title>text</dc:title> with nothing else
            self.statements.append((subject, _TERMS[tag], f"{_quote(text)}@{lang}" if lang else _quote(text)))
            self.where.append(element)
            return
        line = element.sourceline
        predicate = f"<{_RDF_NS}_{index}>" if tag == LI else _TERMS.get(tag) or self.term(tag, line)
        if not attributes and not len(element):
            self.add(subject, predicate, self.literal(text, lang, None, line, base, element), line)
            return
        if attributes:
            lang, base = self._scope(element, lang, base)
        has_text = bool(text) and not text.isspace()
        children = [c for c in element if isinstance(c.tag, str)] if len(element) else ()
        parse_type = attributes.get(PARSE_TYPE) if attributes else None
        if attributes and (ID in attributes or (parse_type is not None and parse_type != "Resource")):
            what = "rdf:ID on a property element" if ID in attributes else f'rdf:parseType="{parse_type}"'
            self.unsupported = self.unsupported or (line, what)
            return
        obj: str | None
        if parse_type == "Resource":
            obj = self._blank()
            self._no_text(line, text, element)
            for position, child in enumerate(children, 1):
                self.property(child, obj, lang, base, position)
                self._no_text(child.sourceline, child.tail, element)
        elif RESOURCE in attributes:
            resource = attributes[RESOURCE]
            if has_text:
                self.problem(line, f"<{_qname(element)}> has both rdf:resource and a text value "
                                   f"({_clip(text.strip(_WS))!r}): an element never has both")
            if children:
                self.problem(line, f"<{_qname(element)}> has both rdf:resource and a nested element")
            if not resource.strip(_WS):
                self.problem(line, f"<{_qname(element)}> has an empty rdf:resource")
                return
            obj = self.iri(resource, line, base)
        elif NODE_ID in attributes:
            obj = self._node_id(attributes[NODE_ID])
        elif children:
            if has_text:
                self.problem(line, f"<{_qname(element)}> mixes text ({_clip(text.strip(_WS))!r}) and elements")
            if len(children) > 1:
                self.problem(line, f"<{_qname(element)}> holds {len(children)} node elements; "
                                   f"a property has one value")
            obj = self.node(children[0], lang, base)
            for child in children:
                self._no_text(child.sourceline, child.tail, element)
        elif not has_text and _property_attribute_names(attributes):
            obj = self._blank()  # <p ex:q="v"/> describes an anonymous resource
        else:
            obj = self.literal(text, lang, attributes.get(DATATYPE), line, base, element)
            ignored = _property_attribute_names(attributes)
            if ignored:
                self.repairs.append((line, f"<{_qname(element)}> has a text value, so its attributes "
                                           f"{', '.join(_qname_of(a, element) for a in ignored)} say nothing "
                                           f"in RDF and were not read"))
            self.add(subject, predicate, obj, line)
            return
        self.add(subject, predicate, obj, line)
        if obj is not None and attributes and parse_type is None:
            self._property_attributes(element, obj, lang, base)

    def add(self, subject: str | None, predicate: str | None, obj: str | None, line: int | None) -> None:
        if subject is not None and predicate is not None and obj is not None:
            self.statements.append((subject, predicate, obj))
            self.where.append(line)

    # -- terms, in N-Triples syntax ----------------------------------------------------------------

    def iri(self, raw: str, line: int | None, base: str, *, quiet: bool = False) -> str:
        """``<iri>`` for an IRI as written, repaired and resolved (see the module doc)."""
        value = raw.strip(_WS)
        if value != raw:
            self.repairs.append((line, f"IRI {raw!r}: leading or trailing whitespace removed"))
        if _NOT_IN_IRI.search(value):
            fixed = _NOT_IN_IRI.sub(lambda m: quote(m.group(), safe=""), value)
            self.repairs.append((line, f"IRI {value!r}: characters not allowed in IRIs percent-encoded "
                                       f"as <{fixed}>"))
            value = fixed
        if not _SCHEME.match(value):
            resolved = _resolve(base, value, self.base)
            if not quiet and value:
                self.relative.append((line, value, resolved))
            value = resolved
        return f"<{value}>"

    def term(self, tag: str, line: int | None) -> str | None:
        """``<iri>`` for an element or attribute name (namespace + local name)."""
        if tag[0] != "{":
            self.problem(line, f"<{tag}> has no namespace, so it names no RDF property or class")
            return None
        return _term(tag)

    def literal(self, text: str, lang: str | None, datatype: str | None, line: int | None, base: str,
                element: etree._Element) -> str | None:
        if len(text) > self._literal_chars:
            size = len(text.encode())
            if size > self.settings.max_literal_bytes:
                self.problem(line, f"<{_qname(element)}> holds a literal of {size} bytes, over the limit of "
                                   f"{self.settings.max_literal_bytes} bytes (MOUSEION_MAX_LITERAL_BYTES)")
                return None
        quoted = _quote(text)
        if datatype is not None:
            return f"{quoted}^^{self.iri(datatype, line, base, quiet=True)}"
        return f"{quoted}@{lang}" if lang else quoted

    def _blank(self) -> str:
        self.blanks += 1
        return f"_:b{self.blanks}"

    def _node_id(self, label: str) -> str:
        node = self.node_ids.get(label)
        if node is None:
            node = self.node_ids[label] = f"_:n{len(self.node_ids)}"
        return node

    def _scope(self, element: etree._Element, lang: str | None, base: str) -> tuple[str | None, str]:
        """xml:lang and xml:base in force on an element (both inherit)."""
        attributes = element.attrib
        if XML_LANG in attributes:
            lang = attributes[XML_LANG]
            if not lang.strip(_WS):
                self.problem(element.sourceline, f"<{_qname(element)}> has an empty xml:lang")
                lang = None
        if XML_BASE in attributes:
            base = urljoin(base, attributes[XML_BASE].strip(_WS))
        return lang, base

    def _property_attributes(self, element: etree._Element, subject: str, lang: str | None, base: str) -> None:
        """Attributes that are properties: ``<edm:Agent rdf:about="a" foaf:name="B"/>``."""
        line = element.sourceline
        for attribute in _property_attribute_names(element.attrib):
            value = element.get(attribute)
            if attribute == TYPE:
                obj = self.iri(value, line, base)
            else:
                obj = self.literal(value, lang, None, line, base, element)
            self.add(subject, self.term(attribute, line), obj, line)

    def _no_text(self, line: int | None, text: str | None, element: etree._Element) -> None:
        if text and not text.isspace():
            self.problem(line, f"text {_clip(text.strip(_WS))!r} directly inside <{_qname(element)}>, "
                               f"outside any property element")

    def problem(self, line: int | None, message: str) -> None:
        self.problems.append((line, message))

    # -- records ---------------------------------------------------------------------------------

    def items(self, dataset: str) -> Iterator[Item]:
        if not self.problems and self.unsupported:
            self._reparse()
        chos = list(dict.fromkeys(s for s, p, o in self.statements if p == RDF_TYPE and o == PROVIDED_CHO))
        for cho in chos:
            if cho.startswith("_:"):
                self.problem(self.lines.get(cho), "edm:ProvidedCHO without rdf:about: a record needs its IRI")
        triples = self._parse(range(len(self.statements))) if not self.problems else []
        if self.problems:
            yield self._rejection(dataset, chos[0] if chos else None, self.problems)
            return
        if not chos:
            yield self._without_cho(dataset, triples)
            return
        if len(chos) == 1:
            yield self._record(dataset, chos[0], triples, [])
            return
        groups, problems = self._split(chos)
        if problems:
            yield self._rejection(dataset, None, problems)
            return
        note = f"split from a file of {len(chos)} edm:ProvidedCHO"
        for cho, indexes in groups:
            yield self._record(dataset, cho, self._parse(indexes), [note])

    def _parse(self, indexes) -> list[Triple]:
        """pyoxigraph terms for the chosen statements; an invalid term becomes a problem at its line."""
        statements = self.statements
        text = "".join(f"{s} {p} {o} .\n" for s, p, o in (statements[i] for i in indexes))
        where = [self.where[i] for i in indexes]
        triples: list[Triple] = []
        parser = ox.parse(text.encode(), ox.RdfFormat.N_TRIPLES, rename_blank_nodes=True)
        while True:
            try:
                triples.extend(map(_TRIPLE, parser))
                return triples
            except SyntaxError as error:
                line = where[error.lineno - 1] if error.lineno and error.lineno <= len(where) else None
                line = line.sourceline if isinstance(line, etree._Element) else line
                self.problem(line, _term_error(error.msg, text, error.lineno))
                if len(self.problems) >= _MAX_PROBLEMS:
                    return triples

    def _record(self, dataset: str, focus: str, triples: list[Triple], notes: list[str]) -> Item:
        line = self.lines.get(focus)
        if self.problems:  # found while parsing the terms
            return self._rejection(dataset, focus, self.problems)
        node = NamedNode(focus[1:-1])
        try:
            key = record_key(dataset, node, self.base)
        except InputError as error:
            return Rejection(Origin(self.name, node.value, line), [error.message])
        origin = Origin(self.name, key, line)
        if len(triples) > self.settings.max_record_triples:
            return Rejection(origin, [f"{len(triples)} triples exceed the limit of "
                                      f"{self.settings.max_record_triples} per record "
                                      f"(MOUSEION_MAX_RECORD_TRIPLES)"], key)
        return Record(key, dataset, triples, origin, format=FORMAT, focus=node,
                      warnings=notes + self._warnings())

    def _without_cho(self, dataset: str, triples: list[Triple]) -> Item:
        resources = list(dict.fromkeys(s for s, _, _ in self.top))
        if len(resources) == 1 and resources[0].startswith("<"):
            return self._record(dataset, resources[0], triples,
                                [f"no edm:ProvidedCHO: read as a record of the one resource it describes "
                                 f"({_qname_of(self.top[0][1], self.root)})"])
        found = ", ".join(f"{_qname_of(tag, self.root)} (line {line})" for _, tag, line in self.top[:6])
        more = f" and {len(self.top) - 6} more" if len(self.top) > 6 else ""
        return Rejection(Origin(self.name, line=self.root.sourceline if self.root is not None else None),
                         [f"no edm:ProvidedCHO: an EDM record describes exactly one, this document "
                          f"has {found or 'no resources'}{more}"])

    def _rejection(self, dataset: str, cho: str | None, problems: list[tuple[int | None, str]]) -> Rejection:
        key = record = None
        if cho is not None and cho.startswith("<"):
            try:
                key = record = record_key(dataset, NamedNode(cho[1:-1]), self.base)
            except (InputError, ValueError):
                record = cho[1:-1]
        lines = [line for line, _ in problems if line is not None]
        reasons = [f"line {line}: {message}" if line is not None else message for line, message in problems]
        return Rejection(Origin(self.name, record, min(lines) if lines else None), reasons, key)

    def _warnings(self) -> list[str]:
        warnings = []
        if self.relative:
            line, raw, resolved = self.relative[0]
            count = len(self.relative)
            warnings.append(f"{count} relative IRI{'s' if count > 1 else ''} resolved against {self.base} "
                            f"(no xml:base), e.g. line {line}: {raw!r} → <{resolved}>")
        warnings += [f"line {line}: {message}" for line, message in self.repairs[:_MAX_LISTED]]
        if len(self.repairs) > _MAX_LISTED:
            warnings.append(f"... and {len(self.repairs) - _MAX_LISTED} more IRI repairs")
        return warnings

    def _split(self, chos: list[str]) -> tuple[list[tuple[str, list[int]]], list[tuple[int | None, str]]]:
        """The statements of each CHO: its own, its aggregations', its proxies' and what they reach."""
        by_subject: dict[str, list[int]] = {}
        types: dict[str, set[str]] = {}
        for index, (s, p, o) in enumerate(self.statements):
            by_subject.setdefault(s, []).append(index)
            if p == RDF_TYPE:
                types.setdefault(s, set()).add(o)
        roots = {cho: {cho} for cho in chos}
        aggregated = dict.fromkeys(chos, False)
        for s, p, o in self.statements:
            if p in (AGGREGATED_CHO, PROXY_FOR) and o in roots:
                roots[o].add(s)
                aggregated[o] = aggregated[o] or (p == AGGREGATED_CHO and AGGREGATION in types.get(s, ()))
        problems = [(self.lines.get(cho), f"cannot split: edm:ProvidedCHO {cho} has no ore:Aggregation "
                                          f"(edm:aggregatedCHO) of its own") for cho in chos if not aggregated[cho]]
        owner = {member: cho for cho, members in roots.items() for member in members}
        groups, reached = [], set()
        for cho in chos:
            seen, queue = set(), list(roots[cho])
            while queue:
                subject = queue.pop()
                if subject in seen:
                    continue
                seen.add(subject)
                for index in by_subject.get(subject, ()):
                    obj = self.statements[index][2]
                    if obj in by_subject and obj not in seen and owner.get(obj, cho) == cho:
                        queue.append(obj)
            reached |= seen
            groups.append((cho, sorted(i for s in seen for i in by_subject.get(s, ()))))
        problems += [(self.lines.get(s), f"cannot split: {s if s.startswith('<') else 'a blank node'} "
                                         f"belongs to no edm:ProvidedCHO of the file")
                     for s in by_subject if s not in reached]
        return groups, problems

    # -- what the walk leaves to pyoxigraph's RDF/XML parser -------------------------------------

    def _reparse(self) -> None:
        """Read the document with the full RDF/XML parser, after the same IRI repairs."""
        line, what = self.unsupported
        root = self.root
        self.repairs, self.relative = [], []
        literal = {d for e in root.iter() if e.get(PARSE_TYPE) == "Literal" for d in e.iterdescendants()}
        for element in root.iter():
            if not isinstance(element.tag, str) or element in literal:
                continue
            for attribute in (ABOUT, RESOURCE, DATATYPE):
                if attribute in element.attrib:
                    iri = self.iri(element.attrib[attribute], element.sourceline, _base_of(element, self.base))
                    element.set(attribute, iri[1:-1])
        if XML_BASE not in root.attrib:
            root.set(XML_BASE, self.base)
        self.statements, self.where = [], []
        try:
            for quad in ox.parse(etree.tostring(root), ox.RdfFormat.RDF_XML, base_iri=self.base):
                obj = quad.object
                if isinstance(obj, ox.Literal) and len(obj.value) > self._literal_chars \
                        and len(obj.value.encode()) > self.settings.max_literal_bytes:
                    self.problem(line, f"a literal on {quad.predicate} is over the limit of "
                                       f"{self.settings.max_literal_bytes} bytes (MOUSEION_MAX_LITERAL_BYTES)")
                    continue
                self.add(str(quad.subject), str(quad.predicate), str(obj), line)
        except SyntaxError as error:
            self.problem(line, f"{what} (read with the full RDF/XML parser): {error.msg}")


def _base_of(element: etree._Element, base: str) -> str:
    """The xml:base in force on an element, starting from the dataset base."""
    for ancestor in [*reversed(list(element.iterancestors())), element]:
        value = ancestor.get(XML_BASE)
        if value is not None:
            base = urljoin(base, value.strip(_WS))
    return base


def _resolve(base: str, reference: str, dataset_base: str) -> str:
    if base == dataset_base:
        # '/08502/X' stays under the dataset's base instead of escaping to the host's root
        reference = reference.lstrip("/") if not reference.startswith("//") else reference
        if "." not in reference and not reference.startswith(("?", "/")):
            return base + reference  # what urljoin returns here, without its cost
    return urljoin(base, reference)


def _quote(text: str) -> str:
    """An N-Triples string literal."""
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if '"' in text:
        text = text.replace('"', '\\"')
    if "\n" in text:
        text = text.replace("\n", "\\n")
    if "\r" in text:
        text = text.replace("\r", "\\r")
    return f'"{text}"'


def _term_error(message: str, text: str, line: int | None) -> str:
    """The parser's complaint about a generated line, with the term it is about."""
    message = re.sub(r"^Parser error (at|between) .*?: ", "", message)
    if line:
        statement = text.split("\n", line)[line - 1] if line else ""
        return f"{message} in {_clip(statement.rstrip(' .'), 160)}"
    return message


def _property_attribute_names(attributes) -> list[str]:
    return [a for a in attributes if a not in _SYNTAX and not a.startswith(_XML)] if attributes else []


_TERMS: dict[str, str] = {}


def _term(tag: str) -> str:
    term = _TERMS.get(tag)
    if term is None:
        term = "<" + tag[1:].replace("}", "", 1) + ">"
        if len(_TERMS) < 10_000:  # element names are few; a hostile file must not grow this for ever
            _TERMS[tag] = term
    return term


def _qname(element: etree._Element) -> str:
    return _qname_of(element.tag, element)


def _qname_of(tag: str, element: etree._Element | None) -> str:
    """``dc:title`` for ``{http://purl.org/dc/elements/1.1/}title``, using the file's own prefixes."""
    if tag[0] != "{":
        return tag
    namespace, local = tag[1:].split("}", 1)
    for prefix, uri in ((element.nsmap if element is not None else {}) or {}).items():
        if uri == namespace and prefix:
            return f"{prefix}:{local}"
    return local


def _clip(text: str, size: int = 40) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"
