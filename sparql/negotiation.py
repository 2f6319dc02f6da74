"""Content negotiation: the one function that chooses an output format from a declared list.

``choose`` reads HTTP ``Accept`` (RFC 9110 §12.5.1: q-values, ``type/*`` and ``*/*`` wildcards,
``q=0`` to refuse a type, the most specific range deciding an offer's weight) unless the client named
a format outright — a file suffix, or the ``format`` / ``output`` parameter that SPARQLWrapper, YASGUI
and Virtuoso-minded clients send — which then wins over ``Accept``.

>>> choose(RESULTS, "text/csv;q=0.5, application/sparql-results+xml").media_type
'application/sparql-results+xml'
>>> choose(RESULTS, "*/*;q=0.1, text/*").media_type
'text/csv'
>>> choose(GRAPHS, "application/json").media_type
'application/ld+json'
>>> choose(GRAPHS, "text/turtle", requested=["nt"]).media_type
'application/n-triples'
>>> choose(RESULTS, "text/csv;q=0, text/*").media_type
'text/tab-separated-values'
>>> choose(RESULTS, "image/png")
Traceback (most recent call last):
...
sparql.negotiation.NotAcceptable: none of the offered formats is acceptable
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import pyoxigraph as ox


@dataclass(frozen=True)
class Format:
    """One output format: its media type, the short names clients use for it, and other media types
    clients send when they mean it (``application/json`` for SPARQL JSON results)."""

    media_type: str
    names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    #: the W3C format IRI (http://www.w3.org/ns/formats/), for service descriptions
    iri: str | None = None

    @property
    def rdf_format(self) -> ox.RdfFormat:
        return ox.RdfFormat.from_media_type(self.media_type)

    def known_as(self, name: str) -> bool:
        name = name.strip().lower()
        return name in self.names or name == self.media_type or name in self.aliases


_W3C = "http://www.w3.org/ns/formats/"

SPARQL_JSON = Format("application/sparql-results+json", ("json", "srj"),
                     ("application/json", "text/javascript", "application/javascript"), _W3C + "SPARQL_Results_JSON")
SPARQL_XML = Format("application/sparql-results+xml", ("xml", "srx"), ("application/xml", "text/xml"),
                    _W3C + "SPARQL_Results_XML")
CSV = Format("text/csv", ("csv",), (), _W3C + "SPARQL_Results_CSV")
TSV = Format("text/tab-separated-values", ("tsv",), (), _W3C + "SPARQL_Results_TSV")

TURTLE = Format("text/turtle", ("turtle", "ttl", "n3"), ("application/x-turtle", "application/turtle", "text/n3",
                                                        "text/rdf+n3"), _W3C + "Turtle")
N_TRIPLES = Format("application/n-triples", ("nt", "ntriples", "n-triples"), (), _W3C + "N-Triples")
RDF_XML = Format("application/rdf+xml", ("rdf", "rdfxml", "rdf+xml", "xml", "owl"), ("application/xml", "text/xml"),
                 _W3C + "RDF_XML")
JSON_LD = Format("application/ld+json", ("jsonld", "json-ld", "json"), ("application/json", "application/x-json+ld"),
                 _W3C + "JSON-LD")
HTML = Format("text/html", ("html",), ("application/xhtml+xml",))

PLAIN = Format("text/plain", ("txt", "text"))
JSON = Format("application/json", ("json",), ("application/problem+json",))

#: SELECT and ASK results, the first being the default
RESULTS: tuple[Format, ...] = (SPARQL_JSON, SPARQL_XML, CSV, TSV)
#: CONSTRUCT and DESCRIBE results; also what the Graph Store Protocol serves
GRAPHS: tuple[Format, ...] = (TURTLE, N_TRIPLES, RDF_XML, JSON_LD)
#: request bodies the Graph Store Protocol reads
GRAPH_INPUTS: tuple[Format, ...] = GRAPHS
#: service description and VoID; HTML (a person in a browser) gets the query page
DESCRIPTIONS: tuple[Format, ...] = (TURTLE, JSON_LD, RDF_XML, N_TRIPLES, HTML)
#: protocol errors and update reports
MESSAGES: tuple[Format, ...] = (PLAIN, JSON)


class NotAcceptable(Exception):
    """No declared format satisfies the request; ``offers`` says what would have."""

    def __init__(self, offers: Sequence[Format], message: str = "none of the offered formats is acceptable") -> None:
        super().__init__(message)
        self.offers = tuple(offers)


@dataclass(frozen=True)
class MediaRange:
    type: str
    subtype: str
    q: float

    @property
    def specificity(self) -> int:
        """2 for ``type/subtype``, 1 for ``type/*``, 0 for ``*/*``."""
        return 0 if self.type == "*" else 1 if self.subtype == "*" else 2

    def matches(self, media_type: str) -> bool:
        kind, _, sub = media_type.partition("/")
        return self.type in ("*", kind) and self.subtype in ("*", sub)


def parse_accept(header: str | None) -> list[MediaRange]:
    """The media ranges of an ``Accept`` header; malformed entries are skipped, not fatal.

    Parameters other than ``q`` are ignored (``charset`` on a result type means nothing to us), and so
    is anything after ``q`` (accept-extensions).

    >>> [(r.type, r.subtype, r.q) for r in parse_accept("text/*;q=0.3, application/json;charset=utf-8, bad")]
    [('text', '*', 0.3), ('application', 'json', 1.0)]
    """
    ranges = []
    for item in (header or "").split(","):
        media, *params = [part.strip() for part in item.split(";")]
        kind, slash, sub = media.lower().partition("/")
        if not slash or not kind or not sub or (kind == "*" and sub != "*"):
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
                break
        if 0.0 <= q <= 1.0:
            ranges.append(MediaRange(kind, sub, q))
    return ranges


def _weight(offer: Format, ranges: Sequence[MediaRange]) -> tuple[float, int]:
    """(q, specificity) of the most specific range matching the offer; an alias counts only when named
    exactly (``text/*`` must not reach JSON results through ``text/javascript``)."""
    best: MediaRange | None = None
    for media_range in ranges:
        if media_range.matches(offer.media_type) or (
                media_range.specificity == 2 and f"{media_range.type}/{media_range.subtype}" in offer.aliases):
            if best is None or media_range.specificity > best.specificity:
                best = media_range
    return (best.q, best.specificity) if best is not None else (0.0, -1)


def choose(offers: Sequence[Format], accept: str | None, requested: Iterable[str] = ()) -> Format:
    """The format to answer with.

    ``requested`` holds what the client named outright (a file suffix, ``?format=``): the first name or
    media type that is one of ``offers`` wins over ``Accept``; if names were given and none is offered,
    the request is not acceptable. Otherwise the offer with the highest q wins; among equal q, one the
    client named more specifically (``text/csv`` beats ``*/*``), then the order of ``offers``. No ``Accept``
    (or none that can be read) means the first offer.
    """
    names = [n for n in requested if n and n.strip()]
    if names:
        for name in names:
            for offer in offers:
                if offer.known_as(name):
                    return offer
        raise NotAcceptable(offers, f"format {', '.join(repr(n) for n in names)} is not offered here")
    ranges = parse_accept(accept)
    if not ranges:  # absent, or nothing readable in it: RFC 9110 lets us ignore it
        return offers[0]
    best, best_key = None, (0.0, -1, 0)
    for position, offer in enumerate(offers):
        q, specificity = _weight(offer, ranges)
        key = (q, specificity, -position)
        if q > 0 and (best is None or key > best_key):
            best, best_key = offer, key
    if best is None:
        raise NotAcceptable(offers)
    return best


def accepts(accept: str | None, media_type: str) -> bool:
    """Whether ``Accept`` lets ``media_type`` through (no header: everything does)."""
    ranges = parse_accept(accept)
    return not ranges or _weight(Format(media_type), ranges)[0] > 0
