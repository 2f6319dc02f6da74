"""OAI-PMH 2.0 over HTTP: every verb, GET and POST, every error condition of the spec, each response
validated against OAI-PMH.xsd with the EDM and oai_dc schemas for the metadata."""

from __future__ import annotations

import base64
import re
import json
import urllib.parse
import urllib.request

import pyoxigraph as ox
import pytest
from lxml import etree

from tests.oai_fixtures import ENTITY_RECORD, harvest_store
from tests.oai_schemas import assert_valid, excused_records, harvest_schema
from tests.test_sparql_protocol import running

NS = {"o": "http://www.openarchives.org/OAI/2.0/", "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
      "edm": "http://www.europeana.eu/schemas/edm/", "dc": "http://purl.org/dc/elements/1.1/"}


@pytest.fixture(scope="module")
def store(tmp_path_factory, data_dir):
    return harvest_store(tmp_path_factory.mktemp("oai"), data_dir)


@pytest.fixture(scope="module")
def root(store):
    with running(store, oai_page_size=7) as url:
        yield url


@pytest.fixture(scope="module")
def schema(tmp_path_factory, store, data_dir):
    return harvest_schema(str(tmp_path_factory.mktemp("schemas"))), excused_records(store, data_dir)


def oai(root: str, schema, *pairs: tuple[str, str], method: str = "GET") -> etree._Element:
    query = urllib.parse.urlencode(pairs)
    if method == "GET":
        request = urllib.request.Request(f"{root}oai?{query}")
    else:
        request = urllib.request.Request(f"{root}oai", query.encode(),
                                         {"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/xml")
        return assert_valid(schema[0], response.read(), schema[1])


def error_of(document: etree._Element) -> str | None:
    found = document.find("o:error", NS)
    return None if found is None else found.get("code")


def identifiers(document) -> list[str]:
    return [e.text for e in document.iterfind(".//o:header/o:identifier", NS)]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_identify(root, schema, method):
    document = oai(root, schema, ("verb", "Identify"), method=method)
    assert document.findtext("o:Identify/o:deletedRecord", namespaces=NS) == "persistent"
    assert document.findtext("o:Identify/o:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    assert document.findtext("o:Identify/o:baseURL", namespaces=NS) == "http://localhost:8000/oai"


def test_list_metadata_formats(root, schema):
    document = oai(root, schema, ("verb", "ListMetadataFormats"))
    assert [e.text for e in document.iterfind(".//o:metadataPrefix", NS)] == ["edm", "oai_dc"]
    one = oai(root, schema, ("verb", "ListMetadataFormats"), ("identifier", "oai:localhost:tate/A00001"))
    assert len(one.findall(".//o:metadataFormat", NS)) == 2


def test_list_sets_is_a_hierarchy(root, schema):
    document = oai(root, schema, ("verb", "ListSets"))
    specs = [e.text for e in document.iterfind(".//o:setSpec", NS)]
    assert {"dataset", "dataset:tate", "dataset:europeana", "type", "type:IMAGE"} <= set(specs)
    everything = identifiers(harvest_all(root, schema, "ListIdentifiers", ("metadataPrefix", "edm")))
    tate = identifiers(harvest_all(root, schema, "ListIdentifiers", ("metadataPrefix", "edm"),
                                   ("set", "dataset:tate")))
    parent = identifiers(harvest_all(root, schema, "ListIdentifiers", ("metadataPrefix", "edm"), ("set", "dataset")))
    assert len(tate) == 30 and set(tate) < set(everything) and parent == everything
    text = identifiers(harvest_all(root, schema, "ListIdentifiers", ("metadataPrefix", "edm"), ("set", "type:TEXT")))
    assert text and not set(text) & set(tate)


def harvest_all(root, schema, verb, *pairs):
    """Follow resumption tokens by hand; one document holding every header/record, tokens checked."""
    merged = None
    document = oai(root, schema, ("verb", verb), *pairs)
    cursors = []
    while True:
        assert error_of(document) is None, etree.tostring(document)
        listing = document.find(f"o:{verb}", NS)
        token = listing.find("o:resumptionToken", NS)
        if merged is None:
            merged = document
        else:
            for child in listing:
                if child.tag != f"{{{NS['o']}}}resumptionToken":
                    merged.find(f"o:{verb}", NS).append(child)
        if token is None:
            return merged
        cursors.append((int(token.get("cursor")), int(token.get("completeListSize"))))
        if not token.text:
            assert [c for c, _ in cursors] == [7 * i for i in range(len(cursors))]
            assert cursors[-1][1] == len(identifiers(merged))
            return merged
        assert token.get("expirationDate")
        document = oai(root, schema, ("verb", verb), ("resumptionToken", token.text))


def test_list_records_pages_with_cursor_and_complete_list_size(root, schema):
    document = harvest_all(root, schema, "ListRecords", ("metadataPrefix", "edm"))
    ids = identifiers(document)
    assert len(ids) == len(set(ids)) == 39                # 30 Tate objects + 9 Europeana objects
    assert "oai:localhost:tate/A00001" in ids
    assert not any("tate-artists" in i for i in ids)      # artist records hold no object


def test_oai_dc(root, schema):
    document = harvest_all(root, schema, "ListRecords", ("metadataPrefix", "oai_dc"), ("set", "dataset:tate"))
    titles = document.findall(".//dc:title", NS)
    assert len(titles) == 30 and all(t.text for t in titles)


def test_get_record_edm_maps_crm_to_valid_edm(root, schema):
    document = oai(root, schema, ("verb", "GetRecord"), ("identifier", "oai:localhost:tate/A00001"),
                   ("metadataPrefix", "edm"))
    rdf = document.find(".//rdf:RDF", NS)
    cho = rdf.find("edm:ProvidedCHO", NS)
    assert cho.findtext("dc:title", namespaces=NS).startswith("A Figure Bowing")
    assert cho.find("dc:creator", NS).get(f"{{{NS['rdf']}}}resource") == "http://localhost:8000/id/person/tate-38"
    assert rdf.findtext("edm:Agent/{http://www.w3.org/2004/02/skos/core#}prefLabel", namespaces=NS) == "Robert Blake"
    # Europeana's content rules the data allows: one CHO, one aggregation, title, subject, rights
    assert len(rdf.findall("edm:ProvidedCHO", NS)) == 1
    assert len(rdf.findall("{http://www.openarchives.org/ore/terms/}Aggregation", NS)) == 1
    assert cho.find("dc:subject", NS) is not None


# ---------------------------------------------------------------- errors, each as the spec says


@pytest.mark.parametrize("pairs, code", [
    ([], "badVerb"),
    ([("verb", "Harvest")], "badVerb"),
    ([("verb", "Identify"), ("verb", "Identify")], "badVerb"),
    ([("verb", "Identify"), ("from", "2020-01-01")], "badArgument"),
    ([("verb", "ListRecords")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "edm"), ("metadataPrefix", "edm")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "edm"), ("from", "2020-13-45")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "edm"), ("from", "yesterday")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "edm"), ("from", "2020-01-01T00:00:00")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "edm"), ("from", "2020-01-01"),
      ("until", "2021-01-01T00:00:00Z")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "edm"), ("from", "2021-01-01"), ("until", "2020-01-01")],
     "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "edm"), ("set", "dataset:nowhere")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "edm"), ("set", "colour:red")], "badArgument"),
    ([("verb", "ListRecords"), ("metadataPrefix", "marc21")], "cannotDisseminateFormat"),
    ([("verb", "ListRecords"), ("metadataPrefix", "edm"), ("until", "1990-01-01")], "noRecordsMatch"),
    ([("verb", "ListRecords"), ("resumptionToken", "not-a-token")], "badResumptionToken"),
    ([("verb", "ListRecords"), ("resumptionToken", "x"), ("metadataPrefix", "edm")], "badArgument"),
    ([("verb", "ListSets"), ("resumptionToken", "x")], "badResumptionToken"),
    ([("verb", "GetRecord"), ("identifier", "oai:localhost:tate/NOPE"), ("metadataPrefix", "edm")], "idDoesNotExist"),
    ([("verb", "GetRecord"), ("identifier", "urn:other:1"), ("metadataPrefix", "edm")], "idDoesNotExist"),
    ([("verb", "GetRecord"), ("identifier", "oai:localhost:tate/A00001")], "badArgument"),
    ([("verb", "GetRecord"), ("identifier", "oai:localhost:tate/A00001"), ("metadataPrefix", "lido")],
     "cannotDisseminateFormat"),
    ([("verb", "ListMetadataFormats"), ("identifier", "oai:localhost:nope/1")], "idDoesNotExist"),
])
def test_errors(root, schema, pairs, code):
    document = oai(root, schema, *pairs)
    assert error_of(document) == code, etree.tostring(document)
    if code in ("badVerb", "badArgument"):
        assert not document.find("o:request", NS).attrib   # the spec: no attributes echoed then


def test_record_without_an_object_has_no_formats(root, schema, store):
    entity = [k for k in (s.key for s in store.changes(dataset="europeana"))
              if "entity" in k or "agent" in k.lower()]
    key = next(iter(entity or []), None)
    if key is None:  # the entity record's key is its own rdf:about: find the one that is not harvestable
        from kg.harvest import ChangeLog
        log = ChangeLog(store)
        key = next(s.key for s in store.changes(dataset="europeana") if not log.harvestable(log.describe(s.key)))
    identifier = f"oai:localhost:{key}"
    assert error_of(oai(root, schema, ("verb", "ListMetadataFormats"), ("identifier", identifier))) == "noMetadataFormats"
    assert error_of(oai(root, schema, ("verb", "GetRecord"), ("identifier", identifier),
                        ("metadataPrefix", "edm"))) == "cannotDisseminateFormat"
    assert ENTITY_RECORD


def _first_token(root, schema) -> str:
    document = oai(root, schema, ("verb", "ListIdentifiers"), ("metadataPrefix", "edm"))
    return document.findtext(".//o:resumptionToken", namespaces=NS)


def test_forged_and_corrupted_tokens(root, schema):
    token = _first_token(root, schema)
    body, mac = token.split(".")
    state = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    state[6] = 0                                              # rewind the cursor, keep the old signature
    forged = base64.urlsafe_b64encode(json.dumps(state).encode()).rstrip(b"=").decode() + "." + mac
    for bad in (forged, token[:-3], token[:10], token + "A", token.replace(".", ""), "é" + token):
        document = oai(root, schema, ("verb", "ListIdentifiers"), ("resumptionToken", bad))
        assert error_of(document) == "badResumptionToken", bad
    # a token of one verb does not continue another
    document = oai(root, schema, ("verb", "ListRecords"), ("resumptionToken", token))
    assert error_of(document) == "badResumptionToken"


def test_expired_token(store, schema):
    from datetime import datetime, timedelta, timezone

    from kg.settings import Settings
    from web.oai.views import repository_for
    repository = repository_for(store, Settings.from_env({}, oai_page_size=5, oai_token_lifetime=60))
    first = etree.fromstring(repository.respond([("verb", "ListIdentifiers"), ("metadataPrefix", "edm")]))
    token = first.findtext(".//o:resumptionToken", namespaces=NS)
    later = datetime.now(timezone.utc) + timedelta(seconds=120)
    document = etree.fromstring(repository.respond([("verb", "ListIdentifiers"), ("resumptionToken", token)],
                                                   now=later))
    assert error_of(document) == "badResumptionToken"
    assert "expired" in document.findtext("o:error", namespaces=NS)


def test_post_with_another_content_type_is_refused(root):
    request = urllib.request.Request(f"{root}oai", b"verb=Identify", {"Content-Type": "text/plain"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 415


def test_edm_records_are_valid_where_the_data_allows(store, schema, data_dir):
    """Every harvested Tate record's EDM validates on its own against EDM.xsd, and so does every
    EDM-native record whose input did; only records whose input broke the schema are excused."""
    from kg.edm_out import record_document
    from kg.harvest import ChangeLog
    edm = etree.XMLSchema(etree.parse(str(data_dir / "europeana-edm/xsd/EDM.xsd")))
    log = ChangeLog(store)
    checked = 0
    for state in store.changes():
        item = log.describe(state.key)
        if not log.harvestable(item) or f"oai:localhost:{state.key}" in schema[1]:
            continue
        document = record_document(store, state.key, native=item.format == "edm")
        assert edm.validate(document), (state.key, edm.error_log)
        assert not broken_rules(document), (state.key, broken_rules(document))
        assert any(True for _ in ox.parse(etree.tostring(document), format=ox.RdfFormat.RDF_XML))
        checked += 1
    assert checked == 31   # 30 Tate objects and the one Europeana record whose input validates


def test_empty_repository(schema, tmp_path):
    """No records yet: no sets (noSetHierarchy), nothing to list (noRecordsMatch), Identify still answers."""
    from kg.settings import Settings
    from kg.store import Store
    from web.oai.views import repository_for
    empty = Store.open(tmp_path / "empty", "http://localhost:8000/")
    repository = repository_for(empty, Settings.from_env({}))

    def ask(*pairs):
        return assert_valid(schema[0], repository.respond(list(pairs)))
    assert error_of(ask(("verb", "ListSets"))) == "noSetHierarchy"
    assert error_of(ask(("verb", "ListRecords"), ("metadataPrefix", "edm"))) == "noRecordsMatch"
    assert error_of(ask(("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), ("set", "type:"))) == "badArgument"
    assert ask(("verb", "Identify")).findtext("o:Identify/o:earliestDatestamp", namespaces=NS)
    empty.close()


def test_day_granularity_bounds(root, schema):
    today = oai(root, schema, ("verb", "ListIdentifiers"), ("metadataPrefix", "edm"), ("set", "dataset:tate"),
                ("from", "2000-01-01"), ("until", "2999-12-31"))
    assert error_of(today) is None
    stamp = today.findtext(".//o:datestamp", namespaces=NS)
    same_second = oai(root, schema, ("verb", "ListIdentifiers"), ("metadataPrefix", "edm"), ("set", "dataset:tate"),
                      ("from", stamp), ("until", stamp))
    assert error_of(same_second) is None and stamp in [e.text for e in same_second.iterfind(".//o:datestamp", NS)]


def test_shipped_element_order_matches_edm_xsd(data_dir):
    from tests.edm_xsd_order import SHIPPED, derive, render
    assert SHIPPED.read_text(encoding="utf-8") == render(derive(data_dir / "europeana-edm/xsd/EDM.xsd"))


RIGHTS = re.compile(r"^http://(creativecommons\.org/(licenses/[a-z-]+/[0-9.]+/([a-z]+/)?|publicdomain/(zero|mark)/1\.0/)"
                    r"|rightsstatements\.org/vocab/(NoC-NC|NoC-OKLR|InC|InC-EDU|InC-OW-EU|CNE)/1\.0/)$")


def broken_rules(rdf: etree._Element) -> list[str]:
    """Europeana's content rules (../shared/data/europeana-edm/xsd/schematron/RULES.md) a document breaks."""
    r = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}resource"
    e, dc, dct = "{http://www.europeana.eu/schemas/edm/}", "{http://purl.org/dc/elements/1.1/}", "{http://purl.org/dc/terms/}"
    broken = []
    chos = rdf.findall(f"{e}ProvidedCHO")
    aggregations = rdf.findall("{http://www.openarchives.org/ore/terms/}Aggregation")
    if len(chos) != 1 or len(aggregations) != 1:
        return ["exactly one ProvidedCHO and one Aggregation"]
    cho, aggregation = chos[0], aggregations[0]

    def filled(element, names):
        return any((x.get(r) or (x.text or "").strip()) for n in names for x in element.findall(n))
    if not filled(cho, [f"{dc}title", f"{dc}description"]):
        broken.append("title or description")
    if not filled(cho, [f"{dc}subject", f"{dc}type", f"{dct}temporal", f"{dct}spatial"]):
        broken.append("subject, type, temporal or spatial")
    if cho.findtext(f"{e}type") == "TEXT" and cho.find(f"{dc}language") is None:
        broken.append("dc:language for TEXT")
    if not filled(aggregation, [f"{e}isShownAt", f"{e}isShownBy"]):
        broken.append("isShownAt or isShownBy")
    for name in ("dataProvider", "provider"):
        if not filled(aggregation, [f"{e}{name}"]):
            broken.append(name)
    if not any(RIGHTS.match(x.get(r) or "") for x in aggregation.findall(f"{e}rights")):
        broken.append("edm:rights is a rights statement")
    for element in rdf.iter():
        if element.get(r) is not None and ((element.text or "").strip() or not element.get(r)):
            broken.append(f"{element.tag}: resource and text, or empty resource")
        if element.get("{http://www.w3.org/XML/1998/namespace}lang") == "":
            broken.append(f"{element.tag}: empty xml:lang")
    return broken
