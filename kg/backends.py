"""Where the quads live: the embedded pyoxigraph store, or any SPARQL 1.1 server.

``Store`` talks to one of these and to nothing else. Both answer queries with pyoxigraph result
objects, so everything above ``kg`` is the same whichever is in use.

The remote backend speaks only the standard protocols (SPARQL 1.1 Query and Update over HTTP, N-Quads
for dumps through a CONSTRUCT per graph). It expects the server to answer queries over the union of
its graphs when Mouseion asks for the union: run Oxigraph with ``oxigraph serve --union-default-graph``;
Virtuoso's default graph is the union of all graphs already.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Iterable, Iterator, Mapping, Protocol, Sequence

import pyoxigraph as ox
from pyoxigraph import NamedNode, Quad

from kg.errors import StoreError

Term = ox.NamedNode | ox.BlankNode | ox.Literal


class Backend(Protocol):
    def query(self, sparql: str, *, union: bool, prefixes: Mapping[str, str],
              substitutions: Mapping[ox.Variable, Term] | None = None, **dataset): ...
    def update(self, sparql: str) -> None: ...
    def extend(self, quads: list[Quad]) -> None: ...
    def bulk_load(self, nquads: bytes) -> None: ...
    def remove_graph(self, graph: NamedNode) -> None: ...
    def quads(self, s=None, p=None, o=None, g=None) -> Iterator[Quad]: ...
    def by_predicate(self, s, predicates: Sequence[NamedNode]) -> Iterator[tuple[NamedNode, list[Quad]]]: ...
    def contains_graph(self, graph: NamedNode) -> bool: ...
    def graphs(self) -> Iterator[NamedNode]: ...
    def count(self) -> int: ...
    def dump(self, out: IO[bytes]) -> None: ...
    def flush(self) -> None: ...


class EmbeddedBackend:
    """pyoxigraph's RocksDB store on local disk (or in memory)."""

    def __init__(self, oxi: ox.Store) -> None:
        self.oxi = oxi

    def query(self, sparql, *, union, prefixes, substitutions=None, **dataset):
        return self.oxi.query(sparql, use_default_graph_as_union=union, prefixes=prefixes,
                              substitutions=substitutions, **dataset)

    def update(self, sparql: str) -> None:
        self.oxi.update(sparql)

    def extend(self, quads: list[Quad]) -> None:
        self.oxi.extend(quads)

    def bulk_load(self, nquads: bytes) -> None:
        """Not transactional: the caller guards it (see ``Store._write_fresh``).

        pyoxigraph's bulk loader lets go of the GIL while it parses and writes (a batch load stages its
        next batch meanwhile). Its parser gives blank nodes fresh labels, consistently within one call,
        which RDF allows: a record's blank nodes are its own.
        """
        self.oxi.bulk_load(nquads, format=ox.RdfFormat.N_QUADS)

    def remove_graph(self, graph: NamedNode) -> None:
        self.oxi.remove_graph(graph)

    def quads(self, s=None, p=None, o=None, g=None) -> Iterator[Quad]:
        return self.oxi.quads_for_pattern(s, p, o, g)

    def by_predicate(self, s, predicates: Sequence[NamedNode]) -> Iterator[tuple[NamedNode, list[Quad]]]:
        """``s``'s statements with each of ``predicates`` that it has, predicate by predicate in the order
        given, one indexed read each when asked for: on disk every quad read costs about as much as a
        seek, so a few seeks beat reading all of a resource's statements to keep a handful."""
        for predicate in predicates:
            found = list(self.oxi.quads_for_pattern(s, predicate, None, None))
            if found:
                yield predicate, found

    def contains_graph(self, graph: NamedNode) -> bool:
        return self.oxi.contains_named_graph(graph)

    def graphs(self) -> Iterator[NamedNode]:
        return self.oxi.named_graphs()

    def count(self) -> int:
        return len(self.oxi)

    def dump(self, out: IO[bytes]) -> None:
        self.oxi.dump(out, format=ox.RdfFormat.N_QUADS)

    def flush(self) -> None:
        self.oxi.flush()


_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)


def bind(sparql: str, substitutions: Mapping[ox.Variable, Term] | None) -> str:
    """Bind parameters for a server that has no substitution API: a VALUES block opening the outermost
    WHERE group. The values are RDF terms serialised by pyoxigraph (escaped), never raw text.

    >>> bind("SELECT ?s WHERE { ?s ?p ?o }", {ox.Variable("o"): ox.Literal('a "quoted" value')})
    'SELECT ?s WHERE { VALUES (?o) { ("a \\\\"quoted\\\\" value") } ?s ?p ?o }'
    """
    if not substitutions:
        return sparql
    match = _WHERE.search(sparql)
    if match is None:
        raise StoreError("a parameterised query needs a WHERE group")
    names = " ".join(f"?{v.value}" for v in substitutions)
    values = " ".join(str(t) for t in substitutions.values())
    return f"{sparql[:match.end()]} VALUES ({names}) {{ ({values}) }}{sparql[match.end():]}"


def _prologue(prefixes: Mapping[str, str]) -> str:
    return "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in prefixes.items())


class RemoteBackend:
    """A SPARQL 1.1 server reached over HTTP (Oxigraph server, Virtuoso, GraphDB, QLever...)."""

    def __init__(self, query_url: str, update_url: str | None = None, *, timeout: float = 300.0,
                 headers: Mapping[str, str] | None = None) -> None:
        self.query_url = query_url
        self.update_url = update_url or query_url
        self.timeout = timeout
        self.headers = dict(headers or {})

    def _post(self, url: str, body: bytes, content_type: str, accept: str | None = None) -> bytes:
        headers = {**self.headers, "Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[:2000]
            if error.code == 400:
                raise SyntaxError(f"{url}: {detail}") from None
            raise StoreError(f"{url} answered {error.code}: {detail}") from None
        except OSError as error:
            raise StoreError(f"cannot reach {url}: {error}") from None

    def query(self, sparql, *, union, prefixes, substitutions=None, default_graph=None, named_graphs=None,
              **_ignored):
        # `union` is the server's own configuration (see the module docstring)
        text = _prologue(prefixes) + bind(sparql, substitutions)
        params = [("query", text)]
        for graph in _as_list(default_graph):
            params.append(("default-graph-uri", graph.value))
        for graph in _as_list(named_graphs):
            params.append(("named-graph-uri", graph.value))
        form = _form(text)
        accept = "application/n-triples" if form in ("CONSTRUCT", "DESCRIBE") else "application/sparql-results+json"
        body = self._post(self.query_url, urllib.parse.urlencode(params).encode(),
                          "application/x-www-form-urlencoded", accept)
        if form in ("CONSTRUCT", "DESCRIBE"):
            return [q.triple for q in ox.parse(body, format=ox.RdfFormat.N_TRIPLES)]
        return ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)

    def update(self, sparql: str) -> None:
        self._post(self.update_url, sparql.encode(), "application/sparql-update")

    def extend(self, quads: list[Quad]) -> None:
        if quads:
            body = ox.serialize(quads, format=ox.RdfFormat.N_QUADS).decode()
            graphs: dict[str, list[str]] = {}
            for line in body.splitlines():
                term_end = line.rstrip(" .").rfind(" ")
                graph, triple = line.rstrip(" .")[term_end + 1:], line.rstrip(" .")[:term_end]
                graphs.setdefault(graph, []).append(triple + " .")
            self.update("INSERT DATA {\n" + "".join(
                f"GRAPH {g} {{\n" + "\n".join(lines) + "\n}\n" for g, lines in graphs.items()) + "}")

    def bulk_load(self, nquads: bytes) -> None:
        self.extend(list(ox.parse(nquads, format=ox.RdfFormat.N_QUADS)))

    def remove_graph(self, graph: NamedNode) -> None:
        self.update(f"DROP SILENT GRAPH <{graph.value}>")

    def quads(self, s=None, p=None, o=None, g=None) -> Iterator[Quad]:
        pattern = {ox.Variable(name): term for name, term in (("s", s), ("p", p), ("o", o), ("g", g))
                   if term is not None and not isinstance(term, ox.DefaultGraph)}
        if isinstance(g, ox.DefaultGraph):
            # a union-default-graph server cannot name its own default graph: its statements are those
            # of the union that no named graph holds
            rows = self.query("SELECT ?s ?p ?o WHERE { ?s ?p ?o FILTER NOT EXISTS { GRAPH ?g { ?s ?p ?o } } }",
                              union=True, prefixes={}, substitutions=pattern)
            for row in rows:
                yield Quad(s or row["s"], p or row["p"], o or row["o"], g)
            return
        rows = self.query("SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }", union=False, prefixes={},
                          substitutions=pattern)
        for row in rows:
            yield Quad(s or row["s"], p or row["p"], o or row["o"], g or row["g"])

    def by_predicate(self, s, predicates: Sequence[NamedNode]) -> Iterator[tuple[NamedNode, list[Quad]]]:
        """As the embedded store's, in one query: a round trip costs more than the statements it brings."""
        values = " ".join(str(p) for p in predicates)
        rows = self.query(f"SELECT ?p ?o ?g WHERE {{ VALUES ?p {{ {values} }} GRAPH ?g {{ ?s ?p ?o }} }}",
                          union=False, prefixes={}, substitutions={ox.Variable("s"): s})
        found: dict[str, list[Quad]] = {}
        for row in rows:
            found.setdefault(row["p"].value, []).append(Quad(s, row["p"], row["o"], row["g"]))
        for predicate in predicates:
            if predicate.value in found:
                yield predicate, found[predicate.value]

    def contains_graph(self, graph: NamedNode) -> bool:
        return bool(self.query("ASK WHERE { GRAPH ?g { ?s ?p ?o } }", union=False, prefixes={},
                               substitutions={ox.Variable("g"): graph}))

    def graphs(self) -> Iterator[NamedNode]:
        for row in self.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", union=False, prefixes={}):
            yield row["g"]

    def count(self) -> int:
        # named graphs only: with a union default graph the server's own default graph cannot be told
        # apart, and Mouseion keeps everything in named graphs
        rows = list(self.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }", union=False, prefixes={}))
        return int(rows[0]["n"].value)

    def dump(self, out: IO[bytes]) -> None:
        for graph in list(self.graphs()):
            triples = self.query("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }", union=False,
                                 prefixes={}, substitutions={ox.Variable("g"): graph})
            ox.serialize((Quad(t.subject, t.predicate, t.object, graph) for t in triples), out,
                         format=ox.RdfFormat.N_QUADS)

    def flush(self) -> None:
        pass


def _as_list(graphs) -> list:
    if graphs is None:
        return []
    return list(graphs) if isinstance(graphs, Iterable) and not isinstance(graphs, NamedNode) else [graphs]


_FORM = re.compile(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.IGNORECASE)


def _form(sparql: str) -> str:
    # the prologue holds only PREFIX/BASE lines and IRIs, so the first form keyword is the query's
    body = re.sub(r"<[^>]*>|#[^\n]*", " ", sparql)
    match = _FORM.search(body)
    return match.group(1).upper() if match else "SELECT"
