"""Conditional GET over real HTTP (RFC 9110 §13.1.2): pages, browse lists, RDF descriptions, the change
feed and VoID carry a strong ETag and ``Cache-Control: no-cache``; asking again with ``If-None-Match`` gets a
bodiless 304 while nothing changed, and the full answer once a write (or new image embeddings) changed it.
Over a SPARQL server, which others write to unseen, nothing is tagged and what was read is kept briefly."""

from __future__ import annotations

import contextlib
import http.client
import urllib.parse
from typing import Callable, Iterator

import numpy as np
import pytest
from pyoxigraph import Literal, NamedNode, Triple

from kg.record import Origin, Record
from kg.settings import Settings
from kg.store import Store
from ontology.namespaces import CRM, RDF, RDFS
from tests.pages_fixtures import BASE, EUROPEANA
from tests.servers import oxigraph_server, serving_app

PAGE = "/page/object/tate-A00001"
HTML = {"Accept": "text/html", "Accept-Language": "en"}


def tag_of(site, path, headers):
    answer = site.get(path, headers)
    assert answer.status == 200, (path, answer.status)
    assert answer.headers["cache-control"] == "no-cache"
    tag = answer.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/"), tag
    return answer, tag


@pytest.mark.parametrize("path,headers", [
    (PAGE, HTML),
    ("/page?" + urllib.parse.urlencode({"uri": EUROPEANA}), HTML),
    ("/data/object/tate-A00001.ttl", {}),
    ("/data/object/tate-A00001", {"Accept": "application/n-triples"}),
    ("/data/object/tate-A00001.jsonld?profile=linked-art", {}),
    ("/data?" + urllib.parse.urlencode({"uri": EUROPEANA, "format": "rdf"}), {}),
    ("/", HTML),
    ("/browse", HTML),
    ("/browse/maker", HTML),
    ("/browse/century?value=19&page=2", HTML),
    ("/activity", {}),
    ("/activity/page?before=end", {}),
    ("/.well-known/void", {"Accept": "text/turtle"}),
])
def test_a_revalidation_while_nothing_changed_is_a_bodiless_304(site, path, headers):
    answer, tag = tag_of(site, path, headers)
    for asked in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        again = site.get(path, {**headers, "If-None-Match": asked})
        assert again.status == 304, asked
        assert again.body == b""
        # what a cache needs to go on using what it kept (RFC 9110 §15.4.5)
        assert again.headers["etag"] == tag
        for name in ("vary", "cache-control"):
            assert again.headers.get(name) == answer.headers.get(name), name
    assert site.get(path, {**headers, "If-None-Match": '"something-else"'}).status == 200


@pytest.mark.parametrize("asked", ['"unterminated', ",,,", "W/", 'W/"', '"a" "b"', "x" * 4000, "\u00e9"])
def test_a_malformed_if_none_match_gets_the_whole_answer(site, asked):
    """An If-None-Match that names no tag of ours, however mangled, is no reason to hold anything back."""
    _, tag = tag_of(site, PAGE, HTML)
    answer = site.get(PAGE, {**HTML, "If-None-Match": asked})
    assert answer.status == 200 and answer.headers["etag"] == tag and "<h1" in answer.text


def test_each_representation_has_its_own_tag(site):
    tags = {
        tag_of(site, PAGE, HTML)[1],
        tag_of(site, PAGE, {"Accept": "text/html", "Accept-Language": "fr"})[1],
        tag_of(site, PAGE + "?via=x&page=2", HTML)[1],
        tag_of(site, "/page/object/tate-A00047", HTML)[1],
        tag_of(site, "/data/object/tate-A00001.ttl", {})[1],
        tag_of(site, "/data/object/tate-A00001.jsonld", {})[1],
        tag_of(site, "/data/object/tate-A00001.jsonld", {"Accept-Profile": "<https://linked.art/ns/v1/linked-art.json>"})[1],
    }
    assert len(tags) == 7
    # a page's tag does not answer for another page
    french = site.get(PAGE, {"Accept": "text/html", "Accept-Language": "fr", "If-None-Match": tag_of(site, PAGE, HTML)[1]})
    assert french.status == 200


def test_unknown_resources_are_404_even_for_a_star(site):
    for path, vary in (("/page/object/tate-A0001", "Accept-Language"), ("/data/object/tate-A0001.ttl", "Accept, Accept-Profile"),
                       ("/browse/colour", "Accept-Language")):
        answer = site.get(path, {"If-None-Match": "*"})
        assert answer.status == 404 and "etag" not in answer.headers, path
        assert answer.headers["vary"] == vary, "a 404 page is in the asked language too"


def test_a_write_changes_the_tag_and_the_page_follows(site):
    obj = NamedNode(f"{BASE}id/object/etag-1")
    path = "/page/object/etag-1"

    def record(title: str) -> Record:
        return Record("etag/1", "etag", [Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]),
                                         Triple(obj, RDFS.label, Literal(title, language="en"))],
                      Origin("etag.ttl"), focus=obj)

    site.store.commit([record("Before the write")])
    try:
        _, first = tag_of(site, path, HTML)
        _, data_tag = tag_of(site, "/data/object/etag-1.ttl", {})
        assert site.get(path, {**HTML, "If-None-Match": first}).status == 304
        site.store.commit([record("After the write")])
        again = site.get(path, {**HTML, "If-None-Match": first})
        assert again.status == 200 and "After the write" in again.text
        assert again.headers["etag"] != first
        changed = site.get("/data/object/etag-1.ttl", {"If-None-Match": data_tag})
        assert changed.status == 200 and "After the write" in changed.text
    finally:
        site.store.delete(["etag/1"])
    assert site.get(path, {**HTML, "If-None-Match": first}).status == 404


def test_new_image_embeddings_change_an_object_page_s_tag(site):
    """"Similar objects" come from the embeddings file a clip-tagging run saves after its commit: a page
    tagged before the file changed is not current after it, though the store did not move."""
    from enrichment.clip_tagging import IMAGE_INDEX
    from enrichment.vectors import VectorIndex, vectors_dir

    _, before = tag_of(site, PAGE, HTML)
    folder = vectors_dir(site.store)
    folder.mkdir(exist_ok=True)
    neighbour = f"{BASE}id/object/tate-A00047"
    index = VectorIndex(IMAGE_INDEX, [], np.zeros((0, 2), np.float32), {"model": "test"})
    saved = index.upsert([f"{BASE}id/object/tate-A00001", neighbour],
                         np.array([[1, 0], [0.8, 0.6]], np.float32), {"model": "test"}).save(folder)
    try:
        answer = site.get(PAGE, {**HTML, "If-None-Match": before})
        assert answer.status == 200 and "/page/object/tate-A00047" in answer.text
        assert answer.headers["etag"] != before
    finally:
        saved.unlink()
    assert site.get(PAGE, {**HTML, "If-None-Match": before}).status == 304, "the file gone, the page is as before"


def _record(n: int, title: str, *links: NamedNode) -> Record:
    obj = NamedNode(f"{BASE}id/object/remote-{n}")
    return Record(f"remote/{n}", "remote", [Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]),
                                            Triple(obj, RDFS.label, Literal(title, language="en"))]
                  + [Triple(obj, CRM.P130_shows_features_of, link) for link in links], Origin("remote.ttl"), focus=obj)


@contextlib.contextmanager
def over_a_sparql_server(folder) -> Iterator[tuple[Store, Callable]]:
    """A store on an Oxigraph server, the application over it, and ``get(path, headers)``."""
    with oxigraph_server(folder / "server") as url:
        store = Store.connect(f"{url}/query", BASE, update_url=f"{url}/update")
        with serving_app(store, Settings.from_env({}, base_uri=BASE, query_workers=1), threads=2) as root:
            parts = urllib.parse.urlsplit(root)

            def get(path: str, headers: dict) -> tuple[http.client.HTTPResponse, str]:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
                try:
                    connection.request("GET", path, headers=headers)
                    answer = connection.getresponse()
                    return answer, answer.read().decode()
                finally:
                    connection.close()
            yield store, get


def test_over_a_sparql_server_answers_carry_no_tag(tmp_path):
    """Others may write to a shared SPARQL server without this process knowing: no tag could be trusted."""
    with over_a_sparql_server(tmp_path) as (store, get):
        store.commit([_record(1, "Over the wire")])
        for path, vary in (("/page/object/remote-1", "Accept-Language"), ("/data/object/remote-1.ttl", "Accept, Accept-Profile")):
            answer, body = get(path, HTML)
            assert answer.status == 200 and "Over the wire" in body, (path, answer.status)
            assert answer.getheader("ETag") is None and answer.getheader("Vary") == vary
            answer, body = get(path, {**HTML, "If-None-Match": "*"})
            assert answer.status == 304 and body == "", "there is a representation"


def test_over_a_sparql_server_what_others_write_is_shown_once_stale(tmp_path):
    """A ``mouseion load`` in another process writes to the server unseen by the web process: its
    caches (labels, browse lists, counts) are kept only ``stale_after`` seconds there."""
    with over_a_sparql_server(tmp_path) as (store, get):
        store.stale_after = 1e-6  # what was read is out of date at once: no test waits 10 s
        first = NamedNode(f"{BASE}id/object/remote-1")
        store.commit([_record(1, "First title"), _record(2, "Second", first)])
        assert "<span class=\"n\">2</span> objects" in get("/", HTML)[1]
        assert "First title" in get("/page/object/remote-2", HTML)[1]
        other = Store.connect(store.backend.query_url, BASE, update_url=store.backend.update_url)
        other.commit([_record(1, "Renamed elsewhere"), _record(3, "Third")])
        assert "<span class=\"n\">3</span> objects" in get("/", HTML)[1]
        linking = get("/page/object/remote-2", HTML)[1]
        assert "Renamed elsewhere" in linking and "First title" not in linking, "the label of a linked object"
