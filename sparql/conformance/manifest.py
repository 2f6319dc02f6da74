"""The W3C SPARQL 1.1 test manifests, read once into plain test records.

The suite (``../shared/data/w3c-sparql11-tests/sparql11``, a copy of github.com/w3c/rdf-tests) describes
its tests in Turtle with the ``mf:``/``qt:``/``ut:`` vocabularies
(https://w3c.github.io/rdf-tests/sparql/sparql11/) and, for the protocol and graph store tests,
HTTP exchanges in the W3C HTTP vocabulary (``ht:``, https://www.w3.org/TR/HTTP-in-RDF10/).
This module turns all of that into frozen :class:`SuiteTest` records; it does no I/O beyond reading
the suite's files and knows nothing about endpoints.

Every IRI is resolved against the suite's published base (:data:`SUITE_BASE`): the expected
results name graphs and resources by those IRIs, so data files are loaded under them too.

>>> suite = load_suite(DEFAULT_SUITE)
>>> test = suite["aggregates/agg01"]
>>> test.group, test.approval, test.action.name, test.result.name
('query', 'Approved', 'agg01.rq', 'agg01.srx')
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

#: The IRI the test suite is published under; file IRIs in manifests and results hang off it.
SUITE_BASE = "http://www.w3.org/2009/sparql/docs/tests/data-sparql11/"
#: ../shared/data beside the checkout holds the suite (see its SOURCE.txt).
DEFAULT_SUITE = Path(__file__).resolve().parents[3] / "shared" / "data" / "w3c-sparql11-tests" / "sparql11"

#: Entry manifests. manifest-all.ttl leaves out the deprecated http-rdf-update/ tests; they are read
#: so that the report lists them as skipped rather than dropping them silently.
ENTRY_MANIFESTS = ("manifest-all.ttl", "http-rdf-update/manifest.ttl")

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
MF = "http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#"
QT = "http://www.w3.org/2001/sw/DataAccess/tests/test-query#"
UT = "http://www.w3.org/2009/sparql/tests/test-update#"
DAWGT = "http://www.w3.org/2001/sw/DataAccess/tests/test-dawg#"
HT = "http://www.w3.org/2011/http#"
HTS = "http://www.w3.org/2011/http-statusCodes#"
CNT = "http://www.w3.org/2011/content#"

#: Test type (local name in mf:) -> report group.
GROUP_OF_TYPE = {
    "QueryEvaluationTest": "query",
    "CSVResultFormatTest": "query",
    "PositiveSyntaxTest11": "syntax",
    "NegativeSyntaxTest11": "syntax",
    "PositiveUpdateSyntaxTest11": "syntax",
    "NegativeUpdateSyntaxTest11": "syntax",
    "UpdateEvaluationTest": "update",
    "ProtocolTest": "protocol",
    "ServiceDescriptionTest": "protocol",
    "GraphStoreProtocolTest": "graph-store",
}
GROUPS = ("query", "syntax", "update", "protocol", "graph-store")


@dataclass(frozen=True)
class Exchange:
    """One ht:Request of a protocol or graph store test and what its ht:Response must show."""

    method: str
    path: str  # ht:absolutePath, still starting with /sparql/ or /gsp
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    expect_status: frozenset[str]  # hts: local names: "OK", "StatusCode2xx", ...
    expect_boolean: bool | None = None
    expect_format: str | None = None  # "boolean", "tabular" or "RDF"
    expect_location: str | None = None  # template variable to bind to the Location header
    expect_headers: tuple[tuple[str, str], ...] = ()
    expect_body: str | None = None  # RDF the response must be isomorphic to


@dataclass(frozen=True)
class SuiteTest:
    iri: str
    id: str  # "<directory>/<local name>", stable and short, used in reports
    name: str
    kind: str  # local name of the mf: test type
    group: str
    approval: str  # "Approved", "Proposed", "Deprecated" or "" when unmarked
    directory: str
    action: Path | None = None  # qt:query or ut:request
    data: tuple[Path, ...] = ()  # loaded into the default graph
    graph_data: tuple[tuple[str, Path], ...] = ()  # (graph IRI, file)
    result: Path | None = None  # query tests: expected results file
    result_data: tuple[Path, ...] = ()  # update tests: expected default graph
    result_graph_data: tuple[tuple[str, Path], ...] = ()  # update tests: expected named graphs
    requires: frozenset[str] = frozenset()  # mf:requires local names
    exchanges: tuple[Exchange, ...] = ()
    uses_service: bool = False  # qt:serviceData: needs remote SPARQL endpoints


class _Graph:
    """A subject -> predicate -> objects index over one manifest file (all a manifest needs)."""

    def __init__(self, path: Path, base: str):
        self.index: dict = {}
        for quad in ox.parse(path=path, format=ox.RdfFormat.TURTLE, base_iri=base):
            self.index.setdefault(quad.subject, {}).setdefault(quad.predicate.value, []).append(quad.object)

    def objects(self, subject, predicate: str) -> list:
        return self.index.get(subject, {}).get(predicate, [])

    def value(self, subject, predicate: str):
        found = self.objects(subject, predicate)
        return found[0] if found else None

    def subjects_of_type(self, type_iri: str) -> list:
        return [s for s, props in self.index.items() if any(o.value == type_iri for o in props.get(RDF + "type", []))]

    def items(self, head) -> list:
        """The members of an RDF collection."""
        out = []
        while head is not None and head.value != RDF + "nil":
            out.append(self.value(head, RDF + "first"))
            head = self.value(head, RDF + "rest")
        return out


def iri_to_path(root: Path, iri: str) -> Path:
    """The suite file an IRI under :data:`SUITE_BASE` names."""
    if not iri.startswith(SUITE_BASE):
        raise ValueError(f"{iri} is not a file of the test suite")
    return root / iri[len(SUITE_BASE):]


def path_to_iri(root: Path, path: Path) -> str:
    """The published IRI of a suite file: the base the W3C tests resolve that file against.

    >>> path_to_iri(Path("/s"), Path("/s/bind/data.ttl"))
    'http://www.w3.org/2009/sparql/docs/tests/data-sparql11/bind/data.ttl'
    """
    return SUITE_BASE + path.relative_to(root).as_posix()


@functools.lru_cache(maxsize=4)
def load_suite(root: Path = DEFAULT_SUITE) -> dict[str, SuiteTest]:
    """Every test of the suite, by id, in manifest order. Parsed once per process."""
    root = Path(root)
    if not (root / "manifest-all.ttl").is_file():
        raise FileNotFoundError(f"no W3C SPARQL 1.1 test suite at {root} (expected manifest-all.ttl)")
    tests: dict[str, SuiteTest] = {}
    seen: set[Path] = set()
    pending = [root / name for name in ENTRY_MANIFESTS]
    while pending:
        path = pending.pop(0)
        if path in seen:
            continue
        seen.add(path)
        graph = _Graph(path, path_to_iri(root, path))
        for manifest in graph.subjects_of_type(MF + "Manifest"):
            for include in graph.objects(manifest, MF + "include"):
                pending.extend(iri_to_path(root, node.value) for node in graph.items(include))
            for entries in graph.objects(manifest, MF + "entries"):
                for node in graph.items(entries):
                    test = _test_case(graph, node, root, path)
                    tests[test.id] = test
    return tests


def _local(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _test_case(g: _Graph, node, root: Path, manifest: Path) -> SuiteTest:
    directory = manifest.parent.relative_to(root).as_posix()
    kind = _local(g.value(node, RDF + "type").value)
    approval = g.value(node, DAWGT + "approval")
    name = g.value(node, MF + "name")
    action = g.value(node, MF + "action")
    result = g.value(node, MF + "result")
    fields: dict = {}
    if kind in ("ProtocolTest", "GraphStoreProtocolTest"):
        # ht:requests hangs off the ht:Connection that is the action
        fields["exchanges"] = tuple(
            _exchange(g, request) for requests in g.objects(action, HT + "requests") for request in g.items(requests)
        )
        fields["graph_data"] = _labelled_graphs(g, node, root)
    elif kind in ("UpdateEvaluationTest",):
        fields["action"] = _path(g.value(action, UT + "request"), root)
        fields["data"] = tuple(_path(n, root) for n in g.objects(action, UT + "data"))
        fields["graph_data"] = _labelled_graphs(g, action, root)
        if result is not None:
            fields["result_data"] = tuple(_path(n, root) for n in g.objects(result, UT + "data"))
            fields["result_graph_data"] = _labelled_graphs(g, result, root)
    elif action is not None and isinstance(action, ox.NamedNode):
        fields["action"] = _path(action, root)  # syntax tests: the action is the query/update file
    elif action is not None:
        fields["action"] = _path(g.value(action, QT + "query"), root)
        fields["data"] = tuple(_path(n, root) for n in g.objects(action, QT + "data"))
        fields["graph_data"] = tuple((n.value, _path(n, root)) for n in g.objects(action, QT + "graphData"))
        if g.objects(action, QT + "serviceData"):
            fields["uses_service"] = True
    if kind not in ("UpdateEvaluationTest",) and isinstance(result, ox.NamedNode):
        fields["result"] = _path(result, root)
    return SuiteTest(
        iri=node.value,
        id=f"{directory}/{_local(node.value)}",
        name=name.value if name is not None else _local(node.value),
        kind=kind,
        group=GROUP_OF_TYPE.get(kind, "other"),
        approval=_local(approval.value) if approval is not None else "",
        directory=directory,
        requires=frozenset(_local(n.value) for n in g.objects(node, MF + "requires")),
        **fields,
    )


def _path(node, root: Path) -> Path | None:
    return iri_to_path(root, node.value) if node is not None else None


def _labelled_graphs(g: _Graph, subject, root: Path) -> tuple[tuple[str, Path], ...]:
    """ut:graphData [ ut:graph <file> ; rdfs:label "graph IRI" ] pairs."""
    out = []
    for holder in g.objects(subject, UT + "graphData"):
        out.append((g.value(holder, RDFS + "label").value, _path(g.value(holder, UT + "graph"), root)))
    return tuple(out)


def _exchange(g: _Graph, request) -> Exchange:
    response = g.value(request, HT + "resp")
    boolean = g.value(response, MF + "expectedBoolean")
    fmt = g.value(response, MF + "expectedFormat")
    location = g.value(response, MF + "expectedLocation")
    expected_body = g.value(response, HT + "body")
    return Exchange(
        method=g.value(request, HT + "methodName").value,
        path=g.value(request, HT + "absolutePath").value,
        headers=_headers(g, request),
        body=_body(g, request),
        expect_status=frozenset(_local(n.value) for n in g.objects(response, MF + "expectedStatus")),
        expect_boolean=(boolean.value == "true") if boolean is not None else None,
        expect_format=fmt.value if fmt is not None else None,
        expect_location=location.value if location is not None else None,
        expect_headers=_headers(g, response),
        expect_body=g.value(expected_body, CNT + "chars").value if expected_body is not None else None,
    )


def _headers(g: _Graph, holder) -> tuple[tuple[str, str], ...]:
    return tuple(
        (g.value(h, HT + "fieldName").value.lower(), g.value(h, HT + "fieldValue").value)
        for headers in g.objects(holder, HT + "headers")
        for h in g.items(headers)
    )


def _body(g: _Graph, request) -> bytes | None:
    body = g.value(request, HT + "body")
    if body is None:
        return None
    encoding = g.value(body, CNT + "characterEncoding")
    return g.value(body, CNT + "chars").value.encode(encoding.value if encoding is not None else "utf-8")
