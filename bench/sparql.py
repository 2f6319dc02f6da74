"""SPARQL benchmark: Mouseion's /sparql against `oxigraph serve` on the same data, in one run.

The data is Tate-derived: the mapped sample artworks replicated with fresh identifiers until the
dataset passes 1 M triples, loaded into a Mouseion store; the Mouseion store is then dumped and that
very dump bulk-loaded into Oxigraph's server, so both answer over identical quads (Oxigraph is started
with --union-default-graph: Mouseion's public default graph is the union too).

    python3 bench/sparql.py [--objects 15000] [--requests 200]

For each concurrency (1 and 4) it sends the same query mix with the same client to both servers and
prints queries/s, p50 and p99 latency, and the throughput ratio Mouseion / Oxigraph.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import generate  # noqa: E402
from tests.servers import free_port, wait_until_answering  # noqa: E402

PREFIXES = """PREFIX crm: <http://www.cidoc-crm.org/cidoc-crm/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""

#: the query mix: what a collection's visitors and harvesters ask, small to medium answers
QUERIES = {
    "object-by-uri": "SELECT ?p ?o WHERE { <http://localhost:8000/id/object/gen-000042> ?p ?o }",
    "objects-by-maker": """SELECT ?object ?title WHERE {
        ?object crm:P108i_was_produced_by/crm:P14_carried_out_by <http://localhost:8000/id/person/tate-558> ;
                rdfs:label ?title } LIMIT 50""",
    "count-by-material": """SELECT ?material (COUNT(?object) AS ?n) WHERE {
        ?object crm:P45_consists_of ?material } GROUP BY ?material ORDER BY DESC(?n) LIMIT 10""",
    "title-contains": """SELECT ?object ?title WHERE { ?object a crm:E22_Human-Made_Object ; rdfs:label ?title .
        FILTER(CONTAINS(LCASE(?title), "river")) } LIMIT 20""",
    "dated-range": """SELECT ?object ?begin WHERE { ?object crm:P108i_was_produced_by/crm:P4_has_time-span/
        crm:P82a_begin_of_the_begin ?begin . FILTER(?begin >= "1800-01-01T00:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime>
        && ?begin < "1801-01-01T00:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime>) } LIMIT 100""",
    "ask-thing": "ASK { <http://localhost:8000/id/object/gen-000007> a crm:E70_Thing }",
}


def start(command: list[str], health: str, env: dict | None = None) -> subprocess.Popen:
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until_answering(health, process, timeout=300)
    return process


def worker(port: int, path: str, jobs: list[str], latencies: list[float], errors: list[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for query in jobs:
        body = urllib.parse.urlencode({"query": PREFIXES + query})
        started = time.perf_counter()
        connection.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded",
                                                "Accept": "application/sparql-results+json"})
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            errors.append(f"{response.status} for {query[:60]}")
    connection.close()


def measure(port: int, path: str, concurrency: int, requests: int) -> tuple[float, float, float, list[str]]:
    mix = list(QUERIES.values())
    jobs = [mix[n % len(mix)] for n in range(requests)]
    latencies: list[float] = []
    errors: list[str] = []
    threads = [threading.Thread(target=worker, args=(port, path, jobs[i::concurrency], latencies, errors))
               for i in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return requests / elapsed, statistics.median(latencies) * 1000, p99 * 1000, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=15_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="mouseion-bench-") as tmp:
        work = Path(tmp)
        data = work / "collection.nq"
        records, quads = generate(args.objects, data, full=True)
        store = work / "mouseion"
        subprocess.run([sys.executable, "-m", "web.cli", "load", str(data), "--store", str(store), "--no-validate",
                        "--dataset", "gen"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-m", "web.cli", "load", "--sample", "--store", str(store), "--no-validate"],
                       cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        dump = work / "all.nq.gz"
        subprocess.run([sys.executable, "-m", "web.cli", "dump", str(dump), "--store", str(store)],
                       cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        plain = work / "all.nq"
        with gzip.open(dump) as source, open(plain, "wb") as target:
            shutil.copyfileobj(source, target)
        total = sum(1 for _ in open(plain, "rb"))
        print(f"{records} generated objects + the Tate sample: {total:,} quads in both stores")
        oxi_dir = work / "oxigraph"
        subprocess.run(["oxigraph", "load", "--location", str(oxi_dir), "--file", str(plain)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ports = {"mouseion": free_port(), "oxigraph": free_port()}
        servers = {
            "mouseion": start([sys.executable, "-m", "web.cli", "serve", "--store", str(store),
                               "--port", str(ports["mouseion"])],
                              f"http://127.0.0.1:{ports['mouseion']}/-/health", env),
            "oxigraph": start(["oxigraph", "serve", "--location", str(oxi_dir), "--bind",
                               f"127.0.0.1:{ports['oxigraph']}", "--union-default-graph"],
                              f"http://127.0.0.1:{ports['oxigraph']}/query?query=ASK%7B%7D"),
        }
        paths = {"mouseion": "/sparql", "oxigraph": "/query"}
        try:
            for name in servers:  # warm both: first queries load the caches
                measure(ports[name], paths[name], 1, len(QUERIES) * 2)
            for concurrency in (1, 4):
                print(f"\nconcurrency {concurrency}, {args.requests} requests, mix of {len(QUERIES)} queries")
                rates = {}
                for name in ("oxigraph", "mouseion"):
                    rate, p50, p99, errors = measure(ports[name], paths[name], concurrency, args.requests)
                    rates[name] = rate
                    print(f"  {name:9} {rate:8.1f} queries/s   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms"
                          + (f"   {len(errors)} errors, e.g. {errors[0]}" if errors else ""))
                print(f"  ratio mouseion/oxigraph: {rates['mouseion'] / rates['oxigraph']:.2f}x")
        finally:
            for process in servers.values():
                process.terminate()
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
