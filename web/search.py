"""Search for people (``/search``, HTML) and programs (``/api/search``, JSON): one adapter over ``kg.search``.

Both take the same parameters (``kg.search.PARAMETERS``) and answer from the same ``SearchResult``; the
page is a plain ``GET`` form and links, so it works without JavaScript. Labels and titles are chosen by
the request's ``Accept-Language``. A bad parameter is a ``400`` naming it: as a page with the form for
people, as ``{"status", "message", "parameter"}`` for programs.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote_plus, urlencode

from flask import current_app, jsonify, render_template, request
from markupsafe import Markup, escape

from kg.search import FACETS, SearchError, SearchIndex, SearchQuery, SearchResult, best_label
from ontology.namespaces import PREFIXES
from web.pages_html import number


def index() -> SearchIndex:
    return current_app.extensions["mouseion.search"]


def languages() -> list[str]:
    """The client's languages, most wanted first (``Accept-Language``), English last as a fallback."""
    wanted = [lang for lang, _q in request.accept_languages if lang != "*"]
    return wanted + ["en"]


def compact(iri: str) -> str:
    """``aat:300133025`` for an IRI under a known prefix: what a facet value without a label shows."""
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace.iri) and len(iri) > len(namespace.iri):
            return f"{prefix}:{iri[len(namespace.iri):]}"
    return iri


def page_link(iri: str) -> str:
    """The page of a thing: ``/page/{kind}/{key}`` for URIs minted here, ``/page?uri=…`` for foreign ones."""
    base = current_app.extensions["mouseion.store"].uris.base
    rest = iri[len(base) + 3:] if iri.startswith(base + "id/") else ""
    root = request.script_root
    if rest and "/" in rest and "#" not in rest and "?" not in rest:
        return f"{root}/page/{rest}"
    return f"{root}/page?{urlencode({'uri': iri})}"


def label(labels: dict[str, str], iri: str, langs: list[str]) -> dict[str, str]:
    chosen = best_label(labels, langs)
    return {"label": chosen[0], "lang": chosen[1]} if chosen else {"label": compact(iri), "lang": ""}


def snippet_parts(snippet: str | None) -> list[dict]:
    """The passage as segments, ``match`` true for the words that matched (rendered as ``<mark>``)."""
    if not snippet:
        return []
    parts = []
    for piece in snippet.split("\x02"):
        matched, _, rest = piece.partition("\x03") if "\x03" in piece else ("", "", piece)
        if matched:
            parts.append({"text": matched, "match": True})
        if rest:
            parts.append({"text": rest.replace("\n", " · "), "match": False})
    return parts


def link(query: SearchQuery, **changes) -> str:
    return f"{request.path}?{urlencode(query.params(**changes))}"


@lru_cache(maxsize=8192)
def _pair(name: str, value: str) -> str:
    """``name=value`` as ``urlencode`` writes it (facet values recur from page to page)."""
    return f"{quote_plus(name)}={quote_plus(value)}"


class FacetLinks:
    """``link(query, filters=...)`` for adding or removing one facet value (a page has dozens of them):
    the query's other parameters are encoded once."""

    def __init__(self, query: SearchQuery) -> None:
        rest = query.params(filters=())
        self.head = urlencode(rest[:1]) if query.text else ""
        self.tail = urlencode(rest[1:] if query.text else rest)
        self.filters = list(query.filters)
        self.path = f"{request.path}?"

    def toggle(self, facet: str, value: str, selected: bool) -> str:
        chosen = [f for f in self.filters if f != (facet, value)] if selected else [*self.filters, (facet, value)]
        parts = (self.head, *(_pair(*f) for f in chosen), self.tail)
        return self.path + "&".join(part for part in parts if part)


def describe(result: SearchResult) -> dict:
    """The one answer shape: the JSON body, and what the page template reads."""
    langs = languages()
    query = result.query
    hierarchy = current_app.extensions["mouseion.store"].hierarchy
    hits = []
    for hit in result.hits:
        title, lang = best_label(hit.titles, langs) or (hit.key, "")
        hits.append({
            "uri": hit.iri, "key": hit.key, "page": page_link(hit.iri), "title": title, "lang": lang,
            "classes": [{"value": c, **label(hierarchy.labels(c), c, langs)} for c in hit.classes],
            "begin": hit.begin, "end": hit.end, "has_image": hit.has_image,
            "has_suggestions": hit.has_suggestions, "snippet": snippet_parts(hit.snippet)})
    facets = {}
    links = FacetLinks(query)
    for facet in FACETS:
        values = []
        for value in result.facets.get(facet.name, []):
            values.append({"value": value.value, **label(value.labels, value.value, langs), "count": value.count,
                           "selected": value.selected, "href": links.toggle(facet.name, value.value, value.selected)})
        facets[facet.name] = {"title": facet.title, "values": values}
    years = [{"from": first, "to": last, "count": n, "href": link(query, **{"from": first, "to": last})}
             for first, last, n in result.years]
    flags = {name: {"yes": count, "no": result.total - count, "href": link(query, **{name: "yes"}),
                    "selected": getattr(query, "has_image" if name == "image" else "has_suggestions")}
             for name, count in result.flags.items()}
    pages = {"page": query.page, "page_size": query.page_size, "pages": result.pages,
             "prev": link(query, page=query.page - 1) if query.page > 1 else None,
             "next": link(query, page=query.page + 1) if query.page < result.pages else None}
    return {"query": {"q": query.text, "filters": [{"facet": f, "value": v} for f, v in query.filters],
                      "from": query.year_from, "to": query.year_to, "image": query.has_image,
                      "suggestions": query.has_suggestions},
            "total": result.total, "order": result.order, **pages, "hits": hits, "facets": facets, "years": years, "flags": flags}


def _lang(lang: str) -> str:
    return f' lang="{escape(lang)}"' if lang else ""


def hit_items(hits: list[dict]) -> Markup:
    """The ``<li>`` of each hit (``describe``'s): a page shows twenty of them and dozens of facet values,
    built here rather than by the template, a third of the time."""
    out = []
    for hit in hits:
        kinds = " · ".join(f'<span class="kind"{_lang(c["lang"])}>{escape(c["label"])}</span>' for c in hit["classes"])
        meta = [kinds]
        if hit["begin"] is not None:
            end = f'–{hit["end"]}' if hit["end"] is not None and hit["end"] != hit["begin"] else ""
            meta.append(f' · <span class="dates">{hit["begin"]}{end}</span>')
        if hit["has_image"]:
            meta.append(' · <span class="flag">image</span>')
        if hit["has_suggestions"]:
            meta.append(' · <span class="flag machine">machine suggestions</span>')
        snippet = ""
        if hit["snippet"]:
            passage = "".join(f"<mark>{escape(part['text'])}</mark>" if part["match"] else str(escape(part["text"]))
                              for part in hit["snippet"])
            snippet = f'\n      <p class="snippet">{passage}</p>'
        out.append(f'\n    <li class="hit">\n      <h3><a href="{escape(hit["page"])}"{_lang(hit["lang"])}>'
                   f'{escape(hit["title"])}</a></h3>\n      <p class="meta">{"".join(meta)}</p>{snippet}\n    </li>')
    return Markup("".join(out))


def facet_items(values: list[dict]) -> Markup:
    """The ``<li>`` of each value of one facet, with its count and the link that adds or removes it."""
    out = []
    for value in values:
        item, current, note = ((' class="chosen"', ' aria-current="true"',
                                '<span class="visually-hidden"> (selected; remove)</span>')
                               if value["selected"] else ("", "", ""))
        out.append(f'\n      <li{item}><a href="{escape(value["href"])}"{current}><span class="label"'
                   f'{_lang(value["lang"])}>{escape(value["label"])}</span> <span class="count">{number(value["count"])}</span>'
                   f'{note}</a></li>')
    return Markup("".join(out))


def _query() -> SearchQuery:
    return SearchQuery.from_params(request.args.to_dict(flat=False))


#: searches by meaning over the embeddings enrichment keeps: ``mode`` → (module, function, the job that
#: makes the embeddings). Words and facets are the index's; these rank by similarity and take no filters.
VECTOR_MODES = {"meaning": ("enrichment.embeddings", "semantic_search", "text-index"),
                "image": ("enrichment.clip_tagging", "text_to_image", "clip-tagging")}
VECTOR_HITS = 20


def _vector_answer(mode: str) -> dict:
    """``mode=meaning`` (titles and descriptions) or ``mode=image`` (what the images show), for ``q``."""
    from importlib import import_module

    from kg.errors import ConfigError, NotFound
    if mode not in VECTOR_MODES:
        raise SearchError("mode", f"mode={mode!r} is not one of words, {', '.join(VECTOR_MODES)}")
    extra = sorted(set(request.args) - {"mode", "q"})
    if extra:
        raise SearchError(extra[0], "a search by meaning takes only q (filters work with words)")
    text = request.args.get("q", "").strip()
    if not text:
        raise SearchError("q", "a search by meaning needs some text")
    module, function, job = VECTOR_MODES[mode]
    store, settings = current_app.extensions["mouseion.store"], current_app.extensions["mouseion.settings"]
    try:
        found = getattr(import_module(module), function)(store, text, VECTOR_HITS, settings=settings)
    except (NotFound, ConfigError) as error:
        raise SearchError("mode", f"not available yet: {error} (`mouseion enrich {job}` makes it)") from None
    labels = current_app.extensions["mouseion.describer"].labels
    langs = languages()
    return {"mode": mode, "q": text, "total": len(found),
            "hits": [{"uri": iri, "page": page_link(iri), "title": labels.label(iri, langs), "score": round(score, 4)}
                     for iri, score in found]}


def search_page():
    """``GET /search``: the form, the hits, the facets; a bad parameter is a 400 page with the form."""
    if request.args.get("mode", "words") != "words":
        try:
            found = _vector_answer(request.args["mode"])
        except SearchError as error:
            return render_template("search_meaning.html", error=str(error), found=None, mode=request.args["mode"],
                                   q=request.args.get("q", "")), 400
        return render_template("search_meaning.html", error=None, found=found, mode=found["mode"], q=found["q"])
    try:
        query = _query()
    except SearchError as error:
        return render_template("search.html", error=str(error), answer=None, query=SearchQuery(),
                               clear=request.path), 400
    answer = describe(index().search(query))
    return render_template("search.html", error=None, answer=answer, query=query, clear=request.path,
                           selected=_selected(answer, query), hit_items=hit_items, facet_items=facet_items)


def _selected(answer: dict, query: SearchQuery) -> list[dict]:
    """The filters in force, each with the link that removes it."""
    chosen = []
    for facet in FACETS:
        for value in answer["facets"][facet.name]["values"]:
            if value["selected"]:
                chosen.append({"what": facet.title, "label": value["label"], "lang": value["lang"], "href": value["href"]})
    if query.year_from is not None or query.year_to is not None:
        span = f"{'' if query.year_from is None else query.year_from}–{'' if query.year_to is None else query.year_to}"
        chosen.append({"what": "Years", "label": span, "lang": "", "href": link(query, **{"from": None, "to": None})})
    for name, what, attribute in (("image", "Image", "has_image"), ("suggestions", "Machine suggestions", "has_suggestions")):
        if getattr(query, attribute) is not None:
            chosen.append({"what": what, "label": "yes" if getattr(query, attribute) else "no", "lang": "",
                           "href": link(query, **{name: None})})
    return chosen


def search_api():
    """``GET /api/search``: the same search as JSON (shape in the README)."""
    try:
        if request.args.get("mode", "words") != "words":
            response = jsonify(_vector_answer(request.args["mode"]))
            response.headers["Access-Control-Allow-Origin"] = "*"
            return response
        query = _query()
    except SearchError as error:
        response = jsonify(status=400, message=str(error), parameter=error.parameter)
        response.status_code = 400
        return response
    response = jsonify(describe(index().search(query)))
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response

