"""Browsing the objects by type, material, maker and century, and the home page's entry points.

``/browse`` lists the facets, ``/browse/{facet}`` their values with counts, ``/browse/{facet}?value=…``
the objects with that value, a page at a time. Counts and object lists come from named queries
(``kg/queries/page_facet_*.rq``, ``page_objects_*.rq``) and are kept until the store changes.
"""

from __future__ import annotations

import threading
from urllib.parse import urlencode

import pyoxigraph as ox
from flask import current_app, render_template, request

from kg.queries import named_query
from ontology.namespaces import CRM, EDM, SKOS, XSD
from web import conditional
from web.pages import describer, languages, page_path

#: facet name → (heading, what a value is)
FACETS = {
    "type": ("Type", "iri"),
    "material": ("Material", "iri"),
    "maker": ("Maker", "iri"),
    "century": ("Century", "century"),
}
PAGE_SIZE = 20
VALUES_SHOWN = 200
_lock = threading.Lock()


def _cached(key, compute):
    store = current_app.extensions["mouseion.store"]
    cache = current_app.extensions.setdefault("mouseion.browse-cache", {})
    with _lock:
        if cache.get("generation") != store.generation or len(cache) > 512:
            cache.clear()
            cache["generation"] = store.generation
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def century_label(value: str) -> str:
    """``19`` → ``19th century``.

    >>> [century_label(v) for v in ("1", "2", "3", "11", "21", "-2")]
    ['1st century', '2nd century', '3rd century', '11th century', '21st century', '2nd century BCE']
    """
    n = int(value)
    bce = n <= 0
    n = abs(n) if n < 0 else n if n > 0 else 1
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix} century" + (" BCE" if bce else "")


def _value_label(facet: str, value: str, langs) -> str:
    return century_label(value) if facet == "century" else describer().labels.label(value, langs)


@conditional.revalidated("Accept-Language")
def browse_index():
    """``GET /browse``: each facet with its most used values."""
    langs = languages()
    facets = []
    for name, (heading, _) in FACETS.items():
        values = _cached(("values", name), lambda n=name: describer().facet_values(n))
        facets.append((name, heading, len(values),
                       [(_value_href(name, v), _value_label(name, v, langs), n) for v, n in values[:8]]))
    return render_template("browse.html", facets=facets)


@conditional.revalidated("Accept-Language")
def browse_facet(facet: str):
    """``GET /browse/{facet}`` and ``GET /browse/{facet}?value=…&page=N``."""
    if facet not in FACETS:
        return _bad(f"there is no facet {facet!r}; facets: {', '.join(FACETS)}", 404)
    heading, kind = FACETS[facet]
    langs = languages()
    raw = request.args.get("value")
    if raw is None:
        values = _cached(("values", facet), lambda: describer().facet_values(facet))
        rows = [(_value_href(facet, v), _value_label(facet, v, langs), n) for v, n in values[:VALUES_SHOWN]]
        return render_template("browse_facet.html", facet=facet, heading=heading, rows=rows, total=len(values),
                               shown=len(rows))
    term = _term(kind, raw)
    if term is None:
        what = "a century number such as 19" if kind == "century" else "an IRI"
        return _bad(f"parameter value={raw!r} of facet {facet} is not {what}", 400)
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        return _bad(f"parameter page={request.args.get('page')!r} is not a whole number", 400)
    objects = _cached(("objects", facet, raw), lambda: describer().facet_objects(facet, term))
    pages = max(1, -(-len(objects) // PAGE_SIZE))
    page = min(page, pages)
    chosen = objects[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    items = [(page_path(o), describer().labels.label(o, langs)) for o in chosen]

    def page_href(n: int) -> str:
        return f"/browse/{facet}?" + urlencode({"value": raw, "page": n})

    return render_template("browse_objects.html", facet=facet, heading=heading,
                           value_label=_value_label(facet, raw, langs),
                           value_href=None if kind == "century" else page_path(raw), items=items,
                           count=len(objects), page=page, pages=pages, first=(page - 1) * PAGE_SIZE + 1,
                           prev_href=page_href(page - 1) if page > 1 else None,
                           next_href=page_href(page + 1) if page < pages else None)


def _term(kind: str, raw: str):
    if kind == "century":
        try:
            return ox.Literal(str(int(raw)), datatype=XSD.integer)
        except ValueError:
            return None
    try:
        return ox.NamedNode(raw) if ":" in raw else None
    except ValueError:
        return None


def _value_href(facet: str, value: str) -> str:
    return f"/browse/{facet}?" + urlencode({"value": value})


def _bad(message: str, status: int):
    return render_template("not_found.html", what=message, message=message, suggestions=[]), status


# ------------------------------------------------------------------------------------ home


#: the classes the home page counts, with what it calls them ("1,506 objects")
HOME_COUNTS = [
    (CRM["E22_Human-Made_Object"].value, "objects"),
    (CRM.E21_Person.value, "people"),
    (CRM.E74_Group.value, "groups"),
    (CRM.E53_Place.value, "places"),
    (SKOS.Concept.value, "concepts"),
    (EDM.ProvidedCHO.value, "EDM provided objects"),
]


def home_context() -> dict:
    """What the home page shows beside the store's statistics: counts by kind (in the reader's language),
    entry points, a few objects."""
    store = current_app.extensions["mouseion.store"]
    langs = languages()
    stats = _cached(("stats",), store.stats)
    counts = [(heading, stats["classes"].get(iri, 0)) for iri, heading in HOME_COUNTS
              if stats["classes"].get(iri, 0)]
    start = _cached(("start",), lambda: [row["object"].value for row in store.query(named_query("page_home"))])
    objects = [(page_path(o), describer().labels.label(o, langs)) for o in start]
    facets = [(f"/browse/{name}", heading) for name, (heading, _) in FACETS.items()]
    class_label = describer().labels.class_label
    classes = [(class_label(iri, langs), n) for iri, n in sorted(stats["classes"].items(), key=lambda kv: -kv[1])]
    return {"stats": stats, "counts": counts, "classes": classes, "start_objects": objects, "facets": facets}
