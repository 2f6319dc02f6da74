"""The Flask application: ``create_app(store, settings)``, with every route in one table.

Later areas (SPARQL, linked-data pages, OAI-PMH) add their blueprints to ``ROUTES``'s neighbours;
service paths live under the reserved ``/-/`` prefix.
"""

from __future__ import annotations

import atexit
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

from flask import Flask, jsonify, render_template
from flask.templating import Environment

from kg.errors import StoreError
from kg.search import SearchIndex, index_location
from kg.settings import Settings
from kg.store import Store
from web import (conditional, dereference, dumps, enrichment_search, feed, pages, pages_browse, review, runs,
                 search, sparql)
from web.oai import views as oai
from web.pages_html import number


#: names a template's ``x.name`` finds on a dict as attributes (its methods), not as keys
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(Environment):
    """Jinja's, except that ``hit.title`` on a plain dict tries the key first: what Jinja finds anyway,
    without raising and catching an AttributeError on each of the hundreds of lookups a page makes."""

    def getattr(self, obj, attribute):
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


@lru_cache(maxsize=1)
def _version() -> str:
    """The package version, read once (importlib.metadata parses files on every call); every page's
    footer shows it (a Jinja global)."""
    try:
        return version("mouseion")
    except PackageNotFoundError:
        return "dev"


@conditional.revalidated("Accept-Language")
def home():
    return render_template("home.html", **pages_browse.home_context())


def health():
    """For load balancers and monitors: answers in a millisecond (counting is for the home page)."""
    try:
        _store().ping()
    except StoreError as error:
        return jsonify(status="error", version=_version(), error=str(error)), 503
    return jsonify(status="ok", version=_version(), store="readable")


def versions():
    return jsonify(mouseion=_version(), pyoxigraph=version("pyoxigraph"), flask=version("flask"))


#: (rule, endpoint, view, methods) — the one route table.
ROUTES = [
    ("/", "home", home, ["GET"]),
    ("/-/health", "health", health, ["GET"]),
    ("/-/versions", "versions", versions, ["GET"]),
    # SPARQL 1.1 Protocol (query, update, service description), Graph Store HTTP Protocol, VoID
    ("/sparql", "sparql", sparql.sparql_endpoint, sparql.METHODS),
    ("/sparql/graphs", "graph_store", sparql.graph_store, sparql.METHODS),
    ("/.well-known/void", "void", sparql.void, sparql.METHODS),
    # enrichment: runs, review of machine suggestions, searches over stored embeddings
    ("/-/runs", "runs_page", runs.runs_page, ["GET"]),
    ("/-/review", "review_page", review.review_page, ["GET"]),
    ("/-/review/login", "review_login", review.login, ["POST"]),
    ("/-/review/logout", "review_logout", review.logout, ["POST"]),
    ("/-/review/decide", "review_decide", review.decide, ["POST"]),
    ("/-/review/image", "review_image", review.review_image, ["GET"]),
    ("/api/similar", "api_similar", enrichment_search.similar, ["GET"]),
    ("/api/text-to-image", "api_text_to_image", enrichment_search.text_to_image_search, ["GET"]),
    ("/api/semantic-search", "api_semantic_search", enrichment_search.semantic, ["GET"]),
    # OAI-PMH 2.0 for aggregators (edm, oai_dc), GET and POST
    ("/oai", "oai", oai.oai_endpoint, oai.METHODS),
    # bulk: per-dataset N-Quads dumps; the change feed (ActivityStreams 2.0, IIIF Change Discovery)
    ("/dumps/", "dumps", dumps.dumps_index, dumps.METHODS),
    ("/dumps/<name>", "dump", dumps.dataset_dump, dumps.METHODS),
    ("/activity", "activity", feed.activity_collection, ["GET"]),
    ("/activity/page", "activity_page", feed.activity_page, ["GET"]),
    # Linked-data pages: dereferencing, pages for people, data for programs, browsing
    ("/id/<kind>/<path:key>", "identify", dereference.identify, ["GET", "HEAD"]),
    ("/page/<kind>/<path:key>", "page", pages.resource_page, ["GET", "HEAD"]),
    ("/page", "foreign_page", pages.foreign_page, ["GET", "HEAD"]),
    ("/data/<kind>/<path:key>", "data", dereference.data, ["GET", "HEAD"]),
    ("/data", "foreign_data", dereference.foreign_data, ["GET", "HEAD"]),
    ("/browse", "browse", pages_browse.browse_index, ["GET", "HEAD"]),
    ("/browse/<facet>", "browse_facet", pages_browse.browse_facet, ["GET", "HEAD"]),
    # full-text search with facets: a page for people, the same search as JSON
    ("/search", "search", search.search_page, ["GET"]),
    ("/api/search", "search_api", search.search_api, ["GET"]),
]


def _store() -> Store:
    from flask import current_app
    return current_app.extensions["mouseion.store"]


def create_app(store: Store, settings: Settings) -> Flask:
    """The application over ``store``. Its query executor's worker processes live as long as the process,
    or until ``app.extensions["mouseion.executor"].close()``. A store on a SPARQL server (``Store.connect``)
    gets the executor that forwards queries to that server instead."""
    from kg.backends import RemoteBackend
    from kg.describe import Describer
    from sparql.executor import Executor
    from sparql.executor_remote import RemoteExecutor
    from sparql.protocol import Service
    app = Flask(__name__)
    app.jinja_environment = _Environment
    app.extensions["mouseion.store"] = store
    app.extensions["mouseion.settings"] = settings
    app.jinja_env.globals["version"] = _version()
    app.jinja_env.filters["number"] = number
    chosen = RemoteExecutor if isinstance(store.backend, RemoteBackend) else Executor
    executor = chosen(store, workers=settings.query_workers, timeout=settings.query_timeout,
                      row_cap=settings.row_cap)
    atexit.register(executor.close)
    app.extensions["mouseion.executor"] = executor
    app.extensions["mouseion.sparql"] = Service(store, settings, executor)
    app.extensions["mouseion.describer"] = Describer(store)
    app.extensions["mouseion.search"] = SearchIndex.attach(store, index_location(settings.search_index, store.path))
    app.extensions["mouseion.search"].warm()
    for rule, endpoint, view, methods in ROUTES:
        app.add_url_rule(rule, endpoint, view, methods=methods)
    return app
