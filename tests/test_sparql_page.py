"""The SPARQL query page (web/sparql_page.py) and its example queries (sparql/examples/*.rq).

The page is rendered through the real app factory; every example runs on a store loaded with the
bundled Tate sample. html5lib (a test dependency: ``pip install html5lib``) checks that the page
parses as HTML5 without a single parse error; the other checks read the page with lxml.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import lxml.html
import pytest
from pyoxigraph import Literal, NamedNode, Quad
from pyoxigraph import Store as OxiStore

from kg.ingest import load
from kg.readers.mapped import sample_mapping_path
from kg.settings import Settings
from kg.store import Store
from ontology.namespaces import CRM, MOU, PROV, RDF, RDFS, XSD
from sparql.examples import ORDER, example, examples, parse
from web.app import create_app
from web.sparql_page import GRAPH_FORMATS, TABLE_FORMATS, query_page

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "web" / "static"
BASE = "http://localhost:8000/"
HTML = {"Accept": "text/html"}


# --- the page -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client():
    settings = Settings.from_env({}, base_uri=BASE)
    app = create_app(Store.open(None, BASE), settings)
    if not any(rule.rule == "/sparql" for rule in app.url_map.iter_rules()):
        # without the protocol's /sparql (which dispatches to query_page for a browser), wire it directly
        app.add_url_rule("/sparql", "sparql_page", query_page)
    yield app.test_client()
    if "mouseion.executor" in app.extensions:
        app.extensions["mouseion.executor"].close()


def page(client, url="/sparql"):
    response = client.get(url, headers=HTML)
    body = response.get_data(as_text=True)
    return response, body, lxml.html.document_fromstring(body)


def by_id(tree, id_):
    found = tree.find(f".//*[@id='{id_}']")
    assert found is not None, f"no element with id {id_}"
    return found


def text(element) -> str:
    return "".join(element.itertext())


def test_the_page_is_html5_without_parse_errors(client):
    html5lib = pytest.importorskip("html5lib", reason="pip install html5lib (a test dependency)")
    response = client.get("/sparql", headers=HTML)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    parser.parse(response.get_data(as_text=True))  # raises on the first parse error


def test_ids_are_unique_and_every_control_has_a_label(client):
    _, _, tree = page(client)
    ids = [e.get("id") for e in tree.iter() if e.get("id")]
    assert len(ids) == len(set(ids))
    labelled = {label.get("for") for label in tree.iter("label")}
    assert labelled <= set(ids)
    for control in [*tree.iter("select"), *tree.iter("textarea"), *tree.iter("input")]:
        assert control.get("id") in labelled, f"{control.tag}#{control.get('id')} has no label"
    for reference in ("aria-describedby", "aria-labelledby"):
        for element in tree.iter():
            for target in (element.get(reference) or "").split():
                assert target in ids, f"{reference}={target} points nowhere"


def test_csp_friendly_everything_from_the_package(client):
    _, _, tree = page(client)
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        assert not [a for a in element.attrib if a.startswith("on")], f"inline handler on <{element.tag}>"
        assert "style" not in element.attrib, f"inline style on <{element.tag}>"
    for script in tree.iter("script"):
        if script.get("src"):
            assert script.get("src").startswith("/static/")
        else:
            assert script.get("type") == "application/json", "inline script"
    for link in tree.iter("link"):
        assert link.get("href").startswith("/static/")
    for name in ("sparql-editor.js", "sparql-editor.css"):
        assert client.get(f"/static/{name}").status_code == 200


def test_every_example_is_offered(client):
    _, _, tree = page(client)
    options = {o.get("value"): text(o) for o in by_id(tree, "example").iter("option")}
    assert list(options) == [e.name for e in examples()]
    for e in examples():
        assert options[e.name] == e.title
    data = json.loads(text(by_id(tree, "page-data")))
    assert data["examples"] == [
        {"name": e.name, "title": e.title, "description": e.description, "text": e.text} for e in examples()]
    assert data["prefixes"]["crm"] == "http://www.cidoc-crm.org/cidoc-crm/"


def test_an_example_opens_in_the_editor(client):
    chosen = example("record-changes")
    response, _, tree = page(client, "/sparql?example=record-changes")
    assert response.status_code == 200
    assert text(by_id(tree, "query")) == chosen.text
    assert text(by_id(tree, "example-description")) == chosen.description
    selected = [o.get("value") for o in by_id(tree, "example").iter("option") if o.get("selected") is not None]
    assert selected == ["record-changes"]


def test_an_unknown_example_says_so_and_opens_the_first(client):
    response, body, tree = page(client, "/sparql?example=no-such-example")
    assert response.status_code == 404
    assert "no-such-example" in body
    assert text(by_id(tree, "query")) == examples()[0].text


def test_the_plain_form_works_without_javascript(client):
    _, _, tree = page(client)
    form = by_id(tree, "query-form")
    assert form.get("method") == "get" and form.get("action") == "/sparql"
    textarea = form.find(".//textarea")
    assert textarea.get("name") == "query"
    formats = form.find(".//select[@name='format']")
    offered = [o.get("value") for o in formats.iter("option")]
    assert offered == [media_type for media_type, _, _ in TABLE_FORMATS + GRAPH_FORMATS]
    assert {"application/sparql-results+json", "application/sparql-results+xml", "text/csv",
            "text/tab-separated-values", "text/turtle", "application/n-triples", "application/rdf+xml",
            "application/ld+json"} == set(offered)
    assert form.find(".//button[@type='submit']") is not None
    chooser = by_id(tree, "example-form")
    assert chooser.get("method") == "get" and chooser.get("action") == "/sparql"
    assert chooser.find(".//button[@type='submit']") is not None


def test_data_never_reaches_the_page_as_html():
    script = (STATIC / "sparql-editor.js").read_text(encoding="utf-8")
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("//"))
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "DOMParser", "createContextualFragment"):
        assert sink not in code, sink
    assert "textContent" in code
    # only http(s) IRIs become links: a javascript: IRI in the data stays text
    assert re.search(r"https\?:", code)
    assert len(script.splitlines()) < 300, "keep the editor small"
    assert "import " not in code and "require(" not in code, "dependency-free"


def test_the_page_data_cannot_close_its_script_element(client, monkeypatch):
    hostile = examples()[0].__class__("x", "</script><script>alert(1)</script>", "d", "ASK {}")
    monkeypatch.setattr("web.sparql_page.examples", lambda: [hostile])
    monkeypatch.setattr("web.sparql_page.example", lambda name: hostile)
    _, body, tree = page(client, "/sparql?example=x")
    assert "</script><script>alert(1)" not in body
    assert json.loads(text(by_id(tree, "page-data")))["examples"][0]["title"] == hostile.title


# --- the example files ----------------------------------------------------------------------------

def test_every_example_file_is_listed_with_a_title_and_description():
    files = sorted(p.stem for p in (ROOT / "sparql" / "examples").glob("*.rq"))
    assert sorted(ORDER) == files
    for e in examples():
        assert e.title and e.description and e.text.strip()
        assert not e.text.startswith("#"), f"{e.name}: header left in the query"


def test_a_header_without_a_title_is_refused():
    with pytest.raises(ValueError, match="title"):
        parse("broken", "# description: no title\nASK {}\n")


# --- every example on the Tate sample -------------------------------------------------------------

@pytest.fixture(scope="module")
def tate():
    settings = Settings.from_env({}, base_uri=BASE)
    store = Store.open(None, BASE)
    report = load(store, [str(sample_mapping_path())], settings)
    assert report.loaded > 5000, report.summary()
    return store


def run(oxi: OxiStore, e):
    # the examples declare their own prefixes: no prefixes= here, as on any other endpoint
    return list(oxi.query(e.text, use_default_graph_as_union=True))


@pytest.mark.slow
@pytest.mark.parametrize("name", ORDER)
def test_every_example_runs_on_the_tate_sample(tate, name, capsys):
    e = example(name)
    started = time.perf_counter()
    rows = run(tate.oxi, e)
    seconds = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n  example {name}: {len(rows)} rows in {seconds:.2f} s", end="")
    if name != "machine-suggestions":  # empty until an enrichment run has written suggestions
        assert rows, f"{name} found nothing in the Tate sample"
    assert len(rows) <= Settings().row_cap, "an example must not hit the row cap"
    assert seconds < Settings().query_timeout


@pytest.mark.slow
def test_the_examples_read_the_model_the_sample_has(tate):
    makers = run(tate.oxi, example("objects-by-maker"))
    assert all(row["makerName"] is not None for row in makers)
    materials = {row["name"].value: row for row in run(tate.oxi, example("objects-by-material"))}
    assert materials["graphite"]["aat"] == NamedNode("http://vocab.getty.edu/aat/300011098")
    centuries = [int(row["century"].value) for row in run(tate.oxi, example("production-by-century"))]
    assert 19 in centuries and centuries == sorted(centuries)
    changes = run(tate.oxi, example("record-changes"))
    assert changes[0]["record"].value.startswith(f"{BASE}graph/record/")
    kinds = {row["kind"].value for row in run(tate.oxi, example("statements-per-kind-of-graph"))}
    assert {"record", "inferred", "vocab", "meta"} <= kinds


def test_the_suggestion_example_finds_pending_machine_statements():
    """The shape DESIGN.md gives machine statements, with the mou: terms the example reads."""
    oxi = OxiStore()
    run_graph = NamedNode(f"{BASE}graph/run/clip-1")
    run_node, agent = NamedNode(f"{BASE}id/run/clip-1"), NamedNode(f"{BASE}id/agent/clip-tagger-1.0")
    obj, cat = NamedNode(f"{BASE}id/object/tate-A00001"), NamedNode("http://vocab.getty.edu/aat/300250047")

    def assignment(key: str, state: NamedNode, confidence: str) -> list[Quad]:
        node = NamedNode(f"{BASE}id/assignment/clip-1/{key}")
        return [Quad(s, p, o, run_graph) for s, p, o in [
            (node, RDF.type, CRM.E13_Attribute_Assignment),
            (node, CRM.P140_assigned_attribute_to, obj),
            (node, CRM.P177_assigned_property_of_type, CRM.P62_depicts),
            (node, CRM.P141_assigned, cat),
            (node, CRM.P14_carried_out_by, agent),
            (node, PROV.wasGeneratedBy, run_node),
            (node, MOU.confidence, Literal(confidence, datatype=XSD.decimal)),
            (node, MOU.evidence, Literal("CLIP similarity to the prompt 'a cat'")),
            (node, MOU.reviewState, state),
        ]]

    oxi.extend(assignment("1", MOU.pending, "0.87") + assignment("2", MOU.accepted, "0.95")
               + [Quad(agent, RDFS.label, Literal("CLIP ViT-B/32 tagger 1.0"), run_graph)])
    rows = run(oxi, example("machine-suggestions"))
    assert len(rows) == 1
    row = rows[0]
    assert row["subject"] == obj and row["property"] == CRM.P62_depicts and row["value"] == cat
    assert row["confidence"].value == "0.87" and row["model"].value == "CLIP ViT-B/32 tagger 1.0"
    assert row["run"] == run_node and row["evidence"] is not None
