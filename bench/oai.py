"""OAI-PMH benchmark: a full Sickle harvest of N EDM records over HTTP, beside the cost of serialising the
same records without HTTP, in one run.

    python3 bench/oai.py [--records 100000] [--store DIR] [--page-size 100]

The store holds N generated EDM-native records (15 statements each: a ProvidedCHO, its aggregation and
a web resource), committed in batches of 5,000 that share a datestamp; ``--store`` keeps it between
runs (built when empty). The server is `mouseion serve` in its own process; its resident memory is
sampled throughout and reported at N/4 records harvested and at the end, to show it is flat.

Prints records/s for the harvest and for bare serialisation (the reference), and their ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyoxigraph import Literal, NamedNode, Triple  # noqa: E402

from kg.record import Origin, Record  # noqa: E402
from kg.store import Store  # noqa: E402
from ontology.namespaces import DC, DCTERMS, EDM, ORE, RDF  # noqa: E402

BASE = "http://localhost:8000/"
BATCH = 5000


def record(n: int) -> Record:
    cho = NamedNode(f"http://data.example.org/item/{n:06d}")
    aggregation = NamedNode(f"http://data.example.org/aggregation/{n:06d}")
    image = NamedNode(f"http://media.example.org/{n:06d}.jpg")
    triples = [
        Triple(cho, RDF.type, EDM.ProvidedCHO), Triple(cho, DC.title, Literal(f"Object {n}", language="en")),
        Triple(cho, DC.subject, Literal("pottery")), Triple(cho, DC.type, Literal("vase")),
        Triple(cho, DC.creator, Literal(f"Maker {n % 97}")), Triple(cho, DCTERMS.created, Literal(str(1500 + n % 400))),
        Triple(cho, EDM.type, Literal("IMAGE" if n % 10 else "TEXT")), Triple(cho, DC.language, Literal("en")),
        Triple(aggregation, RDF.type, ORE.Aggregation), Triple(aggregation, EDM.aggregatedCHO, cho),
        Triple(aggregation, EDM.dataProvider, Literal("Example Museum")),
        Triple(aggregation, EDM.provider, Literal("Mouseion")),
        Triple(aggregation, EDM.rights, NamedNode("http://creativecommons.org/publicdomain/mark/1.0/")),
        Triple(aggregation, EDM.isShownBy, image), Triple(image, RDF.type, EDM.WebResource)]
    return Record(f"bench/{n:06d}", "bench", triples, Origin("bench"), format="edm", focus=cho)


def build(path: Path, records: int) -> None:
    store = Store.open(path, BASE)
    states = store.record_states([record(0).key, record(records - 1).key, record(records).key])
    if len(states) == 2:
        print(f"store: {records} records already in {path}")
    else:
        if states:
            raise SystemExit(f"{path} holds another number of records than {records}: give another --store")
        started = time.perf_counter()
        for start in range(0, records, BATCH):
            store.commit([record(n) for n in range(start, min(records, start + BATCH))],
                         now=f"2026-01-01T{start // BATCH // 60:02d}:{start // BATCH % 60:02d}:00Z")
        print(f"store: {records} records built in {time.perf_counter() - started:.0f} s")
    store.close()


def serialise_rate(path: Path, records: int) -> float:
    """The reference: the same records through the same serialiser, no HTTP, no OAI envelope."""
    from lxml import etree

    from kg.harvest import ChangeLog, Selection
    from web.oai.formats import write_edm
    store = Store.open(path, BASE)
    log = ChangeLog(store)
    started = time.perf_counter()
    count = 0
    for item in log.entries(Selection(), batch=100):
        etree.tostring(write_edm(store, item, "accepted"))
        count += 1
    elapsed = time.perf_counter() - started
    store.close()
    assert count == records, count
    return count / elapsed


def harvest_rate(path: Path, records: int, page_size: int) -> tuple[float, float, float]:
    from sickle import Sickle

    from tests.servers import free_port, wait_until_answering
    port = free_port()
    env = dict(os.environ, MOUSEION_BASE_URI=BASE, MOUSEION_OAI_PAGE_SIZE=str(page_size), MOUSEION_QUERY_WORKERS="1")
    server = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--store", str(path), "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = {"rss": 0}
    done = threading.Event()

    def sample() -> None:
        process = psutil.Process(server.pid)
        while not done.is_set():
            try:
                peak["rss"] = max(peak["rss"], process.memory_info().rss)
            except psutil.NoSuchProcess:
                return
            time.sleep(0.05)

    try:
        wait_until_answering(f"http://127.0.0.1:{port}/oai?verb=Identify", server, timeout=120)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        quarter_peak = 0.0
        count = 0
        for _record in Sickle(f"http://127.0.0.1:{port}/oai", max_retries=0, timeout=600).ListRecords(
                metadataPrefix="edm"):
            count += 1
            if count == records // 4:
                quarter_peak = peak["rss"]
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        assert count == records, count
        return count / elapsed, quarter_peak / 2**20, peak["rss"] / 2**20
    finally:
        done.set()
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--store", help="keep the generated store here (built when empty)")
    args = parser.parse_args()
    path = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="oai-bench-")) / "store"
    build(path, args.records)
    rate, quarter, peak = harvest_rate(path, args.records, args.page_size)
    reference = serialise_rate(path, args.records)
    print(f"harvest (Sickle over HTTP, page size {args.page_size}): {rate:,.0f} records/s")
    print(f"serialise only (same records, no HTTP):               {reference:,.0f} records/s")
    print(f"ratio harvest / serialise: {rate / reference:.2f}")
    print(f"server peak RSS: {quarter:.0f} MiB after {args.records // 4:,} records, {peak:.0f} MiB after {args.records:,}")


if __name__ == "__main__":
    main()
