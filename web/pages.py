"""Linked-data pages for people: ``/page/{kind}/{key}`` and ``/page?uri=…`` (foreign URIs).

The view asks ``kg.describe`` for a ``Description`` of the resource and turns it into what a
catalogue shows: the title, images, the production told as a sentence ("Made by …, 1830–1841, in …"),
materials, types, dimensions, statements in words (a material statement, a credit line), identifiers
and subjects, then every statement (blank-node and ``#fragment`` structures inline), then "what links
here" grouped by property with counts and paging.
Machine-made statements carry a badge (confidence, model, review state) and their explanation in a
``<details>``. Labels follow ``Accept-Language``. Unknown URIs get a 404 page with the nearest keys.
"""

from __future__ import annotations

import difflib
import threading
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from flask import current_app, g, redirect, render_template, request

from kg.describe import Description, Describer, Node, Value, language_preference
from ontology.namespaces import CRM, DC, DCTERMS, EDM, SKOS
from web import conditional
from web.pages_html import Renderer

#: (property, verb) of the events a page tells as sentences, in reading order
EVENT_SENTENCES = [
    (CRM.P108i_was_produced_by.value, "Made"),
    (CRM.P98i_was_born.value, "Born"),
    (CRM.P95i_was_formed_by.value, "Formed"),
    (CRM.P100i_died_in.value, "Died"),
    (CRM.P99i_was_dissolved_by.value, "Dissolved"),
]
#: the catalogue's fields: (heading, properties), for values that are links or plain text
CATALOGUE = [
    ("Types", (CRM.P2_has_type.value, DC.type.value, EDM.hasType.value)),
    ("Materials", (CRM.P45_consists_of.value, DCTERMS.medium.value)),
    ("Subjects", (CRM.P62_depicts.value, DC.subject.value, CRM.P129_is_about.value)),
    ("Creator", (DC.creator.value,)),
    ("Date", (DC.date.value, DCTERMS.created.value)),
    ("Description", (DC.description.value,)),
    ("Broader", (SKOS.broader.value,)),
    ("Narrower", (SKOS.narrower.value,)),
    ("In scheme", (SKOS.inScheme.value,)),
    ("Same as", (SKOS.exactMatch.value,)),
]
KIND_NAMES = {"object": "Object", "person": "Person", "group": "Group", "place": "Place",
              "concept": "Concept", "time-span": "Time-span", "event": "Event", "thing": "Resource"}
DATA_FORMATS = [("ttl", "Turtle", "text/turtle"), ("nt", "N-Triples", "application/n-triples"),
                ("jsonld", "JSON-LD", "application/ld+json"), ("rdf", "RDF/XML", "application/rdf+xml")]


@dataclass
class Event:
    verb: str
    agents: list[Value] = field(default_factory=list)
    after: list[Value] = field(default_factory=list)
    when: str = ""
    places: list[Value] = field(default_factory=list)


@dataclass
class Catalogue:
    """What the top of a page shows, in the order a catalogue entry reads."""

    events: list[Event]
    fields: list[tuple[str, list[Value]]]
    dimensions: list[str]
    statements: list[tuple[str, Value]]  # (kind, text): "material statement", "credit line"
    identifiers: list[tuple[str, str]]


def describer() -> Describer:
    return current_app.extensions["mouseion.describer"]


def base() -> str:
    return current_app.extensions["mouseion.store"].uris.base


def languages() -> list[str]:
    return language_preference(request.headers.get("Accept-Language"))


# ------------------------------------------------------------------------------------ URLs


def page_path(iri: str) -> str:
    """Where a person reads about ``iri``: ``/page/{kind}/{key}`` for ours, ``/page?uri=`` for foreign
    IRIs the store knows, the IRI itself otherwise (a Getty term, a web page)."""
    return hrefs()(iri)


def hrefs():
    """``page_path`` for this application, with what it needs looked up once (pages call it hundreds of times)."""
    prefix = base() + "id/"
    cut = len(prefix)
    known = describer().labels.known

    def href(iri: str) -> str:
        if iri.startswith(prefix):
            return "/page/" + iri[cut:]
        if known(iri):
            return "/page?" + urlencode({"uri": iri})
        return iri
    return href


def data_path(iri: str, suffix: str) -> str:
    prefix = base() + "id/"
    if iri.startswith(prefix) and "#" not in iri:
        return f"/data/{iri[len(prefix):]}.{suffix}"
    return "/data?" + urlencode({"uri": iri, "format": suffix})


def sparql_link(iri: str) -> str:
    """``/sparql?query=…``: every statement about the resource, with its graph."""
    query = (f"SELECT ?property ?value ?graph WHERE {{\n  GRAPH ?graph {{ <{iri}> ?property ?value }}\n}}\n"
             f"ORDER BY ?graph ?property")
    return "/sparql?" + urlencode({"query": query})


def describedby_links(iri: str) -> str:
    return ", ".join(f'<{data_path(iri, suffix)}>; rel="describedby"; type="{media}"'
                     for suffix, _label, media in DATA_FORMATS)


# ------------------------------------------------------------------------------------ catalogue


def timespan_text(node: Node | None) -> str:
    """``c.1830–41`` as the source wrote it, else the years of its begin and end."""
    if node is None:
        return ""
    if node.label:
        return node.label
    begins = [v.text[:4] for v in node.get(CRM.P82a_begin_of_the_begin.value, CRM.P82_at_some_time_within.value,
                                           EDM.begin.value) if v.text]
    ends = [v.text[:4] for v in node.get(CRM.P82b_end_of_the_end.value, EDM.end.value) if v.text]
    begin, end = (begins or [""])[0], (ends or [""])[0]
    return begin if begin == end or not end else end if not begin else f"{begin}–{end}"


def catalogue(d: Description) -> Catalogue:
    events = []
    for prop, verb in EVENT_SENTENCES:
        for value in d.get(prop):
            node = value.node
            if node is None:
                continue
            spans = node.get(CRM["P4_has_time-span"].value)
            events.append(Event(verb, agents=node.get(CRM.P14_carried_out_by.value),
                                after=node.get(CRM.P15_was_influenced_by.value),
                                when=timespan_text(spans[0].node) if spans else "",
                                places=node.get(CRM.P7_took_place_at.value)))
    fields = [(heading, d.get(*props)) for heading, props in CATALOGUE]
    if d.kind == "time-span":
        fields.insert(0, ("Time", [Value(text=timespan_text(d))]))
    dimensions = []
    for value in d.get(CRM.P43_has_dimension.value):
        if value.node is not None:
            kind = value.node.first(CRM.P2_has_type.value)
            number = value.node.first(CRM.P90_has_value.value)
            unit = value.node.first(CRM.P91_has_unit.value)
            dimensions.append(" ".join(part for part in (kind.label if kind else "", number.text if number else "",
                                                         unit.label if unit else "") if part))
    # Linked Art's statements: texts the resource (or its acquisition: the credit line) is referred to by
    acquisitions = [v.node for v in d.get(CRM.P24i_changed_ownership_through.value) if v.node is not None]
    referring = [v for holder in (d, *acquisitions) for v in holder.get(CRM.P67i_is_referred_to_by.value)]
    statements = typed_texts(referring, "statement")
    identifiers = [(kind, content.text) for kind, content in typed_texts(d.get(CRM.P1_is_identified_by.value), "name")]
    return Catalogue(events, [(h, v) for h, v in fields if v], [x for x in dimensions if x], statements,
                     identifiers)


def typed_texts(values: list[Value], untyped: str) -> list[tuple[str, Value]]:
    """(kind, text) of the structures among ``values`` that have a text (``P190``): an identifier, a
    statement; the kind is the label of their ``P2_has_type``, else ``untyped``."""
    out = []
    for value in values:
        node = value.node
        content = node.first(CRM.P190_has_symbolic_content.value) if node is not None else None
        if content is not None and content.text:
            kind = node.first(CRM.P2_has_type.value)
            out.append((kind.label if kind else untyped, content))
    return out


def schema_org(d: Description, cat: Catalogue) -> dict:
    """The schema.org description embedded in the page (search engines read it)."""
    kinds = {"object": "VisualArtwork", "person": "Person", "group": "Organization", "place": "Place",
             "concept": "DefinedTerm", "time-span": "Thing", "event": "Event", "thing": "Thing"}
    data: dict = {"@context": "https://schema.org", "@type": kinds[d.kind], "@id": d.iri, "name": d.label}
    made = [e for e in cat.events if e.verb == "Made"]
    if made:
        data["creator"] = [{"@type": "Person", "@id": a.iri, "name": a.label} for e in made for a in e.agents if a.iri]
        if made[0].when:
            data["dateCreated"] = made[0].when
    for event, key in (("Born", "birthDate"), ("Died", "deathDate")):
        found = [e for e in cat.events if e.verb == event]
        if found and found[0].when:
            data[key] = found[0].when
        if found and found[0].places:
            data["birthPlace" if event == "Born" else "deathPlace"] = found[0].places[0].label
    fields = dict(cat.fields)
    if "Materials" in fields:
        data["material"] = [v.label or v.text for v in fields["Materials"]]
    if d.images:
        data["image"] = d.images
    if cat.identifiers:
        data["identifier"] = [text for kind, text in cat.identifiers if kind != "primary name"]
    return data


# ------------------------------------------------------------------------------------ views


def _embeddings_stamp():
    """The version of the image embeddings an object page's "Similar objects" come from (None before
    any clip-tagging run), looked up once per request: the page's tag and its list agree."""
    if "embeddings_stamp" not in g:
        from enrichment.clip_tagging import image_index_stamp
        g.embeddings_stamp = image_index_stamp(current_app.extensions["mouseion.store"],
                                               current_app.extensions["mouseion.settings"])
    return g.embeddings_stamp


@conditional.revalidated("Accept-Language", depends=_embeddings_stamp)
def resource_page(kind: str, key: str):
    """``GET /page/{kind}/{key}``."""
    return _render(f"{base()}id/{kind}/{key}", kind=kind, key=key)


@conditional.revalidated("Accept-Language", depends=_embeddings_stamp)
def foreign_page():
    """``GET /page?uri=…``: a resource under a foreign URI (e.g. an EDM record's CHO)."""
    uri = (request.args.get("uri") or "").strip()
    if not uri:
        return render_template("not_found.html", what="a resource", message="Name the resource: /page?uri=IRI.",
                               suggestions=[]), 400
    prefix = base() + "id/"
    if uri.startswith(prefix) and "#" not in uri:
        return redirect("/page/" + uri[len(prefix):], 301)
    return _render(uri)


def _render(iri: str, kind: str | None = None, key: str | None = None):
    langs = languages()
    via = request.args.get("via")
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 1
    d = describer().describe(iri, langs, {via: page} if via else None)
    if d is None:
        return not_found(iri, kind, key)
    cat = catalogue(d)
    response = current_app.make_response(render_template(
        "resource.html", d=d, cat=cat, kind_name=KIND_NAMES.get(d.kind, "Resource"),
        similar=similar_objects_of(iri, langs) if d.kind == "object" and _embeddings_stamp() else [],
        schema=schema_org(d, cat), r=Renderer(hrefs()),
        data_links=[(data_path(iri, suffix), label, media) for suffix, label, media in DATA_FORMATS],
        sparql_link=sparql_link(iri), via=via, lang=(langs or ["en"])[0]))
    response.headers["Link"] = describedby_links(iri)
    return response


#: how many look-alikes an object page lists
SIMILAR = 6


def similar_objects_of(iri: str, langs: list[str]) -> list[tuple[str, str, float]]:
    """(href, label, cosine) of the objects whose images look most like this one's, from the image
    embeddings a clip-tagging run keeps; none before such a run (or for an object without an image)."""
    from enrichment.clip_tagging import similar_objects
    from kg.errors import NotFound
    try:
        found = similar_objects(current_app.extensions["mouseion.store"], iri, SIMILAR,
                                settings=current_app.extensions["mouseion.settings"])
    except NotFound:
        return []
    href, label = hrefs(), describer().labels.label
    return [(href(other), label(other, langs), score) for other, score in found]


_keys_lock = threading.Lock()


def near_keys(kind: str, key: str) -> list[str]:
    """Keys of the same kind spelled most like ``key`` (cached until the store changes)."""
    store = current_app.extensions["mouseion.store"]
    cache = current_app.extensions.setdefault("mouseion.page-keys", {})
    with _keys_lock:
        if cache.get("generation") != store.generation:
            cache.clear()
            cache["generation"] = store.generation
        if kind not in cache:
            cache[kind] = describer().kind_keys(kind)
    return difflib.get_close_matches(key, cache[kind], n=5, cutoff=0.6)


def not_found(iri: str, kind: str | None = None, key: str | None = None):
    suggestions = []
    if kind is not None and key is not None:
        suggestions = [(f"/page/{kind}/{quote(k, safe='/:@-._~!$&()*+,;=%')}", f"{kind}/{k}")
                       for k in near_keys(kind, key)]
        if not suggestions and kind not in KIND_NAMES:
            known = difflib.get_close_matches(kind, list(KIND_NAMES), n=1)
            if known:
                suggestions = [(f"/page/{known[0]}/{quote(key)}", f"{known[0]}/{key}")]
    return render_template("not_found.html", what=iri, message=None, suggestions=suggestions), 404

