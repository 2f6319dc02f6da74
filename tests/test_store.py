"""The store: record graphs, change log, tombstones, inferred types, dump and restore."""

from __future__ import annotations

import gzip

import pyoxigraph as ox
import pytest
from pyoxigraph import BlankNode, Literal, NamedNode, Triple

from kg.errors import NotFound, StoreError
from kg.record import Origin, Record, Vocabulary
from kg.store import Store, content_hash
from ontology.namespaces import CRM, MOU, PROV, RDF, RDFS

BASE = "http://localhost:8000/"


@pytest.fixture
def store(tmp_path) -> Store:
    return Store.open(tmp_path / "store", BASE)


def obj_record(n: int, title: str = "Vase", key: str | None = None) -> Record:
    obj = NamedNode(f"{BASE}id/object/t-{n}")
    name = BlankNode()
    triples = [
        Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]),
        Triple(obj, RDFS.label, Literal(title)),
        Triple(obj, CRM.P1_is_identified_by, name),
        Triple(name, RDF.type, CRM.E33_E41_Linguistic_Appellation),
        Triple(name, CRM.P190_has_symbolic_content, Literal(title, language="en")),
    ]
    return Record(key or f"t/{n}", "t", triples, Origin("t.ttl", f"t/{n}", n), "rdf", obj)


def graph_set(store: Store, key: str) -> set[str]:
    return {str(t) for t in store.record_triples(key) if not isinstance(t.subject, BlankNode)}


def test_new_record_gets_its_own_graph_and_change_log_entry(store):
    [outcome] = store.commit([obj_record(1)], now="2026-01-01T00:00:00Z")
    assert outcome.status == "created"
    assert store.oxi.contains_named_graph(store.uris.record_graph("t/1"))
    state = store.record_states(["t/1"])["t/1"]
    assert (state.created, state.modified, state.deleted) == ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", False)
    assert len(store.record_triples("t/1")) == 5


def test_unchanged_record_keeps_datestamp_changed_record_is_replaced_whole(store):
    store.commit([obj_record(1)], now="2026-01-01T00:00:00Z")
    assert store.commit([obj_record(1)], now="2026-02-01T00:00:00Z")[0].status == "unchanged"
    assert store.record_states(["t/1"])["t/1"].modified == "2026-01-01T00:00:00Z"

    assert store.commit([obj_record(1, "Urn")], now="2026-03-01T00:00:00Z")[0].status == "modified"
    state = store.record_states(["t/1"])["t/1"]
    assert (state.created, state.modified) == ("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z")
    labels = [t.object.value for t in store.record_triples("t/1") if t.predicate == RDFS.label]
    assert labels == ["Urn"]  # the old title is gone, not merged
    assert len(store.record_triples("t/1")) == 5


def test_blank_node_labels_do_not_make_a_record_look_changed():
    assert content_hash(obj_record(1).triples) == content_hash(obj_record(1).triples)
    assert content_hash(obj_record(1).triples) != content_hash(obj_record(1, "Urn").triples)


def test_deletion_leaves_a_tombstone_for_ever_and_reload_revives(store):
    store.commit([obj_record(1), obj_record(2)], now="2026-01-01T00:00:00Z")
    store.delete(["t/1"], now="2026-01-02T00:00:00Z")
    assert not store.oxi.contains_named_graph(store.uris.record_graph("t/1"))
    assert not store.oxi.contains_named_graph(store.uris.inferred_graph("t/1"))
    changes = list(store.changes())
    assert [(c.key, c.deleted, c.modified) for c in changes] == [
        ("t/2", False, "2026-01-01T00:00:00Z"), ("t/1", True, "2026-01-02T00:00:00Z")]
    assert [c.key for c in store.changes(since="2026-01-01T12:00:00Z")] == ["t/1"]
    with pytest.raises(NotFound):
        store.delete(["t/1"])
    with pytest.raises(NotFound):
        store.record_triples("t/1")
    assert store.commit([obj_record(1)], now="2026-01-03T00:00:00Z")[0].status == "created"
    state = store.record_states(["t/1"])["t/1"]
    assert not state.deleted and state.modified == "2026-01-03T00:00:00Z"


def test_type_closure_lands_in_a_separate_marked_graph(store):
    store.commit([obj_record(1)])
    assert bool(store.query("ASK { ?o a crm:E70_Thing }"))
    assert bool(store.query("ASK { ?o a crm:E1_CRM_Entity }"))
    record_graph, inferred = store.uris.record_graph("t/1"), store.uris.inferred_graph("t/1")
    # source data is never touched by inference
    assert not list(store.oxi.quads_for_pattern(None, RDF.type, CRM.E70_Thing, record_graph))
    assert list(store.oxi.quads_for_pattern(None, RDF.type, CRM.E70_Thing, inferred))
    meta = store.uris.meta_graph
    assert list(store.oxi.quads_for_pattern(inferred, RDF.type, MOU.InferredGraph, meta))
    assert list(store.oxi.quads_for_pattern(inferred, PROV.wasDerivedFrom, record_graph, meta))


def test_ontology_graphs_are_loaded_once(store, tmp_path):
    crm = store.uris.vocab_graph("crm")
    before = len(store.oxi)
    assert store.oxi.contains_named_graph(crm)
    assert len(list(store.oxi.quads_for_pattern(None, None, None, crm))) > 3000
    store.close()
    again = Store.open(tmp_path / "store", BASE)
    assert len(again.oxi) == before


def test_vocabulary_is_replaced_whole(store):
    concept = NamedNode(BASE + "id/concept/x")
    store.commit([], [Vocabulary("subjects", [Triple(concept, RDFS.label, Literal("a"))], Origin("v"))])
    store.commit([], [Vocabulary("subjects", [Triple(concept, RDFS.label, Literal("b"))], Origin("v"))])
    graph = store.uris.vocab_graph("subjects")
    assert [q.object.value for q in store.oxi.quads_for_pattern(None, None, None, graph)] == ["b"]


def test_warnings_are_stored_and_cleared_on_change(store):
    record = obj_record(1)
    record.warnings = ["Warning [crm-object-type] focus x: no classification"]
    store.commit([record])
    assert store.warnings("t/1") == record.warnings
    store.commit([obj_record(1, "Urn")])
    assert store.warnings("t/1") == []


def test_stats_count_records_datasets_and_classes(store):
    store.commit([obj_record(1), obj_record(2)])
    store.delete(["t/2"])
    stats = store.stats()
    assert (stats["records"], stats["deleted"], stats["datasets"]) == (1, 1, {"t": 1})
    assert stats["classes"][CRM["E22_Human-Made_Object"].value] == 1


def isomorphic(a: Store, b: Store) -> bool:
    left, right = ox.Dataset(a.oxi), ox.Dataset(b.oxi)
    left.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    right.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return left == right


def test_dump_restore_round_trip_is_isomorphic(store, tmp_path):
    store.commit([obj_record(n) for n in range(20)])
    store.delete(["t/3"])
    dump = tmp_path / "dump.nq.gz"
    assert store.dump(dump) == len(store.oxi)
    restored = Store.restore(dump, tmp_path / "restored", BASE)
    assert len(restored.oxi) == len(store.oxi)
    assert isomorphic(store, restored)
    assert [c.key for c in restored.changes()] == [c.key for c in store.changes()]


def test_restore_refuses_a_non_empty_store_and_a_corrupt_dump(store, tmp_path):
    store.commit([obj_record(1)])
    dump = tmp_path / "dump.nq.gz"
    store.dump(dump)
    target = tmp_path / "target"
    Store.restore(dump, target, BASE)
    with pytest.raises(StoreError, match="not empty"):
        Store.restore(dump, target, BASE)
    broken = tmp_path / "broken.nq.gz"
    with gzip.open(broken, "wb") as out:
        out.write(b"<http://a> <http://b> \"unterminated .\n")
    with pytest.raises(StoreError, match="broken.nq.gz"):
        Store.restore(broken, target, BASE, replace=True)
    # the failed restore left the previous store in place, whole
    assert len(Store.open(target, BASE).oxi) == len(store.oxi)


def test_a_batch_with_a_duplicate_key_writes_nothing(store):
    before = len(store.oxi)
    with pytest.raises(ValueError):
        store.commit([obj_record(1), obj_record(1, "Urn")])
    assert len(store.oxi) == before


def test_second_process_gets_a_clear_error(store):
    with pytest.raises(StoreError, match="another mouseion process"):
        Store.open(store.path, BASE)


def test_generation_moves_before_and_after_every_write(store, monkeypatch):
    """What a reader saw while a write was under way is never taken for what follows it: ETags and caches
    keyed on ``generation`` would otherwise keep the old contents for good."""
    during: list[int] = []
    for name in ("bulk_load", "extend", "update"):
        write = getattr(store.backend, name)

        def watched(*args, _write=write, **kwargs):
            during.append(store.generation)
            return _write(*args, **kwargs)
        monkeypatch.setattr(store.backend, name, watched)
    for write in (lambda: store.commit([obj_record(1)]),  # new: bulk-written
                  lambda: store.commit([obj_record(1, "Jug")]),  # changed: in a transaction
                  lambda: store.delete(["t/1"])):
        before, during[:] = store.generation, []
        write()
        assert during, "the write reached the backend"
        assert before < min(during) and max(during) < store.generation
