"""Command-line paths → ``Source``s, safely; and which reader a source needs.

``iter_sources`` walks what it is given in a fixed order and yields one ``Source`` per file (or per
member of a zip archive, named ``archive.zip!path/in/zip.xml``) — or a ``Rejection`` for a file that
cannot be read at all: missing, empty, larger than ``max_file_bytes``, a corrupt or hostile archive.

**Streamed files.** A file on disk in a line-based syntax (N-Triples, N-Quads: ``STREAMED_FORMATS``, by
suffix or by its first bytes) is not read into memory: its ``Source`` carries the ``path`` and only the
first bytes as ``data``, and the reader parses it straight from the file (``kg.readers.rdf``), so
memory follows the largest record, not the file. Such files have **no
whole-file limit**: ``max_file_bytes`` does not apply to them; the per-record limits
(``max_record_triples``, ``max_literal_bytes``) do, and a line too long to parse is dropped unread.
Every other file — RDF/XML, Turtle, TriG, JSON-LD, mappings — and every zip member is read whole,
within ``max_file_bytes``.

Directories are walked depth-first, each folder's files (sorted by name) before its subfolders
(sorted), so two runs over the same tree read the same records in the same order. Hidden files and folders (``.name``) and ``__MACOSX`` are skipped, and so
are the data files a ``*.mapping.toml`` of the same walk names (any ``path = "..."`` in it): the
mapping reads them itself, they are not sources of their own.

Zip archives are expanded in memory, never on disk. The guards (settings ``max_archive_members``,
``max_archive_bytes``, ``max_archive_ratio``) are checked twice: first against the sizes the archive
declares, then against the bytes actually inflated, which are read in chunks with a cap so a lying
header cannot make us allocate more than the cap. **A breach rejects the whole archive**: one
``Rejection`` naming the archive, the member and the limit, and nothing from that archive is yielded —
an archive built to exhaust the reader is not trusted for any of its members. To keep that promise
without holding the whole expanded archive in memory, every member is inflated once to check it
(and thrown away) before the first one is yielded; members are inflated a second time when read.
Archives inside archives are not expanded (each is rejected as a member of unknown format).

>>> detect_format(Source("a/b.nt", b"<http://a> <http://b> <http://c> ."))
'ntriples'
>>> detect_format(Source("x.zip!rec/1.xml", b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
...                      b' xmlns:edm="http://www.europeana.eu/schemas/edm/"/>'))
'edm'
>>> detect_format(Source("doc.json", b'{"@context": "https://linked.art/ns/v1/linked-art.json", "id": "x"}'))
'linked-art'
>>> detect_format(Source("notes.txt", b"hello")) is None
True
>>> detect_format(Source("query.rq", b"PREFIX ex: <http://e/> SELECT * { ?s ?p ?o }")) is None
True
>>> default_dataset("data/tate/artworks.ttl"), default_dataset("batch 7.zip!sub/a.xml")
('tate', 'batch-7')
"""

from __future__ import annotations

import io
import os
import re
import tomllib
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterator, Sequence

from kg.readers import Source
from kg.record import Origin, Rejection, Uris, slug
from kg.settings import Settings

#: every format ``detect_format`` can answer; ``kg.readers.registry.READERS`` has a reader for each
FORMATS = ("edm", "rdfxml", "turtle", "ntriples", "nquads", "trig", "jsonld", "linked-art", "mapping")
#: formats read from the file as a stream, a statement per line, with no whole-file limit
STREAMED_FORMATS = ("ntriples", "nquads")

_CHUNK = 1024 * 1024
_SKIPPED_DIRS = {"__MACOSX"}


# --------------------------------------------------------------------------------------------
# paths → sources


def iter_sources(paths: Sequence[str | Path], settings: Settings) -> Iterator[Source | Rejection]:
    """One ``Source`` per readable file or archive member, in a deterministic order."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for file in _walk(path):
                yield from _file_sources(file, settings)
        elif path.exists():
            yield from _file_sources(path, settings)
        else:
            yield _reject(str(path), "no such file or directory")


def _walk(root: Path) -> Iterator[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not _hidden(d))
        found += [Path(folder, name) for name in sorted(files) if not _hidden(name)]
    mapped = {p for f in found if f.name.endswith(".mapping.toml") for p in _mapped_paths(f)}
    yield from (f for f in found if f.resolve() not in mapped)


def _mapped_paths(mapping: Path) -> set[Path]:
    """The files a mapping reads itself: every ``path`` value in it, relative to the mapping."""
    try:
        spec = tomllib.loads(mapping.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return set()  # the mapping reader will say what is wrong with it

    def paths(node) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "path" and isinstance(value, str):
                    yield value
                else:
                    yield from paths(value)
        elif isinstance(node, list):
            for value in node:
                yield from paths(value)

    return {(mapping.parent / p).resolve() for p in paths(spec)}


def _hidden(name: str) -> bool:
    return name.startswith(".") or name in _SKIPPED_DIRS


def _file_sources(path: Path, settings: Settings) -> Iterator[Source | Rejection]:
    name = str(path)
    try:
        size = path.stat().st_size
        if size == 0:
            yield _reject(name, "empty file")
            return
        with open(path, "rb") as stream:
            head = stream.read(_SNIFF)
            streamed = _streamed(name, head)
            if not streamed and size <= settings.max_file_bytes:
                stream.seek(0)
                data = stream.read(size + 1)  # not max_file_bytes: read() allocates what it is asked
                if len(data) > size:  # the file grew since stat(): read on, up to the limit
                    data += stream.read(settings.max_file_bytes + 1 - len(data))
                size = len(data)
        if streamed:
            yield Source(name, head, path)
            return
        if size > settings.max_file_bytes:
            yield _reject(name, f"file of {size} bytes exceeds the limit of {settings.max_file_bytes} bytes "
                                f"(MOUSEION_MAX_FILE_BYTES)")
            return
    except OSError as error:
        yield _reject(name, f"cannot read: {error.strerror or error}")
        return
    if _is_zip(name, data):
        yield from zip_sources(name, data, settings)
    else:
        yield Source(name, data)


def _streamed(name: str, head: bytes) -> bool:
    """Whether a file with these first bytes is read as a stream (see ``STREAMED_FORMATS``)."""
    return not _is_zip(name, head) and detect_format(Source(name, head)) in STREAMED_FORMATS


def _is_zip(name: str, data: bytes) -> bool:
    return name.lower().endswith(".zip") or data[:4] == b"PK\x03\x04"


def _reject(name: str, reason: str) -> Rejection:
    return Rejection(Origin(name), [reason])


# --------------------------------------------------------------------------------------------
# zip archives


class _Breach(Exception):
    """A zip-bomb guard tripped: the whole archive is refused."""


def zip_sources(name: str, data: bytes, settings: Settings) -> Iterator[Source | Rejection]:
    """The members of an in-memory zip archive as sources, after checking the whole archive."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = _members(archive)
        _check_archive(name, archive, members, settings)
    except _Breach as breach:
        yield _reject(name, str(breach))
        return
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError,
            ValueError, OSError) as error:
        yield _reject(name, f"unreadable zip archive: {error}")
        return
    for info in members:
        member = f"{name}!{info.filename}"
        if info.file_size == 0:
            yield _reject(member, "empty file")
            continue
        if info.file_size > settings.max_file_bytes:
            yield _reject(member, f"member of {info.file_size} bytes exceeds the limit of "
                                  f"{settings.max_file_bytes} bytes (MOUSEION_MAX_FILE_BYTES)")
            continue
        try:
            # the archive passed its check, but read with the same cap: the bytes are the same
            content = _inflate(archive, info, info.file_size, keep=True)
        except (_Breach, zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, ValueError,
                OSError) as error:
            yield _reject(member, f"unreadable zip member: {error}")
            continue
        yield Source(member, content)


def _members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Regular members to read, sorted by name; folders, hidden files and ``__MACOSX`` left out."""
    members = []
    for info in archive.infolist():
        parts = PurePosixPath(info.filename).parts
        if info.is_dir() or any(_hidden(p) for p in parts):
            continue
        members.append(info)
    return sorted(members, key=lambda i: i.filename)


def _check_archive(name: str, archive: zipfile.ZipFile, members: list[zipfile.ZipInfo],
                   settings: Settings) -> None:
    """Raise ``_Breach`` when a guard trips, judging declared sizes first, then actual ones."""
    count = len(archive.infolist())
    if count > settings.max_archive_members:
        raise _Breach(f"zip archive has {count} members, more than the limit of "
                      f"{settings.max_archive_members} (MOUSEION_MAX_ARCHIVE_MEMBERS)")
    declared = 0
    for info in members:
        declared += info.file_size
        if declared > settings.max_archive_bytes:
            raise _Breach(_total_message(info, declared, settings, "declares"))
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > settings.max_archive_ratio:
            raise _Breach(_ratio_message(info, info.file_size, settings, "declares"))
    inflated = 0
    for info in members:
        cap = min(max(info.compress_size, 1) * settings.max_archive_ratio,
                  settings.max_archive_bytes - inflated)
        size = _inflate(archive, info, cap, keep=False)
        if size > cap:
            if inflated + size > settings.max_archive_bytes:
                raise _Breach(_total_message(info, inflated + size, settings, "expands to"))
            raise _Breach(_ratio_message(info, size, settings, "expands to"))
        inflated += size


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, *, keep: bool) -> bytes | int:
    """Decompress a member chunk by chunk, stopping as soon as more than ``cap`` bytes came out.

    Returns the bytes (``keep``: over ``cap`` raises ``_Breach``) or only the size, for the caller to
    judge (the chunks are dropped, so checking a bomb allocates at most one chunk).
    """
    chunks, size = [], 0
    with archive.open(info) as stream:
        while size <= cap:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if keep:
                chunks.append(chunk)
    if not keep:
        return size
    if size > cap:
        raise _Breach(f"member expands beyond {cap} bytes")
    return b"".join(chunks)


def _ratio_message(info: zipfile.ZipInfo, size: int, settings: Settings, verb: str) -> str:
    return (f"zip bomb refused: member {info.filename} {verb} {size} bytes from {info.compress_size} "
            f"compressed, an expansion ratio over the limit of {settings.max_archive_ratio} "
            f"(MOUSEION_MAX_ARCHIVE_RATIO); nothing from this archive was read")


def _total_message(info: zipfile.ZipInfo, total: int, settings: Settings, verb: str) -> str:
    return (f"zip bomb refused: at member {info.filename} the archive {verb} {total} bytes, more than "
            f"the limit of {settings.max_archive_bytes} bytes (MOUSEION_MAX_ARCHIVE_BYTES); "
            f"nothing from this archive was read")


# --------------------------------------------------------------------------------------------
# format detection

_SUFFIXES = {
    ".nt": "ntriples", ".ntriples": "ntriples", ".nq": "nquads", ".nquads": "nquads",
    ".ttl": "turtle", ".turtle": "turtle", ".trig": "trig",
}
_RDF_NS = b"http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_EDM_NS = b"http://www.europeana.eu/schemas/edm/"
_LINKED_ART = re.compile(rb'"@context"\s*:\s*(\[[^\]]*)?"https?://linked\.art/ns/v1/linked-art\.json"')
_SNIFF = 64 * 1024
_XML_SUFFIXES = {".xml", ".rdf", ".owl", ".rdfs", ""}
_JSON_SUFFIXES = {".json", ".jsonld", ".jsonl", ""}
_ONTOLOGY = re.compile(rb"<(\w+:)?Ontology[\s>/]")


def member_name(name: str) -> str:
    """The file name inside an archive name (``a.zip!x/y.xml`` → ``x/y.xml``), else the name."""
    return name.rsplit("!", 1)[-1]


def detect_format(source: Source) -> str | None:
    """One of ``FORMATS`` from the file name and the first bytes, or None when unknown.

    A suffix that names an RDF syntax decides; ``.xml``/``.rdf``/``.owl``, ``.json``/``.jsonld``/``.jsonl``
    and files without a suffix are recognised by their content. Anything else (``.xsd``, ``.rq``,
    ``.csv`` ...) is not ours to read, even if it mentions RDF.
    """
    name = member_name(source.name).lower()
    if name.endswith(".mapping.toml"):
        return "mapping"
    suffix = PurePosixPath(name).suffix
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    head = source.data[:_SNIFF].lstrip(b"\xef\xbb\xbf \t\r\n")
    if suffix in _XML_SUFFIXES and head.startswith(b"<") and not _looks_like_ntriples(head):
        if _RDF_NS not in head:
            return None
        # an EDM ontology (edm.owl) declares the namespace too, but holds no records
        return "edm" if _EDM_NS in head and not _ONTOLOGY.search(head) else "rdfxml"
    if suffix in _JSON_SUFFIXES and head.startswith((b"{", b"[")):
        if _LINKED_ART.search(head):
            return "linked-art"
        if suffix != ".jsonl" and (suffix == ".jsonld" or any(k in head for k in (b'"@context"', b'"@id"', b'"@graph"'))):
            return "jsonld"
        return None
    if suffix == "":
        return _sniff_text_rdf(head)
    return None


def _looks_like_ntriples(head: bytes) -> bool:
    return re.match(rb"<[^>\s]*>\s+<", head) is not None


def _sniff_text_rdf(head: bytes) -> str | None:
    """Turtle, TriG, N-Triples or N-Quads by their first statements (for files without a suffix)."""
    if re.search(rb"^\s*(@prefix|@base|PREFIX|BASE)\b", head, re.MULTILINE | re.IGNORECASE):
        return "trig" if re.search(rb"^\s*(GRAPH\s+)?(<[^>]*>|\w*:\w*)\s*\{", head, re.MULTILINE) else "turtle"
    first = next((line for line in head.splitlines() if line.strip() and not line.startswith(b"#")), b"")
    term = rb'(<[^>]*>|_:\S+|"(?:[^"\\]|\\.)*"(?:@[\w-]+|\^\^<[^>]*>)?)'
    if re.fullmatch(rb"\s*" + (term + rb"\s*") * 4 + rb"\.\s*", first):
        return "nquads"
    if re.fullmatch(rb"\s*" + (term + rb"\s*") * 3 + rb"\.\s*", first):
        return "ntriples"
    return None


# --------------------------------------------------------------------------------------------
# datasets


def source_base(uris: Uris, dataset: str) -> str:
    """The base that relative IRIs of a dataset's files resolve against: ``{base}source/{dataset}/``.

    Files that use relative IRIs without ``xml:base`` / ``@base`` (real EDM often does) get IRIs that
    are the same on every load and for every file of the dataset, and cannot collide with another
    dataset's.

    >>> source_base(Uris("http://localhost:8000/"), "Metis Validation")
    'http://localhost:8000/source/metis-validation/'
    """
    return f"{uris.base}source/{slug(dataset)}/"


def default_dataset(name: str) -> str:
    """The dataset a source belongs to when none is given: the archive's stem, else the parent folder.

    A file with no parent folder gives its own stem. Always a slug (see ``kg.record.slug``).
    """
    if "!" in name:
        return slug(PurePosixPath(name.split("!", 1)[0].replace("\\", "/")).stem)
    path = PurePosixPath(name.replace("\\", "/"))
    parent = path.parent.name
    return slug(parent if parent not in ("", ".", "..") else path.stem.split(".")[0])
