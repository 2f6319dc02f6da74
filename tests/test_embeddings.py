"""Text embeddings with the packaged all-MiniLM-L6-v2 (loaded offline from site-packages): semantic
search over titles and descriptions, and reconciliation suggestions (never merges) under review."""

from __future__ import annotations

import pytest
from pyoxigraph import Literal, NamedNode, Triple

from enrichment.embeddings import load_text_model, packaged_model_path, semantic_search
from enrichment.jobs import run_job
from enrichment.runs import find_suggestions, list_runs
from kg.errors import NotFound
from kg.record import Origin, Record, Vocabulary
from kg.settings import Settings
from kg.store import Store
from ontology.namespaces import CRM, DC, EDM, RDF, RDFS, SKOS
from tests.enrichment_fixtures import BASE

AAT = "http://vocab.getty.edu/aat/"
TITLES = {
    "starry": ("The Starry Night", "Swirling night sky over a village, painted in oil."),
    "mask": ("Ritual mask", "A bronze mask worn in ceremonies of the royal court."),
    "coin": ("Penny of Henry III", "A silver coin struck in London."),
    "ledger": ("Ledger page", "Handwritten accounts of a shipping company."),
}


def obj_record(store, key, title, description):
    obj = store.uris.entity("object", f"texts-{key}")
    return Record(f"texts/{key}", "texts", [Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]),
                                             Triple(obj, RDFS.label, Literal(title, language="en")),
                                             Triple(obj, DC.description, Literal(description, language="en"))],
                  Origin("test"), focus=obj)


@pytest.fixture
def settings(tmp_path):
    return Settings.from_env({}, store=str(tmp_path / "store"), base_uri=BASE)


def test_the_packaged_model_loads_offline():
    path = packaged_model_path()
    assert (path / "model.safetensors").is_file() and "site-packages" in str(path)
    model = load_text_model("")
    assert model.encode(["a painting"]).shape == (1, 384) and model.checksum.startswith("sha256:")


@pytest.mark.slow
def test_semantic_search_over_titles_and_descriptions(tmp_path, settings):
    store = Store.open(tmp_path / "store", BASE)
    store.commit([obj_record(store, key, *text) for key, text in TITLES.items()])
    with pytest.raises(NotFound, match="no stored text embeddings"):
        semantic_search(store, "mask", settings=settings)
    run = run_job(store, settings, "text-index")
    assert run.suggestions == [] and "4 text embeddings" in run.notes[0]
    assert list_runs(store)[0].job == "text-index"  # recorded with provenance like any run
    top = lambda text: semantic_search(store, text, 1, settings=settings)[0][0].rsplit("-", 1)[-1]
    assert top("metal face covering used in ceremonies") == "mask"
    assert top("money made of silver") == "coin"
    assert top("a painting of stars at night") == "starry"
    assert top("bookkeeping records of a merchant fleet") == "ledger"
    # the search page and its API, by meaning
    import json
    import urllib.request

    from tests.test_review import served
    with served(store, settings) as root:
        with urllib.request.urlopen(f"{root}/api/search?mode=meaning&q=money%20made%20of%20silver") as response:
            answer = json.load(response)
        assert answer["hits"][0]["uri"].endswith("-coin") and answer["total"] == 4
        with urllib.request.urlopen(f"{root}/search?mode=meaning&q=money%20made%20of%20silver") as response:
            assert answer["hits"][0]["page"] in response.read().decode()


@pytest.mark.slow
def test_reconciliation_suggests_matches_across_sources_and_never_merges(tmp_path, settings):
    store = Store.open(tmp_path / "store", BASE)
    tate = lambda key: store.uris.entity("person", f"tate-{key}")
    gauguin, turner, other = tate("1144"), tate("558"), tate("10093")
    europeana_turner = NamedNode("http://data.europeana.eu/agent/turner")
    cho = NamedNode("http://data.europeana.eu/item/1/gauguin-print")
    records = [
        Record("tate/artist-1144", "tate", [Triple(gauguin, RDF.type, CRM.E21_Person),
                                            Triple(gauguin, RDFS.label, Literal("Gauguin, Paul"))], Origin("t")),
        Record("tate/artist-558", "tate", [Triple(turner, RDF.type, CRM.E21_Person),
                                           Triple(turner, RDFS.label, Literal("Turner, Joseph Mallord William"))],
               Origin("t")),
        Record("tate/artist-10093", "tate", [Triple(other, RDF.type, CRM.E21_Person),
                                             Triple(other, RDFS.label, Literal("Abakanowicz, Magdalena"))],
               Origin("t")),
        Record("europeana/1", "europeana", [
            Triple(cho, RDF.type, EDM.ProvidedCHO), Triple(cho, DC.creator, Literal("Paul Gauguin")),
            Triple(cho, DC.title, Literal("Nave Nave Fenua")),
            Triple(NamedNode("http://data.europeana.eu/aggregation/1"), EDM.aggregatedCHO, cho)], Origin("e")),
        Record("europeana/agent-turner", "europeana", [
            Triple(europeana_turner, RDF.type, EDM.Agent),
            Triple(europeana_turner, SKOS.prefLabel, Literal("Joseph Mallord William Turner", language="en"))],
            Origin("e")),
    ]
    canvas, oil = store.uris.entity("concept", "material-canvas"), store.uris.entity("concept", "material-oil-paint")
    vocabularies = [
        Vocabulary("tate-materials", [Triple(canvas, RDF.type, SKOS.Concept),
                                      Triple(canvas, SKOS.prefLabel, Literal("canvas", language="en")),
                                      Triple(oil, RDF.type, SKOS.Concept),
                                      Triple(oil, SKOS.prefLabel, Literal("oil paint", language="en")),
                                      Triple(oil, SKOS.exactMatch, NamedNode(AAT + "300015050"))], Origin("v")),
        Vocabulary("aat-extract", [Triple(NamedNode(AAT + "300014078"), RDF.type, SKOS.Concept),
                                   Triple(NamedNode(AAT + "300014078"), SKOS.prefLabel, Literal("canvas", language="en")),
                                   Triple(NamedNode(AAT + "300015050"), RDF.type, SKOS.Concept),
                                   Triple(NamedNode(AAT + "300015050"), SKOS.prefLabel,
                                          Literal("oil paint", language="en"))], Origin("v")),
    ]
    store.commit(records, vocabularies)
    outside_runs = lambda: {q for q in store.oxi if "/graph/run/" not in q.graph_name.value
                            and "/graph/meta/runs" not in q.graph_name.value}
    before = outside_runs()
    run = run_job(store, settings, "reconcile")
    found = {(s.triple.subject.value, s.triple.predicate.value, s.triple.object.value) for s in run.suggestions}
    assert (turner.value, SKOS.exactMatch.value, europeana_turner.value) in found or \
        (europeana_turner.value, SKOS.exactMatch.value, turner.value) in found
    assert (cho.value, DC.creator.value, gauguin.value) in found
    assert (canvas.value, SKOS.exactMatch.value, AAT + "300014078") in found or \
        (AAT + "300014078", SKOS.exactMatch.value, canvas.value) in found
    assert not any(other.value in t for t in found)  # nobody else is called Abakanowicz
    assert not any(oil.value in t and AAT + "300015050" in t for t in found)  # the source says so already
    rows = find_suggestions(store, job="reconcile")
    assert len(rows) == len(found) and all(r.state == "pending" for r in rows)
    assert all(0.85 <= r.confidence <= 1 and "cosine" in r.evidence for r in rows)
    # nothing was merged: the records are as loaded, the suggestions live in the run graph only
    assert outside_runs() == before
    record_graph = store.uris.record_graph("europeana/1")
    assert not list(store.oxi.quads_for_pattern(cho, DC.creator, gauguin, record_graph))
