"""Ingest benchmark: `mouseion load` end to end against pyoxigraph's raw `bulk_load`, in one run.

The collection is generated from the real Tate sample: the 1,505 mapped artworks are replicated with
fresh identifiers until there are N objects (default 100,000, about 2-3 M triples), written as
N-Quads with one named graph per record — the same bytes for every contender.

    python3 bench/ingest.py [--objects 100000] [--skip-validation-run]

Prints, for each contender, triples/s and the ratio to bulk_load, the SHACL gate's records/s, and
the peak resident memory of each `mouseion load` process (at N/4 and N objects, to show it is flat).
bulk_load runs before and after the `mouseion load` runs, and the ratio is to the mean of the two (this
machine's speed drifts within minutes); each `mouseion load` also reports the CPU time it used, which
drifts less than the wall-clock time.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyoxigraph as ox

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kg.readers import ReadContext, Source  # noqa: E402
from kg.readers.mapped import read, sample_mapping_path  # noqa: E402
from kg.record import Record, Uris  # noqa: E402
from kg.settings import Settings  # noqa: E402

BASE = "http://localhost:8000/"


def tate_records() -> list[Record]:
    path = sample_mapping_path()
    ctx = ReadContext(Uris(BASE), Settings.from_env({}))
    return [r for r in read(Source(str(path), path.read_bytes()), ctx)
            if isinstance(r, Record) and r.dataset == "tate"]


#: parts of a mapped Tate artwork left out of the generated objects, so that 100k objects make the
#: 2-3 M triples of a typical CRM collection (a full Tate record carries about 80 statements)
LEFT_OUT = ("#acquisition", "#credit-line", "#image", "#web-page", "#height", "#width",
            "#dimension-statement", "#material-statement")
LEFT_OUT_LINKS = {"P24i_changed_ownership_through", "P138i_has_representation", "P129i_is_subject_of",
                  "P43_has_dimension", "P67i_is_referred_to_by", "P62_depicts"}


def core(record: Record) -> Record:
    def kept(triple) -> bool:
        nodes = (triple.subject.value, getattr(triple.object, "value", ""))
        return (not any(part in node for node in nodes for part in LEFT_OUT)
                and triple.predicate.value.rsplit("/", 1)[-1] not in LEFT_OUT_LINKS)
    return Record(record.key, record.dataset, [t for t in record.triples if kept(t)], record.origin,
                  record.format, record.focus)


def generate(objects: int, target: Path, full: bool = False) -> tuple[int, int]:
    """Write `objects` records as N-Quads (whole Tate records when ``full``); returns (records, quads)."""
    templates = [r if full else core(r) for r in tate_records()]
    quads = 0
    with open(target, "wb") as out:
        for n in range(objects):
            template = templates[n % len(templates)]
            old = template.focus.value
            new = f"{BASE}id/object/gen-{n:06d}"
            graph = f"<{BASE}graph/record/gen/{n:06d}>"
            text = ox.serialize(template.triples, format=ox.RdfFormat.N_TRIPLES).decode()
            text = text.replace(old, new).replace(template.key.split("/", 1)[1], f"G{n:06d}")
            lines = [line[:-2] + f" {graph} .\n" for line in text.splitlines(keepends=True) if line.strip()]
            quads += len(lines)
            out.write("".join(lines).encode())
    return objects, quads


def bulk_load_rate(data: Path, workdir: Path) -> float:
    store_dir = workdir / "bulk"
    start = time.perf_counter()
    store = ox.Store(str(store_dir))
    store.bulk_load(path=str(data), format=ox.RdfFormat.N_QUADS)
    store.flush()
    elapsed = time.perf_counter() - start
    del store
    shutil.rmtree(store_dir)
    return elapsed


def mouseion_load(data: Path, workdir: Path, validate: bool) -> tuple[float, float, int, str]:
    """Run `mouseion load` as its own process; returns (seconds, CPU seconds, peak RSS bytes of it and its
    children together, summary line)."""
    store_dir = workdir / f"mouseion-{validate}"
    command = [sys.executable, "-m", "web.cli", "load", str(data), "--store", str(store_dir), "--dataset", "gen"]
    if not validate:
        command.append("--no-validate")
    start, used = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
        watched = psutil.Process(child.pid)
        peak = 0
        while child.poll() is None:  # sample the resident set of the load and its validating child
            try:
                peak = max(peak, sum(p.memory_info().rss for p in [watched, *watched.children(recursive=True)]))
            except psutil.NoSuchProcess:
                continue
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        now = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime
        out.seek(0), err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    shutil.rmtree(store_dir, ignore_errors=True)
    if child.returncode not in (0, 1):
        raise SystemExit(f"mouseion load failed:\n{stderr[-3000:]}")
    summary = stdout.strip().splitlines()[-1] if stdout.strip() else stderr[-500:]
    return elapsed, cpu, peak, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--skip-validation-run", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mouseion-bench-") as tmp:
        workdir = Path(tmp)
        rows = []
        for objects in sorted({max(1, args.objects // 4), args.objects}):
            data = workdir / f"collection-{objects}.nq"
            records, quads = generate(objects, data)
            print(f"\n{records} records, {quads} quads, {data.stat().st_size / 1e6:.0f} MB N-Quads", flush=True)
            before = bulk_load_rate(data, workdir)
            print(f"  pyoxigraph bulk_load          {quads / before:>10,.0f} triples/s  ({before:.1f} s)", flush=True)
            runs = [False] if args.skip_validation_run else [False, True]
            loads = [(validate, *mouseion_load(data, workdir, validate)) for validate in runs]
            after = bulk_load_rate(data, workdir)
            raw = (before + after) / 2
            print(f"  pyoxigraph bulk_load, again   {quads / after:>10,.0f} triples/s  ({after:.1f} s; "
                  f"mean {raw:.1f} s)", flush=True)
            for validate, seconds, cpu, peak, summary in loads:
                label = "mouseion load (validation on) " if validate else "mouseion load (validation off)"
                print(f"  {label}{quads / seconds:>10,.0f} triples/s  ({seconds:.1f} s, CPU {cpu:.0f} s)  "
                      f"ratio {raw / seconds:.2f}x  peak RSS {peak / 2**20:,.0f} MiB\n      {summary}", flush=True)
                rows.append((objects, validate, seconds, peak))
            data.unlink()
        on = {objects: s for objects, validate, s, _ in rows if validate}
        off = {objects: s for objects, validate, s, _ in rows if not validate}
        for objects in on:
            gate_seconds = on[objects] - off[objects]
            if gate_seconds > 0:
                print(f"\nSHACL gate at {objects} records: {objects / gate_seconds:,.0f} records/s "
                      f"(validation-on time minus validation-off time)")


if __name__ == "__main__":
    main()
