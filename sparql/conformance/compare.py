"""Reading SPARQL results and RDF, and deciding whether an answer equals the expected one.

The passing criterion is the suite's own (https://w3c.github.io/rdf-tests/sparql/sparql11/,
"Query Evaluation Tests"): result sets and graphs are equal when they are isomorphic, with
identical IRIs and *literals compared by value* ("test runners may convert lexical form to
canonical form to compare character by character"). That is what :func:`canonical_term` does,
and all it does:

* a literal of a numeric XSD datatype (``xsd:integer`` and its derived types, ``xsd:decimal``,
  ``xsd:float``, ``xsd:double``) or ``xsd:boolean`` with a valid lexical form is rewritten to one
  canonical lexical form of its value, *keeping its datatype*: ``"1.0"^^xsd:decimal`` equals
  ``"1"^^xsd:decimal``, ``"0"^^xsd:boolean`` equals ``"false"^^xsd:boolean``, but
  ``"1"^^xsd:integer`` never equals ``"1"^^xsd:decimal``;
* language tags compare case-insensitively (RDF 1.1 Concepts, 3.3).

Everything else (strings, IRIs, other datatypes, ill-typed values) compares term by term.
CSV results carry no datatypes: a cell compares as written, or by value when both cells are
numbers (``1.0E6`` equals ``1000000``).
Blank nodes compare up to a consistent renaming (a bijection across the whole result set).
"""

from __future__ import annotations

import csv
import io
import math
import re
import struct
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import pyoxigraph as ox

XSD = "http://www.w3.org/2001/XMLSchema#"
RS = "http://www.w3.org/2001/sw/DataAccess/tests/result-set#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

_INTEGER_TYPES = {
    XSD + t
    for t in (
        "integer nonPositiveInteger negativeInteger long int short byte nonNegativeInteger "
        "unsignedLong unsignedInt unsignedShort unsignedByte positiveInteger"
    ).split()
}
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_BOOLEAN = {"true": "true", "1": "true", "false": "false", "0": "false"}
_FLOAT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?INF|NaN")

#: A term as a hashable tuple: ("iri", value) | ("bnode", id) | ("literal", lexical, datatype, language)
Term = tuple
Row = dict  # variable name -> Term (unbound variables are absent)


@dataclass
class ResultSet:
    variables: list[str]
    rows: list[Row]


# --- terms -------------------------------------------------------------------------------------


def term(node) -> Term:
    """A pyoxigraph term as a plain tuple, with the value-based canonical form applied."""
    if isinstance(node, ox.NamedNode):
        return ("iri", node.value)
    if isinstance(node, ox.BlankNode):
        return ("bnode", node.value)
    if isinstance(node, ox.Literal):
        return canonical_term(node.value, node.datatype.value, node.language)
    raise ValueError(f"unsupported term {node!r} (RDF-star terms are not part of SPARQL 1.1)")


def canonical_term(lexical: str, datatype: str, language: str | None = None) -> Term:
    """A literal with its numeric value written canonically, keeping its datatype.

    >>> canonical_term("1.50", XSD + "decimal") == canonical_term("1.5", XSD + "decimal")
    True
    >>> canonical_term("01", XSD + "integer") == canonical_term("1", XSD + "decimal")
    False
    >>> canonical_term("1.0e0", XSD + "double") == canonical_term("1E0", XSD + "double")
    True
    >>> canonical_term("abc", XSD + "integer")[1]   # ill-typed: compared as written
    'abc'
    """
    if language:
        return ("literal", lexical, datatype, language.lower())
    text = lexical.strip()
    try:
        if datatype in _INTEGER_TYPES and _INTEGER.fullmatch(text):
            lexical = str(int(text))
        elif datatype == XSD + "decimal" and _DECIMAL.fullmatch(text):
            value = Decimal(text)
            lexical = f"{int(value)}.0" if value == value.to_integral_value() else format(value.normalize(), "f")
        elif datatype in (XSD + "double", XSD + "float") and _FLOAT.fullmatch(text):
            value = float(text.replace("INF", "inf"))
            if datatype == XSD + "float" and math.isfinite(value):
                value = struct.unpack("f", struct.pack("f", value))[0]  # float is 32-bit
            lexical = "NaN" if math.isnan(value) else repr(value)
        elif datatype == XSD + "boolean" and text in _BOOLEAN:
            lexical = _BOOLEAN[text]
    except (InvalidOperation, OverflowError, ValueError):
        pass
    return ("literal", lexical, datatype, None)


def show(t: Term | None) -> str:
    """A term written the N-Triples way, for failure messages."""
    if t is None:
        return "UNBOUND"
    if t[0] == "iri":
        return f"<{t[1]}>"
    if t[0] == "bnode":
        return f"_:{t[1]}"
    if t[0] == "csv":
        return repr(t[1])
    if t[3]:
        return f'"{t[1]}"@{t[3]}'
    return f'"{t[1]}"' if t[2] == XSD + "string" else f'"{t[1]}"^^<{t[2]}>'


# --- reading -----------------------------------------------------------------------------------

RESULT_FORMATS = {
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/json": ox.QueryResultsFormat.JSON,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
RDF_FORMATS = {
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "text/plain": ox.RdfFormat.N_TRIPLES,  # the pre-2014 N-Triples media type
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/x-turtle": ox.RdfFormat.TURTLE,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "application/trig": ox.RdfFormat.TRIG,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}


def parse_results(data: bytes, fmt: ox.QueryResultsFormat) -> ResultSet | bool:
    """SELECT or ASK results in XML, JSON or TSV."""
    parsed = ox.parse_query_results(data, fmt)
    if isinstance(parsed, ox.QueryBoolean):
        return bool(parsed)
    variables = [v.value for v in parsed.variables]
    rows = []
    for solution in parsed:
        row = {}
        for name in variables:
            value = solution[name]
            if value is not None:
                row[name] = term(value)
        rows.append(row)
    return ResultSet(variables, rows)


def parse_csv(data: bytes) -> tuple[list[str], list[tuple[str, ...]]]:
    """CSV results (SPARQL 1.1 Query Results CSV): a header and rows of plain strings."""
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    rows = [tuple(r) for r in reader if r]
    return (list(rows[0]) if rows else []), rows[1:]


def parse_rdf(data: bytes, fmt: ox.RdfFormat, base: str | None = None) -> list[tuple[Term, Term, Term]]:
    """The triples of a graph serialization (the default graph of a dataset one)."""
    return [(term(q.subject), term(q.predicate), term(q.object)) for q in ox.parse(data, fmt, base_iri=base)]


def result_set_from_graph(triples: list[tuple[Term, Term, Term]]) -> ResultSet | bool | None:
    """Results written in the DAWG result-set vocabulary (``rs:``), or None if the graph has none."""
    by_subject: dict = {}
    for s, p, o in triples:
        by_subject.setdefault(s, {}).setdefault(p[1], []).append(o)
    sets = [s for s, props in by_subject.items() if ("iri", RS + "ResultSet") in props.get(RDF_TYPE, [])]
    if not sets:
        return None
    props = by_subject[sets[0]]
    if RS + "boolean" in props:
        return props[RS + "boolean"][0][1] == "true"
    variables = [v[1] for v in props.get(RS + "resultVariable", [])]
    rows = []
    for solution in props.get(RS + "solution", []):
        row = {}
        for binding in by_subject.get(solution, {}).get(RS + "binding", []):
            b = by_subject[binding]
            row[b[RS + "variable"][0][1]] = b[RS + "value"][0]
        rows.append(row)
    return ResultSet(variables, rows)


# --- comparing ---------------------------------------------------------------------------------


def compare_result_sets(expected: ResultSet, actual: ResultSet, order_by: list[str] | None = None) -> str | None:
    """None when equal, else why not. ``order_by``: variables whose sequence must also match.

    >>> a = ResultSet(["x"], [{"x": ("bnode", "a")}, {"x": ("iri", "http://e/")}])
    >>> b = ResultSet(["x"], [{"x": ("iri", "http://e/")}, {"x": ("bnode", "z")}])
    >>> compare_result_sets(a, b) is None
    True
    >>> compare_result_sets(a, b, order_by=["x"])
    'wrong order at row 1: expected x=_:, got x=<http://e/>'
    """
    if set(expected.variables) != set(actual.variables):
        return f"variables differ: expected {sorted(expected.variables)}, got {sorted(actual.variables)}"
    if len(expected.rows) != len(actual.rows):
        return f"expected {len(expected.rows)} rows, got {len(actual.rows)}" + _first_difference(expected, actual)
    if _match_rows(expected.rows, actual.rows) is None:
        detail = _first_difference(expected, actual)
        return "rows differ" + (detail or ": no blank node mapping makes them equal (blank node co-reference differs)")
    if order_by:
        return _order_difference(expected.rows, actual.rows, order_by)
    return None


def _shape(row: Row) -> tuple:
    """A row with blank nodes blanked out: rows can only match if their shapes are equal."""
    return tuple(sorted((k, ("bnode",) if v[0] == "bnode" else v) for k, v in row.items()))


def _match_rows(expected: list[Row], actual: list[Row]) -> dict | None:
    """A blank node bijection under which the two row multisets are equal, or None."""
    if Counter(map(_shape, expected)) != Counter(map(_shape, actual)):
        return None
    with_bnodes = [r for r in expected if any(v[0] == "bnode" for v in r.values())]
    if not with_bnodes:
        return {}
    candidates = [r for r in actual if any(v[0] == "bnode" for v in r.values())]
    # most constrained rows first: fewer candidates of the same shape
    with_bnodes.sort(key=lambda r: sum(1 for c in candidates if _shape(c) == _shape(r)))
    used = [False] * len(candidates)

    def extend(i: int, forward: dict, backward: dict) -> dict | None:
        if i == len(with_bnodes):
            return forward
        row = with_bnodes[i]
        for j, cand in enumerate(candidates):
            if used[j] or _shape(cand) != _shape(row):
                continue
            f, b = dict(forward), dict(backward)
            if all(_bind(row[k], cand[k], f, b) for k in row):
                used[j] = True
                found = extend(i + 1, f, b)
                if found is not None:
                    return found
                used[j] = False
        return None

    return extend(0, {}, {})


def _bind(e: Term, a: Term, forward: dict, backward: dict) -> bool:
    if e[0] != "bnode":
        return e == a
    if forward.get(e, a) != a or backward.get(a, e) != e:
        return False
    forward[e], backward[a] = a, e
    return True


def _order_key(row: Row, variables: list[str]) -> tuple:
    # blank nodes have no defined order relative to each other: any blank node matches any other
    return tuple(("bnode",) if (v := row.get(name)) is not None and v[0] == "bnode" else v for name in variables)


def _order_difference(expected: list[Row], actual: list[Row], variables: list[str]) -> str | None:
    for i, (e, a) in enumerate(zip(expected, actual)):
        if _order_key(e, variables) != _order_key(a, variables):
            return f"wrong order at row {i + 1}: expected {_show_key(e, variables)}, got {_show_key(a, variables)}"
    return None


def _show_key(row: Row, variables: list[str]) -> str:
    return ", ".join(f"{n}={'_:' if (v := row.get(n)) and v[0] == 'bnode' else show(v)}" for n in variables)


def _first_difference(expected: ResultSet, actual: ResultSet) -> str:
    shapes_e, shapes_a = Counter(map(_shape, expected.rows)), Counter(map(_shape, actual.rows))
    missing, extra = shapes_e - shapes_a, shapes_a - shapes_e

    def show_shape(shape) -> str:
        return "{" + ", ".join(f"{k}={'_:' if v == ('bnode',) else show(v)}" for k, v in shape) + "}"

    parts = []
    if missing:
        parts.append(f"missing {show_shape(next(iter(missing)))}")
    if extra:
        parts.append(f"unexpected {show_shape(next(iter(extra)))}")
    return ("; " + "; ".join(parts))[:400] if parts else ""


def compare_graphs(expected: list[tuple], actual: list[tuple]) -> str | None:
    """None when the two sets of triples are isomorphic (blank nodes renamed), else why not."""
    e, a = _canonical(expected), _canonical(actual)
    if e == a:
        return None
    missing, extra = e - a, a - e
    detail = []
    if missing:
        detail.append("missing " + " ".join(show(t) for t in sorted(missing)[0]))
    if extra:
        detail.append("unexpected " + " ".join(show(t) for t in sorted(extra)[0]))
    return f"graphs differ (expected {len(e)} triples, got {len(a)}): " + "; ".join(detail)[:400]


def _canonical(triples: list[tuple]) -> frozenset:
    """The triples with blank nodes renamed by RDFC-1.0-style canonicalization."""
    if not any(t[0] == "bnode" for triple in triples for t in triple):
        return frozenset(triples)
    dataset = ox.Dataset(ox.Quad(*(_node(t) for t in triple)) for triple in triples)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return frozenset(tuple(term(n) for n in (q.subject, q.predicate, q.object)) for q in dataset)


def _node(t: Term):
    if t[0] == "iri":
        return ox.NamedNode(t[1])
    if t[0] == "bnode":
        return ox.BlankNode(t[1])
    if t[3]:
        return ox.Literal(t[1], language=t[3])
    return ox.Literal(t[1], datatype=ox.NamedNode(t[2]))


def _csv_cell(cell: str) -> Term:
    if cell.startswith("_:"):
        return ("bnode", cell[2:])
    if _FLOAT.fullmatch(cell) and not cell.endswith("INF") and cell != "NaN":
        return ("csv", repr(float(cell)))
    return ("csv", cell)


def compare_csv(expected: tuple, actual: tuple, order_by: list[str] | None = None) -> str | None:
    """(header, rows) CSV results compared cell by cell (:func:`_csv_cell`); ``_:x`` cells are blank nodes."""
    (head_e, rows_e), (head_a, rows_a) = expected, actual
    if set(head_e) != set(head_a):
        return f"CSV header differs: expected {head_e}, got {head_a}"

    def as_rows(head, rows):
        out = []
        for r in rows:
            if len(r) != len(head):
                raise ValueError(f"CSV row has {len(r)} fields, header has {len(head)}")
            out.append({h: _csv_cell(c) for h, c in zip(head, r) if c != ""})
        return out

    try:
        e, a = as_rows(head_e, rows_e), as_rows(head_a, rows_a)
    except ValueError as exc:
        return str(exc)
    if len(e) != len(a):
        return f"expected {len(e)} CSV rows, got {len(a)}"
    if _match_rows(e, a) is None:
        missing = Counter(map(_shape, e)) - Counter(map(_shape, a))
        return "CSV rows differ" + (f"; missing {dict(next(iter(missing)))}"[:300] if missing else "")
    return _order_difference(e, a, order_by) if order_by else None
