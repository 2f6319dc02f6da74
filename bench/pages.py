"""Object-page benchmark: Mouseion's dynamic object pages against the same server sending pre-rendered
copies of the same pages (the floor any dynamic page can reach), in one run.

The collection is bench/ingest.py's generator of CRM objects (the Tate sample's mapped artworks
replicated with fresh identifiers, default 100,000) plus the Tate sample itself (so makers, materials and
types have their labels), loaded with the project's loader (validation off). One server process
serves both: the application as `mouseion serve` runs it (waitress, 8 threads), with one extra route,
``/-/bench/static/{key}``, answering with the bytes of that object's page rendered before the run.
A client with 8 concurrent keep-alive connections requests random pages from a sample of objects for
a fixed time, in rounds that alternate dynamic and static (``--rounds`` pairs): this machine's speed
drifts by a quarter within minutes, so each pair gives a ratio, and the median pair counts.

    python3 bench/pages.py [--objects 100000] [--seconds 10] [--rounds 3] [--sample 5000] [--keep] [--revalidate]

Prints p50 / p99 latency and requests/s of each round, the ratio dynamic / static throughput of each pair
and their median (target >= 0.25), and the dynamic p99 over every dynamic round (target < 150 ms).
``--keep`` keeps the built store in bench/out/pages-{objects} and reuses it on the next run.
``--revalidate`` then asks for every sampled page again with its ``ETag`` (what a caching proxy in front
of the service does), a round of those against a round of pre-rendered copies.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after ROOT: bench/sparql.py must not hide the sparql package

BASE = "http://localhost:8000/"
CONCURRENCY = 8


# ------------------------------------------------------------------------------------ the store


def build(store_dir: Path, objects: int) -> None:
    from ingest import generate  # bench/ingest.py

    from kg.ingest import load
    from kg.readers.mapped import sample_mapping_path
    from kg.settings import Settings
    from kg.store import Store

    data = store_dir.parent / f"collection-{objects}.nq"
    start = time.perf_counter()
    records, quads = generate(objects, data)
    print(f"generated {records:,} objects, {quads:,} quads in {time.perf_counter() - start:.0f} s", flush=True)
    start = time.perf_counter()
    store = Store.open(store_dir, BASE)
    settings = Settings.from_env({}, base_uri=BASE, validate=False, batch_size=2000)
    report = load(store, [str(data), str(sample_mapping_path())], settings, dataset=None)
    print(f"loaded: {report.summary()} in {time.perf_counter() - start:.0f} s", flush=True)
    store.close()
    data.unlink()
    (store_dir / "BENCH-READY").write_text(str(objects))


# ------------------------------------------------------------------------------------ the server


def serve(store_dir: Path, keys_file: Path, port: int) -> None:
    """The server process: the app, plus pre-rendered copies of the sampled object pages."""
    import logging

    from flask import Response
    from waitress import serve as waitress_serve

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" lines under load

    from kg.settings import Settings
    from kg.store import Store
    from web.app import create_app

    store = Store.open(store_dir, BASE)
    app = create_app(store, Settings.from_env({}, base_uri=BASE, query_workers=1))
    copies: dict[str, bytes] = {}

    def static_copy(key: str):
        return Response(copies[key], mimetype="text/html")

    app.add_url_rule("/-/bench/static/<path:key>", "bench_static", static_copy)
    client = app.test_client()
    for key in keys_file.read_text().split():
        answer = client.get(f"/page/object/{key}", headers={"Accept": "text/html"})
        if answer.status_code != 200:
            raise SystemExit(f"/page/object/{key} answered {answer.status_code}")
        copies[key] = answer.get_data()
    print(f"ready {len(copies)} {sum(map(len, copies.values())) // len(copies)}", flush=True)
    waitress_serve(app, host="127.0.0.1", port=port, threads=8, ident="mouseion", _quiet=True)


# ------------------------------------------------------------------------------------ the client


def hammer(port: int, paths: list[str], seconds: float, tags: dict[str, str] | None = None
           ) -> tuple[list[float], int]:
    """CONCURRENCY keep-alive connections requesting random paths for ``seconds``; latencies in ms. With
    ``tags`` (path → ETag), each request revalidates (``If-None-Match``) and must get its 304."""
    latencies: list[float] = []
    errors = [0]
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.perf_counter() < deadline:
            path = rng.choice(paths)
            headers = {"Accept": "text/html", "Accept-Language": "en"}
            if tags is not None:
                headers["If-None-Match"] = tags[path]
            start = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - start) * 1000)
            if response.status != (200 if tags is None else 304):
                with lock:
                    errors[0] += 1
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(CONCURRENCY)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors[0]:
        raise SystemExit(f"{errors[0]} requests failed")
    return latencies, int(len(latencies) / elapsed)


def revalidate(port: int, dynamic_paths: list[str], static_paths: list[str], seconds: float) -> None:
    """What a caching proxy in front of Mouseion asks: each sampled page again, with its ETag."""
    tags = {}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for path in dynamic_paths:
        connection.request("GET", path, headers={"Accept": "text/html", "Accept-Language": "en"})
        response = connection.getresponse()
        response.read()
        tags[path] = response.getheader("ETag")
    connection.close()
    print()
    revalidated = hammer(port, dynamic_paths, seconds, tags)
    print(summary("revalidated object pages (304)", *revalidated), flush=True)
    static = hammer(port, static_paths, seconds)
    print(summary("pre-rendered copies", *static), flush=True)
    print(f"throughput ratio revalidated / static: {revalidated[1] / static[1]:.2f}x", flush=True)


def summary(name: str, latencies: list[float], rate: int) -> str:
    cuts = statistics.quantiles(latencies, n=100)
    return (f"  {name:<34} {rate:>6,} req/s   p50 {cuts[49]:6.1f} ms   p99 {cuts[98]:6.1f} ms   "
            f"({len(latencies):,} requests)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="pairs of rounds, dynamic then static")
    parser.add_argument("--sample", type=int, default=5000, help="distinct objects requested")
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the store in bench/out/")
    parser.add_argument("--revalidate", action="store_true",
                        help="then a pair of revalidations (If-None-Match, answered 304) against static")
    parser.add_argument("--serve", nargs=3, metavar=("STORE", "KEYS", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), Path(args.serve[1]), int(args.serve[2]))
        return

    out = ROOT / "bench" / "out"
    store_dir = out / f"pages-{args.objects}"
    if not (store_dir / "BENCH-READY").exists():
        shutil.rmtree(store_dir, ignore_errors=True)
        store_dir.mkdir(parents=True)
        build(store_dir, args.objects)
    rng = random.Random(7)
    keys = [f"gen-{n:06d}" for n in rng.sample(range(args.objects), min(args.sample, args.objects))]
    keys_file = out / "pages-keys.txt"
    keys_file.write_text("\n".join(keys))
    from tests.servers import free_port, wait_until_answering

    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(store_dir), str(keys_file), str(port)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        start = time.perf_counter()
        ready = server.stdout.readline().split()
        if not ready or ready[0] != "ready":
            raise SystemExit("the server did not start")
        print(f"server pre-rendered {ready[1]} object pages (about {int(ready[2]) // 1024} KiB each) "
              f"in {time.perf_counter() - start:.0f} s", flush=True)
        wait_until_answering(f"http://127.0.0.1:{port}/-/versions", server)  # /-/health counts every quad
        dynamic_paths = [f"/page/object/{k}" for k in keys]
        static_paths = [f"/-/bench/static/{k}" for k in keys]
        print(f"\n{args.objects:,} objects; {len(keys):,} sampled; concurrency {CONCURRENCY}; "
              f"{args.seconds:.0f} s per round", flush=True)
        ratios, dynamic_latencies = [], []
        for n in range(1, args.rounds + 1):
            dynamic = hammer(port, dynamic_paths, args.seconds)
            print(summary(f"dynamic object pages (pair {n})", *dynamic), flush=True)
            static = hammer(port, static_paths, args.seconds)
            print(summary(f"pre-rendered copies (pair {n})", *static), flush=True)
            ratios.append(dynamic[1] / static[1])
            dynamic_latencies += dynamic[0]
        p99 = statistics.quantiles(dynamic_latencies, n=100)[98]
        print(f"\nthroughput ratio dynamic / static by pair: {', '.join(f'{r:.2f}x' for r in ratios)}; "
              f"median {statistics.median(ratios):.2f}x (target >= 0.25x)\n"
              f"dynamic p99 over every dynamic round {p99:.1f} ms (target < 150 ms)", flush=True)
        if args.revalidate:
            revalidate(port, dynamic_paths, static_paths, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not args.keep:
            shutil.rmtree(store_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
