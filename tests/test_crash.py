"""`kill -9` during a batch load leaves a store that opens, every record wholly old or wholly new."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.readers import ReadContext, Source
from kg.readers.mapped import read, sample_mapping_path
from kg.record import Record, Uris
from kg.settings import Settings
from kg.errors import StoreError
from kg.store import Store, content_hash, journal_of
from ontology.namespaces import MOU, RDF

ROOT = Path(__file__).resolve().parents[1]
BASE = "http://localhost:8000/"


def tate_records() -> list[Record]:
    path = sample_mapping_path()
    ctx = ReadContext(Uris(BASE), Settings.from_env({}, base_uri=BASE))
    return [r for r in read(Source(str(path), path.read_bytes()), ctx) if isinstance(r, Record) and r.dataset == "tate"]


def write_nquads(records: list[Record], path: Path, suffix: str) -> dict[str, str]:
    """Every record as its own graph, titles changed by ``suffix``; returns key → content hash."""
    hashes, quads = {}, []
    for record in records:
        graph = ox.NamedNode(f"{BASE}graph/record/{record.key}")
        triples = [ox.Triple(t.subject, t.predicate, ox.Literal(t.object.value + suffix, language=t.object.language)
                             if isinstance(t.object, ox.Literal) and t.object.language == "en" else t.object)
                   for t in record.triples]
        hashes[record.key] = content_hash(triples)
        quads += [ox.Quad(t.subject, t.predicate, t.object, graph) for t in triples]
    path.write_bytes(ox.serialize(quads, format=ox.RdfFormat.N_QUADS))
    return hashes


@pytest.mark.slow
def test_kill_9_mid_load_leaves_every_record_old_or_new(tmp_path):
    records = tate_records()
    old = write_nquads(records, tmp_path / "old.nq", "")
    new = write_nquads(records, tmp_path / "new.nq", " (revised)")
    store_dir = tmp_path / "store"
    command = [sys.executable, "-m", "web.cli", "load", "--store", str(store_dir), "--base-uri", BASE,
               "--dataset", "tate", "--batch-size", "25", "--no-validate", "--events"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.run(command + [str(tmp_path / "old.nq")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr

    loader = subprocess.Popen(command + [str(tmp_path / "new.nq")], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait for a real event — the first committed batch — then kill in the middle of the next ones
    event = json.loads(loader.stdout.readline())
    assert event["event"] == "batch-committed"
    loader.send_signal(signal.SIGKILL)
    loader.wait()

    store = Store.open(store_dir, BASE)  # opens: RocksDB recovered its log
    states = store.record_states(old)
    assert set(states) == set(old)
    versions = {"old": 0, "new": 0}
    for key in old:
        digest = content_hash(store.record_triples(key))
        assert digest in (old[key], new[key]), f"record {key} is neither wholly old nor wholly new"
        assert states[key].content_hash == digest, f"change log of {key} disagrees with its graph"
        versions["old" if digest == old[key] else "new"] += 1
    assert versions["new"] >= 25, versions  # the batch we saw committed is there
    assert versions["old"] > 0, versions  # and the kill really landed mid-load


def assert_every_graph_committed(store: Store) -> dict[str, str]:
    """No record or inferred graph without its change-log entry, and none pending; returns key → hash."""
    logged = {state.key: state for state in store.changes()}
    for graph in store.backend.graphs():
        key = store.uris.key_of_graph(graph)
        if key is not None:
            assert key in logged, f"record graph {graph} has no change-log entry"
            assert logged[key].content_hash == content_hash(store.record_triples(key))
        elif "/graph/inferred/" in graph.value:
            key = graph.value.rsplit("/graph/inferred/", 1)[1]
            assert key in logged, f"inferred graph {graph} has no change-log entry"
    assert not store.backend.contains_graph(store.uris.pending_graph)
    return {key: state.content_hash for key, state in logged.items()}


@pytest.mark.slow
def test_kill_9_mid_fresh_load_leaves_no_partial_record(tmp_path):
    """Records new to the store take the non-transactional bulk path; a kill there must leave no trace."""
    records = tate_records()
    fresh = write_nquads(records, tmp_path / "fresh.nq", "")
    store_dir = tmp_path / "store"
    command = [sys.executable, "-m", "web.cli", "load", "--store", str(store_dir), "--base-uri", BASE,
               "--dataset", "tate", "--batch-size", "25", "--no-validate", "--events", str(tmp_path / "fresh.nq")]
    loader = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    event = json.loads(loader.stdout.readline())
    assert event["event"] == "batch-committed"
    loader.send_signal(signal.SIGKILL)
    loader.wait()

    store = Store.open(store_dir, BASE)
    present = assert_every_graph_committed(store)
    assert 25 <= len(present) < len(fresh), len(present)
    assert all(fresh[key] == digest for key, digest in present.items())


def plant(store_dir: Path, quads: list[ox.Quad]) -> None:
    """Write quads the way a crashed load left them: bulk-loaded, with no Mouseion code around."""
    raw = ox.Store(str(store_dir))
    raw.bulk_load(ox.serialize(quads, format=ox.RdfFormat.N_QUADS), format=ox.RdfFormat.N_QUADS)
    raw.flush()
    del raw


@pytest.mark.parametrize("listing", ["journal", "uncommitted (earlier protocol)"])
def test_interrupted_bulk_write_is_removed_on_next_open(tmp_path, listing):
    """What a crash before the commit leaves: graphs listed in the journal beside the store (or, by an
    earlier version, in the pending graph), with some or all of their data and change-log entries. The
    next open removes all of it and the listing, and nothing else."""
    records = tate_records()[:3]
    store = Store.open(tmp_path / "store", BASE)
    store.commit(records[:1])
    uris = store.uris
    store.close()
    orphan = records[1]
    graph, inferred = uris.record_graph(orphan.key), uris.inferred_graph(orphan.key)
    meta, pending = uris.meta_graph, uris.pending_graph
    half_an_entry = [ox.Triple(graph, MOU.key, ox.Literal(orphan.key)), ox.Triple(inferred, RDF.type, MOU.InferredGraph)]
    planted = ([ox.Quad(t.subject, t.predicate, t.object, graph) for t in orphan.triples] +
               [ox.Quad(t.subject, t.predicate, t.object, meta) for t in half_an_entry])
    if listing == "journal":
        journal_of(tmp_path / "store").write_text(f"{graph.value}\n{inferred.value}\n")
    else:
        planted += [ox.Quad(g, MOU.uncommitted, ox.Literal(True), pending) for g in (graph, inferred)]
    plant(tmp_path / "store", planted)
    store = Store.open(tmp_path / "store", BASE, read_only=True)
    before = len(list(store.backend.quads(None, None, None, None)))
    store.close()

    store = Store.open(tmp_path / "store", BASE)
    assert not journal_of(tmp_path / "store").exists()
    assert not store.backend.contains_graph(graph)
    assert not list(store.backend.quads(graph, None, None, meta)) and not list(store.backend.quads(inferred, None, None, meta))
    assert assert_every_graph_committed(store).keys() == {records[0].key}
    assert store.record_triples(records[0].key)
    listed = 0 if listing == "journal" else 2
    assert len(list(store.backend.quads(None, None, None, None))) == before - len(orphan.triples) - 2 - listed


@pytest.mark.parametrize("garbage", [b"not an IRI, a sentence\n", b"\xff\xfe\x00binary\n"])
def test_a_damaged_journal_stops_the_store_opening_and_changes_nothing(tmp_path, garbage):
    """A journal that is not a list of IRIs (edited by hand, or damaged on disk): opening the store for
    writing refuses with the journal's name, and no graph is touched."""
    store = Store.open(tmp_path / "store", BASE)
    store.commit(tate_records()[:2])
    store.close()
    journal_of(tmp_path / "store").write_bytes(garbage)
    before = ox.Store.read_only(str(tmp_path / "store")).dump(format=ox.RdfFormat.N_QUADS)
    with pytest.raises(StoreError, match=r"store\.pending"):
        Store.open(tmp_path / "store", BASE)
    assert ox.Store.read_only(str(tmp_path / "store")).dump(format=ox.RdfFormat.N_QUADS) == before
    assert journal_of(tmp_path / "store").read_bytes() == garbage


def test_a_batch_whose_write_failed_half_way_is_removed_before_the_next_write(tmp_path, monkeypatch):
    """The disk fills up half-way through a batch's bulk write: the load fails with a clear error, the
    journal keeps the batch's graphs listed, and the store's next write removes what was written."""
    records = tate_records()[:6]
    store = Store.open(tmp_path / "store", BASE)
    store.commit(records[:2])
    real = store.backend.bulk_load

    def disk_full(nquads: bytes) -> None:
        real(nquads[:nquads.index(b"\n", len(nquads) // 2) + 1])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.backend, "bulk_load", disk_full)
    with pytest.raises(StoreError, match="No space left on device"):
        store.commit(records[2:4])
    assert journal_of(tmp_path / "store").exists()
    assert any(store.backend.quads(None, None, None, store.uris.record_graph(records[2].key)))  # half written
    monkeypatch.setattr(store.backend, "bulk_load", real)
    store.commit(records[4:])
    assert not journal_of(tmp_path / "store").exists()
    assert assert_every_graph_committed(store).keys() == {r.key for r in records[:2] + records[4:]}


def test_a_store_interrupted_under_the_earlier_protocol_keeps_its_committed_records(tmp_path):
    """Stores written before the commit moved to the pending graph's removal listed graphs as
    ``mou:pending`` and committed them with their change-log entry: those stay, the others go."""
    records = tate_records()[:3]
    store = Store.open(tmp_path / "store", BASE)
    store.commit(records[:1])
    orphan = records[1]
    graph, inferred = store.uris.record_graph(orphan.key), store.uris.inferred_graph(orphan.key)
    pending = store.uris.pending_graph
    store.backend.extend([ox.Quad(g, MOU.pending, ox.Literal(True), pending)
                          for g in (graph, inferred, store.uris.record_graph(records[0].key))])
    store.backend.bulk_load(ox.serialize([ox.Quad(t.subject, t.predicate, t.object, graph) for t in orphan.triples],
                                         format=ox.RdfFormat.N_QUADS))
    store.close()

    store = Store.open(tmp_path / "store", BASE)
    assert not store.backend.contains_graph(graph)
    assert assert_every_graph_committed(store).keys() == {records[0].key}
    assert store.record_triples(records[0].key)  # a committed record named in the pending graph stays
