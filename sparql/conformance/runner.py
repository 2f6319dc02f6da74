"""Run the W3C SPARQL 1.1 test suite against a SPARQL endpoint, over HTTP only.

The endpoint can be any SPARQL 1.1 Protocol server: everything the runner does to it — clearing
the store, loading test data, asking queries, reading the store back — goes through the
SPARQL 1.1 Protocol and, for the graph store tests, the Graph Store HTTP Protocol.

>>> from sparql.conformance.oxigraph_server import OxigraphServer
>>> with OxigraphServer() as server:
...     report = run(server.endpoint(), groups=["update"])
>>> report.rate("update") > 0.9
True

What counts (README.md beside this module says why): tests marked ``dawgt:Approved`` and
tests with no approval mark (the community group's later additions, among them every graph store
protocol test) count towards the pass rate; ``dawgt:Proposed`` tests are run and shown apart;
``dawgt:Deprecated`` tests are skipped. Tests this runner cannot run faithfully over HTTP are
*excluded*, each with its reason (:func:`exclusion`), and listed in the report.
"""

from __future__ import annotations

import functools
import http.client
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from . import compare
from .client import HttpClient, Response
from .manifest import DEFAULT_SUITE, GROUPS, SuiteTest, load_suite, path_to_iri
from .protocol import run_exchanges

#: Graph store protocol features a test may require (mf:requires in graph-store-protocol/).
GSP_FEATURES = frozenset({"DirectGraphIdentification", "IndirectGraphIdentification", "POSTGraphCreation"})

#: Whole directories of the suite this runner does not run, and why.
EXCLUDED_DIRECTORIES = {
    "entailment": "needs an entailment regime (RDFS, OWL, D, RIF); only simple entailment is tested",
    "service": "federated query: SERVICE calls to remote endpoints (qt:serviceData); no network",
    "syntax-fed": "SERVICE <remote> query: accepting it over HTTP executes the remote call; no network",
    "service-description": "prose-only test: no machine-checkable expectation in the manifest",
}

_ACCEPT = {
    ".srx": "application/sparql-results+xml",
    ".srj": "application/sparql-results+json",
    ".tsv": "text/tab-separated-values",
    ".csv": "text/csv",
}
_GRAPH_ACCEPT = "application/n-triples, text/turtle;q=0.9, application/rdf+xml;q=0.8"
_READ_BACK = "SELECT ?g ?s ?p ?o WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"


@dataclass
class Endpoint:
    """Where the SPARQL service under test answers, and what it declares about itself.

    ``reset`` empties the whole store; by default the runner sends ``DROP ALL`` to ``update_url``.
    ``default_graph_is_union``: the endpoint's default graph is the union of its named graphs, so
    tests that put data in both cannot be run faithfully and are excluded.
    ``graph_store_features``: the optional Graph Store Protocol features it supports.
    """

    query_url: str
    update_url: str | None = None  # None: the same URL as queries
    graph_store_url: str | None = None  # None: graph store tests are excluded
    token: str | None = None
    reset: Callable[[], None] | None = None
    default_graph_is_union: bool = False
    graph_store_features: frozenset[str] = frozenset({"IndirectGraphIdentification", "POSTGraphCreation"})

    def __post_init__(self):
        if self.update_url is None:
            self.update_url = self.query_url


_RAN = ("passed", "failed")


@dataclass(frozen=True)
class Outcome:
    test: SuiteTest
    status: str  # "passed", "failed", "excluded" or "skipped"
    reason: str = ""

    @property
    def counted(self) -> bool:
        """Whether the outcome counts towards the pass rate (Approved or unmarked, and run)."""
        return self.test.approval in ("Approved", "") and self.status in _RAN


@dataclass
class Report:
    endpoint: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def of(self, group: str | None = None, status: str | None = None) -> list[Outcome]:
        return [
            o
            for o in self.outcomes
            if (group is None or o.test.group == group) and (status is None or o.status == status)
        ]

    def counts(self, group: str | None = None) -> tuple[int, int]:
        """(passed, run) over the counted tests of a group, or of all groups."""
        counted = [o for o in self.of(group) if o.counted]
        return sum(o.status == "passed" for o in counted), len(counted)

    def rate(self, group: str | None = None) -> float:
        passed, total = self.counts(group)
        return passed / total if total else 0.0

    def groups(self) -> list[str]:
        return [g for g in GROUPS if self.of(g)]

    def summary(self) -> str:
        lines = [
            f"W3C SPARQL 1.1 conformance of {self.endpoint} ({len(self.outcomes)} tests, {self.seconds:.1f} s)",
            f"{'group':<12} {'passed':>7} {'failed':>7} {'rate':>7}   {'excluded':>8} {'skipped':>8} {'proposed':>9}",
        ]
        for group in self.groups() + [None]:
            passed, total = self.counts(group)
            proposed = [o for o in self.of(group) if o.test.approval == "Proposed" and o.status in _RAN]
            proposed_passed = sum(o.status == "passed" for o in proposed)
            rate = f"{100 * passed / total:6.1f}%" if total else "     -"
            lines.append(
                f"{group or 'total':<12} {passed:>7} {total - passed:>7} {rate:>7}   "
                f"{len(self.of(group, 'excluded')):>8} {len(self.of(group, 'skipped')):>8} "
                f"{f'{proposed_passed}/{len(proposed)}':>9}"
            )
        lines.append("rate: Approved + unmarked tests; proposed: run, not counted; skipped: deprecated")
        return "\n".join(lines)

    def details(self) -> str:
        """One line per test that did not pass: failures first, then exclusions and skips."""
        order = {"failed": 0, "excluded": 1, "skipped": 2}
        lines = []
        for o in sorted((o for o in self.outcomes if o.status != "passed"), key=lambda o: order[o.status]):
            note = "" if o.counted or o.status != "failed" else " [proposed, not counted]"
            lines.append(f"{o.status.upper():<8} {o.test.id}{note}: {o.reason}")
        return "\n".join(lines)


class EndpointUnreachable(RuntimeError):
    """The endpoint refused connections: there is nothing to test."""


def exclusion(test: SuiteTest, endpoint: Endpoint) -> tuple[str, str] | None:
    """("skipped" | "excluded", reason) for a test that is not run against ``endpoint``, else None."""
    if test.approval == "Deprecated":
        return "skipped", "deprecated (dawgt:Deprecated)"
    if test.directory in EXCLUDED_DIRECTORIES:
        return "excluded", EXCLUDED_DIRECTORIES[test.directory]
    if test.uses_service:
        return "excluded", EXCLUDED_DIRECTORIES["service"]
    if test.kind == "PositiveUpdateSyntaxTest11" and _has_load(test.action):
        return "excluded", "LOAD <remote>: accepting it over HTTP makes the endpoint fetch a remote IRI; no network"
    if test.group == "graph-store":
        if not endpoint.graph_store_url:
            return "excluded", "no graph store URL given"
        if missing := test.requires - endpoint.graph_store_features:
            return "excluded", f"needs mf:{', mf:'.join(sorted(missing))}, which the endpoint does not declare"
    named = test.graph_data or test.result_graph_data
    if endpoint.default_graph_is_union and test.group in ("query", "update") and named:
        return "excluded", "needs a default graph apart from the named graphs; the endpoint's is their union"
    return None


def run(endpoint: Endpoint, groups: Iterable[str] | None = None, suite: Path = DEFAULT_SUITE) -> Report:
    """Run the suite's tests of ``groups`` (default: all of :data:`GROUPS`) against ``endpoint``."""
    groups = list(groups or GROUPS)
    if unknown := set(groups) - set(GROUPS):
        raise ValueError(f"unknown groups {sorted(unknown)}; choose from {', '.join(GROUPS)}")
    started = time.perf_counter()
    report = Report(endpoint.query_url)
    with HttpClient(endpoint.token) as client:
        session = Session(endpoint, client, Path(suite))
        for test in load_suite(Path(suite)).values():
            if test.group not in groups:
                continue
            if excluded := exclusion(test, endpoint):
                report.outcomes.append(Outcome(test, *excluded))
                continue
            report.outcomes.append(session.execute(test))
    report.seconds = time.perf_counter() - started
    return report


class Session:
    """The runner's side of one conformance run: an endpoint, a connection, cached test files."""

    def __init__(self, endpoint: Endpoint, client: HttpClient, root: Path):
        self.endpoint = endpoint
        self.client = client
        self.root = root

    def execute(self, test: SuiteTest) -> Outcome:
        try:
            if test.group == "query":
                reason = self.query_evaluation(test)
            elif test.group == "syntax":
                reason = self.syntax(test)
            elif test.group == "update":
                reason = self.update_evaluation(test)
            else:
                self.reset()
                self.load((), test.graph_data)
                reason = run_exchanges(test, self.client, self.endpoint)
        except ConnectionRefusedError as exc:
            raise EndpointUnreachable(f"{self.endpoint.query_url}: {exc}") from exc
        except SetupError as exc:
            return Outcome(test, "failed", f"setup: {exc}")
        except (OSError, http.client.HTTPException, SyntaxError, ValueError) as exc:  # fails this test only
            first_line = str(exc).splitlines()[0] if str(exc) else ""
            return Outcome(test, "failed", f"{type(exc).__name__}: {first_line}"[:300])
        if isinstance(reason, tuple):  # (passed, note)
            return Outcome(test, "passed", reason[1])
        return Outcome(test, "failed", reason) if reason else Outcome(test, "passed")

    # --- protocol plumbing ----------------------------------------------------------------------

    def query(self, text: str, accept: str | None) -> Response:
        headers = {"Content-Type": "application/sparql-query; charset=utf-8"}
        if accept:
            headers["Accept"] = accept
        return self.client.request("POST", self.endpoint.query_url, text.encode("utf-8"), headers)

    def update(self, text: str | bytes) -> Response:
        body = text.encode("utf-8") if isinstance(text, str) else text
        headers = {"Content-Type": "application/sparql-update; charset=utf-8"}
        return self.client.request("POST", self.endpoint.update_url, body, headers)

    def reset(self) -> None:
        if self.endpoint.reset is not None:
            self.endpoint.reset()
            return
        response = self.update("DROP ALL")
        if not 200 <= response.status < 300:
            raise SetupError(f"DROP ALL refused: {response.summary()}")

    def load(self, default: Iterable[Path], named: Iterable[tuple[str, Path]]) -> None:
        """Put test data in the store with one INSERT DATA (files keep their own blank nodes)."""
        parts = []
        for i, path in enumerate(default):
            parts.append(_ntriples(self.root, path, f"d{i}"))
        for i, (graph, path) in enumerate(named):
            parts.append(f"GRAPH <{graph}> {{\n{_ntriples(self.root, path, f'g{i}')}}}\n")
        if any(p.strip() for p in parts):
            response = self.update("INSERT DATA {\n" + "".join(parts) + "}")
            if not 200 <= response.status < 300:
                raise SetupError(f"loading test data: {response.summary()}")

    # --- test kinds -------------------------------------------------------------------------------

    def query_evaluation(self, test: SuiteTest) -> str | None:
        self.reset()
        self.load(test.data, test.graph_data)
        text = test.action.read_text("utf-8")
        form = query_form(text)
        expected = _expected(self.root, test.result)
        accept = _ACCEPT.get(test.result.suffix) or (
            _GRAPH_ACCEPT if form in ("CONSTRUCT", "DESCRIBE") else "application/sparql-results+json"
        )
        # the suite resolves relative IRIs against the query file's IRI; BASE says so over HTTP
        response = self.query(f"BASE <{path_to_iri(self.root, test.action)}>\n{text}", accept)
        if response.status != 200:
            return f"query failed: {response.summary()}"
        if response.media_type not in [a.split(";")[0].strip() for a in accept.split(",")]:
            return f"asked for {accept}, got {response.media_type or 'no Content-Type'}"
        order = order_by(text)
        if test.result.suffix == ".csv":
            return compare.compare_csv(expected, compare.parse_csv(response.body), order)
        if isinstance(expected, list):  # a graph
            fmt = compare.RDF_FORMATS[response.media_type]
            return compare.compare_graphs(expected, compare.parse_rdf(response.body, fmt, self.endpoint.query_url))
        actual = compare.parse_results(response.body, compare.RESULT_FORMATS[response.media_type])
        if isinstance(expected, bool) or isinstance(actual, bool):
            return None if expected == actual else f"expected {expected}, got {actual}"
        order = [v for v in order or () if v in expected.variables]  # unprojected keys cannot be checked
        return compare.compare_result_sets(expected, actual, order or None)

    def syntax(self, test: SuiteTest) -> str | tuple | None:
        body = test.action.read_bytes()  # sent as written: the endpoint's parser is under test
        positive = test.kind.startswith("Positive")
        if "Update" in test.kind:
            self.reset()  # updates change the store; each one starts from the same empty store
            response = self.update(body)
        else:
            form = query_form(body.decode("utf-8", "replace"))
            accept = _GRAPH_ACCEPT if form in ("CONSTRUCT", "DESCRIBE") else "application/sparql-results+json"
            response = self.client.request(
                "POST", self.endpoint.query_url, body, {"Content-Type": "application/sparql-query", "Accept": accept}
            )
        if not positive:
            return None if response.status == 400 else f"expected 400 for a syntax error, got {response.summary()}"
        if 200 <= response.status < 300:
            return None
        if "Update" in test.kind and response.status >= 500 and _may_fail_at_run_time(body.decode("utf-8", "replace")):
            # parsed, then failed as SPARQL Update allows a non-SILENT graph operation to fail
            return True, f"accepted, failed at run time: {response.summary()}"
        return f"valid syntax rejected: {response.summary()}"

    def update_evaluation(self, test: SuiteTest) -> str | None:
        self.reset()
        self.load(test.data, test.graph_data)
        text = test.action.read_text("utf-8")
        response = self.update(f"BASE <{path_to_iri(self.root, test.action)}>\n{text}")
        if not 200 <= response.status < 300:
            return f"update failed: {response.summary()}"
        response = self.query(_READ_BACK, "application/sparql-results+json")
        if response.status != 200:
            raise SetupError(f"reading the store back: {response.summary()}")
        actual: dict[str | None, list] = {}
        for row in compare.parse_results(response.body, ox.QueryResultsFormat.JSON).rows:
            if not {"s", "p", "o"} <= row.keys():
                raise SetupError(f"reading the store back: a solution without ?s ?p ?o: {row}")
            graph = row.get("g")
            actual.setdefault(graph[1] if graph else None, []).append((row["s"], row["p"], row["o"]))
        expected: dict[str | None, list] = {}
        for path in test.result_data:
            expected.setdefault(None, []).extend(_triples(self.root, path))
        for graph, path in test.result_graph_data:
            expected.setdefault(graph, []).extend(_triples(self.root, path))
        expected = {g: t for g, t in expected.items() if t}
        names_e, names_a = set(expected) - {None}, set(actual) - {None}
        if names_e != names_a:
            return f"named graphs differ: expected {sorted(names_e)}, got {sorted(names_a)}"
        for graph in [None, *sorted(names_e)]:
            if reason := compare.compare_graphs(expected.get(graph, []), actual.get(graph, [])):
                return f"{'default graph' if graph is None else f'graph <{graph}>'}: {reason}"
        return None


class SetupError(RuntimeError):
    """The endpoint would not take the test's data or give the store back."""


# --- reading test files (cached: many tests share data and result files) ----------------------


@functools.lru_cache(maxsize=None)
def _quads(path: Path, base: str) -> tuple:
    fmt = ox.RdfFormat.from_extension(path.suffix.lstrip(".")) or ox.RdfFormat.TURTLE
    return tuple(ox.parse(path=path, format=fmt, base_iri=base))


def _ntriples(root: Path, path: Path, prefix: str) -> str:
    """A data file as N-Triples lines for INSERT DATA, its blank nodes labelled apart by ``prefix``."""
    def node(n) -> str:
        return f"_:{prefix}x{n.value}" if isinstance(n, ox.BlankNode) else str(n)

    quads = _quads(path, path_to_iri(root, path))
    return "".join(f"{node(q.subject)} {node(q.predicate)} {node(q.object)} .\n" for q in quads)


@functools.lru_cache(maxsize=None)
def _triples_cached(root: Path, path: Path) -> tuple:
    quads = _quads(path, path_to_iri(root, path))
    return tuple(tuple(compare.term(n) for n in (q.subject, q.predicate, q.object)) for q in quads)


def _triples(root: Path, path: Path) -> list:
    """A file's triples in comparable form, blank nodes labelled apart from other files'."""
    tag = "f" + re.sub(r"[^A-Za-z0-9]", "", path.stem) + "x"
    return [
        tuple(("bnode", tag + t[1]) if t[0] == "bnode" else t for t in triple) for triple in _triples_cached(root, path)
    ]


@functools.lru_cache(maxsize=None)
def _expected(root: Path, path: Path):
    """Expected results: a ResultSet, a bool, a list of triples, or (header, rows) for CSV."""
    data = path.read_bytes()
    suffix = path.suffix
    if suffix == ".csv":
        return compare.parse_csv(data)
    if suffix in (".srx", ".srj", ".tsv"):
        return compare.parse_results(data, compare.RESULT_FORMATS[_ACCEPT[suffix]])
    triples = list(_triples(root, path))
    results = compare.result_set_from_graph(triples)
    return triples if results is None else results


# --- reading query text -----------------------------------------------------------------------

_IRI = re.compile(r"<[^<>\"{}|^`\\\s]*>")
_STRING = re.compile(r'"""(?:.|\n)*?"""|\'\'\'(?:.|\n)*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'')
_COMMENT = re.compile(r"#[^\n]*")


def _strip(text: str) -> str:
    """Query text without IRIs, strings and comments, so keywords can be found by pattern."""
    return _COMMENT.sub(" ", _STRING.sub('""', _IRI.sub("<>", text)))


def query_form(text: str) -> str | None:
    """SELECT, ASK, CONSTRUCT or DESCRIBE.

    >>> query_form("PREFIX : <http://example/ask#>  # a describe comment\\nselect * {}")
    'SELECT'
    """
    found = re.search(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", _strip(text), re.I)
    return found.group(1).upper() if found else None


def order_by(text: str) -> list[str] | None:
    """The variables of the outermost ORDER BY, when every key is a plain variable, else None.

    Solutions that tie on these variables may come in any order, so only their sequence is checked.

    >>> order_by("SELECT * { { SELECT ?x {} ORDER BY ?x } } ORDER BY DESC(?y) ?z LIMIT 2")
    ['y', 'z']
    >>> order_by("SELECT * {} ORDER BY STR(?y)") is None
    True
    """
    stripped = _strip(text)
    depth, outer = 0, None
    for match in re.finditer(r"[{}]|\bORDER\s+BY\b", stripped, re.I):
        token = match.group(0)
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        elif depth == 0:
            outer = match.end()
    if outer is None:
        return None
    clause = re.split(r"\b(?:LIMIT|OFFSET|VALUES)\b|[{]", stripped[outer:], maxsplit=1, flags=re.I)[0]
    keys = re.findall(r"(?:ASC|DESC)\s*\(\s*[?$](\w+)\s*\)|[?$](\w+)|(\S+)", clause, re.I)
    if not keys or any(other for _, _, other in keys):
        return None
    return [a or b for a, b, _ in keys]


def _has_load(path: Path) -> bool:
    return bool(re.search(r"\bLOAD\b", _strip(path.read_text("utf-8")), re.I))


def _may_fail_at_run_time(update: str) -> bool:
    """Whether an update holds a non-SILENT operation that SPARQL 1.1 Update lets fail at run time."""
    return bool(re.search(r"\b(?:DROP|CLEAR|CREATE|ADD|MOVE|COPY)\s+(?!SILENT\b)", _strip(update), re.I))
