"""N-Triples and N-Quads files stream from disk: memory follows the largest record, not the file.

The memory test reads two generated collections, one four times the other, each in a fresh process
that reports its own peak resident set; the peaks must be (nearly) the same.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from kg.readers import ReadContext, Source, rdf
from kg.readers.registry import read_source
from kg.record import Record, Rejection, Uris
from kg.settings import Settings
from kg.sources import iter_sources

ROOT = Path(__file__).resolve().parents[1]
BASE = "http://localhost:8000/"


@pytest.fixture
def ctx() -> ReadContext:
    return ReadContext(Uris(BASE), Settings.from_env({}, base_uri=BASE), "gen")


def read_paths(paths, ctx: ReadContext) -> list:
    """What ``kg.ingest.read_all`` reads, without the store: sources from disk, then their items."""
    items = []
    for source in iter_sources(paths, ctx.settings):
        items += [source] if isinstance(source, Rejection) else list(read_source(source, ctx))
    return items


def outcome(items: list) -> list[tuple]:
    return [(type(i).__name__, i.key, getattr(i, "origin").line if isinstance(i, Rejection) else len(i.triples))
            for i in items]


def write_collection(path: Path, records: int, per_record: int = 30) -> int:
    """N-Quads like a dump: one graph ``{base}graph/record/gen/N`` per record, written graph by graph."""
    with open(path, "w", encoding="utf-8") as out:
        for n in range(records):
            graph = f"<{BASE}graph/record/gen/{n:06d}>"
            subject = f"<{BASE}id/object/gen-{n:06d}>"
            out.write("".join(
                f'{subject} <http://e/p{k}> "value {k} of object {n}, with some words to make it longer"@en {graph} .\n'
                if k % 3 else f"{subject} <http://e/p{k}> <http://e/thing/{(n * k) % 9973}> {graph} .\n"
                for k in range(per_record)))
    return records * per_record


#: run in a fresh interpreter: read one file through kg.ingest.read_all, report counts and peak RSS
CHILD = """
import json, resource, sys, time
from kg.ingest import read_all
from kg.record import Record, Uris
from kg.settings import Settings
settings = Settings.from_env({}, max_file_bytes=1024 * 1024)  # far below the file: streamed files have no limit
records = triples = other = 0
keys = set()
started = time.perf_counter()
for item in read_all([sys.argv[1]], settings, Uris("http://localhost:8000/"), "gen"):
    if isinstance(item, Record):
        records += 1
        triples += len(item.triples)
        if records <= 3:
            keys.add(item.key)
    else:
        other += 1
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes
print(json.dumps({"records": records, "triples": triples, "other": other, "keys": sorted(keys),
                  "peak": peak, "seconds": elapsed}))
"""


def read_in_child(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_the_collection(tmp_path):
    small, large = tmp_path / "small.nq", tmp_path / "large.nq"
    expected = {small: (20_000, write_collection(small, 20_000)), large: (80_000, write_collection(large, 80_000))}
    results = {}
    for path in (small, large):
        result = read_in_child(path)
        assert (result["records"], result["triples"]) == expected[path] and result["other"] == 0, result
        assert result["keys"] == ["gen/000000", "gen/000001", "gen/000002"]  # our graph names keep their keys
        results[path] = result
        print(f"\n{path.name}: {path.stat().st_size / 1e6:.0f} MB, {result['records']:,} records, "
              f"{result['triples']:,} quads in {result['seconds']:.1f}s "
              f"({result['triples'] / result['seconds']:,.0f} triples/s), peak RSS {result['peak'] / 2**20:.0f} MiB")
    assert large.stat().st_size > 250 * 10**6
    limit = 1.3 * results[small]["peak"] + 30 * 2**20
    assert results[large]["peak"] < limit, (
        f"peak RSS {results[large]['peak'] / 2**20:.0f} MiB for 80k records against "
        f"{results[small]['peak'] / 2**20:.0f} MiB for 20k: memory grows with the file")


@pytest.mark.slow
def test_n_quads_stream_from_disk_at_speed(tmp_path, ctx):
    path = tmp_path / "big.nq"
    quads = write_collection(path, 20_000, 25)
    [source] = iter_sources([path], ctx.settings)
    assert source.path == path
    started = time.perf_counter()
    records = triples = 0
    for item in read_source(source, ctx):
        assert isinstance(item, Record), str(item)
        records += 1
        triples += len(item.triples)
    elapsed = time.perf_counter() - started
    assert (records, triples) == (20_000, quads)
    print(f"\nN-Quads from disk: {triples:,} quads, {records:,} records in {elapsed:.2f}s: "
          f"{triples / elapsed:,.0f} triples/s")
    assert triples / elapsed > 50_000  # >= 200k/s measured on the dev machine; a floor that CI can hold


# -- the guarantees of the in-memory reader hold for a streamed file ----------------------------------


def test_a_50_mb_literal_in_a_streamed_file_is_dropped_unread(tmp_path, ctx):
    path = tmp_path / "huge.nq"
    with open(path, "wb") as out:
        out.write(b'<http://e/a> <http://e/p> "before" <http://e/g1> .\n')
        out.write(b'<http://e/b> <http://e/p> "first of g2" <http://e/g2> .\n')
        out.write(b'<http://e/b> <http://e/p> "')
        for _ in range(50):
            out.write(b"a" * (1024 * 1024))
        out.write(b'" <http://e/g2> .\n')
        out.write(b'<http://e/b> <http://e/p> "last of g2" <http://e/g2> .\n')
        out.write(b'<http://e/c> <http://e/p> "after" <http://e/g3> .\n')
    tracemalloc.start()
    items = read_paths([path], ctx)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert outcome(items) == [("Record", "gen/http:%2F%2Fe%2Fg1", 1), ("Record", "gen/http:%2F%2Fe%2Fg3", 1),
                              ("Rejection", "gen/http:%2F%2Fe%2Fg2", 3)]
    reason = items[2].reasons[0]
    assert "line 3: a statement of 52428845 bytes, too long to read" in reason and "MAX_LITERAL_BYTES" in reason
    # at most the first PARSER_BUFFER bytes of the line were ever held, a piece at a time
    assert peak < rdf.PARSER_BUFFER + 4 * rdf.CHUNK, f"{peak:,} bytes allocated"
    print(f"\n50 MB literal dropped: {peak / 2**20:.1f} MiB allocated at most")


def test_a_long_but_parseable_literal_in_a_streamed_file_is_measured(tmp_path, ctx):
    path = tmp_path / "long.nt"
    path.write_bytes(b'<http://e/a> <http://e/p> "fine" .\n'
                     b'<http://e/b> <http://e/p> "' + "é".encode() * 600_000 + b'" .\n')
    items = read_paths([path], ctx)
    assert outcome(items) == [("Record", "gen/http:%2F%2Fe%2Fa", 1), ("Rejection", "gen/http:%2F%2Fe%2Fb", None)]
    assert "a literal of 1200000 bytes on <http://e/p>" in items[1].reasons[0]


def test_syntax_errors_in_a_streamed_file_reject_the_neighbouring_graphs(tmp_path, ctx):
    lines = [f'<http://e/s> <http://e/p> "{n}" <http://e/g{n}> .' for n in range(1, 6)]
    lines[2] = '<http://e/s> <http://e/p> <http://exa mple/> <http://e/g3> .'
    path = tmp_path / "mixed.nq"
    path.write_text("\n".join(lines) + "\n")
    items = read_paths([path], ctx)
    assert outcome(items) == [("Record", "gen/http:%2F%2Fe%2Fg1", 1), ("Rejection", "gen/http:%2F%2Fe%2Fg2", 3),
                              ("Rejection", "gen/http:%2F%2Fe%2Fg4", 3), ("Record", "gen/http:%2F%2Fe%2Fg5", 1)]
    assert all(str(path) in str(i) and "line 3 column" in str(i) for i in items if isinstance(i, Rejection))


def test_a_graph_that_comes_back_in_a_streamed_file_is_rejected(tmp_path, ctx):
    path = tmp_path / "back.nq"
    path.write_bytes(b'<http://e/a> <http://e/p> "1" <http://e/g1> .\n<http://e/a> <http://e/p> "2" <http://e/g2> .\n'
                     b'<http://e/a> <http://e/p> "3" <http://e/g1> .\n<http://e/z> <http://e/p> "4" .\n')
    items = read_paths([path], ctx)
    assert outcome(items) == [("Record", "gen/http:%2F%2Fe%2Fg1", 1), ("Record", "gen/http:%2F%2Fe%2Fg2", 1),
                              ("Rejection", "gen/http:%2F%2Fe%2Fg1", None), ("Record", "gen/http:%2F%2Fe%2Fz", 1)]
    assert "not consecutive" in items[2].reasons[0]


def test_a_huge_default_graph_statement_rejects_its_subject_only(tmp_path, ctx):
    path = tmp_path / "subjects.nt"
    with open(path, "wb") as out:
        out.write(b'<http://e/a> <http://e/p> "a" .\n<http://e/b> <http://e/p> "b1" .\n<http://e/b> <http://e/p> "')
        out.write(b"x" * (rdf.PARSER_BUFFER + 10))
        out.write(b'" .\n<http://e/b> <http://e/p> "b2" .\n<http://e/c> <http://e/p> "c" .\n')
    items = read_paths([path], ctx)
    assert outcome(items) == [("Rejection", "gen/http:%2F%2Fe%2Fb", 3), ("Record", "gen/http:%2F%2Fe%2Fa", 1),
                              ("Record", "gen/http:%2F%2Fe%2Fc", 1)]


def test_a_file_that_goes_away_is_rejected_naming_it(tmp_path, ctx):
    path = tmp_path / "gone.nq"
    path.write_bytes(b'<http://e/a> <http://e/p> "1" <http://e/g1> .\n')
    [source] = iter_sources([path], ctx.settings)
    path.unlink()
    [rejection] = read_source(source, ctx)
    assert isinstance(rejection, Rejection) and rejection.origin.file == str(path)
    assert "cannot read" in rejection.reasons[0]


def test_streamed_and_in_memory_reads_agree(tmp_path, ctx):
    data = (b'<http://e/a> <http://e/p> _:x <http://e/g1> .\n_:x <http://e/p> "1" <http://e/g1> .\n'
            b'<http://e/a> <http://e/p> "2" .\n<http://e/b> <http://e/p> "3"@en <http://localhost:8000/graph/record/t/B> .\n'
            b'<http://e/a#part> <http://e/p> "4" .\n')
    path = tmp_path / "same.nq"
    path.write_bytes(data)
    streamed = read_paths([path], ctx)
    in_memory = list(read_source(Source(str(path), data), ctx))
    assert outcome(streamed) == outcome(in_memory) == [
        ("Record", "gen/http:%2F%2Fe%2Fg1", 2), ("Record", "t/B", 1), ("Record", "gen/http:%2F%2Fe%2Fa", 2)]


# -- the line filter, against a plain reading of the same bytes --------------------------------------


def expected_lines(data: bytes, cut: int) -> tuple[bytes, list[tuple[int, int]]]:
    """What the filter should hand on: every line of ``cut`` bytes or more replaced by an empty one."""
    kept, huge = [], []
    for number, line in enumerate(data.splitlines(keepends=True), 1):
        if len(line) >= cut:
            huge.append((number, len(line)))
            kept.append(b"\n" if line.endswith(b"\n") else b"")
        else:
            kept.append(line)
    return b"".join(kept), huge


@pytest.mark.parametrize("seed", range(40))
def test_the_line_filter_cuts_exactly_the_long_lines_whatever_the_chunks(seed, monkeypatch):
    rng = random.Random(seed)
    monkeypatch.setattr(rdf, "CHUNK", rng.randint(1, 12))
    monkeypatch.setattr(rdf, "PARSER_BUFFER", cut := rng.randint(14, 40))
    data = b"".join(b"<s> " + b"x" * rng.choice([0, 1, 5, 9, 10, 11, 30, 35, 36, 37, 80]) + b" .\n"
                    for _ in range(rng.randint(0, 30)))
    if rng.random() < 0.5:
        data += b"<s> " + b"y" * rng.randint(0, 60)  # a last line without a newline
    lines = rdf._Lines(io.BytesIO(data))
    kept, huge = expected_lines(data, cut)
    assert io.BufferedReader(lines, 7).read() == kept
    assert [(line.number, line.size) for line in lines.huge] == huge


@pytest.mark.parametrize("seed", range(40))
def test_the_scan_for_long_lines_finds_every_one_whatever_the_chunks(seed, monkeypatch):
    rng = random.Random(seed)
    monkeypatch.setattr(rdf, "CHUNK", rng.randint(1, 12))
    limit = rng.randint(4, 30)
    data = b"".join(b"x" * rng.randint(0, limit + 2) + b"\n" for _ in range(rng.randint(0, 30)))
    if rng.random() < 0.5:
        data += b"y" * rng.randint(0, limit + 2)  # a last line without a newline
    longest = max((len(line) for line in data.splitlines(keepends=True)), default=0)
    shorter = rdf._stream_lines_shorter_than(io.BytesIO(data), limit)
    if longest >= limit:
        assert not shorter  # a line that may hold a literal over the limit is never missed
    elif longest <= limit // 2 and data.endswith(b"\n"):
        assert shorter  # and short lines are not taken for long ones (in between, it may err on the safe side)
