"""Which reader reads which format: the explicit list, and ``read_source`` that dispatches to it.

Adding a format means a reader with the contract of ``kg.readers`` and a line in ``READERS``
(and, if files should be recognised by themselves, a rule in ``kg.sources.detect_format``).

>>> sorted(READERS) == sorted(FORMATS)
True
>>> from kg.readers import ReadContext, Source
>>> from kg.record import Uris
>>> from kg.settings import Settings
>>> ctx = ReadContext(Uris("http://localhost:8000/"), Settings())
>>> [item.reasons for item in read_source(Source("notes.txt", b"hello"), ctx)]
[['unknown format: not EDM, RDF/XML, Turtle, TriG, N-Triples, N-Quads, JSON-LD, Linked Art or a *.mapping.toml']]
"""

from __future__ import annotations

from typing import Iterator

from kg.readers import Item, ReadContext, Reader, Source, edm, linkedart, rdf
from kg.record import Origin, Rejection
from kg.sources import FORMATS, detect_format


def read_mapped(source: Source, ctx: ReadContext) -> Iterator[Item]:
    """A ``*.mapping.toml`` and the tabular data it maps (``kg.readers.mapped``, imported when used)."""
    from kg.readers.mapped import read  # lazily: that reader brings its own dependencies

    return read(source, ctx)


READERS: dict[str, Reader] = {
    "edm": edm.read,
    "rdfxml": rdf.reader("rdfxml"),
    "turtle": rdf.reader("turtle"),
    "ntriples": rdf.reader("ntriples"),
    "nquads": rdf.reader("nquads"),
    "trig": rdf.reader("trig"),
    "jsonld": rdf.reader("jsonld"),
    "linked-art": linkedart.read,
    "mapping": read_mapped,
}

assert set(READERS) == set(FORMATS), "kg.sources.FORMATS and READERS must list the same formats"


def read_source(source: Source, ctx: ReadContext) -> Iterator[Item]:
    """Every item of one source, read by the reader its format calls for."""
    fmt = detect_format(source)
    if fmt is None:
        yield Rejection(Origin(source.name), ["unknown format: not EDM, RDF/XML, Turtle, TriG, N-Triples, "
                                              "N-Quads, JSON-LD, Linked Art or a *.mapping.toml"])
        return
    yield from READERS[fmt](source, ctx)
