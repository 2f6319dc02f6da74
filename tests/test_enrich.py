"""The job framework and the run graph: complete provenance, determinism, crash safety, bad images,
retraction, the command line. Runs the real CLIP tagging job with a tiny open_clip model whose
weights are seeded random numbers (marked as test weights in every run)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pyoxigraph import Literal

from enrichment.clip_tagging import file_checksum, write_test_model
from enrichment.jobs import run_job
from enrichment.runs import find_suggestions, list_runs, log_graph, retract, review, run_iri
from enrichment.vectors import vectors_dir
from kg.errors import ConfigError, NotFound
from ontology.namespaces import CRM, MOU, PROV, RDFS, XSD
from sparql.examples import example
from tests.enrichment_fixtures import enrich_settings, image_store, snapshot


@pytest.fixture(scope="module")
def model_spec(tmp_path_factory) -> str:
    return write_test_model(tmp_path_factory.mktemp("models") / "tiny-clip", seed=7)


@pytest.fixture
def setup(tmp_path, data_dir, model_spec):
    store = image_store(tmp_path / "store", data_dir, bad_dir=tmp_path / "bad")
    settings = enrich_settings(tmp_path / "store", model_spec, [data_dir / "images", tmp_path / "bad"])
    return store, settings


def graph_of(store, run_id):
    return {(q.subject, q.predicate, q.object) for q in store.oxi.quads_for_pattern(None, None, None,
                                                                                     store.uris.run_graph(run_id))}


def test_every_suggestion_carries_complete_provenance(setup, model_spec):
    store, settings = setup
    run = run_job(store, settings, "clip-tagging", params=["top_k=2"])
    assert len(run.suggestions) == 6 * 2 * 2  # six good images, two schemes, top 2
    triples = graph_of(store, run.run_id)
    node = run_iri(store.uris, run.run_id)
    graph = store.uris.run_graph(run.run_id)
    agent = next(o for s, p, o in triples if s == node and p == PROV.wasAssociatedWith)
    assert (graph, PROV.wasGeneratedBy, node) in triples
    assert agent.value == f"{store.uris.base}id/agent/clip-tagging-1.0"
    values = {p: o for s, p, o in triples if s == agent}
    assert "TEST WEIGHTS" in values[MOU.model].value and "TEST WEIGHTS" in values[RDFS.label].value
    assert values[MOU.testWeights] == Literal(True)
    weights = Path(model_spec.split(":", 1)[1]) / "open_clip_model.safetensors"
    assert values[MOU.weightsChecksum].value == file_checksum(weights)
    activity = {p: o for s, p, o in triples if s == node and p != PROV.used}
    assert activity[PROV.startedAtTime].datatype == XSD.dateTime and activity[PROV.endedAtTime].datatype == XSD.dateTime
    assert json.loads(activity[MOU.parameters].value)["top_k"] == 2
    used = {o for s, p, o in triples if s == node and p == PROV.used}
    assert len(used) == 6 and all("/graph/record/test/img" in g.value for g in used)
    assignments = {s for s, p, o in triples if o == CRM.E13_Attribute_Assignment}
    assert len(assignments) == len(run.suggestions)
    for a in assignments:
        d = {p: o for s, p, o in triples if s == a}
        for p in (CRM.P140_assigned_attribute_to, CRM.P177_assigned_property_of_type, CRM.P141_assigned,
                  MOU.confidence, MOU.evidence):
            assert p in d, f"{a} lacks {p}"
        assert d[CRM.P14_carried_out_by] == agent and d[PROV.wasGeneratedBy] == node
        assert d[MOU.reviewState] == MOU.pending
        assert d[MOU.confidence].datatype == XSD.decimal and 0 <= float(d[MOU.confidence].value) <= 1
        assert d[MOU.evidence].language == "en" and "runner-up" in d[MOU.evidence].value
        assert (d[CRM.P140_assigned_attribute_to], d[CRM.P177_assigned_property_of_type],
                d[CRM.P141_assigned]) in triples  # the suggested triple itself
    # "all machine statements about X with confidence, model and state" is one SPARQL query
    rows = list(store.query(example("machine-suggestions").text))
    assert {r["assignment"] for r in rows} == assignments and all(r["confidence"] is not None for r in rows)


def test_bad_images_are_skipped_with_a_reason_and_the_run_completes(setup):
    store, settings = setup
    run = run_job(store, settings, "clip-tagging")
    skipped = "\n".join(run.skipped)
    assert len(run.skipped) == 3, skipped
    assert re.search(r"bad-truncated.*(truncated|cannot decode)", skipped)
    assert re.search(r"bad-huge.*(40000x40000|1600000000) pixels.* exceeds MOUSEION_IMAGE_MAX_PIXELS", skipped)
    assert re.search(r"bad-text.*not an image", skipped)
    recorded = {q.object.value for q in store.oxi.quads_for_pattern(
        run_iri(store.uris, run.run_id), MOU.skipped, None, store.uris.run_graph(run.run_id))}
    assert recorded == set(run.skipped)
    assert {s.triple.subject.value.rsplit("-", 1)[-1] for s in run.suggestions} == {f"img{n:02d}" for n in range(6)}


@pytest.mark.slow
def test_same_inputs_parameters_and_weights_give_the_same_suggestions(setup):
    store, settings = setup
    first = run_job(store, settings, "clip-tagging", params=["top_k=3"])
    second = run_job(store, settings, "clip-tagging", params=["top_k=3"])
    assert first.run_id != second.run_id

    def table(run):
        return sorted((r.subject, r.property, r.value.value, r.confidence, r.evidence)
                      for r in find_suggestions(store, run=run.run_id))

    assert table(first) == table(second) and len(table(first)) == 6 * 2 * 3


def test_an_interrupted_run_leaves_nothing(setup):
    store, settings = setup
    before = snapshot(store)

    def interrupt(done, total):
        if done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(store, settings, "clip-tagging", progress=interrupt)
    assert snapshot(store) == before
    assert not (vectors_dir(store, settings) / "clip-image.npz").exists()
    assert list_runs(store) == []


def test_where_narrows_the_objects_and_a_bad_selection_writes_nothing(setup):
    store, settings = setup
    before = snapshot(store)
    with pytest.raises(ConfigError, match="--where"):
        run_job(store, settings, "clip-tagging", where="?object rdfs:label ")
    with pytest.raises(ConfigError, match="no parameter 'colour'"):
        run_job(store, settings, "clip-tagging", params=["colour=red"])
    assert snapshot(store) == before
    run = run_job(store, settings, "clip-tagging",
                  where='?object edm:isShownBy|^edm:aggregatedCHO/edm:isShownBy ?image')
    assert {s.triple.subject.value[-5:] for s in run.suggestions} == {"img01", "img03", "img05"}
    assert json.loads(next(iter(store.oxi.quads_for_pattern(
        run_iri(store.uris, run.run_id), MOU.parameters, None))).object.value)["where"].startswith("?object")


def test_retraction_leaves_no_trace_but_the_log(setup):
    store, settings = setup
    kept = run_job(store, settings, "clip-tagging")  # also writes the scheme vocabularies, which stay
    before = snapshot(store)
    run = run_job(store, settings, "clip-tagging", params=["top_k=2"])
    rows = find_suggestions(store, run=run.run_id)
    review(store, [rows[0].assignment], "accepted", who="ada")
    review(store, [rows[1].assignment], "rejected", who="ada")
    removed = retract(store, run.run_id, who="grace")
    assert removed > 4 * len(rows)
    after = snapshot(store)
    log = log_graph(store.uris).value.encode()
    assert {q for q in after - before if log not in q} == set()
    assert {q for q in before - after if log not in q} == set()
    assert not any(str(run.run_id).encode() in q for q in after if log not in q)
    entries = {(q.predicate, q.object.value) for q in store.oxi.quads_for_pattern(
        run_iri(store.uris, run.run_id), None, None, log_graph(store.uris))}
    assert (MOU.retractedBy, "grace") in entries and any(p == MOU.retractedAt for p, _ in entries)
    listed = {r.run_id: r for r in list_runs(store)}
    assert listed[run.run_id].retracted_by == "grace" and listed[kept.run_id].retracted_at is None
    with pytest.raises(NotFound):
        retract(store, run.run_id, who="grace")


@pytest.mark.slow
def test_command_line_enrich_runs_review_retract(setup, capsys, monkeypatch):
    from web.cli import main
    store, settings = setup
    store.close()  # the command line opens the store itself
    for name, value in (("CLIP_MODEL", settings.clip_model), ("IMAGE_ROOTS", settings.image_roots),
                        ("CLIP_THRESHOLD", "0"), ("CLIP_BATCH_SIZE", "4")):
        monkeypatch.setenv(f"MOUSEION_{name}", value)
    common = ["--store", settings.store, "--base-uri", settings.base_uri]
    assert main(["enrich", "clip-tagging", "--where", "?object rdfs:label ?t FILTER(CONTAINS(?t, 'Starry'))",
                 "--param", "top_k=2", "--progress", *common]) == 0
    out, err = capsys.readouterr()
    assert "clip-tagging" in err and "1/1" in err  # the progress bar
    run_id = re.search(r"run (\S+): 4 suggestions", out).group(1)
    assert main(["runs", "--json", *common]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert runs[0]["run_id"] == run_id and runs[0]["pending"] == 4
    assert main(["review", "list", "--run", run_id, "--json", *common]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 4
    assert main(["review", "accept", *common]) == 2  # bulk decisions need a selection
    capsys.readouterr()
    assert main(["review", "accept", "--run", run_id, "--property", str(CRM.P2_has_type.value), "--by", "ada",
                 *common]) == 0
    assert "2 suggestions accepted" in capsys.readouterr().out
    assert main(["review", "reject", "--run", run_id, "--by", "ada", *common]) == 0
    assert "2 suggestions rejected" in capsys.readouterr().out
    assert main(["retract", run_id, "--by", "ada", *common]) == 0
    assert main(["runs", *common]) == 0
    assert f"{run_id}  clip-tagging  retracted" in capsys.readouterr().out
    assert main(["enrich", "no-such-job", *common]) == 2
    assert "no enrichment job 'no-such-job'" in capsys.readouterr().err
