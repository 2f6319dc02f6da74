"""CSV/JSON collections through a declarative mapping: the bundled Tate sample, and bad input.

The sample is mapped once for the module (a few seconds); the error cases use small copies of
the real files in a temporary folder, with the real mapping pointed at them.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from pyoxigraph import NamedNode

from kg.readers import ReadContext, Source
from kg.readers.mapped import read, sample_mapping_path
from kg.record import Record, Rejection, Uris, Vocabulary
from kg.settings import Settings

BASE = "http://localhost:8000/"
OTHER_BASE = "https://collection.example.org/"
MAPPINGS = Path(__file__).resolve().parents[1] / "kg" / "mappings"
CRM = "http://www.cidoc-crm.org/cidoc-crm/"
AAT = "http://vocab.getty.edu/aat/"
XSD = "http://www.w3.org/2001/XMLSchema#"


def run(mapping: Path, base: str = BASE) -> list:
    ctx = ReadContext(Uris(base), Settings.from_env({}, base_uri=base))
    return list(read(Source(str(mapping), mapping.read_bytes()), ctx))


def records(items: list) -> dict[str, Record]:
    return {i.key: i for i in items if isinstance(i, Record)}


def rejections(items: list) -> list[Rejection]:
    return [i for i in items if isinstance(i, Rejection)]


def objects(record: Record, subject: str, predicate: str) -> set[str]:
    """Values (IRI or literal lexical form) of subject/predicate in one record."""
    return {t.object.value for t in record.triples
            if t.subject.value == subject and t.predicate.value == predicate}


def nt(record: Record) -> str:
    return "\n".join(map(str, record.triples))


@pytest.fixture(scope="module")
def sample() -> tuple[list, float]:
    started = time.perf_counter()
    items = run(sample_mapping_path())
    return items, time.perf_counter() - started


def copy_mapping(tmp_path: Path, *, artworks: str | None = None, artists: str | None = None) -> Path:
    """The real Tate mapping and queries, over small copies of the real files in tmp_path.

    ``artworks`` and ``artists`` replace the first 20 artworks and 30 artists that are used
    otherwise; the subject files keep their first 40 terms each.
    """
    sample = sample_mapping_path().parent
    (tmp_path / "artworks.jsonl").write_text(
        artworks if artworks is not None else head(sample / "artworks_sample_1505.jsonl", 20), encoding="utf-8")
    (tmp_path / "artists.csv").write_text(
        artists if artists is not None else head(sample / "artist_data.csv", 30), encoding="utf-8")
    (tmp_path / "subjects").mkdir()
    for level in ("level0", "level1", "level2"):
        terms = json.loads((sample / "subjects" / f"{level}.json").read_text(encoding="utf-8"))
        (tmp_path / "subjects" / f"{level}.json").write_text(json.dumps(dict(list(terms.items())[:40])))
    text = sample_mapping_path().read_text(encoding="utf-8")
    text = text.replace('"../mappings/', f'"{MAPPINGS.as_posix()}/')
    text = text.replace('path = "artworks_sample_1505.jsonl"', 'path = "artworks.jsonl"')
    text = text.replace('path = "artist_data.csv"', 'path = "artists.csv"')
    mapping = tmp_path / "test.mapping.toml"
    mapping.write_text(text, encoding="utf-8")
    return mapping


def head(path: Path, lines: int) -> str:
    with path.open(encoding="utf-8-sig") as f:
        return "".join(next(f) for _ in range(lines))


# --- the bundled sample ----------------------------------------------------------------------------

def test_every_artwork_and_artist_maps(sample):
    items, seconds = sample
    assert rejections(items) == []
    mapped = records(items)
    assert sum(r.dataset == "tate" for r in mapped.values()) == 1505
    assert sum(r.dataset == "tate-artists" for r in mapped.values()) == 3532
    assert {v.name for v in items if isinstance(v, Vocabulary)} == {
        "tate-subjects", "tate-materials", "tate-classifications", "tate-places"}
    assert all(r.format == "tate" and r.focus is not None for r in mapped.values())


def test_the_sample_ships_with_the_project_and_matches_the_reference_copy(data_dir):
    sample = sample_mapping_path().parent
    reference = data_dir / "tate-collection"
    for name in ("artworks_sample_1505.jsonl", "artist_data.csv", "LICENCE-CC0.txt",
                 "subjects/level0.json", "subjects/level1.json", "subjects/level2.json"):
        assert (sample / name).read_bytes() == (reference / name).read_bytes(), name


def test_mapping_throughput(sample, capsys):
    items, seconds = sample
    count = len(records(items))
    triples = sum(len(i.triples) for i in items if isinstance(i, (Record, Vocabulary)))
    with capsys.disabled():
        print(f"\n  Tate sample: {count} records, {triples} triples in {seconds:.2f} s "
              f"({count / seconds:.0f} records/s, {triples / seconds:.0f} triples/s)")
    assert seconds < 60  # generous: the point is the printed figure, not a flaky threshold


def test_a_known_artwork(sample):
    a00001 = records(sample[0])["tate/A00001"]
    obj = f"{BASE}id/object/tate-A00001"
    assert a00001.focus == NamedNode(obj)
    assert a00001.origin.line == 1 and a00001.origin.record == "A00001"
    assert a00001.origin.file.endswith("artworks_sample_1505.jsonl")
    title = ("A Figure Bowing before a Seated Old Man with his Arm Outstretched in Benediction. "
             "Verso: Indecipherable Sketch")
    assert objects(a00001, obj, "http://www.w3.org/2000/01/rdf-schema#label") == {title}
    assert objects(a00001, f"{obj}#title", CRM + "P190_has_symbolic_content") == {title}
    assert objects(a00001, f"{obj}#title", CRM + "P2_has_type") == {AAT + "300404670"}
    assert objects(a00001, f"{obj}#accession-number", CRM + "P190_has_symbolic_content") == {"A00001"}
    assert objects(a00001, obj, CRM + "P108i_was_produced_by") == {f"{obj}#production"}
    assert objects(a00001, f"{obj}#production", CRM + "P14_carried_out_by") == {f"{BASE}id/person/tate-38"}
    assert objects(a00001, obj, CRM + "P45_consists_of") == {
        f"{BASE}id/concept/material-{m}" for m in ("watercolour", "ink", "chalk", "graphite", "paper")}
    assert objects(a00001, obj, CRM + "P2_has_type") == {
        AAT + "300133025", f"{BASE}id/concept/tate-classification-on-paper-unique"}
    # "support: 394 x 419 mm": Tate writes height × width (the JSON fields are swapped)
    assert objects(a00001, f"{obj}#height", CRM + "P90_has_value") == {"394"}
    assert objects(a00001, f"{obj}#width", CRM + "P90_has_value") == {"419"}
    assert objects(a00001, f"{obj}#height", CRM + "P91_has_unit") == {AAT + "300379097"}
    assert objects(a00001, f"{obj}#height", CRM + "P2_has_type") == {AAT + "300055644"}
    height = next(t for t in a00001.triples if t.subject.value == f"{obj}#height"
                  and t.predicate.value == CRM + "P90_has_value")
    assert height.object.datatype.value == XSD + "decimal"
    assert f"{BASE}id/concept/tate-subject-1050" in objects(a00001, obj, CRM + "P62_depicts")  # arm/arms raised
    assert f"{BASE}id/concept/tate-subject-91" not in objects(a00001, obj, CRM + "P62_depicts")  # "people": not a leaf
    # "date not known": no production time-span at all
    assert objects(a00001, f"{obj}#production", CRM + "P4_has_time-span") == set()
    agg = f"{BASE}id/aggregation/tate-A00001"
    thumb = "http://www.tate.org.uk/art/images/work/A/A00/A00001_8.jpg"
    assert objects(a00001, agg, "http://www.europeana.eu/schemas/edm/aggregatedCHO") == {obj}
    assert objects(a00001, agg, "http://www.europeana.eu/schemas/edm/isShownBy") == {thumb}
    assert objects(a00001, thumb, "http://www.w3.org/1999/02/22-rdf-syntax-ns#type") == {
        "http://www.europeana.eu/schemas/edm/WebResource"}


def test_materials_link_to_the_getty_aat(sample):
    materials = next(v for v in sample[0] if isinstance(v, Vocabulary) and v.name == "tate-materials")
    exact = {t.subject.value.rsplit("/", 1)[1]: t.object.value for t in materials.triples
             if t.predicate.value.endswith("#exactMatch")}
    assert exact["material-watercolour"] == AAT + "300015045"
    assert exact["material-graphite"] == AAT + "300011098"
    assert exact["material-paper"] == AAT + "300014109"
    assert exact["material-oil-paint"] == AAT + "300015050"
    assert "material-lithograph" not in {t.subject.value.rsplit("/", 1)[1] for t in materials.triples}


def test_production_time_span_covers_the_whole_years(sample):
    mapped = records(sample[0])
    n00132 = mapped["tate/N00132"]  # The Last Supper, 1784
    span = f"{BASE}id/object/tate-N00132#production-timespan"
    assert objects(n00132, span, CRM + "P82a_begin_of_the_begin") == {"1784-01-01T00:00:00Z"}
    assert objects(n00132, span, CRM + "P82b_end_of_the_end") == {"1784-12-31T23:59:59Z"}
    assert objects(n00132, span, "http://www.w3.org/2000/01/rdf-schema#label") == {"1784"}
    ranged = [r for r in mapped.values() if r.dataset == "tate"
              and "c.1830–41" in objects(r, f"{r.focus.value}#production-timespan",
                                          "http://www.w3.org/2000/01/rdf-schema#label")]
    assert ranged
    span = f"{ranged[0].focus.value}#production-timespan"
    assert objects(ranged[0], span, CRM + "P82a_begin_of_the_begin") == {"1830-01-01T00:00:00Z"}
    assert objects(ranged[0], span, CRM + "P82b_end_of_the_end") == {"1841-12-31T23:59:59Z"}


def test_a_known_artist_and_the_places_they_share(sample):
    items = sample[0]
    blake = records(items)["tate-artists/38"]
    person = f"{BASE}id/person/tate-38"
    assert blake.origin.line == 296  # header is line 1
    assert objects(blake, person, "http://www.w3.org/2000/01/rdf-schema#label") == {"Robert Blake"}
    assert objects(blake, f"{person}#filed-name", CRM + "P190_has_symbolic_content") == {"Blake, Robert"}
    assert objects(blake, person, CRM + "P2_has_type") == {AAT + "300189559"}
    london = f"{BASE}id/place/london-united-kingdom"
    assert objects(blake, f"{person}#birth", CRM + "P7_took_place_at") == {london}
    assert objects(blake, f"{person}#death-timespan", CRM + "P82b_end_of_the_end") == {"1787-12-31T23:59:59Z"}
    places = next(v for v in items if isinstance(v, Vocabulary) and v.name == "tate-places")
    labels = [t.object.value for t in places.triples if t.subject.value == london
              and t.predicate.value.endswith("#label")]
    assert labels == ["London, United Kingdom"]
    # described once, in the vocabulary, not in each of the artists' records
    assert not any(t.subject.value == london for r in records(items).values() for t in r.triples)


def test_subject_taxonomy_is_a_skos_scheme_with_broader_terms(sample):
    subjects = next(v for v in sample[0] if isinstance(v, Vocabulary) and v.name == "tate-subjects")
    arm = f"{BASE}id/concept/tate-subject-1050"
    about = {(t.predicate.value.rsplit("#", 1)[1], t.object.value) for t in subjects.triples if t.subject.value == arm}
    assert ("prefLabel", "arm/arms raised") in about
    assert ("broader", f"{BASE}id/concept/tate-subject-92") in about
    assert ("inScheme", f"{BASE}id/scheme/tate-subjects") in about
    labels: dict[str, int] = {}
    for t in subjects.triples:
        if t.predicate.value.endswith("#prefLabel"):
            labels[t.subject.value] = labels.get(t.subject.value, 0) + 1
    assert max(labels.values()) == 1  # SKOS: one prefLabel per language


def test_same_input_same_triples_and_the_base_uri_mints_every_uri(sample, tmp_path):
    first = records(sample[0])
    again = records(run(sample_mapping_path(), base=OTHER_BASE))
    assert again.keys() == first.keys()
    for key, record in first.items():
        # identical once the base is swapped (sorted again: the order follows the URIs), so
        # deterministic, and every minted URI follows the base
        assert nt(again[key]).split("\n") == sorted(nt(record).replace(BASE, OTHER_BASE).split("\n")), key
        assert BASE not in nt(again[key])
    small = copy_mapping(tmp_path)
    one, two = records(run(small)), records(run(small))
    assert [nt(r) for r in one.values()] == [nt(r) for r in two.values()]


# --- bad rows, bad files ---------------------------------------------------------------------------

def test_a_broken_json_line_is_rejected_and_the_rest_load(tmp_path):
    lines = head(sample_mapping_path().parent / "artworks_sample_1505.jsonl", 20).splitlines(keepends=True)
    lines[2] = lines[2][:200] + "\n"                       # truncated JSON on line 3
    lines[6] = lines[6].replace('"acno": "', '"accession": "', 1)  # no id on line 7
    lines[9] = lines[4]                                    # duplicate of line 5 on line 10
    items = run(copy_mapping(tmp_path, artworks="".join(lines)))
    bad = {r.origin.line: r for r in rejections(items)}
    assert set(bad) == {3, 7, 10}
    assert all(r.origin.file.endswith("artworks.jsonl") for r in bad.values())
    assert "invalid JSON" in bad[3].reasons[0]
    assert "no record id" in bad[7].reasons[0]
    assert "duplicate record id" in bad[10].reasons[0] and bad[10].origin.record
    assert sum(r.dataset == "tate" for r in records(items).values()) == 17
    assert sum(r.dataset == "tate-artists" for r in records(items).values()) == 29


def test_a_malformed_csv_row_is_rejected_and_the_rest_load(tmp_path):
    lines = head(sample_mapping_path().parent / "artist_data.csv", 30).splitlines(keepends=True)
    lines[4] = lines[4].rstrip("\r\n") + ",surplus\n"      # line 5: one column too many
    lines[8] = '"unterminated,Female\n'                    # broken quoting: eats the rest of the file,
    items = run(copy_mapping(tmp_path, artists="".join(lines[:8]) + "".join(lines[9:]) + lines[8]))  # so last
    bad = rejections(items)
    assert [(r.origin.file.endswith("artists.csv"), r.origin.line) for r in bad] == [(True, 5), (True, 30)]
    assert "columns" in bad[0].reasons[0]
    assert sum(r.dataset == "tate-artists" for r in records(items).values()) == 27
    assert sum(r.dataset == "tate" for r in records(items).values()) == 20


@pytest.mark.parametrize("old, new, message", [
    ('format = "jsonl"', 'format = "jsonl', "TOML syntax error"),
    ("lower = true\ntable", "lowercase = true\ntable", "unknown transform 'lowercase'"),
    ('path = "artworks.jsonl"', 'path = "missing.jsonl"', "data file not found"),
    ('split = \'\'\'(?i)', 'split = \'\'\'(?i)(', "not a valid regular expression"),
    ('name = "artists"', 'nam = "artists"', "unknown key in [[sources]] 'nam'"),
])
def test_a_malformed_mapping_is_one_rejection_naming_it_and_the_line(tmp_path, old, new, message):
    mapping = copy_mapping(tmp_path)
    text = mapping.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    mapping.write_text(text, encoding="utf-8")
    items = run(mapping)
    assert len(items) == 1 and isinstance(items[0], Rejection)
    assert items[0].origin.file == str(mapping)
    assert message in items[0].reasons[0]
    line = text[:text.index(new)].count("\n") + 1 + new.split("\n")[0].count("\n")
    assert items[0].origin.line == line


def test_a_construct_syntax_error_names_the_mapping_and_the_query(tmp_path):
    query = tmp_path / "broken.rq"
    query.write_text("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p }\n", encoding="utf-8")
    mapping = copy_mapping(tmp_path)
    text = mapping.read_text(encoding="utf-8")
    mapping.write_text(re.sub(r'query = "[^"]*artist\.rq"', 'query = "broken.rq"', text), encoding="utf-8")
    (item,) = run(mapping)
    assert isinstance(item, Rejection) and item.origin.file == str(mapping)
    assert "broken.rq" in item.reasons[0] and "SPARQL syntax error" in item.reasons[0]


# --- any CSV/JSON collection -----------------------------------------------------------------------

def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder / next(n for n in files if n.endswith(".mapping.toml"))


GENERIC_QUERY = """
PREFIX src:  <urn:mouseion:source:field/>
PREFIX mint: <urn:mouseion:source:mint/>
PREFIX crm:  <http://www.cidoc-crm.org/cidoc-crm/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd:  <http://www.w3.org/2001/XMLSchema#>
CONSTRUCT {
  ?thing rdfs:label ?label ; crm:P43_has_dimension ?height ; crm:P45_consists_of ?material .
  ?height crm:P90_has_value ?h .
}
WHERE {
  VALUES ?base { UNDEF }
  { ?rec mint:thing ?thing ; src:label ?label . }
  UNION { ?rec mint:thing ?thing ; src:size/src:height ?raw .
          BIND (xsd:decimal(?raw) AS ?h) BIND (IRI(CONCAT(STR(?thing), "#height")) AS ?height) }
  UNION { ?rec mint:thing ?thing ; src:stuff/src:slug ?slug .
          BIND (IRI(CONCAT(?base, "id/concept/", ?slug)) AS ?material) }
}
"""

GENERIC_MAPPING = """
[mapping]
name = "museum"

[[sources]]
name = "things"
path = "things.{fmt}"
format = "{fmt}"
id = "no"
dataset = "museum"
query = "things.rq"
focus = "thing"
{extra}
[sources.uris]
thing = "id/object/museum-{{id}}"

[[sources.derive]]
field = "dims"
into = "size"
match = '''(?P<height>\\d+(?:\\.\\d+)?)\\s*x\\s*(?P<width>\\d+(?:\\.\\d+)?)\\s*cm'''

[[sources.derive]]
field = "medium"
into = "stuff"
split = '''\\s*(?:,|\\band\\b|\\bon\\b)\\s*'''
lower = true
table = "materials"
unknown = "drop"
slug = true

[tables.materials]
"oil paint" = {{}}
"oil" = {{ value = "oil paint" }}
"panel" = {{}}
"""


@pytest.mark.parametrize("fmt, data, extra", [
    ("csv", 'no;label;dims;medium\nM 1;Vase;"support: 24.5 x 10 cm";Oil on panel\n', 'delimiter = ";"'),
    ("json", '{"data": {"items": [{"no": "M 1", "label": "Vase", "dims": "support: 24.5 x 10 cm",'
             ' "medium": "Oil on panel"}]}}', 'records = "data.items"'),
])
def test_any_csv_or_json_collection_with_a_mapping(tmp_path, fmt, data, extra):
    mapping = write(tmp_path, {f"things.{fmt}": data, "things.rq": GENERIC_QUERY,
                               "museum.mapping.toml": GENERIC_MAPPING.format(fmt=fmt, extra=extra)})
    (record,) = run(mapping)
    assert isinstance(record, Record) and record.key == "museum/M%201"
    thing = f"{BASE}id/object/museum-M%201"
    assert record.focus == NamedNode(thing)
    assert objects(record, thing, "http://www.w3.org/2000/01/rdf-schema#label") == {"Vase"}
    assert objects(record, f"{thing}#height", CRM + "P90_has_value") == {"24.5"}
    assert objects(record, thing, CRM + "P45_consists_of") == {f"{BASE}id/concept/oil-paint", f"{BASE}id/concept/panel"}


def test_blank_nodes_and_unowned_triples_are_refused(tmp_path):
    query = GENERIC_QUERY.replace("?height crm:P90_has_value ?h .", "?height crm:P90_has_value ?h . ?thing crm:P3_has_note [ rdfs:label ?label ] . <urn:x:elsewhere> rdfs:label ?label .")
    mapping = write(tmp_path, {"things.csv": "no,label\n1,Vase\n", "things.rq": query,
                               "museum.mapping.toml": GENERIC_MAPPING.format(fmt="csv", extra="")})
    items = run(mapping)
    reasons = [r.reasons[0] for r in rejections(items)]
    assert any("blank node" in r for r in reasons)
    assert any("belong to no record" in r and "things.rq" in r for r in reasons)
    assert not records(items)
