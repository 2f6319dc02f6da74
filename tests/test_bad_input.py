"""Bad input: every case gets a clear error naming the file (and record / line where known),
and the store is left exactly as it was."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.ingest import load
from kg.settings import Settings
from kg.store import Store

BASE = "http://localhost:8000/"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({}, store=str(tmp_path / "store"), base_uri=BASE)


@pytest.fixture
def store(settings, data_dir) -> Store:
    """A store holding two real Europeana records, so 'unchanged' means something."""
    store = Store.open(settings.store, BASE)
    records = data_dir / "europeana-edm" / "records" / "metis-validation"
    report = load(store, [str(records / "Item_35834473_test.xml")], settings)
    assert report.created == 1, report.rejected
    return store


def snapshot(store: Store) -> ox.Dataset:
    dataset = ox.Dataset(store.oxi)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return dataset


def load_bad(store: Store, settings: Settings, path: Path):
    before = snapshot(store)
    report = load(store, [str(path)], settings)
    assert report.loaded == 0
    assert len(report.rejected) == 1, report.rejected
    assert snapshot(store) == before, "a rejected input changed the store"
    message = str(report.rejected[0])
    assert path.name in message, message
    return message


def real_record(data_dir: Path) -> bytes:
    return (data_dir / "europeana-edm" / "records" / "metis-validation" / "Item_35834473.xml").read_bytes()


def test_malformed_xml_names_file_and_line(store, settings, data_dir, tmp_path):
    text = real_record(data_dir)
    bad = tmp_path / "truncated.xml"
    bad.write_bytes(text[: len(text) // 2])
    message = load_bad(store, settings, bad)
    assert ":" in message.split("truncated.xml", 1)[1][:8], f"no line number in {message}"


def test_malformed_turtle_names_line(store, settings, tmp_path):
    bad = tmp_path / "broken.ttl"
    bad.write_text('@prefix ex: <http://example.org/> .\nex:a ex:b "ok" .\nex:c ex:d "unterminated .\n')
    message = load_bad(store, settings, bad)
    assert "broken.ttl:3" in message, message


def test_malformed_json_ld_names_line(store, settings, tmp_path):
    bad = tmp_path / "broken.jsonld"
    bad.write_text('{\n  "@context": {"ex": "http://example.org/"},\n  "@id": "ex:a",\n  "ex:b": [1, 2,\n}\n')
    message = load_bad(store, settings, bad)
    assert "broken.jsonld:" in message, message


def test_broken_iri_is_refused(store, settings, tmp_path):
    bad = tmp_path / "iri.nt"
    bad.write_text('<http://example.org/a> <http://example.org/p> <http://exa mple.org/<x>> .\n')
    message = load_bad(store, settings, bad)
    assert "iri.nt:1" in message, message


def test_non_utf8_bytes_are_refused(store, settings, data_dir, tmp_path):
    text = real_record(data_dir).replace(b"<dc:title", b"<dc:title>\xff\xfe broken</dc:title><dc:title", 1)
    bad = tmp_path / "latin.xml"
    bad.write_bytes(text)
    load_bad(store, settings, bad)


def test_empty_file_is_refused(store, settings, tmp_path):
    bad = tmp_path / "empty.ttl"
    bad.write_bytes(b"")
    assert "empty" in load_bad(store, settings, bad)


def test_a_50_mb_literal_is_refused_by_the_limit(store, settings, tmp_path):
    bad = tmp_path / "huge.nt"
    with open(bad, "wb") as out:
        out.write(b'<http://localhost:8000/id/object/huge> <http://www.w3.org/2000/01/rdf-schema#label> "')
        out.write(b"a" * (50 * 1024 * 1024))
        out.write(b'" .\n')
    message = load_bad(store, settings, bad)
    assert "limit" in message and "huge" in message, message


def test_a_zip_bomb_is_refused_without_expanding_it(store, settings, tmp_path):
    bad = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bad, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("records/bomb.nt", "w", force_zip64=True) as member:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(300):
                member.write(chunk)
    assert bad.stat().st_size < 2 * 1024 * 1024
    message = load_bad(store, settings, bad)
    assert "bomb.zip" in message and "ratio" in message.lower() or "limit" in message.lower(), message


def test_a_batch_commits_valid_records_and_rejects_the_invalid_whole(store, settings, data_dir, tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    records = data_dir / "europeana-edm" / "records" / "metis-validation"
    (folder / "good.xml").write_bytes((records / "Item_35834473_test.xml").read_bytes())
    (folder / "invalid.xml").write_bytes((records / "Item_schematron_invalid.xml").read_bytes())
    report = load(store, [str(folder)], settings)
    assert [r.origin.file for r in report.rejected] and all("invalid.xml" in r.origin.file for r in report.rejected)
    rejected_key = report.rejected[0].key
    assert rejected_key is not None
    assert not store.oxi.contains_named_graph(store.uris.record_graph(rejected_key))
    assert rejected_key not in store.record_states([rejected_key])


def test_a_load_of_many_batches_validates_in_a_child_and_judges_as_one_batch_does(data_dir, tmp_path):
    """Batches after the first are validated in a child process (``GateProcess``) while the store
    writes: the same records are rejected, with the same findings, as when one batch is validated here."""
    records = data_dir / "europeana-edm" / "records"
    folder = tmp_path / "batch"
    folder.mkdir()
    for path in [*sorted((records / "metis-misc").iterdir()), records / "metis-validation" / "Item_schematron_invalid.xml"]:
        (folder / path.name).write_bytes(path.read_bytes())
    reports = {}
    for batch_size in (2, 100):
        location = tmp_path / f"store-{batch_size}"
        store = Store.open(location, BASE)
        report = reports[batch_size] = load(store, [str(folder)], Settings.from_env(
            {"MOUSEION_BATCH_SIZE": str(batch_size)}, store=str(location), base_uri=BASE))
        assert any("Item_schematron_invalid.xml" in str(r) for r in report.rejected), report.rejected
        assert not any(store.oxi.contains_named_graph(store.uris.record_graph(r.key)) for r in report.rejected if r.key)
        assert store.stats()["records"] == report.created > 5
        store.close()
    split, whole = reports[2], reports[100]
    assert split.created == whole.created
    assert sorted((r.key, r.reasons) for r in split.rejected) == sorted((r.key, r.reasons) for r in whole.rejected)
    assert split.warnings == whole.warnings
