"""Dereferencing: ``/id/{kind}/{key}`` answers ``303 See Other`` to the page or to the data.

- A browser (``Accept: text/html``) goes to ``/page/{kind}/{key}``; an RDF client to
  ``/data/{kind}/{key}.{ttl,nt,jsonld,rdf}``, the format chosen by ``Accept`` (q-values honoured, by
  ``sparql.negotiation.choose``, the one function that chooses formats). A suffix on the IRI
  (``/id/object/x.ttl``) wins over ``Accept``.
- Every answer carries ``Link: <…>; rel="describedby"`` for each data format.
- ``/data/…`` serves the resource's bounded description (its statements, its blank nodes and
  ``#fragment`` children; accepted machine statements only). JSON-LD may be asked for in the Linked
  Art profile (``Accept-Profile: <https://linked.art/ns/v1/linked-art.json>``, or ``?profile=linked-art``),
  compacted with the context shipped in ``kg/contexts``.
- Foreign URIs (e.g. ``http://data.europeana.eu/item/…``) are served at ``/data?uri=…&format=ttl``.
"""

from __future__ import annotations

import json

import pyoxigraph as ox
from flask import Response, redirect, request

from kg.contexts import LINKED_ART
from ontology.namespaces import prefix_map
from sparql.negotiation import GRAPHS, HTML, JSON_LD, N_TRIPLES, RDF_XML, TURTLE, NotAcceptable, choose
from web import conditional
from web.pages import base, describedby_links, describer, not_found
from web.pages_linkedart import linked_art

#: file suffix → format, for /data and for suffixed /id IRIs
SUFFIXES = {"ttl": TURTLE, "nt": N_TRIPLES, "jsonld": JSON_LD, "rdf": RDF_XML}
OFFERS = (HTML, *GRAPHS)
PROFILES = {"linked-art", LINKED_ART, "http://linked.art/ns/v1/linked-art.json"}


def _split_suffix(key: str) -> tuple[str, str | None]:
    stem, dot, suffix = key.rpartition(".")
    if dot and (suffix in SUFFIXES or suffix == "html"):
        return stem, suffix
    return key, None


def identify(kind: str, key: str):
    """``GET /id/{kind}/{key}``: 303 to the page or the data; 404 (with near matches) if unknown."""
    iri = f"{base()}id/{kind}/{key}"
    suffix = None
    if not describer().exists(iri):
        key, suffix = _split_suffix(key)
        iri = f"{base()}id/{kind}/{key}"
        if suffix is None or not describer().exists(iri):
            return not_found(iri, kind, key)
    if suffix == "html":
        chosen = HTML
    elif suffix is not None:
        chosen = SUFFIXES[suffix]
    else:
        try:
            chosen = choose(OFFERS, request.headers.get("Accept") or "text/html")
        except NotAcceptable:
            return _not_acceptable()
    if chosen is HTML:
        target = f"/page/{kind}/{key}"
    else:
        target = f"/data/{kind}/{key}.{_suffix_of(chosen)}"
    response = redirect(target, 303)
    response.headers["Link"] = describedby_links(iri)
    response.headers["Vary"] = "Accept"
    return response


@conditional.revalidated("Accept", "Accept-Profile")
def data(kind: str, key: str):
    """``GET /data/{kind}/{key}[.suffix]``."""
    stem, suffix = _split_suffix(key)
    iri = f"{base()}id/{kind}/{stem}"
    if suffix is None and describer().exists(f"{base()}id/{kind}/{key}"):
        iri = f"{base()}id/{kind}/{key}"
    if suffix == "html":
        return redirect(f"/page/{kind}/{stem}", 303)
    return _serve(iri, suffix, lambda: not_found(iri, kind, stem))


@conditional.revalidated("Accept", "Accept-Profile")
def foreign_data():
    """``GET /data?uri=…[&format=ttl]``."""
    uri = (request.args.get("uri") or "").strip()
    if not uri:
        return _plain("name the resource: /data?uri=IRI[&format=ttl|nt|jsonld|rdf]", 400)
    suffix = request.args.get("format")
    if suffix is not None and suffix not in SUFFIXES:
        return _plain(f"format={suffix} is not one of {', '.join(SUFFIXES)}", 400)
    return _serve(uri, suffix, lambda: _plain(f"nothing is known about <{uri}>", 404))


def _serve(iri: str, suffix: str | None, missing):
    triples = describer().triples(iri)
    if not triples:
        return missing()
    if suffix is not None:
        chosen = SUFFIXES[suffix]
    else:
        try:
            chosen = choose(GRAPHS, request.headers.get("Accept") or "text/turtle")
        except NotAcceptable:
            return _not_acceptable()
    headers = {"Link": describedby_links(iri), "Access-Control-Allow-Origin": "*"}
    if chosen is JSON_LD and _wants_linked_art():
        document = linked_art(iri, triples, describer())
        headers["Content-Profile"] = f"<{LINKED_ART}>"
        return Response(json.dumps(document, indent=2, ensure_ascii=False), 200, headers,
                        content_type=f'application/ld+json; profile="{LINKED_ART}"')
    options = {}
    if chosen is not N_TRIPLES:
        used = {t.value for tr in triples for t in (tr.subject, tr.predicate, tr.object) if isinstance(t, ox.NamedNode)}
        options["prefixes"] = {name: ns for name, ns in prefix_map().items() if any(u.startswith(ns) for u in used)}
    body = ox.serialize(triples, format=chosen.rdf_format, **options)
    media = chosen.media_type + ("; charset=utf-8" if chosen in (TURTLE, N_TRIPLES) else "")
    return Response(body, 200, headers, content_type=media)


def _wants_linked_art() -> bool:
    asked = request.args.get("profile") or ""
    profile_header = request.headers.get("Accept-Profile") or ""
    wanted = {asked.strip()} | {part.strip().strip("<>").split(";")[0].strip().strip("<>")
                                for part in profile_header.split(",")}
    return bool(wanted & PROFILES)


def _suffix_of(chosen) -> str:
    return next(suffix for suffix, f in SUFFIXES.items() if f is chosen)


def _not_acceptable():
    offered = ", ".join(f.media_type for f in OFFERS)
    return _plain(f"none of the offered formats is acceptable; offered: {offered}", 406)


def _plain(message: str, status: int):
    return Response(message + "\n", status, content_type="text/plain; charset=utf-8")

