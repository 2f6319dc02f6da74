"""Linked-data pages over real HTTP: what a person reads on object, person, place, concept, time-span and
foreign-URI pages; machine statements marked; literals inert; 404s that suggest; valid HTML5."""

from __future__ import annotations

import json
import re
import urllib.parse

import html5lib
import lxml.html
import pytest

from tests.pages_fixtures import BASE, EUROPEANA, HOSTILE, HOSTILE_TITLE, MAKER, OBJECT, SUGGESTIONS

HTML = {"Accept": "text/html", "Accept-Language": "en"}


def page(site, path, headers=HTML, status=200):
    answer = site.get(path, headers)
    assert answer.status == status, (path, answer.status, answer.text[:500])
    assert answer.headers["content-type"].startswith("text/html")
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(answer.text)  # raises on any parse error
    return answer, lxml.html.document_fromstring(answer.text)


def text(element) -> str:
    return " ".join("".join(element.itertext()).split())


def one(tree, xpath):
    found = tree.xpath(xpath)
    assert len(found) >= 1, f"nothing at {xpath}"
    return found[0]


def path_of(iri: str) -> str:
    return "/page/" + iri[len(BASE + "id/"):]


# --- the object page reads like a catalogue entry ----------------------------------------------------

def test_object_page_reads_like_a_catalogue(site):
    answer, tree = page(site, path_of(OBJECT))
    assert text(one(tree, "//h1")).startswith("A Figure Bowing before a Seated Old Man")
    made = one(tree, "//p[contains(@class, 'event-made')]")
    assert text(made) == "Made by Robert Blake."
    assert one(made, ".//a").get("href") == "/page/person/tate-38"
    catalogue = text(one(tree, "//dl[@class='catalogue']"))
    for expected in ("Materials", "graphite", "watercolour", "Types", "on paper, unique", "works of art",
                     "Subjects", "blessing", "Dimensions", "height 394 mm", "width 419 mm",
                     "Accession number", "A00001"):
        assert expected in catalogue, expected
    statements = {text(dt): text(dt.getnext()) for dt in tree.xpath("//dl[@class='catalogue']/dt")}
    assert statements["Material statement"] == "Watercolour, ink, chalk and graphite on paper. Verso: graphite on paper"
    assert statements["Dimension statement"] == "support: 394 x 419 mm"
    assert statements["Credit line"] == "Presented by Mrs John Richmond 1922"  # the acquisition's
    assert one(tree, "//img").get("src") == "http://www.tate.org.uk/art/images/work/A/A00/A00001_8.jpg"
    assert 'rel="describedby"' in answer.headers["link"] and "/data/object/tate-A00001.ttl" in answer.headers["link"]


def test_dated_production_is_one_sentence_with_date(site):
    _, tree = page(site, "/page/object/tate-D23358")
    made = text(one(tree, "//p[contains(@class, 'event-made')]"))
    assert re.fullmatch(r"Made by .+, 1826\.", made), made


def test_structures_are_rendered_inline_with_labels(site):
    _, tree = page(site, path_of(OBJECT))
    statements = one(tree, "//dl[@class='statements']")
    nested = statements.xpath(".//dl[contains(@class, 'nested')]")
    assert nested, "fragment children (#height, #production) are shown inside the page"
    pairs = [{text(dt): text(dt.getnext()) for dt in n.xpath("./dt")} for n in nested]
    assert {"has type": "height", "has unit": "mm", "has value": "394"} in pairs
    assert "http://vocab.getty.edu/aat/300055644" not in text(statements), "URIs are shown by their label"


def test_schema_org_and_data_links(site):
    _, tree = page(site, path_of(OBJECT))
    [script] = tree.xpath("//script[@type='application/ld+json']")
    data = json.loads(script.text)
    assert data["@type"] == "VisualArtwork" and data["@id"] == OBJECT
    assert data["creator"][0]["name"] == "Robert Blake" and "graphite" in data["material"]
    hrefs = [a.get("href") for a in tree.xpath("//section[@class='data']//a")]
    assert "/data/object/tate-A00001.ttl" in hrefs and "/data/object/tate-A00001.jsonld?profile=linked-art" in hrefs
    sparql = [h for h in hrefs if h.startswith("/sparql?")][0]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(sparql).query)["query"][0]
    assert f"<{OBJECT}>" in query
    answer = site.get(sparql, {"Accept": "application/sparql-results+json"})
    assert answer.status == 200 and len(json.loads(answer.body)["results"]["bindings"]) > 10


# --- machine statements ------------------------------------------------------------------------------

def test_machine_statements_carry_a_badge_and_an_explanation(site):
    answer, tree = page(site, path_of(OBJECT))
    machine = tree.xpath("//dd[contains(@class, 'machine-made')]")
    shown = {one(dd, ".//a").get("href"): dd for dd in machine}
    pending, accepted, rejected = SUGGESTIONS
    dd = shown[path_of(pending[1].value)]
    assert "Machine suggestion · 83% · ViT-B-32 · pending" in text(one(dd, ".//span[@class='badge']"))
    assert one(dd, ".//details/summary").text == "Why?"
    assert pending[4] in text(one(dd, ".//details"))
    assert "· accepted" in text(one(shown[path_of(accepted[1].value)], ".//span[@class='badge']"))
    assert rejected[4] not in answer.text, "a rejected suggestion is not shown"
    assert len(machine) == 2


def test_an_event_sentence_names_every_maker_and_marks_the_machine_s_one():
    from kg.describe import Suggestion, Value
    from web.pages import Event
    from web.pages_html import Renderer
    guess = Suggestion("urn:a", 0.5, "gnn", "", "http://example.org/mou#pending", "", "")
    makers = [Value(iri="urn:x:1", label="Ann"), Value(iri="urn:x:2", label="Bo <b>"),
              Value(iri="urn:x:3", label="Cy", suggestion=guess)]
    sentence = Renderer(lambda iri: "/page/" + iri[6:]).event(
        Event("Made", agents=makers, when="1830–41", places=[Value(iri="urn:x:4", label="Rome")]))
    tree = lxml.html.fragment_fromstring(str(sentence))
    badge = one(tree, "//span[@class='machine']")
    assert text(badge) == "Machine suggestion · 50% · gnn · pending" and badge.getprevious().text == "Cy"
    badge.drop_tree()
    assert text(tree) == "Made by Ann, Bo <b> and Cy, 1830–41, in Rome."
    assert [a.get("href") for a in tree.xpath("//a")] == ["/page/1", "/page/2", "/page/3", "/page/4"]
    assert not tree.xpath("//details") and not tree.xpath("//b"), "no explanation inside a sentence; labels inert"
    assert text(lxml.html.fragment_fromstring(str(Renderer(str).event(Event("Born", when="1757"))))) == "Born 1757."


def test_the_rejected_suggestion_object_is_not_stated_by_the_machine(site):
    rejected = SUGGESTIONS[2]
    _, tree = page(site, path_of(OBJECT))
    machine_links = [a.get("href") for a in tree.xpath("//dd[contains(@class, 'machine-made')]//a")]
    assert path_of(rejected[1].value) not in machine_links


# --- other kinds --------------------------------------------------------------------------------------

def test_person_page_tells_life_and_lists_works(site):
    _, tree = page(site, "/page/person/tate-38")
    assert text(one(tree, "//h1")) == "Robert Blake"
    assert text(one(tree, "//p[@class='kind']")).startswith("Person")
    born = text(one(tree, "//p[contains(@class, 'event-born')]"))
    assert born == "Born 1762 in London, United Kingdom.", born
    links = [a.get("href") for a in tree.xpath("//section[@class='inverse']//a")]
    assert path_of(OBJECT) in links


def test_inverse_links_are_grouped_counted_and_paged(site):
    _, tree = page(site, "/page/person/tate-558")
    group = one(tree, "//section[@class='inverse']")
    count = int(re.search(r"\(([\d,]+)\)", text(one(group, "h3"))).group(1).replace(",", ""))
    assert count > 100
    first = [a.get("href") for a in group.xpath("./ul//a")]
    assert len(first) == 20
    nxt = one(group, ".//a[@rel='next']").get("href")
    _, tree2 = page(site, "/page/person/tate-558" + nxt)
    second = [a.get("href") for a in one(tree2, "//section[@class='inverse']").xpath("./ul//a")]
    assert len(second) == 20 and not set(first) & set(second)
    assert "page 2 of" in text(one(tree2, "//section[@class='inverse']//nav"))


def test_place_concept_and_time_span_pages(site):
    _, place = page(site, "/page/place/london-united-kingdom")
    assert text(one(place, "//h1")) == "London, United Kingdom"
    assert text(one(place, "//p[@class='kind']")).startswith("Place")
    assert place.xpath("//section[@class='inverse']//a[starts-with(@href, '/page/person/')]")
    _, concept = page(site, "/page/concept/material-graphite")
    assert text(one(concept, "//h1")) == "graphite"
    assert text(one(concept, "//p[@class='kind']")).startswith("Concept")
    assert "Same as" in text(one(concept, "//dl[@class='catalogue']"))
    _, paper = page(site, "/page/concept/material-paper", {**HTML, "Accept-Language": "de"})
    same = paper.xpath("//dl[@class='catalogue']/dt[.='Same as']/following-sibling::dd[1]//a")
    assert [(text(a), a.get("href")) for a in same] == [("Papier", "http://vocab.getty.edu/aat/300014109")]  # Getty's, by name
    span = urllib.parse.quote(f"{BASE}id/object/tate-D23358#production-timespan", safe="")
    _, timespan = page(site, f"/page?uri={span}")
    assert text(one(timespan, "//p[@class='kind']")).startswith("Time-span")
    assert "Time 1826" in text(one(timespan, "//dl[@class='catalogue']"))


def test_foreign_uris_are_browsable(site):
    _, tree = page(site, "/page?" + urllib.parse.urlencode({"uri": EUROPEANA}))
    assert text(one(tree, "//p[@class='kind']")).startswith("Object")
    assert text(one(tree, "//code")) == EUROPEANA
    assert text(one(tree, "//h1")) != EUROPEANA, "the title comes from the record's proxies"
    # a link to another foreign resource of the record goes to its own page
    place = "http://data.europeana.eu/place/base/78"
    assert tree.xpath(f"//a[@href='/page?{urllib.parse.urlencode({'uri': place})}']")


@pytest.mark.parametrize("language,label", [("pt-BR", "Suíça"), ("hu", "Svájc"), ("xx", "Switzerland")])
def test_labels_follow_accept_language(site, language, label):
    _, tree = page(site, "/page?uri=http%3A%2F%2Fdata.europeana.eu%2Fplace%2Fbase%2F78",
                   {"Accept": "text/html", "Accept-Language": f"{language}, en;q=0.5"})
    assert text(one(tree, "//h1")) == label


# --- escaping -----------------------------------------------------------------------------------------

def test_hostile_literals_render_inert(site):
    answer, tree = page(site, path_of(HOSTILE))
    assert text(one(tree, "//h1")) == HOSTILE_TITLE
    scripts = tree.xpath("//script")
    assert [s.get("type") for s in scripts] == ["application/ld+json"], "no script element but the JSON-LD one"
    assert not tree.xpath("//img[@onerror]") and not tree.xpath("//main//b")
    block = answer.text.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    assert "</" not in block and "<" not in block
    assert json.loads(block)["name"] == HOSTILE_TITLE
    _, maker = page(site, "/page/person/tate-38")  # the title also appears on the maker's page
    assert HOSTILE_TITLE in [text(a) for a in maker.xpath("//section[@class='inverse']//a")]
    assert [s.get("type") for s in maker.xpath("//script")] == ["application/ld+json"]


# --- not found ----------------------------------------------------------------------------------------

def test_unknown_uri_suggests_the_nearest_keys(site):
    _, tree = page(site, "/page/object/tate-A0001", status=404)
    assert "/page/object/tate-A00001" in [a.get("href") for a in tree.xpath("//ul[@class='suggestions']//a")]
    _, tree = page(site, "/page/objekt/tate-A00001", status=404)
    assert "/page/object/tate-A00001" in [a.get("href") for a in tree.xpath("//ul[@class='suggestions']//a")]
    page(site, "/page?uri=http%3A%2F%2Fexample.org%2Fnothing", status=404)
    page(site, "/page", status=400)


# --- browsing and home ----------------------------------------------------------------------------------

def test_browse_by_type_lists_objects_with_paging(site):
    _, index = page(site, "/browse")
    assert {a.get("href") for a in index.xpath("//h2/a")} == {f"/browse/{f}" for f in
                                                               ("type", "material", "maker", "century")}
    _, types = page(site, "/browse/type")
    link = [a for a in types.xpath("//table//a") if text(a) == "on paper, unique"][0]
    _, listing = page(site, link.get("href"))
    assert text(one(listing, "//h1")) == "on paper, unique"
    count = int(re.match(r"([\d,]+) objects", text(one(listing, "//main/p[2]"))).group(1).replace(",", ""))
    assert count > 100 and len(listing.xpath("//ol[@class='objects']/li")) == 20
    nxt = one(listing, "//a[@rel='next']").get("href")
    _, second = page(site, nxt)
    assert one(second, "//ol[@class='objects']").get("start") == "21"


def test_browse_by_maker_material_and_century(site):
    _, maker = page(site, "/browse/maker?" + urllib.parse.urlencode({"value": MAKER}))
    assert path_of(OBJECT) in [a.get("href") for a in maker.xpath("//ol//a")]
    _, material = page(site, "/browse/material?" + urllib.parse.urlencode({"value": f"{BASE}id/concept/material-graphite"}))
    assert len(material.xpath("//ol/li")) == 20
    _, century = page(site, "/browse/century")
    assert "19th century" in [text(a) for a in century.xpath("//table//a")]
    _, nineteenth = page(site, "/browse/century?value=19")
    assert text(one(nineteenth, "//h1")) == "19th century"
    answer, _ = page(site, "/browse/century?value=nineteen", status=400)
    assert "value='nineteen'" in answer.text.replace("&#39;", "'")
    page(site, "/browse/colour", status=404)


def test_home_page_counts_and_entry_points(site):
    _, tree = page(site, "/")
    counts = text(one(tree, "//ul[@class='counts']"))
    assert "1,506 objects" in counts and "people" in counts and "EDM provided objects" in counts
    assert re.fullmatch(r"[\d,]+ records in \d+ datasets, \d{1,3}(,\d{3})+ statements\.", text(one(tree, "//main/p")))
    kinds = [text(td) for td in tree.xpath("//table[1]/tbody/tr/td[1]")]
    assert "Place" in kinds and "E55 Type" in kinds, kinds  # a class the CRM's RDFS leaves out, made readable
    _, french = page(site, "/", {**HTML, "Accept-Language": "fr"})
    assert "Lieu" in [text(td) for td in french.xpath("//table[1]/tbody/tr/td[1]")]
    hrefs = [a.get("href") for a in tree.xpath("//ul[@class='entry-points']//a")]
    assert "/browse/type" in hrefs and "/browse/century" in hrefs and "/sparql" in hrefs
    assert tree.xpath("//ul[@class='objects']//a[starts-with(@href, '/page/object/')]")


# --- quality --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/browse", "/page/object/tate-A00001", "/page/person/tate-38"])
def test_usable_on_a_phone_and_with_a_keyboard(site, path):
    _, tree = page(site, path)
    assert tree.xpath("//meta[@name='viewport']")[0].get("content") == "width=device-width, initial-scale=1"
    first_link = tree.xpath("//body//a")[0]
    assert first_link.get("href") == "#main" and text(first_link) == "Skip to content"
    assert tree.xpath("//main[@id='main']")
    labelled = {label.get("for") for label in tree.iter("label")}
    for control in tree.iter("input"):
        assert control.get("id") in labelled
    ids = [e.get("id") for e in tree.iter() if isinstance(e.tag, str) and e.get("id")]
    assert len(ids) == len(set(ids))
    assert tree.xpath("//form[@action='/search']"), "the header offers search"


def test_stylesheet_has_focus_styles_and_a_small_screen_layout(site):
    css = site.get("/static/mouseion.css").text
    assert ":focus" in css and "outline" in css and "@media (max-width" in css
