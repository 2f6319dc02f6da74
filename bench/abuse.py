"""Abuse replay: issue 18's hostile inputs and loads against a real `mouseion serve` on loopback, each
printed as PASS or FAIL with its figures (seconds, peak memory, statuses).

    python3 bench/abuse.py [--store DIR] [--only 1,4,5,7] [--queries 50] [--cap-gb 6]

- **1, nesting**: a Turtle record of blank nodes nested 10,000 deep through ``mouseion validate`` and
  ``mouseion load`` (each its own process, peak RSS from ``wait4``), and one 49,000 deep through a Graph
  Store PUT; passes when each is refused with a 4xx / exit 1 naming a limit, within seconds, and the
  server still answers.
- **4, slow queries**: ``--queries`` concurrent cartesian-product queries (no token), then ``/-/health`` and
  an object page asked ten times each while they are in flight; passes when every probe answers 200 in
  under a second.
- **5, expansion and big literals**: a billion-laughs RDF/XML file (10^9 x "lol") through
  ``mouseion validate``; a 10^8 variant through a Graph Store PUT; a 2 MiB literal (over the default
  ``MOUSEION_MAX_LITERAL_BYTES``, under the body limit) through a Graph Store PUT and a SPARQL Update;
  passes when each is refused, quickly, and the server grows by less than 100 MB.
- **7, bodies**: a declared 300 MB POST to ``/oai`` and to ``/-/review/decide`` (streamed, never held here)
  and a chunked one with no length; passes when each is refused with 413 and the server grows by less
  than 100 MB.

Every child runs under an address-space cap (``--cap-gb``, default 6), so a regression is a FAIL ("killed
at the cap"), not a machine out of memory. The store is the bundled sample (loaded once into ``--store``
when it is empty; a temporary one otherwise). Nothing here is a timed test: the figures are for the
issue's notes, and the machines are noisy.
"""

from __future__ import annotations

import argparse
import http.client
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASE = "http://localhost:8000/"
TOKEN = "abuse-bench-token"
OBJECT_PAGE = "/page/object/tate-A00001"
#: a query no engine answers quickly on the sample: every statement paired with every statement
SLOW_QUERY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f }"
MB = 1024 * 1024


@dataclass
class Check:
    """One replayed attack: what was done, whether the service held, and the figures that say so."""

    item: str
    what: str
    passed: bool
    figures: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  item {self.item}: {self.what}\n" + \
            "".join(f"        {figure}\n" for figure in self.figures)


# ------------------------------------------------------------------------------------ hostile files


def nested_turtle(depth: int) -> bytes:
    """One object whose parts nest ``depth`` blank nodes deep: a few bytes a level."""
    return (b"@prefix crm: <http://www.cidoc-crm.org/cidoc-crm/> .\n"
            b"@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
            b"<http://example.org/deep> a crm:E22_Human-Made_Object ; rdfs:label \"deep\" ;\n  crm:P46_is_composed_of "
            + b"[ a crm:E22_Human-Made_Object ; crm:P46_is_composed_of " * depth + b"<http://example.org/core>"
            + b" ]" * depth + b" .\n")


def laughs(levels: int) -> bytes:
    """RDF/XML whose one label expands to 3 x 10^levels characters through nested internal entities."""
    entities = "".join(f'  <!ENTITY a{n} "{"".join(f"&a{n - 1};" for _ in range(10))}">\n' for n in range(1, levels + 1))
    return (f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n  <!ENTITY a0 "lol">\n{entities}]>\n'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">\n'
            f'  <rdf:Description rdf:about="http://example.org/lol"><rdfs:label>&a{levels};</rdfs:label>'
            '</rdf:Description>\n</rdf:RDF>\n').encode()


def big_literal_ntriples(size: int) -> bytes:
    return f'<http://example.org/big> <http://www.w3.org/2000/01/rdf-schema#label> "{"x" * size}" .\n'.encode()


# ------------------------------------------------------------------------------------ processes


def _capped(cap: int):
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        os.setsid()
    return limit


@dataclass
class Ran:
    code: int
    seconds: float
    peak_mb: float
    output: str

    def summary(self) -> str:
        status = f"exit {self.code}" if self.code >= 0 else f"killed by {signal.Signals(-self.code).name}"
        return f"{status} in {self.seconds:.2f} s, peak RSS {self.peak_mb:,.0f} MB"


def mouseion(args: list[str], cap: int, timeout: float = 300.0) -> Ran:
    """A CLI command in its own capped process; its peak RSS from the kernel's own accounting."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen([sys.executable, "-m", "web.cli", *args], cwd=ROOT, stdout=out,
                                   stderr=subprocess.STDOUT, preexec_fn=_capped(cap),
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
        killer = threading.Timer(timeout, lambda: os.killpg(process.pid, signal.SIGKILL))
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    return Ran(process.returncode, time.perf_counter() - started, usage.ru_maxrss / 1024, text)


class Server:
    """`mouseion serve` on a free loopback port, capped, with its memory watched."""

    def __init__(self, store: Path, cap: int, env: dict[str, str]) -> None:
        with socketserver_port() as port:
            self.port = port
        self.process = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--store", str(store), "--base-uri", BASE,
             "--port", str(self.port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=_capped(cap),
            env={**os.environ, "PYTHONPATH": str(ROOT), "MOUSEION_UPDATE_TOKEN": TOKEN, **env})
        self.peak = 0
        self._watching = True
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited: {self.process.stderr.read().decode()[-2000:]}")
            if self.get("/-/health", timeout=2)[0] == 200:
                break
            time.sleep(0.1)
        else:
            raise SystemExit("the server did not answer within 120 s")
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while self._watching and self.alive():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.02)

    def rss(self) -> int:
        try:
            return psutil.Process(self.process.pid).memory_info().rss
        except psutil.Error:
            return 0

    def alive(self) -> bool:
        return self.process.poll() is None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 120.0) -> tuple[int, bytes, float]:
        """(status, body, seconds); status 0 when the connection failed."""
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read(), time.perf_counter() - started
        except (OSError, http.client.HTTPException):
            return 0, b"", time.perf_counter() - started
        finally:
            connection.close()

    def get(self, path: str, timeout: float = 30.0) -> tuple[int, bytes]:
        status, body, _ = self.request("GET", path, timeout=timeout)
        return status, body

    def stop(self) -> None:
        self._watching = False
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


class socketserver_port:
    """A free loopback port (bound, read, released)."""

    def __enter__(self) -> int:
        import socket
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()


def _graph_store(graph: str) -> str:
    return "/sparql/graphs?" + urllib.parse.urlencode({"graph": graph})


def _auth(content_type: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type}


def _named(body: bytes, *words: str) -> str:
    text = body.decode(errors="replace")
    found = [w for w in words if w in text]
    return f"names {', '.join(found)}" if found else f"says {text[:160].strip()!r}"


# ------------------------------------------------------------------------------------ the items


def item_1(server: Server, work: Path, cap: int) -> list[Check]:
    deep = work / "deep.ttl"
    deep.write_bytes(nested_turtle(10_000))
    checks = []
    for command in (["validate", str(deep)], ["load", str(deep), "--store", str(work / "scratch-store"),
                                               "--base-uri", BASE]):
        ran = mouseion(command, cap)
        refused = ran.code in (1, 2) and "depth" in ran.output.lower()
        checks.append(Check("1", f"mouseion {command[0]} of a record nested 10,000 blank nodes deep "
                                 f"({deep.stat().st_size:,} bytes)",
                            refused and ran.seconds < 30 and ran.peak_mb < 1024,
                            [ran.summary(), "output: " + (ran.output.strip().splitlines() or ["(none)"])[-1][:200]]))
    before = server.rss()
    status, body, seconds = server.request("PUT", _graph_store(f"{BASE}graph/record/abuse/deep"),
                                           nested_turtle(49_000), _auth("text/turtle"))
    alive = server.alive() and server.get("/-/health")[0] == 200
    checks.append(Check("1", "Graph Store PUT of a record nested 49,000 deep",
                        400 <= status < 500 and alive and seconds < 30,
                        [f"HTTP {status or 'no answer'} in {seconds:.2f} s, {_named(body, 'depth', 'MOUSEION_')}",
                         f"server {'still answers' if alive else 'DIED'}; RSS {before / MB:,.0f} -> "
                         f"{server.rss() / MB:,.0f} MB"]))
    return checks


def item_4(server: Server, queries: int, timeout: float) -> list[Check]:
    answers: list[tuple[int, float]] = []
    sent = threading.Semaphore(0)
    lock = threading.Lock()

    def ask() -> None:
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout + 60)
        try:
            body = urllib.parse.urlencode({"query": SLOW_QUERY})
            connection.request("POST", "/sparql", body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/sparql-results+json"})
            sent.release()
            status = connection.getresponse().status
        except (OSError, http.client.HTTPException):
            sent.release()
            status = 0
        finally:
            connection.close()
        with lock:
            answers.append((status, time.perf_counter() - started))

    threads = [threading.Thread(target=ask, daemon=True) for _ in range(queries)]
    for thread in threads:
        thread.start()
    for _ in threads:
        sent.acquire()
    probes = []
    for _ in range(10):
        for path in ("/-/health", OBJECT_PAGE):
            status, _, seconds = server.request("GET", path, timeout=60)
            with lock:
                in_flight = queries - len(answers)
            probes.append((path, status, seconds, in_flight))
    for thread in threads:
        thread.join()
    worst = max(probes, key=lambda p: p[2])
    refused_at_once = sum(1 for status, seconds in answers if status == 503 and seconds < 1)
    statuses = sorted({status for status, _ in answers})
    passed = all(status == 200 and seconds < 1 for _, status, seconds, _ in probes)
    return [Check("4", f"{queries} concurrent cartesian-product queries, health and an object page asked "
                       "10 times each meanwhile", passed,
                  [f"slowest probe: {worst[0]} HTTP {worst[1]} in {worst[2]:.2f} s "
                   f"with {worst[3]} queries unanswered",
                   "probes over 1 s: " + str(sum(1 for p in probes if p[2] >= 1 or p[1] != 200)) + " of 20",
                   f"query answers: statuses {statuses}; {refused_at_once} refused within 1 s; "
                   f"last answered after {max(s for _, s in answers):.1f} s"])]


def item_5(server: Server, work: Path, cap: int) -> list[Check]:
    lol = work / "laughs.rdf"
    lol.write_bytes(laughs(9))
    ran = mouseion(["validate", str(lol)], cap)
    checks = [Check("5", f"mouseion validate of a {lol.stat().st_size:,}-byte billion-laughs RDF/XML file "
                         "(3 x 10^9 characters expanded)",
                    ran.code in (1, 2) and ran.seconds < 30 and ran.peak_mb < 1024,
                    [ran.summary(), "output: " + (ran.output.strip().splitlines() or ["(none)"])[-1][:200]])]
    writes = [
        ("Graph Store PUT of the 10^8 variant (RDF/XML)", "PUT", _graph_store("http://example.org/laughs"),
         laughs(8), _auth("application/rdf+xml")),
        ("Graph Store PUT of a 2 MiB literal (N-Triples)", "PUT", _graph_store("http://example.org/big"),
         big_literal_ntriples(2 * MB), _auth("application/n-triples")),
        ("SPARQL Update INSERT DATA of a 2 MiB literal", "POST", "/sparql",
         b"INSERT DATA { GRAPH <http://example.org/big2> { " + big_literal_ntriples(2 * MB)[:-2] + b" } }",
         _auth("application/sparql-update")),
    ]
    for what, method, path, body, headers in writes:
        before = server.rss()
        server.peak = before
        status, answer, seconds = server.request(method, path, body, headers)
        grown = (server.peak - before) / MB
        stored = server.get("/sparql?" + urllib.parse.urlencode(
            {"query": "SELECT (MAX(STRLEN(?o)) AS ?n) { GRAPH ?g { ?s ?p ?o } FILTER(isLiteral(?o)) "
                      "FILTER(?g IN (<http://example.org/laughs>, <http://example.org/big>, <http://example.org/big2>)) }",
             "format": "csv"}))[1].decode(errors="replace").split()[-1:]
        checks.append(Check("5", what, 400 <= status < 500 and grown < 100 and server.alive(),
                            [f"HTTP {status or 'no answer'} in {seconds:.2f} s, {_named(answer, 'MOUSEION_', 'entit')}",
                             f"server peak grew by {grown:,.0f} MB; longest literal stored in those graphs: "
                             f"{stored[0] if stored else '?'}"]))
    return checks


def _declared_post(server: Server, path: str, size: int, chunked: bool, content_type: str) -> tuple[int, float, int]:
    """POST ``size`` bytes, streamed a megabyte at a time; (status, seconds, bytes sent)."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    sent = 0
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", content_type)
        connection.putheader("Transfer-Encoding" if chunked else "Content-Length", "chunked" if chunked else str(size))
        connection.endheaders()
        piece = b"verb=Identify&padding=" + b"a" * (MB - 22)
        while sent < size:
            chunk = piece[:size - sent]
            connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk)
            sent += len(chunk)
        if chunked:
            connection.send(b"0\r\n\r\n")
    except OSError:
        pass  # the server stopped reading: what a refusal looks like from here
    try:
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException):
        status = 0
    finally:
        connection.close()
    return status, time.perf_counter() - started, sent


def item_7(server: Server) -> list[Check]:
    checks = []
    form, raw = "application/x-www-form-urlencoded", "application/octet-stream"
    for path, chunked, content_type in (("/oai", False, form), ("/oai", False, raw), ("/oai", True, form),
                                        ("/oai", True, raw), ("/-/review/decide", False, form),
                                        ("/-/review/login", True, raw)):
        before = server.rss()
        server.peak = before
        status, seconds, sent = _declared_post(server, path, 300 * MB, chunked, content_type)
        grown = (server.peak - before) / MB
        kind = "chunked (no length)" if chunked else "with Content-Length"
        checks.append(Check("7", f"300 MB POST to {path}, {kind}, {content_type}",
                            status == 413 and grown < 100 and server.alive(),
                            [f"HTTP {status or 'no answer'} after {sent / MB:,.0f} MB sent, {seconds:.2f} s",
                             f"server peak grew by {grown:,.0f} MB"]))
    return checks


# ------------------------------------------------------------------------------------ main


def prepared_store(store: Path | None, work: Path, cap: int) -> Path:
    path = store or work / "store"
    if not (path.exists() and any(path.iterdir())):
        ran = mouseion(["load", "--sample", "--store", str(path), "--base-uri", BASE], cap, timeout=1800)
        if ran.code != 0:
            raise SystemExit(f"loading the sample failed: {ran.output[-2000:]}")
        print(f"sample loaded into {path} ({ran.seconds:.0f} s)", flush=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, help="a store to serve (loaded with the sample when empty)")
    parser.add_argument("--only", default="1,4,5,7", help="items to replay (default 1,4,5,7)")
    parser.add_argument("--queries", type=int, default=50, help="concurrent slow queries for item 4")
    parser.add_argument("--query-timeout", type=float, default=30.0, help="MOUSEION_QUERY_TIMEOUT of the server")
    parser.add_argument("--cap-gb", type=float, default=6.0, help="address-space cap of every child process")
    args = parser.parse_args()
    cap = int(args.cap_gb * 1024**3)
    items = {part.strip() for part in args.only.split(",")}
    work = Path(tempfile.mkdtemp(prefix="mouseion-abuse-"))
    checks: list[Check] = []
    try:
        store = prepared_store(args.store, work, cap)
        env = {"MOUSEION_QUERY_TIMEOUT": str(args.query_timeout)}
        server = Server(store, cap, env)
        try:
            print(f"server pid {server.process.pid} on port {server.port}, RSS {server.rss() / MB:,.0f} MB",
                  flush=True)
            steps = [("1", lambda: item_1(server, work, cap)), ("5", lambda: item_5(server, work, cap)),
                     ("7", lambda: item_7(server)), ("4", lambda: item_4(server, args.queries, args.query_timeout))]
            for item, step in steps:
                if item not in items:
                    continue
                if not server.alive():  # an earlier item killed it: that item failed; this one starts afresh
                    print("(the server had died: started again)", flush=True)
                    server = Server(store, cap, env)
                for check in step():
                    print(check.line(), end="", flush=True)
                    checks.append(check)
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failed = [c for c in checks if not c.passed]
    print(f"{len(checks) - len(failed)} of {len(checks)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
