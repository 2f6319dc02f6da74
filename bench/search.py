"""Search benchmark: Mouseion's /search against the same server sending pre-rendered copies of the same
result pages, in one run.

The collection is bench/ingest.py's: the mapped Tate artworks replicated with fresh identifiers until
there are N objects (default 100,000), loaded with `mouseion load` on top of the bundled sample (whose
artists and vocabularies give the makers and materials their names), so the search index is built the
way it always is: through the store's write listener.

    python3 bench/search.py [--objects 100000] [--requests 2000] [--concurrency 8] [--rounds 3]

Both contenders are waitress with 8 threads running a Flask app in its own process: `mouseion serve`,
and a Flask app that answers each URL of the query mix with the bytes Mouseion rendered for it. The
same client (persistent HTTP/1.1 connections, one per worker thread) sends the same mix to both, in
``--rounds`` pairs of rounds (Mouseion, then static), and prints requests/s, p50 and p99 latency of each,
the ratio Mouseion / static of each pair and their median.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
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

from bench.ingest import BASE, generate  # noqa: E402
from tests.servers import free_port, wait_until_answering  # noqa: E402

PAPER = f"{BASE}id/concept/material-paper"
WATERCOLOUR = f"{BASE}id/concept/material-watercolour"
TURNER = f"{BASE}id/person/tate-558"
E22 = "http://www.cidoc-crm.org/cidoc-crm/E22_Human-Made_Object"

#: what visitors do: type a word or two, click a facet, narrow the years, turn the page, browse everything
MIX = [
    {"q": "river"}, {"q": "portrait"}, {"q": "landscape"}, {"q": "study"}, {"q": "sketch"},
    {"q": "church"}, {"q": "castle"}, {"q": "turner"}, {"q": "sea shore"}, {"q": "figure"},
    {"q": "\"old man\""}, {"q": "bridg*"}, {"q": "river", "page": "2"},
    {"q": "river", "material": PAPER}, {"q": "landscape", "maker": TURNER},
    {"q": "study", "from": "1800", "to": "1850"}, {"q": "sea", "material": WATERCOLOUR, "image": "yes"},
    {"q": "castle", "class": E22, "page": "3"}, {}, {"material": WATERCOLOUR},
]


def url(params: dict) -> str:
    return "/search" + (f"?{urllib.parse.urlencode(params)}" if params else "")


def static_app(pages: dict[str, bytes]):
    """The reference: the same Flask-on-waitress stack, answering each known URL with stored bytes."""
    from flask import Flask, Response, request
    app = Flask("static")

    @app.route("/search")
    def search():
        body = pages.get(request.full_path.rstrip("?"))
        if body is None:
            return Response("not pre-rendered", status=404)
        return Response(body, mimetype="text/html")

    return app


def serve_static(path: str, port: int) -> None:
    from waitress import serve
    pages = {k: v.encode() for k, v in json.loads(Path(path).read_text()).items()}
    serve(static_app(pages), host="127.0.0.1", port=port, threads=8, ident="static")


def fetch(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", path, headers={"Accept": "text/html"})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


def hammer(port: int, paths: list[str], requests: int, concurrency: int) -> tuple[float, list[float]]:
    """``requests`` GETs over ``paths`` from ``concurrency`` threads; (seconds, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine = []
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            start = time.perf_counter()
            connection.request("GET", paths[n % len(paths)], headers={"Accept": "text/html"})
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 200:
                raise SystemExit(f"{paths[n % len(paths)]}: HTTP {response.status}")
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def mouseion(*args: str, store: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "web.cli", *args, "--store", str(store), "--base-uri", BASE],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode not in (0, 1):
        raise SystemExit(f"mouseion {args[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="pairs of rounds, Mouseion then static")
    parser.add_argument("--store", help="reuse (or keep) the loaded store in this directory")
    parser.add_argument("--serve-static", nargs=2, metavar=("PAGES", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_static:
        serve_static(args.serve_static[0], int(args.serve_static[1]))
        return
    with tempfile.TemporaryDirectory(prefix="mouseion-bench-search-") as tmp:
        workdir = Path(tmp)
        store = Path(args.store) if args.store else workdir / "store"
        if not (store / "CURRENT").exists():
            data = workdir / "collection.nq"
            records, quads = generate(args.objects, data)
            print(f"{records} generated objects, {quads} quads", flush=True)
            start = time.perf_counter()
            print("  sample:", mouseion("load", "--sample", "--no-validate", store=store), flush=True)
            print("  objects:", mouseion("load", str(data), "--no-validate", "--dataset", "gen", store=store), flush=True)
            print(f"  loaded with the search index in step in {time.perf_counter() - start:.0f} s", flush=True)
            data.unlink()
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--store", str(store), "--base-uri", BASE,
                                   "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  env={**os.environ, "PYTHONPATH": str(ROOT), "MOUSEION_QUERY_WORKERS": "1"})
        static = None
        try:
            wait_until_answering(f"http://127.0.0.1:{port}/-/versions", server, timeout=600)
            paths = [url(p) for p in MIX]
            pages = {}
            for path in paths:
                status, body = fetch(port, path)
                if status != 200:
                    raise SystemExit(f"{path}: HTTP {status}")
                pages[path] = body.decode()
            hits = json.loads(fetch(port, "/api/search")[1])["total"]
            print(f"{hits} records in the index; {len(paths)} URLs in the mix", flush=True)
            pages_file = workdir / "pages.json"
            pages_file.write_text(json.dumps(pages))
            static_port = free_port()
            static = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve-static",
                                       str(pages_file), str(static_port)], cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_until_answering(f"http://127.0.0.1:{static_port}{paths[0]}", static)
            hammer(port, paths, len(paths) * 3, args.concurrency)  # warm both
            hammer(static_port, paths, len(paths) * 2, args.concurrency)
            ratios, ours = [], []
            for n in range(1, args.rounds + 1):  # pairs: the machine's speed drifts within minutes
                rates = []
                for name, where in ((f"mouseion /search ({n})", port), (f"static copies ({n})", static_port)):
                    seconds, latencies = hammer(where, paths, args.requests, args.concurrency)
                    rates.append(len(latencies) / seconds)
                    ours += latencies if where == port else []
                    print(f"  {name:<22} {rates[-1]:>8,.1f} req/s   p50 {percentile(latencies, 50) * 1000:>7.1f} ms   "
                          f"p99 {percentile(latencies, 99) * 1000:>7.1f} ms   (concurrency {args.concurrency}, "
                          f"{len(latencies)} requests)", flush=True)
                ratios.append(rates[0] / rates[1])
            print(f"ratio Mouseion / static by pair: {', '.join(f'{r:.2f}x' for r in ratios)}; median "
                  f"{statistics.median(ratios):.2f}x throughput; Mouseion p99 over every round "
                  f"{percentile(ours, 99) * 1000:.0f} ms (targets: >= 0.25x, p99 < 150 ms)")
            per_url = []
            for path in paths:
                seconds, latencies = hammer(port, [path], 20, 1)
                per_url.append((statistics.median(latencies), path))
            print("slowest URLs alone (median of 20, concurrency 1):")
            for median, path in sorted(per_url, reverse=True)[:5]:
                print(f"  {median * 1000:7.1f} ms  {urllib.parse.unquote(path)}")
        finally:
            for process in (server, static):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)


if __name__ == "__main__":
    main()
