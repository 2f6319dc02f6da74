"""Paths → sources: directory walks, zip archives and their guards, format detection."""

from __future__ import annotations

import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from kg.readers import Source
from kg.record import Rejection
from kg.settings import Settings
from kg.sources import default_dataset, detect_format, iter_sources

EDM_RECORDS = Path("europeana-edm") / "records"


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env({})


def names(items) -> list[str]:
    return [item.name if isinstance(item, Source) else f"REJECTED {item.origin.file}: {item.reasons}"
            for item in items]


# -- walking -------------------------------------------------------------------------------------


def test_directories_are_walked_sorted_without_hidden_files(tmp_path, settings):
    for path in ["b/2.ttl", "b/1.ttl", "a.nt", ".hidden.ttl", ".git/x.ttl", "__MACOSX/b/._1.ttl", "c/d/e.ttl"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("<http://e/a> <http://e/p> <http://e/o> .\n")
    found = [Path(n).relative_to(tmp_path).as_posix() for n in names(iter_sources([tmp_path], settings))]
    assert found == ["a.nt", "b/1.ttl", "b/2.ttl", "c/d/e.ttl"]
    # and the same again: deterministic
    assert names(iter_sources([tmp_path], settings)) == names(iter_sources([str(tmp_path)], settings))


def test_files_a_mapping_reads_are_not_sources_of_their_own(tmp_path, settings):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("id,title\n1,A\n")
    (tmp_path / "data" / "other.ttl").write_text("<http://e/a> <http://e/p> <http://e/o> .\n")
    (tmp_path / "demo.mapping.toml").write_text('[[sources]]\nname = "rows"\npath = "data/rows.csv"\n')
    found = [Path(n).relative_to(tmp_path).as_posix() for n in names(iter_sources([tmp_path], settings))]
    assert found == ["demo.mapping.toml", "data/other.ttl"]  # a folder's files, then its subfolders


def test_empty_missing_and_oversized_files_are_rejected(tmp_path):
    (tmp_path / "empty.nt").write_bytes(b"")
    (tmp_path / "big.ttl").write_bytes(b"x" * 2048)
    items = list(iter_sources([tmp_path / "empty.nt", tmp_path / "nope.ttl", tmp_path / "big.ttl"],
                              Settings(max_file_bytes=1024)))
    assert all(isinstance(i, Rejection) for i in items)
    reasons = {Path(i.origin.file).name: i.reasons[0] for i in items}
    assert reasons["empty.nt"] == "empty file"
    assert "no such file" in reasons["nope.ttl"]
    assert "2048 bytes exceeds the limit of 1024" in reasons["big.ttl"] and "MOUSEION_MAX_FILE_BYTES" in reasons["big.ttl"]


def test_line_based_files_stream_from_disk_past_the_file_limit(tmp_path):
    line = b"<http://e/a> <http://e/p> <http://e/o> <http://e/g> .\n"
    (tmp_path / "big.nq").write_bytes(line * 100_000)
    (tmp_path / "sniffed").write_bytes(line * 100)  # no suffix: N-Quads by its first line
    (tmp_path / "small.ttl").write_bytes(b"<http://e/a> <http://e/p> <http://e/o> .\n")
    big, sniffed, small = iter_sources([tmp_path / "big.nq", tmp_path / "sniffed", tmp_path / "small.ttl"],
                                       Settings(max_file_bytes=1024))
    assert isinstance(big, Source) and big.path == tmp_path / "big.nq" and len(big.data) == 64 * 1024
    assert detect_format(big) == "nquads"
    assert isinstance(sniffed, Source) and sniffed.path == tmp_path / "sniffed" and detect_format(sniffed) == "nquads"
    assert isinstance(small, Source) and small.path is None and small.data.endswith(b" .\n")  # read whole


def test_zip_members_are_read_whole_even_in_line_formats(tmp_path):
    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.nq", "<http://e/a> <http://e/p> <http://e/o> <http://e/g> .\n" * 100)
    [member] = iter_sources([archive], Settings())
    assert member.path is None and len(member.data) == 5400
    [too_big] = iter_sources([archive], Settings(max_file_bytes=1000))
    assert isinstance(too_big, Rejection) and "MOUSEION_MAX_FILE_BYTES" in too_big.reasons[0]


# -- zip archives --------------------------------------------------------------------------------


def test_zip_members_are_sources_named_archive_bang_member(tmp_path, settings):
    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("records/b.nt", "<http://e/b> <http://e/p> <http://e/o> .\n")
        z.writestr("records/a.nt", "<http://e/a> <http://e/p> <http://e/o> .\n")
        z.writestr("records/", "")
        z.writestr("__MACOSX/records/._a.nt", "junk")
        z.writestr("records/.DS_Store", "junk")
        z.writestr("records/empty.nt", "")
    items = list(iter_sources([archive], settings))
    assert names(items)[:2] == [f"{archive}!records/a.nt", f"{archive}!records/b.nt"]
    assert items[0].data.startswith(b"<http://e/a>")
    assert isinstance(items[2], Rejection) and items[2].origin.file == f"{archive}!records/empty.nt"
    assert items[2].reasons == ["empty file"]
    assert len(items) == 3


def test_the_real_batch_expands_to_1506_members(data_dir, settings):
    archive = data_dir / EDM_RECORDS / "metis-validation" / "test_batch.zip"
    sources = list(iter_sources([archive], settings))
    assert len(sources) == 1506 and all(isinstance(s, Source) for s in sources)
    assert sources[0].name == f"{archive}!Item_35834473.xml"
    assert sum(len(s.data) for s in sources) == 4_306_683
    print(f"\ntest_batch.zip: {len(sources)} members, {sum(len(s.data) for s in sources):,} bytes expanded")


def _bomb(path: Path, megabytes: int = 300) -> Path:
    """A real zip bomb: one member of `megabytes` MB of zeros, about 1/1000 of that compressed."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("records/a-good-one.nt", "<http://e/a> <http://e/p> <http://e/o> .\n")
        with z.open("records/bomb.nt", "w", force_zip64=True) as member:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(megabytes):
                member.write(chunk)
    return path


def test_a_zip_bomb_is_refused_quickly_without_expanding_it(tmp_path, settings):
    bomb = _bomb(tmp_path / "bomb.zip")
    assert bomb.stat().st_size < 2 * 1024 * 1024
    tracemalloc.start()
    started = time.perf_counter()
    items = list(iter_sources([bomb], settings))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(items) == 1 and isinstance(items[0], Rejection), names(items)  # not even the good member
    reason = items[0].reasons[0]
    assert items[0].origin.file == str(bomb)
    assert "records/bomb.nt" in reason and "ratio" in reason and "200" in reason, reason
    assert elapsed < 1.0, f"took {elapsed:.2f}s"
    assert peak < 16 * 1024 * 1024, f"allocated {peak:,} bytes while refusing the bomb"


def _forge_sizes(path: Path, member: str, declared: int) -> None:
    """Make a zip lie about a member's uncompressed size (local header and central directory)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    # local file header: signature, ..., compressed size @18, uncompressed size @22
    local = info.header_offset
    assert data[local:local + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, local + 22, declared)
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46:central + 46 + length] == name:
            struct.pack_into("<I", data, central + 24, declared)
            break
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))


def test_a_zip_that_lies_about_its_sizes_is_not_trusted(tmp_path, settings):
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("bomb.nt", b"\0" * (40 * 1024 * 1024))
    _forge_sizes(archive, "bomb.nt", 1000)  # says 1000 bytes: ratio and total look harmless
    tracemalloc.start()
    items = list(iter_sources([archive], settings))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(items) == 1 and isinstance(items[0], Rejection), names(items)
    assert items[0].origin.file == str(archive)
    assert peak < 16 * 1024 * 1024, f"allocated {peak:,} bytes reading a lying archive"


def test_archive_total_size_and_member_count_limits(tmp_path):
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as z:  # stored, ratio 1
        for n in range(5):
            z.writestr(f"{n}.nt", f"<http://e/{n}> <http://e/p> <http://e/o> .\n" * 10)
    [too_big] = iter_sources([archive], Settings(max_archive_bytes=1000))
    assert isinstance(too_big, Rejection) and "MOUSEION_MAX_ARCHIVE_BYTES" in too_big.reasons[0]
    [too_many] = iter_sources([archive], Settings(max_archive_members=4))
    assert isinstance(too_many, Rejection) and "5 members" in too_many.reasons[0]
    assert len(list(iter_sources([archive], Settings()))) == 5


def test_a_corrupt_archive_is_rejected(tmp_path, settings):
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    [item] = iter_sources([bad], settings)
    assert isinstance(item, Rejection) and "zip" in item.reasons[0]


# -- formats -------------------------------------------------------------------------------------

EDM_HEAD = (b'<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            b'xmlns:edm="http://www.europeana.eu/schemas/edm/"><edm:ProvidedCHO rdf:about="x"/></rdf:RDF>')


@pytest.mark.parametrize("name, data, expected", [
    ("a.nt", b"<http://e/a> <http://e/p> <http://e/o> .", "ntriples"),
    ("a.nq", b"<http://e/a> <http://e/p> <http://e/o> <http://e/g> .", "nquads"),
    ("a.ttl", b"@prefix e: <http://e/> . e:a e:p e:o .", "turtle"),
    ("a.trig", b"<http://e/g> { <http://e/a> <http://e/p> <http://e/o> }", "trig"),
    ("a.xml", EDM_HEAD, "edm"),
    ("zip.zip!dir/a.xml", EDM_HEAD, "edm"),
    ("a.rdf", b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', "rdfxml"),
    ("a.xml", b"<lido:lido xmlns:lido='http://www.lido-schema.org'/>", None),
    ("a.jsonld", b'{"@id": "http://e/a", "http://e/p": "x"}', "jsonld"),
    ("a.json", b'{"@context": "https://linked.art/ns/v1/linked-art.json", "id": "x"}', "linked-art"),
    ("a.json", b'{"type": "object", "properties": {}}', None),
    ("tate.mapping.toml", b"[source]\n", "mapping"),
    ("query.rq", b"PREFIX e: <http://e/> SELECT * WHERE { ?s ?p ?o }", None),
    ("schema.xsd", b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
                   b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', None),
    ("noext", b"@prefix e: <http://e/> .\ne:a e:p e:o .", "turtle"),
    ("noext", b"<http://e/a> <http://e/p> <http://e/o> .\n", "ntriples"),
    ("noext", b"<http://e/a> <http://e/p> <http://e/o> <http://e/g> .\n", "nquads"),
    ("image.jpg", b"\xff\xd8\xff\xe0", None),
])
def test_detect_format(name, data, expected):
    assert detect_format(Source(name, data)) == expected


def test_every_real_edm_record_is_detected_as_edm(data_dir, settings):
    sources = [s for s in iter_sources([data_dir / EDM_RECORDS], settings)]
    assert len(sources) == 19 + 1506
    assert {detect_format(s) for s in sources} == {"edm"}
    assert detect_format(Source("edm.owl", (data_dir / "europeana-edm/ontology/edm.owl").read_bytes())) == "rdfxml"


def test_default_dataset():
    assert default_dataset("/data/Tate Gallery/a.ttl") == "tate-gallery"
    assert default_dataset("x/test_batch.zip!Item_1.xml") == "test-batch"
    assert default_dataset("lonely.nt") == "lonely"
