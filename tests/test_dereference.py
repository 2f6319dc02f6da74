"""Dereferencing over real HTTP: 303 by Accept, suffixes beating Accept, describedby links, RDF in every
format (read back by rdflib), the Linked Art profile (read back with the shipped context), foreign URIs."""

from __future__ import annotations

import json
import urllib.parse

import pyoxigraph as ox
import pytest
import rdflib

from kg.contexts import LINKED_ART, inline_contexts
from tests.pages_fixtures import BASE, EUROPEANA, OBJECT, SUGGESTIONS

ID = "/id/object/tate-A00001"
RDFLIB = {"ttl": "turtle", "nt": "nt", "jsonld": "json-ld", "rdf": "xml"}


@pytest.mark.parametrize("accept,location", [
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "/page/object/tate-A00001"),
    ("text/turtle", "/data/object/tate-A00001.ttl"),
    ("application/ld+json", "/data/object/tate-A00001.jsonld"),
    ("application/rdf+xml", "/data/object/tate-A00001.rdf"),
    ("application/n-triples", "/data/object/tate-A00001.nt"),
    ("text/turtle;q=0.5, application/n-triples", "/data/object/tate-A00001.nt"),
])
def test_303_by_accept(site, accept, location):
    answer = site.get(ID, {"Accept": accept})
    assert answer.status == 303
    assert answer.headers["location"].endswith(location)
    assert "Accept" in answer.headers["vary"]
    links = answer.headers["link"]
    for suffix in ("ttl", "nt", "jsonld", "rdf"):
        assert f'</data/object/tate-A00001.{suffix}>; rel="describedby"' in links


@pytest.mark.parametrize("suffix,location", [("ttl", "/data/object/tate-A00001.ttl"), ("html", "/page/object/tate-A00001"),
                                             ("jsonld", "/data/object/tate-A00001.jsonld")])
def test_a_suffix_beats_accept(site, suffix, location):
    answer = site.get(f"{ID}.{suffix}", {"Accept": "application/rdf+xml" if suffix == "html" else "text/html"})
    assert answer.status == 303 and answer.headers["location"].endswith(location)


def test_no_acceptable_format_is_406(site):
    answer = site.get(ID, {"Accept": "image/png"})
    assert answer.status == 406 and "text/turtle" in answer.text


def test_unknown_identifier_is_404_with_suggestions(site):
    answer = site.get("/id/object/tate-A0001", {"Accept": "text/html"})
    assert answer.status == 404 and "/page/object/tate-A00001" in answer.text


@pytest.mark.parametrize("suffix,media", [("ttl", "text/turtle"), ("nt", "application/n-triples"),
                                          ("jsonld", "application/ld+json"), ("rdf", "application/rdf+xml")])
def test_data_in_every_format(site, suffix, media):
    answer = site.get(f"/data/object/tate-A00001.{suffix}")
    assert answer.status == 200 and answer.headers["content-type"].startswith(media)
    assert 'rel="describedby"' in answer.headers["link"]
    graph = rdflib.Graph().parse(data=answer.body, format=RDFLIB[suffix])
    obj = rdflib.URIRef(OBJECT)
    crm = rdflib.Namespace("http://www.cidoc-crm.org/cidoc-crm/")
    assert str(graph.value(obj, rdflib.RDFS.label)).startswith("A Figure Bowing")
    production = graph.value(obj, crm.P108i_was_produced_by)
    assert graph.value(production, crm.P14_carried_out_by) == rdflib.URIRef(f"{BASE}id/person/tate-38")
    assert len(list(graph.objects(obj, crm.P43_has_dimension))) == 2
    pending, accepted, rejected = SUGGESTIONS
    assert (obj, rdflib.URIRef(accepted[0].value), rdflib.URIRef(accepted[1].value)) in graph
    assert (obj, rdflib.URIRef(pending[0].value), rdflib.URIRef(pending[1].value)) not in graph
    assert not any("inferred" in str(o) or str(o).endswith("E70_Thing") for o in graph.objects(obj, rdflib.RDF.type))


def test_data_negotiates_without_a_suffix(site):
    answer = site.get("/data/object/tate-A00001", {"Accept": "application/n-triples"})
    assert answer.status == 200 and answer.headers["content-type"].startswith("application/n-triples")


def test_linked_art_profile(site):
    by_header = site.get("/data/object/tate-A00001.jsonld", {"Accept-Profile": f"<{LINKED_ART}>"})
    by_parameter = site.get("/data/object/tate-A00001.jsonld?profile=linked-art")
    assert by_header.body == by_parameter.body
    assert f'profile="{LINKED_ART}"' in by_header.headers["content-type"]
    assert by_header.headers["content-profile"] == f"<{LINKED_ART}>"
    document = json.loads(by_header.body)
    assert document["@context"] == LINKED_ART
    assert document["id"] == OBJECT and "HumanMadeObject" in document["type"]
    assert document["_label"].startswith("A Figure Bowing")
    maker = document["produced_by"]["carried_out_by"][0]
    assert maker == {"id": f"{BASE}id/person/tate-38", "_label": "Robert Blake"}
    values = {d["value"]["@value"] if isinstance(d["value"], dict) else d["value"] for d in document["dimension"]}
    assert values == {"394", "419"}
    assert {d["classified_as"][0]["_label"] for d in document["dimension"]} == {"height", "width"}
    # read back with the shipped context, it says what the plain data says
    read = set(ox.parse(json.dumps(inline_contexts(document)).encode(), format=ox.RdfFormat.JSON_LD))
    plain = set(ox.parse(site.get("/data/object/tate-A00001.nt").body, format=ox.RdfFormat.N_TRIPLES))
    missing = {t for t in plain if not isinstance(t.subject, ox.BlankNode)} - read
    assert not missing, sorted(map(str, missing))[:5]
    extra = {t for t in read - plain if t.predicate.value != "http://www.w3.org/2000/01/rdf-schema#label"}
    assert not extra, sorted(map(str, extra))[:5]


def test_plain_json_ld_without_the_profile(site):
    document = json.loads(site.get("/data/object/tate-A00001.jsonld").body)
    assert "@context" not in document or document.get("@context") != LINKED_ART


def test_foreign_uris_have_data(site):
    query = urllib.parse.urlencode({"uri": EUROPEANA, "format": "ttl"})
    answer = site.get(f"/data?{query}")
    assert answer.status == 200
    graph = rdflib.Graph().parse(data=answer.body, format="turtle")
    assert (rdflib.URIRef(EUROPEANA), rdflib.RDF.type, rdflib.URIRef("http://www.europeana.eu/schemas/edm/ProvidedCHO")) in graph
    negotiated = site.get("/data?" + urllib.parse.urlencode({"uri": EUROPEANA}), {"Accept": "application/rdf+xml"})
    assert negotiated.headers["content-type"].startswith("application/rdf+xml")
    bad = site.get("/data?" + urllib.parse.urlencode({"uri": EUROPEANA, "format": "xls"}))
    assert bad.status == 400 and "format=xls" in bad.text
    assert site.get("/data?uri=http%3A%2F%2Fexample.org%2Fnothing").status == 404
    assert site.get("/data").status == 400


def test_page_of_our_own_uri_redirects_to_its_page(site):
    answer = site.get("/page?" + urllib.parse.urlencode({"uri": OBJECT}))
    assert answer.status == 301 and answer.headers["location"].endswith("/page/object/tate-A00001")
