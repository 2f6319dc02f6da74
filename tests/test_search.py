"""Search (kg/search/, web/search.py): the index over real records, kept in step with every write.

The store is a real on-disk one holding part of the bundled Tate sample (artworks with their artists
and the materials and classification vocabularies) and the Europeana EDM records of
``../shared/data/europeana-edm/records/metis-misc`` (multilingual contextual entities). The index is
attached before anything is loaded, so every row in it got there through ``Store.listeners``.
"""

from __future__ import annotations

import json
import urllib.parse

import lxml.html
import pytest
from pyoxigraph import Literal, NamedNode, Triple

from kg.ingest import load
from kg.readers import ReadContext, Source
from kg.readers.mapped import read, sample_mapping_path
from kg.record import Origin, Record, Uris, Vocabulary
from kg.search import SearchIndex, SearchQuery, index_location
from kg.settings import Settings
from kg.store import Store
from kg.writes import apply_update
from ontology.namespaces import CRM, MOU, PROV, RDF, RDFS, XSD
from tests.test_sparql_protocol import call, running

BASE = "http://localhost:8000/"
ARTWORKS = 300
PAPER = f"{BASE}id/concept/material-paper"
RIJKS = "http://data.europeana.eu/item/90402/BK_1978_399"


def sample_records() -> tuple[list[Record], list[Vocabulary]]:
    """The first artworks of the Tate sample, the artists who made them, and the small vocabularies."""
    path = sample_mapping_path()
    items = list(read(Source(str(path), path.read_bytes()), ReadContext(Uris(BASE), Settings.from_env({}))))
    artworks = [i for i in items if isinstance(i, Record) and i.dataset == "tate"][:ARTWORKS]
    makers = {t.object.value for r in artworks for t in r.triples if t.predicate == CRM.P14_carried_out_by}
    artists = [i for i in items if isinstance(i, Record) and i.dataset != "tate" and i.focus.value in makers]
    vocabularies = [i for i in items if isinstance(i, Vocabulary) and "subject" not in i.name]
    return artworks + artists, vocabularies


@pytest.fixture(scope="module")
def store(tmp_path_factory, data_dir) -> Store:
    path = tmp_path_factory.mktemp("search") / "store"
    store = Store.open(path, BASE)
    SearchIndex.attach(store, index_location("", store.path))
    records, vocabularies = sample_records()
    store.commit([], vocabularies)
    for start in range(0, len(records), 200):
        store.commit(records[start:start + 200])
    settings = Settings.from_env({}, base_uri=BASE, validate=False)
    report = load(store, [str(data_dir / "europeana-edm" / "records" / "metis-misc")], settings)
    assert report.loaded >= 10, report.summary()
    return store


@pytest.fixture(scope="module")
def index(store) -> SearchIndex:
    return SearchIndex.attach(store, index_location("", store.path))


@pytest.fixture(scope="module")
def site(store, index):
    with running(store, query_workers=1) as root:
        yield root


def get(url: str, headers: dict | None = None) -> tuple[int, str]:
    status, _headers, body = call("GET", url, headers=headers or {})
    return status, body.decode()


def api(site: str, **params) -> dict:
    status, body = get(f"{site}api/search?{urllib.parse.urlencode(params, doseq=True)}")
    assert status == 200, body
    return json.loads(body)


def titles(result) -> list[str]:
    return [next(iter(h.titles.values())) for h in result.hits]


def record(key: str, iri: str, title: str, *extra: Triple) -> Record:
    node = NamedNode(iri)
    return Record(key, key.split("/")[0], [Triple(node, RDF.type, CRM["E22_Human-Made_Object"]),
                                           Triple(node, RDFS.label, Literal(title)), *extra],
                  Origin("test"), focus=node)


# --- the index over the sample ---------------------------------------------------------------------

def test_every_record_has_a_row(store, index):
    live = sum(1 for _ in store.backend.quads(None, MOU.contentHash, None, store.uris.meta_graph))
    assert index.count() == live > ARTWORKS
    assert index.search(SearchQuery()).total == live


def test_titles_and_makers_names_are_searched(index):
    found = index.search(SearchQuery(text="Blake"))
    assert "Robert Blake" in titles(found)  # the artist's own record
    a00001 = [h for h in found.hits if h.iri == f"{BASE}id/object/tate-A00001"]
    assert a00001, "an artwork is found by its maker's name (a label from another record)"
    makers = {v.value: v for v in found.facets["maker"]}
    assert makers[f"{BASE}id/person/tate-38"].labels[""] == "Robert Blake"


def test_a_facet_narrows_and_counts_agree(index):
    broad = index.search(SearchQuery(text="river"))
    paper = next(v for v in broad.facets["material"] if v.value == PAPER)
    narrow = index.search(SearchQuery(text="river", filters=(("material", PAPER),)))
    assert 0 < narrow.total == paper.count <= broad.total
    assert next(v for v in narrow.facets["material"] if v.value == PAPER).selected


def test_year_range_and_histogram(index):
    everything = index.search(SearchQuery())
    nineteenth = next(n for first, last, n in everything.years if first == 1800)
    found = index.search(SearchQuery(year_from=1800, year_to=1899))
    assert found.total >= nineteenth > 0
    assert all(h.begin is not None and h.begin <= 1899 and h.end >= 1800 for h in found.hits)
    assert index.search(SearchQuery(year_from=1800, year_to=1849)).years[0][1] - \
        index.search(SearchQuery(year_from=1800, year_to=1849)).years[0][0] == 9  # decades once narrowed


def test_paging_walks_the_whole_result(index):
    query = SearchQuery(text="paper", page_size=7)
    first = index.search(query)
    seen = []
    for page in range(1, first.pages + 1):
        seen += [h.key for h in index.search(SearchQuery(text="paper", page_size=7, page=page)).hits]
    assert len(seen) == len(set(seen)) == first.total


def test_multilingual_labels_without_accents(index):
    for word in ("Genf", "geneve", "Jenwe"):  # German, French without its accent, another language
        assert RIJKS in [h.iri for h in index.search(SearchQuery(text=word)).hits], word
    siren = index.search(SearchQuery(text="siren osvald"))
    assert siren.total >= 1 and {"de", "fi", "sv"} <= set(siren.hits[0].titles)


def test_fts_operators_in_user_text_are_plain_words(index):
    for text in ("river AND", "NEAR(river", "title:river", "river*", "^river", "river OR NOT"):
        index.search(SearchQuery.from_params({"q": [text]}))  # never an FTS5 syntax error


# --- no drift -------------------------------------------------------------------------------------

def test_a_written_record_is_found_at_once_and_its_old_words_are_gone(store, index):
    iri = f"{BASE}id/object/drift-1"
    store.write([record("drift/1", iri, "Quokka lantern")])
    assert [h.iri for h in index.search(SearchQuery(text="quokka")).hits] == [iri]
    store.write([record("drift/1", iri, "Wombat lantern")])
    assert index.search(SearchQuery(text="quokka")).total == 0
    assert [h.iri for h in index.search(SearchQuery(text="wombat")).hits] == [iri]
    store.delete(["drift/1"])
    assert index.search(SearchQuery(text="wombat")).total == 0


def test_sparql_update_is_found_at_once(store, index):
    graph = store.uris.record_graph("tate/A00001")
    apply_update(store, f"""PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        DELETE {{ GRAPH <{graph.value}> {{ ?o rdfs:label ?t }} }}
        INSERT {{ GRAPH <{graph.value}> {{ ?o rdfs:label "Zyzzyva benediction" }} }}
        WHERE {{ GRAPH <{graph.value}> {{ ?o rdfs:label ?t }} }}""", gate=None)
    found = index.search(SearchQuery(text="zyzzyva"))
    assert [h.iri for h in found.hits] == [f"{BASE}id/object/tate-A00001"]
    assert found.hits[0].titles == {"": "Zyzzyva benediction"}
    assert found.hits[0].classes  # the same focus as before, although the update's record has no mou:focus


def test_renaming_an_artist_renames_them_in_their_works(store, index):
    key = "tate-artists/38"
    person = NamedNode(f"{BASE}id/person/tate-38")
    triples = [t for t in store.record_triples(key) if t.predicate != RDFS.label]
    state = store.record_states([key])[key]
    store.write([Record(key, state.dataset, triples + [Triple(person, RDFS.label, Literal("Roberta Xanthippe"))],
                        Origin("test"), focus=person)])
    found = index.search(SearchQuery(text="xanthippe"))
    assert f"{BASE}id/object/tate-A00001" in [h.iri for h in found.hits]
    maker = next(v for v in found.facets["maker"] if v.value == person.value)
    assert maker.labels[""] == "Roberta Xanthippe"


def test_machine_suggestions_facet_follows_run_graphs(store, index):
    run = store.uris.run_graph("test-run")
    subject = NamedNode(f"{BASE}id/object/tate-A00047")
    assignment = NamedNode(f"{BASE}id/assignment/test-1")

    def suggest(state: str) -> list[Triple]:
        return [Triple(run, PROV.wasGeneratedBy, NamedNode(f"{BASE}id/run/test-run")),
                Triple(assignment, RDF.type, CRM.E13_Attribute_Assignment),
                Triple(assignment, CRM.P140_assigned_attribute_to, subject),
                Triple(assignment, MOU.confidence, Literal("0.8", datatype=XSD.decimal)),
                Triple(assignment, MOU.reviewState, MOU[state])]

    store.write(graphs={run: suggest("pending")})
    flagged = index.search(SearchQuery(has_suggestions=True))
    assert [h.iri for h in flagged.hits] == [subject.value] and flagged.hits[0].has_suggestions
    assert index.search(SearchQuery()).flags["suggestions"] == 1
    store.write(graphs={run: suggest("rejected")})  # as a review decision writes it (kg.writes refuses run graphs)
    assert index.search(SearchQuery(has_suggestions=True)).total == 0
    store.write(graphs={run: suggest("accepted")})
    assert index.search(SearchQuery(has_suggestions=True)).total == 1
    store.write(graphs={run: []})  # the run retracted
    assert index.search(SearchQuery(has_suggestions=True)).total == 0


def test_writes_the_index_missed_are_caught_up_on_opening(store, index, tmp_path):
    """A crash between the store's commit and the index's leaves the index behind; opening catches up."""
    store.listeners.remove(index.on_write)
    try:
        iri = f"{BASE}id/object/missed-1"
        store.write([record("missed/1", iri, "Capybara teapot")])
        assert index.search(SearchQuery(text="capybara")).total == 0  # behind, as after a crash
    finally:
        store.listeners.append(index.on_write)
    done = index.catch_up()
    assert done["indexed"] == 1
    assert [h.iri for h in index.search(SearchQuery(text="capybara")).hits] == [iri]
    fresh = SearchIndex(store, str(tmp_path / "rebuilt.sqlite"))
    fresh.rebuild()
    assert fresh.count() == index.count()
    fresh.detach()


# --- HTTP: the page and the API ----------------------------------------------------------------------

def test_page_is_html5_and_shows_hits_and_facets(site):
    html5lib = pytest.importorskip("html5lib")
    status, body = get(f"{site}search?q=river", {"Accept": "text/html"})
    assert status == 200
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(body)
    tree = lxml.html.document_fromstring(body)
    assert tree.xpath("//form[@role='search' and @method='get']//input[@name='q']/@value") == ["river"]
    hits = tree.xpath("//ol[@class='hits']/li//h3/a")
    assert hits and all(a.get("href").startswith("/page/object/tate-") for a in hits)
    facet = tree.xpath("//section[@id='facet-material']//a")
    assert "paper" in [a.xpath("string(.//span[@class='label'])") for a in facet]
    types = [a.xpath("string(.//span[@class='label'])") for a in tree.xpath("//section[@id='facet-type']//a")]
    assert "works of art" in types and not any(t.startswith("aat:") for t in types), types  # Getty terms by name
    assert not tree.xpath("//script")  # no JavaScript needed
    labelled = {label.get("for") for label in tree.iter("label")}
    for control in tree.xpath("//input[not(@type='hidden')]"):
        assert control.get("id") in labelled


def test_clicking_a_facet_link_narrows_to_its_count(site):
    _, body = get(f"{site}search?q=river")
    tree = lxml.html.document_fromstring(body)
    link = next(a for a in tree.xpath("//section[@id='facet-material']//a")
                if a.xpath("string(.//span[@class='label'])") == "paper")
    count = int(link.xpath("string(.//span[@class='count'])"))
    _, narrowed = get(urllib.parse.urljoin(site, link.get("href")))
    status_line = lxml.html.document_fromstring(narrowed).xpath("string(//p[@id='result-count'])")
    assert status_line.startswith(f"{count:,} result")


def test_api_is_the_same_search(site, index):
    answer = api(site, q="river", material=PAPER, page_size=5)
    expected = index.search(SearchQuery(text="river", filters=(("material", PAPER),), page_size=5))
    assert answer["total"] == expected.total
    assert [h["uri"] for h in answer["hits"]] == [h.iri for h in expected.hits]
    assert answer["query"]["filters"] == [{"facet": "material", "value": PAPER}]
    paper = next(v for v in answer["facets"]["material"]["values"] if v["value"] == PAPER)
    assert paper["selected"] and paper["label"] == "paper"
    assert answer["next"] and "page=2" in answer["next"]


def test_foreign_uris_link_to_page_with_uri(site):
    hit = next(h for h in api(site, q="Genf")["hits"] if h["uri"] == RIJKS)
    assert hit["page"] == "/page?" + urllib.parse.urlencode({"uri": RIJKS})


def test_accept_language_picks_titles_and_labels(site):
    status, body = call("GET", f"{site}api/search?q=siren+osvald", headers={"Accept-Language": "fi, en;q=0.5"})[::2]
    assert json.loads(body)["hits"][0]["lang"] == "fi"


@pytest.mark.parametrize("query,parameter", [
    ("page=-1", "page"), ("page=abc", "page"), ("page_size=1000", "page_size"), ("q=%22unbalanced", "q"),
    ("colour=red", "colour"), ("material=not%20an%20iri", "material"), ("from=1900&to=1800", "from"),
    ("image=maybe", "image"), ("q=a&q=b", "q"),
])
def test_bad_parameters_are_400_naming_them(site, query, parameter):
    status, body = get(f"{site}api/search?{query}")
    assert status == 400
    assert json.loads(body)["parameter"] == parameter
    status, page = get(f"{site}search?{query}")
    assert status == 400
    tree = lxml.html.document_fromstring(page)
    assert tree.xpath("string(//*[@id='search-error'])").startswith(parameter + ":")
    assert tree.xpath("//form[@role='search']")  # the form is still there to try again


def test_a_title_with_markup_renders_inert(store, site):
    hostile = '<script>alert("owned")</script><img src=x onerror=alert(1)> & co'
    store.write([record("hostile/1", f"{BASE}id/object/hostile-1", hostile)])
    status, body = get(f"{site}search?q=owned")
    assert status == 200
    tree = lxml.html.document_fromstring(body)
    assert not tree.xpath("//script") and not tree.xpath("//img")
    assert hostile in [a.text_content() for a in tree.xpath("//ol[@class='hits']//h3/a")]
    assert "&lt;script&gt;" in body
    assert api(site, q="owned")["hits"][0]["title"] == hostile


# --- the command line ---------------------------------------------------------------------------------

def test_cli_load_keeps_the_index_in_step_and_reindex_rebuilds_it(tmp_path, data_dir):
    from tests.test_cli import mouseion
    store_dir = tmp_path / "store"
    edm = data_dir / "europeana-edm" / "records" / "metis-misc" / "europeana_oai_getRecord_rijksmuseum_90402_BK_1978_399.xml"
    mouseion("load", str(edm), "--no-validate", store=store_dir)
    index_file = tmp_path / "store.search.sqlite"
    assert index_file.exists(), "the index lives beside the store directory"
    store = Store.open(store_dir, BASE)
    index = SearchIndex(store, str(index_file))
    assert index.catch_up() == {"indexed": 0, "removed": 0}, "the load kept the index in step"
    assert [h.iri for h in index.search(SearchQuery(text="Genf")).hits] == [RIJKS]
    index.detach()
    store.close()
    del store
    done = mouseion("reindex", store=store_dir)
    assert "1 records indexed" in done.stdout


@pytest.mark.parametrize("rank_limit", [5000, 10], ids=["ranked", "by-title"])
def test_the_columns_in_memory_answer_exactly_as_sql_does(index, monkeypatch, rank_limit):
    """A search with the columns in memory (filters, title order, counts in numpy) and the same search
    all in SQL give equal results: hits in the same order with the same passages, every count."""
    import sqlite3

    import kg.search.index
    from kg.search.columns import Columns
    db = sqlite3.connect(index.location, isolation_level=None)
    rare_maker, rare_material = (db.execute(
        "SELECT value FROM facets WHERE facet = ? GROUP BY value ORDER BY COUNT(*), value LIMIT 1", (facet,)).fetchone()[0]
        for facet in ("maker", "material"))
    queries = [SearchQuery(), SearchQuery(text="paper"), SearchQuery(text="paper", filters=(("material", PAPER),)),
               SearchQuery(text="paper", page=2, page_size=7), SearchQuery(text="turn*", has_suggestions=False),
               SearchQuery(year_from=1700, year_to=1900), SearchQuery(year_from=1790, year_to=1850, has_image=True),
               SearchQuery(text="genf"), SearchQuery(filters=(("maker", rare_maker),)),
               SearchQuery(text="paper", filters=(("material", rare_material), ("material", PAPER))),
               SearchQuery(filters=(("maker", "http://example.org/nobody"),)), SearchQuery(page=3, page_size=50),
               SearchQuery(text="watercolour", year_from=1800), SearchQuery(text="zzzznothing"),
               # words found and ranked in memory: several, a prefix, one twice, diacritics folded, a quote inside
               SearchQuery(text="watercolour paper"), SearchQuery(text="gra* paper"), SearchQuery(text="Paper paper"),
               SearchQuery(text="Genève"), SearchQuery(text='pa"per"'), SearchQuery(text="zzzznothing paper"),
               # phrases of several words, which FTS5 finds and ranks
               SearchQuery(text='"mallord william"'), SearchQuery(text='paper "joseph mallord"'),
               SearchQuery(text="water-colour")]
    several = {'"mallord william"', '"paper" "joseph mallord"', '"water-colour"', '"pa""per"""'}
    monkeypatch.setattr(kg.search.index, "RANK_LIMIT", rank_limit)
    with index._columns_building:  # no background read may replace the columns set here
        monkeypatch.setattr(index, "_build_columns_later", lambda: None)
    monkeypatch.setattr(index, "_columns", None)
    by_sql = [index.search(q) for q in queries]
    monkeypatch.setattr(index, "_columns", Columns.build(db))
    db.close()

    def no_sql(*args):
        raise AssertionError("answered with SQL, not the columns")

    monkeypatch.setattr(index, "_select_sql", no_sql)
    ranked_by_sql = []
    sql_ranking = index._ranked_page
    monkeypatch.setattr(index, "_ranked_page", lambda db, expression, *rest: ranked_by_sql.append(expression) or
                        sql_ranking(db, expression, *rest))
    for query, expected in zip(queries, by_sql):
        assert index.search(query) == expected, query
    assert set(ranked_by_sql) <= several and (rank_limit == 10 or ranked_by_sql), "only phrases are ranked by SQL"
    assert by_sql[2].total < by_sql[1].total and by_sql[1].hits and by_sql[8].total >= 1
    assert {r.order for r in by_sql[1:5]} == {"relevance" if rank_limit == 5000 else "title"}


@pytest.mark.parametrize("text", ["paper", "watercolour paper", "gra* paper", "paper Paper", "Genève siecle", "pen* ink*",
                                  "zzzznothing"])
def test_words_in_memory_find_and_score_exactly_as_fts5(index, text, monkeypatch):
    """The words read from the index find what FTS5's ``MATCH`` finds, and score each match with the
    very double FTS5's ``bm25()`` gives it; the passages shown (found in a scratch table of the hits
    shown) are those FTS5's ``snippet()`` finds in the index."""
    import sqlite3

    from kg.search.index import _WEIGHTS
    from kg.search.query import match_expression, phrases
    from kg.search.words import Words
    db = sqlite3.connect(index.location, isolation_level=None)
    db.execute("BEGIN")
    monkeypatch.setattr("kg.search.words._RUN", 500)  # read in many pieces, as a large index is
    words = Words.read(db, db.execute("SELECT MAX(id) + 1 FROM docs").fetchone()[0])
    assert len(words.keys) > 5000
    found, ranking = words.find(index._single_words(index._reader(), phrases(text)), _WEIGHTS)
    expected = db.execute(f"SELECT rowid, bm25(fts, {', '.join(map(str, _WEIGHTS))}) FROM fts WHERE fts MATCH ? "
                          "ORDER BY rowid", (match_expression(text),)).fetchall()
    passages = dict(db.execute("SELECT d.key, snippet(fts, -1, char(2), char(3), '…', 14) FROM fts "
                               "JOIN docs d ON d.id = fts.rowid WHERE fts MATCH ?", (match_expression(text),)))
    db.close()
    assert found.tolist() == [doc_id for doc_id, _ in expected]
    assert ranking.bm25(found).tolist() == [score for _, score in expected]
    assert text == "zzzznothing" or len(found) >= 1
    shown = index.search(SearchQuery(text=text, page_size=100)).hits
    assert {hit.key: hit.snippet for hit in shown} == {hit.key: passages[hit.key] for hit in shown}


def test_words_of_long_documents_score_as_fts5(tmp_path, data_dir):
    """Lengths of 128 tokens and more take several bytes in FTS5's size records: the words read them
    as FTS5 does (the first Tate artwork's record, repeated)."""
    import sqlite3

    from kg.search.index import _TOKENIZE, _WEIGHTS
    from kg.search.words import Words
    with open(data_dir / "tate-collection" / "artworks_sample_1505.jsonl", encoding="utf-8") as lines:
        text = " ".join(str(value) for value in json.loads(next(lines)).values())
    assert "paper" in text.lower()
    db = sqlite3.connect(tmp_path / "words.sqlite", isolation_level=None)
    db.execute(f"CREATE VIRTUAL TABLE fts USING fts5(title, labels, descriptions, names, tokenize = '{_TOKENIZE}')")
    rows = [(1, "paper", "", text * 40, ""), (2, "paper paper", "ink", text, "paper"), (3, "ink", "", "", "")]
    db.executemany("INSERT INTO fts(rowid, title, labels, descriptions, names) VALUES (?, ?, ?, ?, ?)", rows)
    db.execute("BEGIN")
    words = Words.read(db, 4)
    assert words.sizes[1] > 1000 and words.tokens == words.sizes.sum()
    found, ranking = words.find([("paper", False)], _WEIGHTS)
    expected = db.execute(f"SELECT rowid, bm25(fts, {', '.join(map(str, _WEIGHTS))}) FROM fts WHERE fts MATCH 'paper' "
                          "ORDER BY rowid").fetchall()
    assert list(zip(found.tolist(), ranking.bm25(found).tolist())) == expected


def test_an_empty_index_answers_from_its_columns(tmp_path):
    """No document, so no average length and no word: the columns are read all the same, and words,
    prefixes and phrases find nothing."""
    import sqlite3

    from kg.search.columns import Columns
    store = Store.open(tmp_path / "store", BASE)
    index = SearchIndex.attach(store, index_location("", store.path))
    db = sqlite3.connect(index.location, isolation_level=None)
    index._columns = Columns.build(db)
    db.close()
    assert index._columns.words.rows == 0
    for text in ("river", "riv*", '"old man"', ""):
        assert index.search(SearchQuery(text=text)).total == 0, text
    index.detach()


def test_very_broad_searches_list_by_title_with_passages(index, monkeypatch):
    import kg.search.index
    ranked = index.search(SearchQuery(text="paper"))
    assert ranked.order == "relevance"
    monkeypatch.setattr(kg.search.index, "RANK_LIMIT", 10)
    listed = index.search(SearchQuery(text="paper"))
    assert listed.order == "title" and listed.total == ranked.total
    shown = [best for best in (next(iter(h.titles.values())).casefold() for h in listed.hits)]
    assert shown == sorted(shown)
    assert all(h.snippet and "\x02" in h.snippet for h in listed.hits)


def test_facet_links_are_the_general_link_with_one_value_added_or_removed():
    from flask import Flask

    from web.search import FacetLinks, link
    queries = [SearchQuery(), SearchQuery(text="river"), SearchQuery(filters=(("material", PAPER),)),
               SearchQuery(text="a b", filters=(("maker", "urn:x:1"), ("type", "urn:y")), year_from=1800,
                           has_image=False, page=4, page_size=7)]
    with Flask(__name__).test_request_context("/search"):
        for query in queries:
            links = FacetLinks(query)
            toggles = [("maker", "http://x.org/y?z=1&b", False)] + [(f, v, True) for f, v in query.filters]
            for facet, value, selected in toggles:
                chosen = [f for f in query.filters if f != (facet, value)] if selected else [*query.filters, (facet, value)]
                assert links.toggle(facet, value, selected) == link(query, filters=chosen)


def test_a_renaming_between_batches_reaches_the_works_loaded_before_and_after(tmp_path):
    """A load's batch that renames an artist re-indexes the works that name them from earlier batches,
    and works in later batches carry the new name."""
    store = Store.open(tmp_path / "store", BASE)
    index = SearchIndex.attach(store, tmp_path / "index.sqlite")
    person = NamedNode(f"{BASE}id/person/p1")

    def work(n: int) -> Record:
        obj = NamedNode(f"{BASE}id/object/w{n}")
        production = NamedNode(f"{obj.value}#production")
        return Record(f"t/w{n}", "t", [Triple(obj, RDF.type, CRM["E22_Human-Made_Object"]),
                                       Triple(obj, RDFS.label, Literal(f"Work {n}", language="en")),
                                       Triple(obj, CRM.P108i_was_produced_by, production),
                                       Triple(production, CRM.P14_carried_out_by, person)], Origin("test"), focus=obj)

    def artist(name: str) -> Record:
        return Record("t/p1", "t", [Triple(person, RDF.type, CRM.E21_Person), Triple(person, RDFS.label, Literal(name))],
                      Origin("test"), focus=person)

    for batch in ([artist("Olga Quince"), work(1)], [work(2)], [artist("Petra Zinnia")], [work(3)]):
        store.commit_behind(batch)
    store.settle()

    def found(text: str) -> list[str]:
        return sorted(hit.iri.rsplit("/", 1)[1] for hit in index.search(SearchQuery(text=text)).hits)

    assert found("zinnia") == ["p1", "w1", "w2", "w3"]
    assert found("quince") == []
    store.close()
